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


def output_jacobian(model, variables):
    """A function `x -> (y, J)`: `model(x)`'s outputs and their Jacobian by `variables`, in NumPy.

    `y` is `model(x, training=False)` and `J` has shape (N, P): one row per
    output value (flattened, B * O for outputs (B, O)) and one column per weight of
    `variables` (each flattened in C order, in the order given). The function
    is compiled once on TensorFlow and JAX; on PyTorch it takes one backward
    pass per row. Used by the Gauss-Newton Hessians of
    `keras_rnnkit.training.BayesianRegularization` and `saliencies`.
    """
    import numpy as np

    backend = keras.backend.backend()
    variables = list(variables)
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def jacobian(x):
            with tf.GradientTape() as tape:
                outputs = tf.reshape(model(x, training=False), [-1])
            blocks = tape.jacobian(
                outputs, [v.value for v in variables], experimental_use_pfor=False
            )
            return outputs, tf.concat(
                [tf.reshape(block, [tf.shape(outputs)[0], -1]) for block in blocks], axis=1
            )

        def evaluated(x):
            outputs, blocks = jacobian(tf.convert_to_tensor(x))
            return np.asarray(outputs, "float64"), np.asarray(blocks, "float64")

        return evaluated
    if backend == "jax":
        import jax

        trainable = model.trainable_variables
        positions = [next(i for i, t in enumerate(trainable) if t is v) for v in variables]

        def outputs_of(chosen, others, non_trainable, x):
            values = list(others)
            for position, value in zip(positions, chosen, strict=True):
                values[position] = value
            outputs, _ = model.stateless_call(values, non_trainable, x, training=False)
            outputs = outputs.reshape(-1)
            return outputs, outputs

        compiled = jax.jit(jax.jacrev(outputs_of, has_aux=True))

        def jacobian(x):
            blocks, outputs = compiled(
                [v.value for v in variables],
                [v.value for v in trainable],
                [v.value for v in model.non_trainable_variables],
                keras.ops.convert_to_tensor(x),
            )
            return np.asarray(outputs, "float64"), np.concatenate(
                [np.asarray(b, "float64").reshape(b.shape[0], -1) for b in blocks], axis=1
            )

        return jacobian
    if backend == "torch":
        import torch

        def jacobian(x):
            outputs = keras.ops.reshape(model(x, training=False), (-1,))
            parameters = [v.value for v in variables]
            rows = []
            for index in range(outputs.shape[0]):
                grads = torch.autograd.grad(
                    outputs[index], parameters, retain_graph=True, allow_unused=True
                )
                rows.append(
                    np.concatenate(
                        [
                            np.zeros(int(np.prod(p.shape)))
                            if g is None
                            else g.detach().cpu().numpy().reshape(-1)
                            for g, p in zip(grads, parameters, strict=True)
                        ]
                    )
                )
            values = keras.ops.convert_to_numpy(outputs.detach())
            return np.asarray(values, "float64"), np.asarray(rows, "float64")

        return jacobian
    raise NotImplementedError(
        f"Jacobians are not available on the {backend!r} backend; use TensorFlow, JAX or PyTorch."
    )
