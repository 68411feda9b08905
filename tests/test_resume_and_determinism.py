"""Guards: a seed fixes the trained weights, and `BackupAndRestore` resumes a killed `fit` exactly.

Backend-independent: CI runs these on TensorFlow, JAX and PyTorch. What is
promised (docs/training.md, "Reproducible and resumable training"):
- the same seed gives bit-identical weights after a few epochs, with and
  without dropout;
- `fit` interrupted and resumed with `keras.callbacks.BackupAndRestore`
  ends with the weights of an unbroken run, for stateless layers without
  dropout and for stateful chunked training with `ResetStatesEvery`;
- where it does not (dropout; stateful layers whose state runs on across
  epochs), `keras.layers.SimpleRNN` does not either: tested side by side.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.training import ResetStatesEvery
from keras_rnnkit.training import chunk_sequences

pytestmark = pytest.mark.slow  # dozens of short fits

N, T, D, CHUNK, BATCH, EPOCHS, INTERRUPTED_AT = 4, 8, 2, 4, 2, 3, 2

LAYERS = {
    "ElmanRNN": lambda **kw: keras_rnnkit.ElmanRNN(4, return_sequences=True, **kw),
    "JordanRNN": lambda **kw: keras_rnnkit.JordanRNN(4, 2, return_sequences=True, **kw),
    "TDNN": lambda **kw: keras_rnnkit.TDNN(4, (-2, -1, 0), **kw),
    "SimpleRNN": lambda **kw: keras.layers.SimpleRNN(4, return_sequences=True, **kw),
}
# TDNN has no dropout (its state is an exact buffer) and keeps no state between calls.
RECURRENT = ["ElmanRNN", "JordanRNN", "SimpleRNN"]


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, D)).astype("float32")
    return x, np.cumsum(x[..., :1], axis=1)


def _model(name, seed=0, stateful=False, **kwargs):
    keras.utils.set_random_seed(seed)
    shape = keras.Input(batch_shape=(BATCH, CHUNK, D)) if stateful else keras.Input((T, D))
    layer = LAYERS[name](stateful=True, **kwargs) if stateful else LAYERS[name](**kwargs)
    model = keras.Sequential([shape, layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


DROPOUT = {"dropout": 0.25, "recurrent_dropout": 0.25}


def _fit(model, x, y, callbacks=(), epochs=EPOCHS, shuffle=True):
    model.fit(
        x, y, batch_size=BATCH, epochs=epochs, shuffle=shuffle, callbacks=list(callbacks), verbose=0
    )
    return model.get_weights()


def _equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize(
    "name, dropout",
    [(name, False) for name in LAYERS] + [(name, True) for name in RECURRENT],
    ids=lambda value: {False: "no_dropout", True: "dropout"}.get(value, value),
)
def test_the_same_seed_gives_bit_identical_weights(name, dropout):
    x, y = _data()
    kwargs = DROPOUT if dropout else {}
    first = _fit(_model(name, **kwargs), x, y)
    again = _fit(_model(name, **kwargs), x, y)
    other = _fit(_model(name, seed=1, **kwargs), x, y)
    assert _equal(first, again)
    assert not _equal(first, other)  # the seed matters: the check can fail


class _Interrupt(keras.callbacks.Callback):
    """Raises at the start of an epoch, as Keras's own BackupAndRestore tests do."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == INTERRUPTED_AT:
            raise RuntimeError("interrupted")


def _interrupted_then_resumed(make_model, x, y, backup_dir, extra=()):
    backup = keras.callbacks.BackupAndRestore(str(backup_dir))
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(make_model(), x, y, callbacks=[*extra, backup, _Interrupt()], shuffle=False)
    # A fresh process would build the model afresh: the backup restores it.
    return _fit(make_model(seed=7), x, y, callbacks=[*extra, backup], shuffle=False)


def _unbroken(make_model, x, y, extra=()):
    return _fit(make_model(), x, y, callbacks=list(extra), shuffle=False)


@pytest.mark.parametrize("name", list(LAYERS))
def test_backup_and_restore_resumes_to_the_unbroken_weights(name, tmp_path):
    x, y = _data()

    def make_model(seed=0):
        return _model(name, seed=seed)

    resumed = _interrupted_then_resumed(make_model, x, y, tmp_path / "backup")
    assert _equal(resumed, _unbroken(make_model, x, y))


@pytest.mark.parametrize("name", RECURRENT)
def test_backup_and_restore_resumes_stateful_chunked_training(name, tmp_path):
    x, y = _data()
    chunks = chunk_sequences(x, y, chunk_length=CHUNK, batch_size=BATCH)
    reset = ResetStatesEvery(chunks.chunks_per_sequence)

    def make_model(seed=0):
        return _model(name, seed=seed, stateful=True)

    resumed = _interrupted_then_resumed(make_model, chunks.x, chunks.y, tmp_path / "b", [reset])
    assert _equal(resumed, _unbroken(make_model, chunks.x, chunks.y, [reset]))


def _resumes_exactly(name, tmp_path, stateful=False, **kwargs):
    """Whether `name`, interrupted and resumed, ends with the unbroken run's weights."""
    x, y = _data()
    if stateful:
        chunks = chunk_sequences(x, y, chunk_length=CHUNK, batch_size=BATCH)
        x, y = chunks.x, chunks.y

    def make_model(seed=0):
        return _model(name, seed=seed, stateful=stateful, **kwargs)

    resumed = _interrupted_then_resumed(make_model, x, y, tmp_path / name)
    return _equal(resumed, _unbroken(make_model, x, y))


@pytest.fixture(scope="module")
def simple_rnn_resumes_exactly(tmp_path_factory):
    """What Keras's own SimpleRNN does in the cases we do not promise (computed once)."""
    folder = tmp_path_factory.mktemp("simple_rnn")
    return {
        "dropout": _resumes_exactly("SimpleRNN", folder / "dropout", **DROPOUT),
        "stateful": _resumes_exactly("SimpleRNN", folder / "stateful", stateful=True),
    }


# With Keras 3.15 on TensorFlow SimpleRNN resumes neither exactly: the dropout
# masks drawn after the resume are not the unbroken run's, and a state that
# runs on across epochs is not carried over the interruption. Ours must behave
# as Keras's own layer does (docs/training.md).
@pytest.mark.parametrize("name", ["ElmanRNN", "JordanRNN"])
def test_with_dropout_resume_behaves_as_simple_rnn_does(name, tmp_path, simple_rnn_resumes_exactly):
    ours = _resumes_exactly(name, tmp_path, **DROPOUT)
    assert ours == simple_rnn_resumes_exactly["dropout"]


@pytest.mark.parametrize("name", ["ElmanRNN", "JordanRNN"])
def test_stateful_without_resets_resume_behaves_as_simple_rnn_does(
    name, tmp_path, simple_rnn_resumes_exactly
):
    ours = _resumes_exactly(name, tmp_path, stateful=True)
    assert ours == simple_rnn_resumes_exactly["stateful"]
