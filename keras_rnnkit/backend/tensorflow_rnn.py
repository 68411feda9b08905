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


def _recurrence(projection, h0, recurrent_kernel, keep, activation):
    """(T, B, H) states of h_t = act(p_t + h_{t-1} U), time-major.

    `keep` (T, B, 1) of 0/1, or None: where 0 the step is masked and the
    state is carried unchanged (h_t = h_{t-1}).
    """
    act = _ACTIVATIONS[activation]
    # The scans' per-step elements: the mask travels with the projection.
    masks = () if keep is None else (keep,)

    @tf.custom_gradient
    def recurrence(projection, h0, recurrent_kernel):
        def step(h, inputs):
            new = act(inputs[0] + tf.matmul(h, recurrent_kernel))
            return new if keep is None else tf.where(inputs[1] > 0, new, h)

        states = tf.scan(step, (projection, *masks), initializer=h0)

        def backward(grad_states):
            def step(grad_next, inputs):
                grad_h, h = inputs[:2]
                # d loss / d z_t: from h_t's own use and from h_{t+1} through U.
                grad = grad_h + grad_next
                grad_z = grad * _derivative(activation, h)
                if keep is None:
                    return grad_z, tf.matmul(grad_z, recurrent_kernel, transpose_b=True)
                # A masked step has no z_t: its state's gradient passes straight to h_{t-1}.
                k = inputs[2]
                grad_z = grad_z * k
                grad_previous = tf.matmul(grad_z, recurrent_kernel, transpose_b=True)
                return grad_z, grad_previous + grad * (1 - k)

            grad_z, grad_previous = tf.scan(
                lambda carry, inputs: step(carry[1], inputs),
                (grad_states, states, *masks),
                initializer=(tf.zeros_like(h0), tf.zeros_like(h0)),
                reverse=True,
            )
            previous = tf.concat([h0[None], states[:-1]], axis=0)
            # sum_t h_{t-1}^T dz_t: one product over all steps, not one per step.
            grad_kernel = tf.einsum("tbi,tbj->ij", previous, grad_z)
            return grad_z, grad_previous[0], grad_kernel

        return states, backward

    return recurrence(projection, h0, recurrent_kernel)


def _in_processing_order(inputs, kernel, bias, mask, go_backwards):
    """The input projection x_t W + b of all steps in one product, and the mask
    as 0/1 `keep` (or None), both time-major (T, B, ...) in processing order."""
    projection = tf.matmul(tf.transpose(inputs, (1, 0, 2)), kernel)
    if bias is not None:
        projection = projection + bias
    keep = None if mask is None else tf.cast(tf.transpose(mask)[..., None], inputs.dtype)
    if go_backwards:
        projection = tf.reverse(projection, axis=[0])
        keep = None if keep is None else tf.reverse(keep, axis=[0])
    return projection, keep


def elman(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    go_backwards,
    mask=None,
    zero_output_for_mask=False,
):
    """`(outputs, last_state)` of h_t = act(x_t W + h_{t-1} U + b); see `fused_elman`.

    `mask` (B, T), or None: masked steps keep the state; their outputs are
    zeros with `zero_output_for_mask`, else the last unmasked step's output
    (zeros before the first one), as in the step loop.
    """
    projection, keep = _in_processing_order(inputs, kernel, bias, mask, go_backwards)
    # A tensor, not the variable: the custom gradient then flows to it like any input.
    recurrent_kernel = tf.convert_to_tensor(recurrent_kernel)
    states = _recurrence(projection, initial_state, recurrent_kernel, keep, activation)
    outputs = states
    if keep is not None:
        # 1 from the first unmasked step on (a running maximum of the 0/1 mask).
        seen = keep if zero_output_for_mask else tf.minimum(tf.cumsum(keep, axis=0), 1)
        outputs = states * seen
    return tf.transpose(outputs, (1, 0, 2)), states[-1]


# cuDNN's plain RNN modes, and the dtypes its kernels take (no bfloat16).
_CUDNN_MODES = {"tanh": "rnn_tanh", "relu": "rnn_relu"}
_CUDNN_DTYPES = ("float16", "float32", "float64")


def cudnn_available(compute_dtype):
    """Whether `cudnn_elman` can run here: a GPU that TensorFlow sees, outside XLA.

    cuDNN's ops have no XLA kernel; under `jit_compile=True` the scan runs.
    """
    return (
        compute_dtype in _CUDNN_DTYPES
        and bool(tf.config.list_logical_devices("GPU"))
        and not in_xla_context()
    )


def cudnn_parameters(kernel, recurrent_kernel, bias):
    """The weights as the flat buffer of cuDNN's canonical layout for one RNN layer.

    cuDNN computes h_t = act(W x_t + R h_{t-1} + b_W + b_R) with W (H, D) and
    R (H, H) stored row-major: W = kernel^T, R = recurrent_kernel^T, then
    the input bias b_W (zeros: Keras has one bias) and the recurrent bias b_R.
    This is what `keras.layers.LSTM` packs for cuDNN, with one gate.
    """
    units = tf.shape(recurrent_kernel)[0]
    if bias is None:
        bias = tf.zeros([units], recurrent_kernel.dtype)
    parts = [tf.transpose(kernel), tf.transpose(recurrent_kernel), tf.zeros_like(bias), bias]
    return tf.concat([tf.reshape(part, [-1]) for part in parts], axis=0)


def cudnn_elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """`elman` through cuDNN's RNN_TANH / RNN_RELU mode (TensorFlow's CudnnRNNV3 op).

    Only on a GPU (see `cudnn_available`); the op's registered gradient
    gives the backward pass. Without a mask every sequence has the full
    length, so `go_backwards` is a plain reversal of the inputs, and the
    outputs come out in processing order.
    """
    if go_backwards:
        inputs = tf.reverse(inputs, axis=[1])
    shape = tf.shape(inputs)
    outputs, last_state, _, _, _ = tf.raw_ops.CudnnRNNV3(
        input=inputs,
        # Batch-major: (B, layers, H), as keras.layers.LSTM passes it.
        input_h=tf.expand_dims(initial_state, axis=1),
        input_c=0,  # only the LSTM mode has a cell state
        params=cudnn_parameters(kernel, recurrent_kernel, bias),
        is_training=True,
        rnn_mode=_CUDNN_MODES[activation],
        sequence_lengths=tf.fill([shape[0]], shape[1]),
        time_major=False,
    )
    return outputs, tf.squeeze(last_state, axis=1)


_OUTPUT_ACTIVATIONS = {"linear": tf.identity, "tanh": tf.tanh, "sigmoid": tf.sigmoid}


def _output_derivative(output_activation, y):
    """output_act'(a) from y = output_act(a); None for linear (a factor of 1)."""
    if output_activation == "tanh":
        return 1.0 - y * y
    if output_activation == "sigmoid":
        return y * (1.0 - y)
    return None


def _jordan_recurrence(projection, c0, weights, keep, decay, activation, output_activation):
    """(outputs y, contexts c), each (T, B, O), time-major; see `fused_jordan`.

    `keep` (T, B, 1) of 0/1, or None: where 0 the step is masked and the
    context is carried unchanged (its output y is computed but unused).
    """
    act, out_act = _ACTIVATIONS[activation], _OUTPUT_ACTIVATIONS[output_activation]
    # The scans' per-step elements: the mask travels with the projection.
    masks = () if keep is None else (keep,)

    @tf.custom_gradient
    def recurrence(projection, c0, recurrent_kernel, output_kernel, output_bias):
        def step(carry, inputs):
            c = carry[2]
            h = act(inputs[0] + tf.matmul(c, recurrent_kernel))
            y = out_act(tf.matmul(h, output_kernel) + output_bias)
            new = decay * c + y if decay else y
            return h, y, new if keep is None else tf.where(inputs[1] > 0, new, c)

        batch = tf.shape(c0)[0]
        initializer = (
            tf.zeros(tf.stack([batch, tf.shape(recurrent_kernel)[1]]), projection.dtype),
            tf.zeros_like(c0),
            c0,
        )
        hidden, outputs, contexts = tf.scan(step, (projection, *masks), initializer=initializer)

        def backward(grad_outputs, grad_contexts):
            # An output that the loss does not use may get no gradient at all.
            grad_outputs = tf.zeros_like(outputs) if grad_outputs is None else grad_outputs
            grad_contexts = tf.zeros_like(contexts) if grad_contexts is None else grad_contexts

            def step(carry, inputs):
                grad_next = carry[2]
                grad_y, grad_c, h, y = inputs[:4]
                k = None if keep is None else inputs[4]
                # d loss / d c_t: its own use, and through c_{t+1} (decay and U).
                grad_c = grad_c + grad_next
                # c_t = decay c_{t-1} + y_t, or c_{t-1} where the step is masked.
                grad_a = grad_y + (grad_c if k is None else k * grad_c)
                derivative = _output_derivative(output_activation, y)
                if derivative is not None:
                    grad_a = grad_a * derivative
                grad_z = tf.matmul(grad_a, output_kernel, transpose_b=True) * _derivative(
                    activation, h
                )
                grad_previous = tf.matmul(grad_z, recurrent_kernel, transpose_b=True)
                carried = decay if k is None else decay * k + (1 - k)
                if decay or k is not None:
                    grad_previous = grad_previous + carried * grad_c
                return grad_a, grad_z, grad_previous

            grad_a, grad_z, grad_previous = tf.scan(
                step,
                (grad_outputs, grad_contexts, hidden, outputs, *masks),
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


def _held_outputs(outputs, keep, zero_output_for_mask):
    """Keras's masking rule on (T, B, O) outputs: a masked step repeats the last
    unmasked step's output (zeros before the first one), or is zeros."""
    if zero_output_for_mask:
        return outputs * keep
    steps = tf.range(tf.shape(outputs)[0])[:, None]
    real_steps = tf.where(keep[..., 0] > 0, steps, -1)
    # The last unmasked step so far: a running maximum along time (TensorFlow has no cummax).
    last = tf.scan(tf.maximum, real_steps)
    rows = tf.broadcast_to(tf.range(tf.shape(outputs)[1])[None, :], tf.shape(last))
    held = tf.gather_nd(outputs, tf.stack([tf.maximum(last, 0), rows], axis=-1))
    return held * tf.cast(last >= 0, outputs.dtype)[..., None]


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
    mask=None,
    zero_output_for_mask=False,
):
    """`(outputs, last_state)` of the Jordan recurrence; see `fused_jordan`."""
    projection, keep = _in_processing_order(inputs, kernel, bias, mask, go_backwards)
    if output_bias is None:
        output_bias = tf.zeros((output_kernel.shape[1],), projection.dtype)
    # Tensors, not variables: the custom gradient then flows to them like any input.
    weights = [tf.convert_to_tensor(w) for w in (recurrent_kernel, output_kernel, output_bias)]
    outputs, contexts = _jordan_recurrence(
        projection, initial_state, weights, keep, decay, activation, output_activation
    )
    if keep is not None:
        outputs = _held_outputs(outputs, keep, zero_output_for_mask)
    return tf.transpose(outputs, (1, 0, 2)), contexts[-1]
