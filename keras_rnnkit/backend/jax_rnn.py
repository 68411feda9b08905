"""The engine's recurrence on JAX: `lax.scan` forwards and backwards, one `jax.custom_vjp`.

Generic autodiff of the step loop is what the hand-written backward pass
replaces: the reverse scan of `engine.backward_step`, and each weight's
gradient as one product over all steps.
"""

import functools
import types

import jax
import jax.numpy as jnp

from keras_rnnkit.backend import engine


def _sum_of_products(a, b):
    """sum_t a_t^T b_t for (T, B, I) and (T, B, J): one (I, T*B) x (T*B, J) product.

    A `dot_general` contracting both leading axes, rather than the same
    `einsum`: on XLA's CPU backend it is never slower, and at some sizes
    faster (docs/benchmarks.md, "Which path runs").
    """
    return jax.lax.dot_general(a, b, (((0, 1), (0, 1)), ((), ())))


OPS = types.SimpleNamespace(
    as_tensor=lambda x: x,
    tanh=jnp.tanh,
    relu=jax.nn.relu,
    sigmoid=jax.nn.sigmoid,
    where=jnp.where,
    positive=lambda x: (x > 0).astype(x.dtype),
    affine=lambda p, x, w: p + x @ w,
    concat=lambda parts: jnp.concatenate(parts, axis=0),
    sum_of_products=_sum_of_products,
    sum_over_steps=lambda x: jnp.sum(x, axis=(0, 1)),
    cummax=lambda x: jax.lax.cummax(x, axis=0),
    gather_steps=lambda x, index: jnp.take_along_axis(x, index[..., None], axis=0),
)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def feedback(inputs, kernel, bias, initial, weights, keep, options):
    """The tensors `engine.RETURNED` names, each (T, B, .), time-major.

    `inputs` (T, B, D) in processing order. JAX runs this function itself
    only where nothing differentiates the call (inference): one scan that
    projects x_t inside each step. Under differentiation `_feedback_fwd`
    runs instead: the projection of all steps as one product before the
    scan, which the backward pass keeps.
    """

    def step(context, step_inputs):
        x, k = step_inputs
        return engine.step(OPS, options, weights, context, engine.project(x, kernel, bias), k)

    return jax.lax.scan(step, initial, (inputs, keep))[1]


def _feedback_fwd(inputs, kernel, bias, initial, weights, keep, options):
    projection = engine.project(inputs, kernel, bias)

    def step(context, step_inputs):
        return engine.step(OPS, options, weights, context, *step_inputs)

    returned = jax.lax.scan(step, initial, (projection, keep))[1]
    return returned, (inputs, kernel, bias, projection, returned, initial, weights, keep)


def _feedback_bwd(options, residuals, grads):
    inputs, kernel, bias, projection, returned, initial, weights, keep = residuals
    saved = engine.saved_for_backward(OPS, options, weights, projection, initial, returned)
    transposed = engine.Weights(*(None if w is None or w.ndim < 2 else w.T for w in weights))

    def step(grad_next, inputs):
        grads, saved, k = inputs
        return engine.backward_step(OPS, options, transposed, grad_next, grads, saved, k)

    grad_initial, per_step = jax.lax.scan(
        step, jnp.zeros_like(initial), (tuple(grads), saved, keep), reverse=True
    )
    grad_weights = engine.weight_gradients(OPS, options, initial, saved, per_step)
    # Where the inputs need no gradient, jit drops their product.
    grad_inputs, grad_kernel, grad_bias = engine.input_gradients(
        OPS, inputs, kernel, bias, per_step[-1]
    )
    grad_keep = None if keep is None else jnp.zeros_like(keep)
    return grad_inputs, grad_kernel, grad_bias, grad_initial, grad_weights, grad_keep


feedback.defvjp(_feedback_fwd, _feedback_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def feedback_last(inputs, kernel, bias, initial, weights, keep, options, zero_output_for_mask):
    """The last step's output and c_T, (B, O) each, for inference.

    The arguments are `feedback`'s. Where nothing differentiates the call,
    one scan that carries the state and the held output (Keras's masking
    rule) and stacks nothing. Under differentiation, `feedback`'s forward
    rule and backward pass, from the last step's gradients.
    """

    def step(carry, step_inputs):
        x, k = step_inputs
        projection = engine.project(x, kernel, bias)
        return engine.last_step(OPS, options, weights, carry, projection, k), None

    start = (initial, jnp.zeros_like(initial))
    (context, held), _ = jax.lax.scan(step, start, (inputs, keep))
    return engine.last_output(held, keep, zero_output_for_mask), context


def _feedback_last_fwd(inputs, kernel, bias, initial, weights, keep, options, zero_output_for_mask):
    returned, residuals = _feedback_fwd(inputs, kernel, bias, initial, weights, keep, options)
    outputs = engine.masked_outputs(OPS, options, returned, keep, zero_output_for_mask)
    return (outputs[-1], returned[-1][-1]), residuals


def _feedback_last_bwd(options, zero_output_for_mask, residuals, grads):
    returned, keep = residuals[4], residuals[7]
    grads = engine.last_step_gradients(options, returned, keep, zero_output_for_mask, *grads)
    return _feedback_bwd(options, residuals, grads)


feedback_last.defvjp(_feedback_last_fwd, _feedback_last_bwd)


def native_elman_reason(compute_dtype, mask, go_backwards):
    """Why the native kernel cannot run: JAX has no recurrent kernel of its own."""
    del compute_dtype, mask, go_backwards
    return "JAX has no RNN kernel of its own"


def native_elman(*args, **kwargs):
    """Not available on JAX (see `native_elman_reason`); `engine.feedback` runs instead."""
    raise NotImplementedError(native_elman_reason(None, None, False))
