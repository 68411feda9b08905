"""Every layer against the NumPy recurrences of tests/reference.py, forward and gradient."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import layer_gradients
from tests.autodiff import to_numpy

FORWARD_TOL = dict(rtol=1e-5, atol=1e-5)
GRADIENT_TOL = dict(rtol=2e-3, atol=2e-4)


def _random_weights(layer, rng, scale=0.5):
    arrays = [rng.normal(scale=scale, size=w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(arrays)
    return arrays


def _as64(arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _check_gradients(layer, x, weights, reference_fn, rng):
    """Layer autodiff vs central differences of the NumPy reference."""
    outputs = to_numpy(layer(x))
    loss_weights = rng.normal(size=outputs.shape).astype("float32")
    _, grad_x, grad_w = layer_gradients(layer, x, weights, loss_weights)

    def reference_loss(x64, *w64):
        return float(np.sum(reference_fn(x64, *w64) * loss_weights))

    expected = reference.numerical_gradient(reference_loss, _as64([x, *weights]))
    np.testing.assert_allclose(grad_x, expected[0], **GRADIENT_TOL)
    for got, want in zip(grad_w, expected[1:]):
        np.testing.assert_allclose(got, want, **GRADIENT_TOL)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", None])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_elman_matches_reference(activation, use_bias, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(
        5, activation=activation, use_bias=use_bias, return_sequences=True
    )
    layer.build(x.shape)
    weights = _random_weights(layer, rng)

    def ref(x64, *w):
        return (
            reference.elman(x64, *w, activation=activation)
            if use_bias
            else reference.elman(x64, w[0], w[1], None, activation=activation)
        )

    np.testing.assert_allclose(to_numpy(layer(x)), ref(*_as64([x, *weights])), **FORWARD_TOL)
    _check_gradients(layer, x, weights, ref, rng)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 9, 3), (4, 3, 7)], ids=str)
def test_elman_last_output_and_state(shape, rng):
    x = rng.normal(size=shape).astype("float32")
    h0 = rng.normal(size=(shape[0], 3)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(3, return_state=True)
    layer.build(x.shape)
    weights = _random_weights(layer, rng)
    last, state = layer(x, initial_state=[h0])
    expected = reference.elman(*_as64([x, *weights]), h0=h0)[:, -1]
    np.testing.assert_allclose(to_numpy(last), expected, **FORWARD_TOL)
    np.testing.assert_allclose(to_numpy(state), expected, **FORWARD_TOL)


@pytest.mark.parametrize(
    "activation,output_activation,context_decay",
    [("tanh", None, 0.0), ("relu", "sigmoid", 0.5), ("sigmoid", "tanh", 0.9)],
)
def test_jordan_matches_reference(activation, output_activation, context_decay, rng):
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    layer = keras_rnnkit.JordanRNN(
        4,
        output_units=2,
        activation=activation,
        output_activation=output_activation,
        context_decay=context_decay,
        return_sequences=True,
    )
    layer.build(x.shape)
    weights = _random_weights(layer, rng)

    def ref(x64, *w):
        return reference.jordan(
            x64,
            *w,
            activation=activation,
            output_activation=output_activation,
            context_decay=context_decay,
        )[0]

    np.testing.assert_allclose(to_numpy(layer(x)), ref(*_as64([x, *weights])), **FORWARD_TOL)
    _check_gradients(layer, x, weights, ref, rng)


def test_jordan_state_is_the_context(rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = keras_rnnkit.JordanRNN(4, 2, context_decay=0.7, return_state=True)
    layer.build(x.shape)
    weights = _random_weights(layer, rng)
    y, context = layer(x)
    ys, cs = reference.jordan(*_as64([x, *weights]), context_decay=0.7)
    np.testing.assert_allclose(to_numpy(y), ys[:, -1], **FORWARD_TOL)
    np.testing.assert_allclose(to_numpy(context), cs[:, -1], **FORWARD_TOL)


TDNN_CASES = [
    ((-2, -1, 0, 1, 2), "same", 1),
    ((-3, 0, 3), "same", 2),
    ((-4, -2, 0), "valid", 1),
    ((-1, 0, 2), "valid", 3),
    ((1, 2), "valid", 1),
    ((0,), "same", 1),
    ((-2, 5), "same", 2),
    ((-2, -1, 0), "causal", 1),
    ((-4, -2), "causal", 2),
    ((-5, -2, 0), "causal", 1),
]


@pytest.mark.parametrize("context,padding,stride", TDNN_CASES, ids=str)
def test_tdnn_matches_reference(context, padding, stride, rng):
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    layer = keras_rnnkit.TDNN(
        4, context=context, padding=padding, strides=stride, activation="tanh"
    )
    layer.build(x.shape)
    weights = _random_weights(layer, rng)

    def ref(x64, kernel, bias):
        return reference.tdnn(x64, kernel, bias, context, padding, stride, "tanh")

    expected = ref(*_as64([x, *weights]))
    assert layer.compute_output_shape(x.shape) == expected.shape
    np.testing.assert_allclose(to_numpy(layer(x)), expected, **FORWARD_TOL)
    _check_gradients(layer, x, weights, ref, rng)


@pytest.mark.parametrize("context", [(-2, -1, 0), (-4, -2, 0), (-3,), (0,), (-1, 0)], ids=str)
def test_tdnn_cell_streams_the_same_tdnn(context, rng):
    x = rng.normal(size=(2, 8, 3)).astype("float32")
    stream = keras.layers.RNN(
        keras_rnnkit.TDNNCell(4, context, activation="tanh"), return_sequences=True
    )
    stream.build(x.shape)
    weights = _random_weights(stream, rng)
    assert [w.shape for w in stream.weights] == [(len(context), 3, 4), (4,)]

    def ref(x64, kernel, bias):
        return reference.tdnn(x64, kernel, bias, context, "same", 1, "tanh")

    np.testing.assert_allclose(to_numpy(stream(x)), ref(*_as64([x, *weights])), **FORWARD_TOL)
    _check_gradients(stream, x, weights, ref, rng)


def test_elman_reproduces_simple_rnn(rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    simple = keras.layers.SimpleRNN(5, return_sequences=True)
    simple.build(x.shape)
    elman = keras_rnnkit.ElmanRNN(5, return_sequences=True)
    elman.build(x.shape)
    elman.set_weights(simple.get_weights())
    assert [w.shape for w in elman.weights] == [w.shape for w in simple.weights]
    np.testing.assert_allclose(to_numpy(elman(x)), to_numpy(simple(x)), **FORWARD_TOL)


NARX_CASES = [
    # input delays, feedback delays, activation, use_bias
    ((1, 2), (1, 2), "tanh", True),
    ((0,), (1,), "relu", True),
    ((0, 2), (2, 3), "sigmoid", False),
    ((1, 3), (1,), None, True),
]


def _narx(input_delays, feedback_delays, activation="tanh", use_bias=True):
    return keras_rnnkit.NARX(
        4,
        output_units=2,
        input_delays=input_delays,
        feedback_delays=feedback_delays,
        activation=activation,
        use_bias=use_bias,
        return_sequences=True,
    )


def _narx_reference(input_delays, feedback_delays, activation="tanh", use_bias=True, **kwargs):
    def ref(x64, *w):
        if not use_bias:  # kernel, recurrent kernel, output kernel
            w = (w[0], w[1], None, w[2], None)
        return reference.narx(
            x64,
            *w,
            input_delays=input_delays,
            feedback_delays=feedback_delays,
            activation=activation,
            **kwargs,
        )[0]

    return ref


@pytest.mark.parametrize("input_delays,feedback_delays,activation,use_bias", NARX_CASES, ids=str)
def test_narx_closed_loop_matches_reference(
    input_delays, feedback_delays, activation, use_bias, rng
):
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer = _narx(input_delays, feedback_delays, activation, use_bias)
    layer.build(x.shape)
    weights = _random_weights(layer, rng)
    ref = _narx_reference(input_delays, feedback_delays, activation, use_bias)
    np.testing.assert_allclose(to_numpy(layer(x)), ref(*_as64([x, *weights])), **FORWARD_TOL)
    _check_gradients(layer, x, weights, ref, rng)


@pytest.mark.parametrize("input_delays,feedback_delays", [((1, 2), (1, 2)), ((0, 2), (1, 3))])
def test_narx_open_loop_matches_reference(input_delays, feedback_delays, rng):
    # Teacher forcing while training: the observed targets are fed back, not y.
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    targets = rng.normal(size=(2, 6, 2)).astype("float32")
    layer = _narx(input_delays, feedback_delays)
    layer.build(x.shape)
    weights = _random_weights(layer, rng)
    ref = _narx_reference(input_delays, feedback_delays, targets=np.float64(targets))
    got = to_numpy(layer(x, targets=targets, training=True))
    np.testing.assert_allclose(got, ref(*_as64([x, *weights])), **FORWARD_TOL)
    loss_weights = rng.normal(size=got.shape).astype("float32")
    _, grad_x, grad_w = layer_gradients(
        layer, x, weights, loss_weights, targets=targets, training=True
    )

    def reference_loss(x64, *w64):
        return float(np.sum(ref(x64, *w64) * loss_weights))

    expected = reference.numerical_gradient(reference_loss, _as64([x, *weights]))
    np.testing.assert_allclose(grad_x, expected[0], **GRADIENT_TOL)
    for got_w, want in zip(grad_w, expected[1:], strict=True):
        np.testing.assert_allclose(got_w, want, **GRADIENT_TOL)
