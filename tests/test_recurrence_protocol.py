"""Any cell of the recurrence protocol, run by `keras_rnnkit.layers.Recurrent`, gets what the
loop adds: per-step gradient clipping, truncated BPTT, zoneout and the gradient-flow monitor.
Keras's own `LSTMCell` and `GRUCell` through `KerasCell`: the values equal `keras.layers.LSTM`
and `GRU`, and the clipped gradients equal the NumPy reference (tests/keras_cell_reference.py).
"""

import keras
import numpy as np
import pytest

from keras_rnnkit.layers import ElmanCell
from keras_rnnkit.layers import JordanCell
from keras_rnnkit.layers import KerasCell
from keras_rnnkit.layers import NarxCell
from keras_rnnkit.layers import Recurrent
from keras_rnnkit.layers.protocol import Recurrence
from keras_rnnkit.training import GradientFlowMonitor
from tests import keras_cell_reference as reference
from tests.autodiff import layer_gradients
from tests.autodiff import to_numpy

KERAS_CELLS = {
    "lstm": (keras.layers.LSTMCell, keras.layers.LSTM, reference.lstm_gradients),
    "gru": (keras.layers.GRUCell, keras.layers.GRU, reference.gru_gradients),
}


def _inputs(shape=(3, 7, 2), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_the_cells_follow_the_protocol():
    cells = (ElmanCell(3), JordanCell(3, 2), NarxCell(3, 2), KerasCell(keras.layers.LSTMCell(3)))
    for cell in cells:
        assert isinstance(cell, Recurrence), type(cell).__name__


@pytest.mark.parametrize("kind", sorted(KERAS_CELLS))
def test_a_keras_cell_through_the_adapter_equals_keras_own_layer(kind):
    cell_class, layer_class, _ = KERAS_CELLS[kind]
    x = _inputs()
    ours = Recurrent(KerasCell(cell_class(4, seed=1)), return_sequences=True, return_state=True)
    theirs = layer_class(4, return_sequences=True, return_state=True)
    our_outputs = ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for got, want in zip(our_outputs, theirs(x), strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-6)


@pytest.mark.parametrize("mode", ["value", "norm"])
@pytest.mark.parametrize("kind", sorted(KERAS_CELLS))
def test_clipped_gradients_of_a_keras_cell_equal_the_numpy_reference(kind, mode):
    cell_class, _, numpy_gradients = KERAS_CELLS[kind]
    x = _inputs(seed=2) * 3.0
    layer = Recurrent(
        KerasCell(cell_class(5, seed=3)),
        return_sequences=True,
        gradient_clip=0.05,
        gradient_clip_mode=mode,
    )
    layer(x)
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    if kind == "gru":
        weights[2] = weights[2].reshape(2, -1)
    # A loss whose gradient is large enough to be clipped at every step.
    loss_weights = np.random.default_rng(4).normal(size=(3, 7, 5)).astype("float32") * 10.0
    arrays = [np.asarray(w) for w in layer.get_weights()]
    _, got_x, got_weights = layer_gradients(layer, x, arrays, loss_weights)
    want_x, want_weights = numpy_gradients(
        np.asarray(x, np.float64), weights, loss_weights.astype(np.float64), clip=0.05, mode=mode
    )
    np.testing.assert_allclose(got_x, want_x, rtol=1e-4, atol=1e-5)
    for got, want in zip(got_weights, want_weights, strict=True):
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-5)
    unclipped = numpy_gradients(np.asarray(x, np.float64), weights, loss_weights, clip=None)
    assert not np.allclose(unclipped[0], want_x, atol=1e-3)  # the clip did act


def test_truncated_bptt_stops_the_gradient_of_a_keras_cell_at_the_chunk_edge():
    x = _inputs(seed=5)
    layer = Recurrent(KerasCell(keras.layers.GRUCell(4, seed=6)), truncate_gradient=3)
    layer(x)
    arrays = [np.asarray(w) for w in layer.get_weights()]
    _, grad_x, _ = layer_gradients(layer, x, arrays, np.ones((3, 4), "float32"))
    # Steps 6 and then 3 begin chunks: nothing before step 6 reaches the last output.
    assert np.all(grad_x[:, :6] == 0) and np.any(grad_x[:, 6] != 0)


def test_the_gradient_flow_monitor_follows_a_keras_cell():
    model = keras.Sequential(
        [
            keras.Input((6, 2)),
            Recurrent(KerasCell(keras.layers.LSTMCell(4, seed=7)), name="lstm"),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    x, y = _inputs((8, 6, 2), seed=8), np.ones((8, 1), "float32")
    monitor = GradientFlowMonitor(x, y)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    (rows,) = [np.asarray(r) for r in monitor.state_gradient_norms.values()]
    # One row per epoch, one norm per step, both states (h and c) together.
    assert rows.shape == (1, 6) and np.all(np.isfinite(rows)) and rows[0, 0] > 0


def test_zoneout_acts_on_a_keras_cell_while_training():
    x = _inputs(seed=9)
    layer = Recurrent(KerasCell(keras.layers.GRUCell(4, seed=10)), zoneout=0.5, seed=11)
    inference = to_numpy(layer(x))
    expected = Recurrent(KerasCell(keras.layers.GRUCell(4)), zoneout=0.5)
    expected(x)
    expected.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(expected(x)), inference, atol=1e-6)
    assert not np.allclose(to_numpy(layer(x, training=True)), inference)


def test_a_save_load_round_trip_gives_identical_outputs(tmp_path):
    x = _inputs(seed=12)
    model = keras.Sequential(
        [keras.Input((7, 2)), Recurrent(KerasCell(keras.layers.LSTMCell(3)), gradient_clip=1.0)]
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))
    assert loaded.layers[0].gradient_clip == 1.0


def test_a_cell_that_does_not_follow_the_protocol_is_refused_naming_what_it_lacks():
    with pytest.raises(TypeError, match=r"Recurrent: `cell` must follow .* it lacks step"):
        Recurrent(keras.layers.LSTMCell(3))
