"""Gradients of a scalar function, one short branch per backend.

Keras 3 has no backend-neutral gradient API; the training tools that need one
(`GradientFlowMonitor`) call this function, so that nothing else in the
library depends on the backend.
"""

import keras


def value_and_gradients(function, arguments):
    """Returns `(value, [d value / d argument, ...])` for a scalar `function(*arguments)`.

    An argument the value does not depend on gets a zero gradient.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(a) for a in arguments]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = function(*tensors)
        grads = tape.gradient(value, tensors)
    elif backend == "jax":
        import jax

        value, grads = jax.value_and_grad(function, argnums=tuple(range(len(arguments))))(
            *arguments
        )
    elif backend == "torch":
        import torch

        tensors = [
            keras.ops.convert_to_tensor(a).detach().clone().requires_grad_(True) for a in arguments
        ]
        value = function(*tensors)
        grads = torch.autograd.grad(value, tensors, allow_unused=True)
        value = value.detach()
    else:
        raise NotImplementedError(
            f"Gradients are not available on the {backend!r} backend; use TensorFlow, JAX "
            "or PyTorch."
        )
    grads = [
        keras.ops.zeros_like(a) if g is None else g for g, a in zip(grads, arguments, strict=True)
    ]
    return value, grads
