"""The Elman recurrence as a `lax.scan` with a hand-written backward pass."""

import functools

import jax
import jax.numpy as jnp

_ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}


def _derivative(activation, h):
    """act'(z) from h = act(z): 1 - h^2 for tanh, [h > 0] for relu."""
    if activation == "tanh":
        return 1.0 - h * h
    return (h > 0).astype(h.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _recurrence(projection, h0, recurrent_kernel, activation):
    """(T, B, H) states h_1..h_T of h_t = act(p_t + h_{t-1} U), time-major."""
    return _forward(projection, h0, recurrent_kernel, activation)


def _forward(projection, h0, recurrent_kernel, activation):
    act = _ACTIVATIONS[activation]

    def step(h, p):
        h = act(p + h @ recurrent_kernel)
        return h, h

    return jax.lax.scan(step, h0, projection)[1]


def _recurrence_fwd(projection, h0, recurrent_kernel, activation):
    states = _forward(projection, h0, recurrent_kernel, activation)
    return states, (states, h0, recurrent_kernel)


def _recurrence_bwd(activation, residuals, grad_states):
    states, h0, recurrent_kernel = residuals
    transposed = recurrent_kernel.T

    def step(grad_next, inputs):
        grad_h, h = inputs
        # d loss / d z_t: from h_t's own use and from h_{t+1} through U.
        grad_z = (grad_h + grad_next) * _derivative(activation, h)
        return grad_z @ transposed, grad_z

    grad_h0, grad_z = jax.lax.scan(step, jnp.zeros_like(h0), (grad_states, states), reverse=True)
    previous = jnp.concatenate([h0[None], states[:-1]], axis=0)
    # sum_t h_{t-1}^T dz_t: one product over all steps, not one per step.
    grad_kernel = jnp.einsum("tbi,tbj->ij", previous, grad_z)
    return grad_z, grad_h0, grad_kernel


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """`(outputs, last_state)` of h_t = act(x_t W + h_{t-1} U + b); see `fused_elman`."""
    projection = jnp.swapaxes(inputs, 0, 1) @ kernel
    if bias is not None:
        projection = projection + bias
    if go_backwards:
        projection = jnp.flip(projection, axis=0)
    states = _recurrence(projection, initial_state, recurrent_kernel, activation)
    return jnp.swapaxes(states, 0, 1), states[-1]
