"""Gradients of a layer's output on whichever Keras backend runs the tests.

Keras 3 has no backend-neutral gradient API, so this test helper has one short
branch per backend; the layers themselves contain none.
"""

import keras
import numpy as np


def to_numpy(tensor):
    """A NumPy copy of any backend's tensor (detached from autograd on torch)."""
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def gradients(function, arrays):
    """Returns `(value, [d value / d array for array in arrays])` as NumPy.

    `function` maps Keras tensors to a scalar tensor; `arrays` are NumPy arrays.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.Variable(a) for a in arrays]
        with tf.GradientTape() as tape:
            value = function(*tensors)
        grads = tape.gradient(value, tensors)
    elif backend == "jax":
        import jax

        value, grads = jax.value_and_grad(
            lambda *t: function(*t), argnums=tuple(range(len(arrays)))
        )(*[jax.numpy.asarray(a) for a in arrays])
    elif backend == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        value = function(*tensors)
        grads = torch.autograd.grad(value, tensors, allow_unused=True)
        value = value.detach()
    else:  # pragma: no cover
        raise NotImplementedError(f"No gradient helper for backend {backend!r}")
    # An input the value does not depend on has no gradient (None): zero.
    return float(keras.ops.convert_to_numpy(value)), [
        np.zeros_like(a) if g is None else np.asarray(keras.ops.convert_to_numpy(g))
        for g, a in zip(grads, arrays, strict=True)
    ]


def layer_gradients(layer, x, weight_arrays, loss_weights, **call_kwargs):
    """Gradient of sum(loss_weights * layer(x)) w.r.t. the weights and x.

    The weights are passed in as arrays through `stateless_call`, so the same
    code runs on every backend.
    """
    trainable = layer.trainable_variables
    non_trainable = [v.value for v in layer.non_trainable_variables]
    names = [v.path.split("/")[-1] for v in trainable]
    assert len(names) == len(weight_arrays)

    def loss(x_tensor, *weights):
        outputs, _ = layer.stateless_call(list(weights), non_trainable, x_tensor, **call_kwargs)
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(loss_weights))

    value, grads = gradients(loss, [x, *weight_arrays])
    return value, grads[0], grads[1:]
