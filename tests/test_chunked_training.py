"""Chunked stateful training of long sequences (keras_rnnkit.training.chunk_sequences)."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.training import chunk_sequences

N, T, D, CHUNK, BATCH = 4, 12, 2, 4, 2

RECURRENT = {
    "ElmanRNN": lambda **kw: keras_rnnkit.ElmanRNN(5, return_sequences=True, **kw),
    "JordanRNN": lambda **kw: keras_rnnkit.JordanRNN(
        5, 3, context_decay=0.5, return_sequences=True, **kw
    ),
    "RNN(TDNNCell)": lambda **kw: keras.layers.RNN(
        keras_rnnkit.TDNNCell(5, (-3, -1, 0)), return_sequences=True, **kw
    ),
}


def _models(name):
    whole = keras.Sequential([keras.Input((None, D)), RECURRENT[name](), keras.layers.Dense(1)])
    stateful = keras.Sequential(
        [
            keras.Input(batch_shape=(BATCH, CHUNK, D)),
            RECURRENT[name](stateful=True),
            keras.layers.Dense(1),
        ]
    )
    stateful.set_weights(whole.get_weights())
    return whole, stateful


KERAS_JAX_STATEFUL_LOOPS = pytest.mark.xfail(
    keras.backend.backend() == "jax",
    strict=True,
    reason=(
        "Keras limitation, documented in the README: on JAX, `fit`/`predict` run the model "
        "statelessly and `keras.layers.RNN` keeps its states in untracked variables, so the "
        "state is not carried from batch to batch (keras.layers.SimpleRNN alike)."
    ),
)


@KERAS_JAX_STATEFUL_LOOPS
@pytest.mark.parametrize("name", list(RECURRENT))
def test_chunked_stateful_pass_equals_one_pass(name, rng):
    x = rng.normal(size=(N, T, D)).astype("float32")
    whole, stateful = _models(name)
    chunks = chunk_sequences(x, chunk_length=CHUNK, batch_size=BATCH)
    assert chunks.chunks_per_sequence == T // CHUNK
    predicted = stateful.predict(
        chunks.x, batch_size=chunks.batch_size, callbacks=[chunks.reset_callback()], verbose=0
    )
    np.testing.assert_allclose(
        chunks.unchunk(predicted), whole.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )
    # Without the resets the second group starts from the first group's state.
    stateful.layers[0].reset_state()
    carried = stateful.predict(chunks.x, batch_size=chunks.batch_size, verbose=0)
    assert not np.allclose(chunks.unchunk(carried)[BATCH:], whole.predict(x, verbose=0)[BATCH:])


def test_chunks_keep_each_sequence_on_its_row():
    x = np.arange(N * T, dtype="float32").reshape(N, T, 1)
    chunks = chunk_sequences(x, x, chunk_length=CHUNK, batch_size=BATCH)
    # Group 0 = sequences 0 and 1: their chunks come first, in time order.
    np.testing.assert_array_equal(chunks.x[0], x[0, :CHUNK])
    np.testing.assert_array_equal(chunks.x[1], x[1, :CHUNK])
    np.testing.assert_array_equal(chunks.x[2], x[0, CHUNK : 2 * CHUNK])
    np.testing.assert_array_equal(chunks.x[2 * (T // CHUNK)], x[2, :CHUNK])
    np.testing.assert_array_equal(chunks.y, chunks.x)
    np.testing.assert_array_equal(chunks.unchunk(chunks.x), x)


def test_fit_on_chunks_learns_and_evaluates(rng):
    # Predict the input of 3 steps earlier: needs the state across chunk edges.
    x = rng.normal(size=(N, 4 * T, 1)).astype("float32")
    y = np.concatenate([np.zeros((N, 3, 1), "float32"), x[:, :-3]], axis=1)
    chunks = chunk_sequences(x, y, chunk_length=CHUNK, batch_size=BATCH)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(BATCH, CHUNK, 1)),
            keras_rnnkit.ElmanRNN(16, stateful=True, return_sequences=True),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    reset = chunks.reset_callback()
    before = model.evaluate(chunks.x, chunks.y, batch_size=BATCH, callbacks=[reset], verbose=0)
    history = model.fit(
        chunks.x,
        chunks.y,
        batch_size=BATCH,
        epochs=15,
        shuffle=False,
        callbacks=[reset],
        verbose=0,
    )
    after = model.evaluate(chunks.x, chunks.y, batch_size=BATCH, callbacks=[reset], verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert after < 0.5 * before


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(x=np.zeros((3, 12, 1)), chunk_length=4, batch_size=2), "multiple of `batch_size`"),
        (dict(x=np.zeros((4, 10, 1)), chunk_length=4, batch_size=2), "multiple of `chunk_length`"),
        (dict(x=np.zeros((4, 12, 1)), chunk_length=0, batch_size=2), "`chunk_length` must be"),
        (
            dict(x=np.zeros((4, 12, 1)), y=np.zeros((4, 1)), chunk_length=4, batch_size=2),
            "`y` must have per-step targets",
        ),
        (dict(x=np.zeros((4,)), chunk_length=4, batch_size=2), "`x` must have shape"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        chunk_sequences(**kwargs)
