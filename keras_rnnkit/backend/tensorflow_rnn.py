"""The Elman recurrence as a `tf.scan` with a hand-written backward pass.

XLA compiles the generic gradient of a `while_loop` recurrence into a loop
several times slower than the one TensorFlow runs without XLA; this backward
pass (a reverse scan, and the recurrent kernel's gradient as one product over
all steps) is fast under both.
"""

import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util


def in_xla_context():
    """Whether the code being traced will be compiled by XLA (`jit_compile=True`).

    TensorFlow has no public API for this; Keras's train function is a
    `tf.function(jit_compile=True)`, whose graph carries an XLA context.
    """
    return control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())


_ACTIVATIONS = {"tanh": tf.tanh, "relu": tf.nn.relu}


def _derivative(activation, h):
    """act'(z) from h = act(z): 1 - h^2 for tanh, [h > 0] for relu."""
    if activation == "tanh":
        return 1.0 - h * h
    return tf.cast(h > 0, h.dtype)


def _recurrence(projection, h0, recurrent_kernel, activation):
    """(T, B, H) states h_1..h_T of h_t = act(p_t + h_{t-1} U), time-major."""
    act = _ACTIVATIONS[activation]

    @tf.custom_gradient
    def recurrence(projection, h0, recurrent_kernel):
        states = tf.scan(
            lambda h, p: act(p + tf.matmul(h, recurrent_kernel)), projection, initializer=h0
        )

        def backward(grad_states):
            def step(grad_next, inputs):
                grad_h, h = inputs
                # d loss / d z_t: from h_t's own use and from h_{t+1} through U.
                grad_z = (grad_h + grad_next) * _derivative(activation, h)
                return grad_z, tf.matmul(grad_z, recurrent_kernel, transpose_b=True)

            grad_z, grad_previous = tf.scan(
                lambda carry, inputs: step(carry[1], inputs),
                (grad_states, states),
                initializer=(tf.zeros_like(h0), tf.zeros_like(h0)),
                reverse=True,
            )
            previous = tf.concat([h0[None], states[:-1]], axis=0)
            # sum_t h_{t-1}^T dz_t: one product over all steps, not one per step.
            grad_kernel = tf.einsum("tbi,tbj->ij", previous, grad_z)
            return grad_z, grad_previous[0], grad_kernel

        return states, backward

    return recurrence(projection, h0, recurrent_kernel)


def elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """`(outputs, last_state)` of h_t = act(x_t W + h_{t-1} U + b); see `fused_elman`."""
    projection = tf.matmul(tf.transpose(inputs, (1, 0, 2)), kernel)
    if bias is not None:
        projection = projection + bias
    if go_backwards:
        projection = tf.reverse(projection, axis=[0])
    # A tensor, not the variable: the custom gradient then flows to it like any input.
    recurrent_kernel = tf.convert_to_tensor(recurrent_kernel)
    states = _recurrence(projection, initial_state, recurrent_kernel, activation)
    return tf.transpose(states, (1, 0, 2)), states[-1]
