"""Call-time inputs. A mask only selects steps: every layer, on every path, checks its shape
against the inputs' (batch, time) and treats any non-zero value as a kept step. Empty
batches and sequences give the layer's own output shape."""

import keras
import numpy as np
import pytest

import keras_rnnkit

B, T, D = 3, 5, 2


def _layers():
    """`(id, make)` for each layer kind and loop: the fused path where it has one, the
    step loop, a layer with math of its own (NARX) and the convolutional TDNN."""
    return [
        ("ElmanRNN", lambda: keras_rnnkit.ElmanRNN(4, return_sequences=True, seed=1)),
        (
            "ElmanRNN-step-loop",
            lambda: keras_rnnkit.ElmanRNN(4, return_sequences=True, use_fused=False, seed=1),
        ),
        ("JordanRNN", lambda: keras_rnnkit.JordanRNN(4, output_units=2, return_sequences=True)),
        ("NARX", lambda: keras_rnnkit.NARX(4, output_units=2, return_sequences=True)),
        ("TDNN", lambda: keras_rnnkit.TDNN(4, context=(-1, 0))),
    ]


LAYERS = [pytest.param(make, id=name) for name, make in _layers()]


def _inputs():
    return np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")


def _kept():
    kept = np.ones((B, T), bool)
    kept[0, 3:] = False  # padding at the end of a row
    kept[2, :] = False  # a row with no step at all
    return kept


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize(
    "shape", [(B, T + 1), (B + 1, T), (B,), (B, T, 2)], ids=["time", "batch", "rank1", "width"]
)
def test_a_mask_of_another_shape_is_refused_naming_the_layer_and_mask(make, shape):
    layer = make()
    name = type(layer).__name__
    # On the fused path a (B, T + 1) mask used to give a result, silently.
    with pytest.raises(ValueError, match=rf"{name}: `mask` must have the inputs' \(batch, time\)"):
        layer(_inputs(), mask=np.ones(shape, bool))


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_a_mask_of_numbers_selects_the_same_steps_as_the_boolean_one(make, dtype):
    # TDNN used to multiply its inputs by the mask's values: a mask of 2s doubled them.
    layer = make()
    x, kept = _inputs(), _kept()
    expected = keras.ops.convert_to_numpy(layer(x, mask=kept))
    numbers = np.where(kept, 2, 0).astype(dtype)
    got = keras.ops.convert_to_numpy(layer(x, mask=numbers))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", LAYERS)
def test_a_keras_mask_with_a_trailing_axis_is_the_same_mask(make):
    layer = make()
    x, kept = _inputs(), _kept()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, mask=kept[..., None])),
        keras.ops.convert_to_numpy(layer(x, mask=kept)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_a_symbolic_mask_of_another_length_is_refused_when_the_model_is_built():
    x = keras.Input((T, D))
    mask = keras.Input((T + 1,), dtype="bool")
    with pytest.raises(ValueError, match=r"ElmanRNN: `mask` must have"):
        keras_rnnkit.ElmanRNN(4)(x, mask=mask)


@pytest.mark.parametrize("context", [(-1, 0, 1), (0, 1, 2), (-2, 0, 2), (-3, -1, 0, 2)])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("shape", [(0, 7, 3), (3, 0, 3)], ids=["no-batch", "no-steps"])
def test_tdnn_on_an_empty_batch_or_sequence_gives_its_output_shape(context, padding, shape):
    # The convolution path gave (3, 2, 3) for T = 0 and failed for an empty batch.
    layer = keras_rnnkit.TDNN(2, context=context, padding=padding)
    outputs = layer(np.zeros(shape, "float32"))
    assert tuple(outputs.shape) == layer.compute_output_shape(shape)


RECURRENT = [p for p in LAYERS if p.id != "TDNN"]


@pytest.mark.parametrize("make", RECURRENT)
def test_a_recurrent_layer_on_an_empty_batch_gives_its_output_shape(make):
    layer = make()
    outputs = layer(np.zeros((0, T, D), "float32"))
    assert tuple(outputs.shape) == (0, T, layer.cell.output_size)


@pytest.mark.parametrize("make", RECURRENT)
@pytest.mark.parametrize("symbolic", [False, True], ids=["eager", "symbolic"])
def test_a_recurrent_layer_refuses_sequences_without_a_step_by_name(make, symbolic):
    layer = make()
    inputs = keras.Input((0, D)) if symbolic else np.zeros((B, 0, D), "float32")
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}: `sequences` must have at least one time step"):
        layer(inputs)


def test_jordan_generate_on_a_layer_built_for_other_inputs_names_the_mismatch():
    # It failed inside the backend's matmul.
    layer = keras_rnnkit.JordanRNN(4, output_units=2)
    layer(np.zeros((3, 5, 3), "float32"))  # built for D = 3 features
    with pytest.raises(
        ValueError, match=r"JordanRNN.generate: .* built for output_units=2 .*for 3"
    ):
        layer.generate(np.zeros((3, 4, 2), "float32"), 3)


def test_narx_generate_takes_the_width_the_layer_was_built_for():
    layer = keras_rnnkit.NARX(4, output_units=1)
    layer(np.zeros((3, 5, 2), "float32"))  # built for D = 2 features
    primer = np.zeros((3, 4, 3), "float32")
    inputs = np.zeros((3, 2, 3), "float32")
    with pytest.raises(ValueError, match=r"NARX.generate: `primer` must have 2 features"):
        layer.generate(primer, 2, inputs=inputs)
