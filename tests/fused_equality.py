"""Equality of a fast path and the generic path: same weights, values and gradients."""

import keras
import numpy as np

from tests.autodiff import gradients
from tests.autodiff import to_numpy


def layer_pair(make_fast, make_generic, shape):
    """Two layers with the same weights (the generic one's)."""
    generic, fast = make_generic(), make_fast()
    generic.build(shape)
    fast.build(shape)
    fast.set_weights(generic.get_weights())
    return fast, generic


def value_and_gradients(layer, x, loss_weights, training, **call_kwargs):
    """Outputs, and the gradients of sum(loss_weights * outputs) w.r.t. x and the weights."""
    trainable = layer.trainable_variables
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(x_tensor, *weights):
        outputs, _ = layer.stateless_call(
            list(weights), non_trainable, x_tensor, training=training, **call_kwargs
        )
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return sum(
            keras.ops.sum(keras.ops.cast(o, "float32") * keras.ops.convert_to_tensor(w))
            for o, w in zip(outputs, loss_weights, strict=True)
        )

    outputs = layer(x, training=training, **call_kwargs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    _, grads = gradients(loss, [x, *[to_numpy(w) for w in trainable]])
    return [to_numpy(o) for o in outputs], grads


def assert_same(fast, generic, x, training=False, rtol=1e-5, atol=1e-5, **call_kwargs):
    rng = np.random.default_rng(1)
    # Shapes only: a call would draw dropout masks and put the two layers' seeds out of step.
    shapes = generic.compute_output_shape(x.shape)
    shapes = list(shapes) if isinstance(shapes[0], tuple) else [shapes]
    loss_weights = [rng.normal(size=s).astype("float32") for s in shapes]
    got, got_grads = value_and_gradients(fast, x, loss_weights, training, **call_kwargs)
    want, want_grads = value_and_gradients(generic, x, loss_weights, training, **call_kwargs)
    for g, w in zip(got + got_grads, want + want_grads, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def masks(steps):
    """(3, steps) masks that the fused recurrences apply step by step, by name.

    Rows of lengths `steps`, 4 and 1 (right-padded); left-padded; with gaps;
    and with a row that has no step at all (its state stays the initial one,
    its outputs zeros). `steps` must be at least 7.
    """
    at = np.arange(steps)[None, :]
    return {
        "right-padded": at < np.array([[steps], [4], [1]]),
        "left-padded": at >= np.array([[0], [3], [6]]),
        "gaps": (at % np.array([[2], [3], [steps]])) != 1,
        "empty-row": at < np.array([[steps], [0], [2]]),
    }
