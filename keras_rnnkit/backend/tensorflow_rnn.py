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


_OUTPUT_ACTIVATIONS = {"linear": tf.identity, "tanh": tf.tanh, "sigmoid": tf.sigmoid}


def _output_derivative(output_activation, y):
    """output_act'(a) from y = output_act(a); None for linear (a factor of 1)."""
    if output_activation == "tanh":
        return 1.0 - y * y
    if output_activation == "sigmoid":
        return y * (1.0 - y)
    return None


def _jordan_recurrence(projection, c0, weights, decay, activation, output_activation):
    """(outputs y, contexts c), each (T, B, O), time-major; see `fused_jordan`."""
    act, out_act = _ACTIVATIONS[activation], _OUTPUT_ACTIVATIONS[output_activation]

    @tf.custom_gradient
    def recurrence(projection, c0, recurrent_kernel, output_kernel, output_bias):
        def step(carry, p):
            c = carry[2]
            h = act(p + tf.matmul(c, recurrent_kernel))
            y = out_act(tf.matmul(h, output_kernel) + output_bias)
            return h, y, decay * c + y if decay else y

        batch = tf.shape(c0)[0]
        initializer = (
            tf.zeros(tf.stack([batch, tf.shape(recurrent_kernel)[1]]), projection.dtype),
            tf.zeros_like(c0),
            c0,
        )
        hidden, outputs, contexts = tf.scan(step, projection, initializer=initializer)

        def backward(grad_outputs, grad_contexts):
            # An output that the loss does not use may get no gradient at all.
            grad_outputs = tf.zeros_like(outputs) if grad_outputs is None else grad_outputs
            grad_contexts = tf.zeros_like(contexts) if grad_contexts is None else grad_contexts

            def step(carry, inputs):
                grad_next = carry[2]
                grad_y, grad_c, h, y = inputs
                # d loss / d c_t: its own use, and through c_{t+1} (decay and U).
                grad_c = grad_c + grad_next
                grad_a = grad_y + grad_c  # c_t = decay c_{t-1} + y_t
                derivative = _output_derivative(output_activation, y)
                if derivative is not None:
                    grad_a = grad_a * derivative
                grad_z = tf.matmul(grad_a, output_kernel, transpose_b=True) * _derivative(
                    activation, h
                )
                grad_previous = tf.matmul(grad_z, recurrent_kernel, transpose_b=True)
                if decay:
                    grad_previous = grad_previous + decay * grad_c
                return grad_a, grad_z, grad_previous

            grad_a, grad_z, grad_previous = tf.scan(
                step,
                (grad_outputs, grad_contexts, hidden, outputs),
                initializer=(tf.zeros_like(c0), tf.zeros_like(hidden[0]), tf.zeros_like(c0)),
                reverse=True,
            )
            previous = tf.concat([c0[None], contexts[:-1]], axis=0)
            # The weights' gradients: one product over all steps each, not one per step.
            return (
                grad_z,
                grad_previous[0],
                tf.einsum("tbi,tbj->ij", previous, grad_z),
                tf.einsum("tbi,tbj->ij", hidden, grad_a),
                tf.reduce_sum(grad_a, axis=(0, 1)),
            )

        return (outputs, contexts), backward

    return recurrence(projection, c0, *weights)


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
    projection = tf.matmul(tf.transpose(inputs, (1, 0, 2)), kernel)
    if bias is not None:
        projection = projection + bias
    if go_backwards:
        projection = tf.reverse(projection, axis=[0])
    if output_bias is None:
        output_bias = tf.zeros((output_kernel.shape[1],), projection.dtype)
    # Tensors, not variables: the custom gradient then flows to them like any input.
    weights = [tf.convert_to_tensor(w) for w in (recurrent_kernel, output_kernel, output_bias)]
    outputs, contexts = _jordan_recurrence(
        projection, initial_state, weights, decay, activation, output_activation
    )
    return tf.transpose(outputs, (1, 0, 2)), contexts[-1]
