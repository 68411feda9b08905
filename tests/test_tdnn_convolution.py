"""TDNN's convolution path equals its matmul path, and is taken exactly where it is chosen.

`keras_rnnkit.backend.tdnn_convolution.convolution_reason` decides (None: one
`keras.ops.conv`); the tests force either path by patching it and compare the
two on the same backend with the same weights (forward and gradients), and
the forward pass also against `tests/reference.py` (NumPy, from the equation).
A spy on `tdnn_convolution.convolve` proves which path ran.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import tdnn_convolution
from tests import reference
from tests.autodiff import gradients
from tests.autodiff import to_numpy

B, D, H = 2, 3, 4
BACKEND = keras.backend.backend()

CONTEXTS = {
    "centred": (-2, -1, 0, 1, 2),
    "causal": (-4, -2, 0),
    "future": (1, 2, 3),
    "past": (-5, -3),
    "dilated": (-4, -2, 0, 2, 4),
    "single": (2,),
}
UNEVEN = (-7, -3, -1, 0, 2)


@pytest.fixture
def force_path(monkeypatch):
    """`force_path("conv")` / `force_path("matmul")`: what `convolution_reason` then says."""

    def force(path):
        reason = None if path == "conv" else "forced by the test"
        monkeypatch.setattr(tdnn_convolution, "convolution_reason", lambda *args: reason)

    return force


@pytest.fixture
def conv_calls(monkeypatch):
    """Counts the calls of `tdnn_convolution.convolve`."""
    calls = []
    convolve = tdnn_convolution.convolve

    def spy(*args, **kwargs):
        calls.append(args)
        return convolve(*args, **kwargs)

    monkeypatch.setattr(tdnn_convolution, "convolve", spy)
    return calls


def _layer(context, x_shape, rng, **options):
    layer = keras_rnnkit.TDNN(H, context=context, activation="tanh", **options)
    layer.build(x_shape)
    # Random weights everywhere (a zero bias or unit scale would hide mistakes).
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    return layer


def _value_and_gradients(layer, x, loss_weights, mask=None):
    """Outputs, and the gradients of sum(loss_weights * outputs) w.r.t. x and every weight."""
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(x_tensor, *weights):
        outputs, _ = layer.stateless_call(list(weights), non_trainable, x_tensor, mask=mask)
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(loss_weights))

    outputs = to_numpy(layer(x, mask=mask))
    _, grads = gradients(loss, [x, *[to_numpy(w) for w in layer.trainable_variables]])
    return [outputs, *grads]


@pytest.fixture
def both_paths(force_path, conv_calls):
    """`both_paths(layer, x, mask)`: outputs and gradients by conv, then by matmul."""

    def run(layer, x, mask=None):
        shape = layer.compute_output_shape(x.shape)
        loss_weights = np.random.default_rng(1).normal(size=shape).astype("float32")
        force_path("conv")
        conv = _value_and_gradients(layer, x, loss_weights, mask)
        assert conv_calls, "the conv path was not taken"
        taken = len(conv_calls)
        force_path("matmul")
        matmul = _value_and_gradients(layer, x, loss_weights, mask)
        assert len(conv_calls) == taken, "the matmul path was not taken"
        return conv, matmul

    return run


# Each padding with stride 1 and one sub-sampling stride (2 or 3): the
# product of the two was slow on JAX without adding a case the code tells apart.
PADDING_STRIDES = [("same", 1), ("same", 3), ("valid", 1), ("valid", 2)]


@pytest.mark.parametrize("padding,stride", PADDING_STRIDES, ids=str)
@pytest.mark.parametrize("name", list(CONTEXTS))
def test_conv_path_equals_matmul_path(name, padding, stride, both_paths, rng):
    context = CONTEXTS[name]
    x = rng.normal(size=(B, 9, D)).astype("float32")  # odd length, not a multiple of 2 or 3
    layer = _layer(context, x.shape, rng, padding=padding, strides=stride)
    conv, matmul = both_paths(layer, x)
    assert conv[0].shape == layer.compute_output_shape(x.shape)
    for got, want in zip(conv, matmul, strict=True):  # outputs, d/dx, d/dkernel, d/dbias
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = reference.tdnn(x, kernel, bias, context, padding, stride, "tanh")
    np.testing.assert_allclose(conv[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name,padding", [("centred", "valid"), ("dilated", "valid"), ("past", "same")], ids=str
)
def test_conv_path_on_sequences_shorter_than_the_window(name, padding, both_paths, rng):
    # "valid" then has no output at all; "same" only padding in every window.
    x = rng.normal(size=(B, 2, D)).astype("float32")
    layer = _layer(CONTEXTS[name], x.shape, rng, padding=padding, strides=2)
    conv, matmul = both_paths(layer, x)
    for got, want in zip(conv, matmul, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    expected_length = 1 if padding == "same" else 0
    assert conv[0].shape == (B, expected_length, H)


def test_conv_path_with_mask_and_layer_norm(both_paths, force_path, rng):
    x = rng.normal(size=(B, 11, D)).astype("float32")
    lengths = np.array([11, 7])
    mask = np.arange(11)[None, :] < lengths[:, None]  # right padding
    layer = _layer(CONTEXTS["centred"], x.shape, rng, strides=2, layer_norm=True)
    conv, matmul = both_paths(layer, x, mask=keras.ops.convert_to_tensor(mask))
    for got, want in zip(conv, matmul, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # At the real steps the padded sequence gives what it gives alone.
    force_path("conv")
    alone = to_numpy(layer(x[1:, :7]))
    np.testing.assert_allclose(conv[0][1, : alone.shape[1]], alone[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [9, 10, 10**9], ids=["T", "T+1", "1e9"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_a_stride_beyond_the_sequence_keeps_its_first_output(padding, stride, both_paths, rng):
    # TensorFlow's conv gradient failed for a stride of 10**6 and hung for 10**9.
    x = rng.normal(size=(B, 9, D)).astype("float32")
    layer = _layer(CONTEXTS["centred"], x.shape, rng, padding=padding, strides=stride)
    conv, matmul = both_paths(layer, x)
    for got, want in zip(conv, matmul, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = reference.tdnn(x, kernel, bias, CONTEXTS["centred"], padding, 1, "tanh")[:, :1]
    np.testing.assert_allclose(conv[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,padding", [("dilated", "valid"), ("past", "same")], ids=str)
def test_conv_path_with_unknown_length_in_a_model(name, padding, force_path, rng):
    # Input((None, D)): on TensorFlow the symbolic length is unknown (and the
    # second length retraces with an unknown one); on every backend the model
    # runs sequences of two lengths, one shorter than the window.
    force_path("conv")
    context = CONTEXTS[name]
    inputs = keras.Input((None, D))
    layer = keras_rnnkit.TDNN(H, context=context, padding=padding, strides=2, activation="tanh")
    model = keras.Model(inputs, layer(inputs))
    for steps in (13, 5, 4):
        x = rng.normal(size=(B, steps, D)).astype("float32")
        kernel, bias = (to_numpy(w) for w in layer.weights)
        expected = reference.tdnn(x, kernel, bias, context, padding, 2, "tanh")
        np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)


def test_a_huge_stride_with_an_unknown_length_trains(force_path, rng):
    force_path("conv")
    inputs = keras.Input((None, D))
    layer = keras_rnnkit.TDNN(H, context=CONTEXTS["centred"], strides=10**9)
    model = keras.Model(inputs, layer(inputs))
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, 6, D)).astype("float32")
    model.fit(x, np.zeros((B, 1, H), "float32"), epochs=1, verbose=0)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = reference.tdnn(x, kernel, bias, CONTEXTS["centred"], "same", 1, "relu")[:, :1]
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)


# Where `convolution_reason` chooses conv (measured; see its module), by backend.
CONV_CHOSEN = {
    "tensorflow": {"centred": True, "causal": False, "future": True, "dilated": False},
    "jax": {"centred": True, "causal": True, "future": True, "dilated": True},
    "torch": {"centred": False, "causal": False, "future": False, "dilated": False},
}


@pytest.mark.parametrize("name", ["centred", "causal", "future", "dilated"])
def test_conv_path_taken_where_chosen(name, conv_calls, rng):
    context = CONTEXTS[name]
    chosen = tdnn_convolution.convolution_reason(context, BACKEND) is None
    if BACKEND in CONV_CHOSEN:
        assert chosen == CONV_CHOSEN[BACKEND][name]
    x = rng.normal(size=(B, 9, D)).astype("float32")
    layer = _layer(context, x.shape, rng)
    layer(x)
    assert bool(conv_calls) == chosen


def test_uneven_context_takes_the_matmul_path(conv_calls, rng):
    for backend in ("tensorflow", "jax", "torch"):
        assert tdnn_convolution.convolution_reason(UNEVEN, backend) == (
            "the context is not evenly spaced"
        )
    x = rng.normal(size=(B, 9, D)).astype("float32")
    layer = _layer(UNEVEN, x.shape, rng)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = reference.tdnn(x, kernel, bias, UNEVEN, "same", 1, "tanh")
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5)
    assert not conv_calls


@pytest.mark.parametrize(
    "context,expected",
    [((-2, -1, 0, 1, 2), 1), ((-4, -2, 0, 2, 4), 2), ((1, 4), 3), ((5,), 1), (UNEVEN, None)],
    ids=str,
)
def test_dilation(context, expected):
    assert tdnn_convolution.dilation(context) == expected
