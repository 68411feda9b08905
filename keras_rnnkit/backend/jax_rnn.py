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


_OUTPUT_ACTIVATIONS = {"linear": lambda a: a, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}


def _output_derivative(output_activation, y):
    """output_act'(a) from y = output_act(a); None for linear (a factor of 1)."""
    if output_activation == "tanh":
        return 1.0 - y * y
    if output_activation == "sigmoid":
        return y * (1.0 - y)
    return None


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _jordan_recurrence(projection, c0, recurrent_kernel, output_kernel, output_bias, *options):
    """(outputs y, contexts c), each (T, B, O), time-major; see `fused_jordan`."""
    _, outputs, contexts = _jordan_forward(
        projection, c0, recurrent_kernel, output_kernel, output_bias, *options
    )
    return outputs, contexts


def _jordan_forward(
    projection, c0, recurrent_kernel, output_kernel, output_bias, decay, activation, output_act
):
    act, out_act = _ACTIVATIONS[activation], _OUTPUT_ACTIVATIONS[output_act]

    def step(c, p):
        h = act(p + c @ recurrent_kernel)
        y = out_act(h @ output_kernel + output_bias)
        c = decay * c + y if decay else y
        return c, (h, y, c)

    return jax.lax.scan(step, c0, projection)[1]


def _jordan_fwd(projection, c0, recurrent_kernel, output_kernel, output_bias, *options):
    hidden, outputs, contexts = _jordan_forward(
        projection, c0, recurrent_kernel, output_kernel, output_bias, *options
    )
    residuals = (hidden, outputs, contexts, c0, recurrent_kernel, output_kernel)
    return (outputs, contexts), residuals


def _jordan_bwd(decay, activation, output_act, residuals, grads):
    hidden, outputs, contexts, c0, recurrent_kernel, output_kernel = residuals
    grad_outputs, grad_contexts = grads
    u_t, v_t = recurrent_kernel.T, output_kernel.T

    def step(grad_next, inputs):
        grad_y, grad_c, h, y = inputs
        # d loss / d c_t: its own use, and through c_{t+1} (decay and U).
        grad_c = grad_c + grad_next
        grad_a = grad_y + grad_c  # c_t = decay c_{t-1} + y_t
        derivative = _output_derivative(output_act, y)
        if derivative is not None:
            grad_a = grad_a * derivative
        grad_z = (grad_a @ v_t) * _derivative(activation, h)
        grad_previous = grad_z @ u_t
        if decay:
            grad_previous = grad_previous + decay * grad_c
        return grad_previous, (grad_a, grad_z)

    grad_c0, (grad_a, grad_z) = jax.lax.scan(
        step, jnp.zeros_like(c0), (grad_outputs, grad_contexts, hidden, outputs), reverse=True
    )
    previous = jnp.concatenate([c0[None], contexts[:-1]], axis=0)
    # The weights' gradients: one product over all steps each, not one per step.
    grad_recurrent = jnp.einsum("tbi,tbj->ij", previous, grad_z)
    grad_output_kernel = jnp.einsum("tbi,tbj->ij", hidden, grad_a)
    grad_output_bias = jnp.sum(grad_a, axis=(0, 1))
    return grad_z, grad_c0, grad_recurrent, grad_output_kernel, grad_output_bias


_jordan_recurrence.defvjp(_jordan_fwd, _jordan_bwd)


def jordan(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    output_kernel,
    output_bias,
    *,
    decay,
    activation,
    output_activation,
    go_backwards,
):
    """`(outputs, last_state)` of the Jordan recurrence; see `fused_jordan`."""
    projection = jnp.swapaxes(inputs, 0, 1) @ kernel
    if bias is not None:
        projection = projection + bias
    if go_backwards:
        projection = jnp.flip(projection, axis=0)
    if output_bias is None:
        output_bias = jnp.zeros((output_kernel.shape[1],), projection.dtype)
    outputs, contexts = _jordan_recurrence(
        projection,
        initial_state,
        recurrent_kernel,
        output_kernel,
        output_bias,
        decay,
        activation,
        output_activation,
    )
    return jnp.swapaxes(outputs, 0, 1), contexts[-1]
