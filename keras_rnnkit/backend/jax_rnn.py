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
    zeros_like=jnp.zeros_like,
    ones_like=jnp.ones_like,
)


def _scan(options, weights, initial, elements, project_inside):
    """The forward scan of `engine.scan_step`: `(last carry, stacked carries)`.

    `elements` are (projection, keep) of every step, or, with `project_inside`
    the kernel and bias, (inputs, keep): x_t W + b is then computed in each step.
    """

    def step(carry, step_elements):
        x, keep = step_elements
        projection = x if project_inside is None else engine.project(x, *project_inside)
        carry = engine.scan_step(OPS, options, weights, carry, projection, keep)
        return carry, carry

    return jax.lax.scan(step, engine.initial_carry(OPS, options, initial), elements)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def feedback(inputs, kernel, bias, initial, weights, keep, options):
    """The returned tensors of `engine.scan_step`, stacked (T, B, .), time-major.

    `inputs` (T, B, D) in processing order. JAX runs this function itself
    only where nothing differentiates the call (inference): one scan that
    projects x_t inside each step. Under differentiation `_feedback_fwd`
    runs instead: the projection of all steps as one product before the
    scan, which the backward pass keeps.
    """
    return _scan(options, weights, initial, (inputs, keep), (kernel, bias))[1]


def _feedback_fwd(inputs, kernel, bias, initial, weights, keep, options):
    projection = engine.project(inputs, kernel, bias)
    returned = _scan(options, weights, initial, (projection, keep), None)[1]
    return returned, (inputs, kernel, bias, projection, returned, initial, weights, keep)


def _feedback_bwd(options, residuals, grads):
    inputs, kernel, bias, projection, returned, initial, weights, keep = residuals
    saved = engine.saved_for_backward(OPS, options, weights, projection, initial, returned)
    transposed = engine.Weights(*(None if w is None or w.ndim < 2 else w.T for w in weights))

    def step(carry, inputs):
        grads, saved, k = inputs
        return engine.backward_step(OPS, options, transposed, carry, grads, saved, k)

    start = engine.initial_gradient_carry(options, jnp.zeros_like(initial))
    carry, per_step = jax.lax.scan(step, start, (tuple(grads), saved, keep), reverse=True)
    grad_weights = engine.weight_gradients(OPS, options, initial, saved, per_step)
    # Where the inputs need no gradient, jit drops their product.
    grad_inputs, grad_kernel, grad_bias = engine.input_gradients(
        OPS, inputs, kernel, bias, per_step[-1]
    )
    grad_keep = None if keep is None else jnp.zeros_like(keep)
    return grad_inputs, grad_kernel, grad_bias, carry[-1], grad_weights, grad_keep


feedback.defvjp(_feedback_fwd, _feedback_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def feedback_last(inputs, kernel, bias, initial, weights, keep, options):
    """The last step's output and c_T, (B, O) each, for inference.

    The arguments are `feedback`'s. Where nothing differentiates the call,
    one scan that carries the state (and the output, where it is carried)
    and stacks nothing. Under differentiation, `feedback`'s forward rule and
    backward pass, from the last step's gradients.
    """

    def step(carry, step_elements):
        x, k = step_elements
        projection = engine.project(x, kernel, bias)
        return engine.scan_step(OPS, options, weights, carry, projection, k), None

    carry, _ = jax.lax.scan(step, engine.initial_carry(OPS, options, initial), (inputs, keep))
    return engine.last_of(options, carry)


def _feedback_last_fwd(inputs, kernel, bias, initial, weights, keep, options):
    returned, residuals = _feedback_fwd(inputs, kernel, bias, initial, weights, keep, options)
    return engine.last_of(options, tuple(r[-1] for r in returned)), residuals


def _feedback_last_bwd(options, residuals, grads):
    grads = engine.last_step_gradients(options, residuals[4], *grads)
    return _feedback_bwd(options, residuals, grads)


feedback_last.defvjp(_feedback_last_fwd, _feedback_last_bwd)


def native_rnn_reason(compute_dtype, mask, go_backwards):
    """Why the native kernel cannot run: JAX has no recurrent kernel of its own."""
    del compute_dtype, mask, go_backwards
    return "JAX has no RNN kernel of its own"


def native_rnn(*args, **kwargs):
    """Not available on JAX (see `native_rnn_reason`); `engine.feedback` runs instead."""
    raise NotImplementedError(native_rnn_reason(None, None, False))
