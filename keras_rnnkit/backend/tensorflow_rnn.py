"""The engine's recurrence on TensorFlow: `tf.scan` forwards and backwards, one
`tf.custom_gradient`, each scan compiled by XLA where the graph around it is
not (`compiles_scans`); and cuDNN's simple-RNN kernel on a GPU.

XLA's generic gradient of a `while_loop` recurrence is slow; this backward
pass (the reverse scan of `engine.backward_step`, and each weight's gradient
as one product over all steps) replaces it, with XLA and without
(docs/benchmarks.md, "Which path runs").
"""

import types

import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util

from keras_rnnkit.backend import engine


def in_xla_context():
    """Whether the code being traced will be compiled by XLA (`jit_compile=True`).

    TensorFlow has no public API for this; Keras's train function is a
    `tf.function(jit_compile=True)`, whose graph carries an XLA context.
    """
    return control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())


def _sum_of_products(a, b):
    """sum_t a_t^T b_t for (T, B, I) and (T, B, J), one product over all steps."""
    return tf.einsum("tbi,tbj->ij", a, b)


OPS = types.SimpleNamespace(
    # A variable read into a tensor: the ops and the custom gradient take tensors.
    as_tensor=tf.convert_to_tensor,
    tanh=tf.tanh,
    relu=tf.nn.relu,
    sigmoid=tf.sigmoid,
    where=tf.where,
    positive=lambda x: tf.cast(x > 0, x.dtype),
    affine=lambda p, x, w: p + tf.matmul(x, w),
    concat=lambda parts: tf.concat(parts, axis=0),
    sum_of_products=_sum_of_products,
    sum_over_steps=lambda x: tf.reduce_sum(x, axis=(0, 1)),
    zeros_like=tf.zeros_like,
    ones_like=tf.ones_like,
)


def _forward(options, projection, initial, tensors, masks):
    """The forward scan: `engine.scan_step`'s returned tensors, stacked time-major."""
    weights = engine.Weights(*tensors)

    def step(carry, inputs):
        keep = inputs[1] if masks else None
        return engine.scan_step(OPS, options, weights, carry, inputs[0], keep)

    start = engine.initial_carry(OPS, options, initial)
    return tf.scan(step, (projection, *masks), initializer=start)


def _backward(options, grads, saved, initial, tensors, masks):
    """The reverse scan: `(per_step, dL/dc_0)`, `per_step` as `engine.backward_step` names it."""
    transposed = engine.Weights(*(tf.transpose(w) if len(w.shape) == 2 else None for w in tensors))
    width = 2 if options.has_output_layer else 1

    def step(state, inputs):
        keep = inputs[2] if masks else None
        carry, per_step = engine.backward_step(
            OPS, options, transposed, state[width:], inputs[0], inputs[1], keep
        )
        return (*per_step, *carry)

    zeros = tf.zeros_like(initial)
    hidden_zeros = _hidden_zeros(initial, tensors[0])
    per_step = (zeros, hidden_zeros) if options.has_output_layer else (hidden_zeros,)
    start = (*per_step, *engine.initial_gradient_carry(options, zeros))
    elems = (grads, saved, *masks)
    stacked = tf.scan(step, elems, initializer=start, reverse=True)
    return stacked[:width], stacked[-1][0]


def _hidden_zeros(initial, recurrent_kernel):
    shape = tf.stack([tf.shape(initial)[0], tf.shape(recurrent_kernel)[1]])
    return tf.zeros(shape, initial.dtype)


# The two scans compiled by XLA, for graphs that XLA does not compile (see
# `compiles_scans`). Compiled once per shape and dtype; the options are static.
_COMPILED_FORWARD = tf.function(_forward, jit_compile=True, reduce_retracing=True)
_COMPILED_BACKWARD = tf.function(_backward, jit_compile=True, reduce_retracing=True)


def _compiled(function):
    """Calls an XLA-compiled function with inputs that no gradient tape watches.

    Eager `tf.custom_gradient` leaves the tape recording: a watched call
    would make TensorFlow build the function's own gradient, whose loop
    state cannot leave XLA ("TensorList crossing the XLA/TF boundary").
    The custom gradient is the only one wanted.
    """

    def call(options, *tensors):
        return function(options, *tf.nest.map_structure(tf.stop_gradient, tensors))

    return call


def _with_shapes(tensors, shapes):
    """`tensors` with their static shapes set to `shapes` (known dimensions only)."""
    for tensor, shape in zip(tensors, shapes, strict=True):
        tensor.set_shape(shape)
    return tuple(tensors)


def compiles_scans():
    """Whether `feedback` runs its scans as XLA-compiled functions here.

    Yes outside XLA: TensorFlow's executor spends longer on a while loop's
    bookkeeping per step than on the step's own matrix product, and XLA runs
    the same loop with a fraction of that (docs/benchmarks.md, "TensorFlow
    without XLA: why the scans are compiled"). Inside a graph that
    XLA compiles (`jit_compile=True`) the scans are compiled with it anyway;
    and not while an exporter traces (`engine.portable()`): SavedModel, TFLite
    and ONNX files hold plain TensorFlow ops.
    """
    return not in_xla_context() and not engine.PORTABLE.get()


def _scans():
    """The forward and the reverse scan, XLA-compiled where `compiles_scans` says so."""
    if compiles_scans():
        return _compiled(_COMPILED_FORWARD), _compiled(_COMPILED_BACKWARD)
    return _forward, _backward


def _returned_shapes(options, hidden_shape, context_width):
    """The static shapes of the returned and the per-step tensors, from the projection's.

    A function traced with `reduce_retracing` may return less: its trace
    serves other shapes too.
    """
    context_shape = hidden_shape[:2] + (context_width,)
    if options.has_output_layer:
        return (context_shape, context_shape), (context_shape, hidden_shape)
    returned = (hidden_shape[:2] + (1,), hidden_shape) if options.shows_flag else (hidden_shape,)
    return returned, (hidden_shape,)


def _stacked(scans, options, projection, initial, tensors, masks):
    """The forward scan's returned tensors, with their static shapes."""
    returned = scans[0](options, projection, initial, tensors, masks)
    shapes = _returned_shapes(options, projection.shape, initial.shape[-1])[0]
    return _with_shapes(returned, shapes)


def _gradients(scans, options, grads, projection, initial, tensors, masks, returned):
    """`(dL/dprojection, dL/dc_0, *the weights' gradients)` from the returned tensors'."""
    # A tensor that the loss does not use may get no gradient at all.
    grads = tuple(
        tf.zeros_like(r) if g is None else g for g, r in zip(grads, returned, strict=True)
    )
    saved = engine.saved_for_backward(
        OPS, options, engine.Weights(*tensors), projection, initial, returned
    )
    per_step, grad_initial = scans[1](options, grads, saved, initial, tensors, masks)
    per_step = _with_shapes(
        per_step, _returned_shapes(options, projection.shape, initial.shape[-1])[1]
    )
    (grad_initial,) = _with_shapes((grad_initial,), (initial.shape,))
    # Outside the compiled function: TensorFlow's own product over all steps
    # is the faster one here (docs/benchmarks.md, "Which path runs").
    gradients = engine.weight_gradients(OPS, options, initial, saved, per_step)
    return (per_step[-1], grad_initial, *(g for g in gradients if g is not None))


def feedback(inputs, kernel, bias, initial, weights, keep, options):
    """The returned tensors of `engine.scan_step`, stacked (T, B, .), time-major.

    `inputs` (T, B, D) in processing order; their projection is one product
    before the scans, differentiated by TensorFlow (multiplying x_t W inside
    the forward scan is no faster here, with XLA or without:
    docs/benchmarks.md, "JAX inference"). `keep`
    (T, B, 1) of 0/1, or None; it travels with the projection as the scans'
    per-step elements.
    """
    projection = engine.project(inputs, kernel, bias)
    masks = () if keep is None else (keep,)
    # Tensors, not variables: the custom gradient then flows to them like any input.
    tensors = [tf.convert_to_tensor(w) for w in weights if w is not None]
    scans = _scans()

    @tf.custom_gradient
    def recurrence(projection, initial, *tensors):
        returned = _stacked(scans, options, projection, initial, tensors, masks)

        def backward(*grads):
            return _gradients(scans, options, grads, projection, initial, tensors, masks, returned)

        return returned, backward

    return recurrence(projection, initial, *tensors)


def _forward_last(options, steps, projecting, initial, tensors, masks):
    """The inference loop: the last carry of `engine.scan_step`, nothing stacked.

    `steps` (T, B, .) are the projection x_t W + b of every step, with
    `projecting` empty; or the inputs, with `projecting` the kernel (and
    the bias) that multiply them inside each step.
    """
    weights = engine.Weights(*tensors)

    def step(carry, elements):
        keep = elements[1] if masks else None
        projection = engine.project(elements[0], *projecting) if projecting else elements[0]
        return engine.scan_step(OPS, options, weights, carry, projection, keep)

    start = engine.initial_carry(OPS, options, initial)
    return tf.foldl(step, (steps, *masks), initializer=start)


def _last_shapes(options, shape):
    """The static shapes of the inference loop's last carry, from c_0's."""
    if not options.stacks_outputs:
        return (shape,)
    return (shape[:1] + (1,) if options.shows_flag else shape, shape)


_COMPILED_FORWARD_LAST = tf.function(_forward_last, jit_compile=True, reduce_retracing=True)


def feedback_last(inputs, kernel, bias, initial, weights, keep, options):
    """The last step's output and c_T, (B, O) each, for inference.

    The arguments are `feedback`'s. This forward loop carries only the state
    (and the output, where it is carried), where `feedback`'s stacks every
    step's. Its gradient, for a caller that differentiates an inference call
    (a saliency map, say), is `feedback`'s: the stacking forward scan runs
    again, then the backward pass from the last step's gradients.
    """
    masks = () if keep is None else (keep,)
    biases = () if bias is None else (bias,)
    has_bias = len(biases)
    tensors = [tf.convert_to_tensor(w) for w in weights if w is not None]
    forward = _compiled(_COMPILED_FORWARD_LAST) if compiles_scans() else _forward_last
    scans = _scans()

    @tf.custom_gradient
    def last(inputs, kernel, initial, *rest):
        biases, tensors = rest[:has_bias], rest[has_bias:]
        bias = biases[0] if biases else None
        # x_t W inside the loop without an output layer (faster under XLA, the
        # same without); before it with one, whose loop has two more products
        # per step (docs/benchmarks.md, "Inference of the last step").
        if options.has_output_layer:
            steps, projecting = engine.project(inputs, kernel, bias), ()
        else:
            steps, projecting = inputs, (kernel, *biases)
        carry = forward(options, steps, projecting, initial, tensors, masks)
        carry = _with_shapes(carry, _last_shapes(options, initial.shape))

        def backward(grad_output, grad_context):
            # With an output layer the loop read the projection; without, it projected inside.
            projection = engine.project(inputs, kernel, bias) if projecting else steps
            returned = _stacked(scans, options, projection, initial, tensors, masks)
            grads = engine.last_step_gradients(options, returned, grad_output, grad_context)
            grad_projection, grad_initial, *grad_weights = _gradients(
                scans, options, grads, projection, initial, tensors, masks, returned
            )
            grad_inputs, grad_kernel, grad_bias = engine.input_gradients(
                OPS, inputs, kernel, bias, grad_projection
            )
            grad_biases = () if bias is None else (grad_bias,)
            return (grad_inputs, grad_kernel, grad_initial, *grad_biases, *grad_weights)

        return engine.last_of(options, carry), backward

    return last(inputs, kernel, initial, *biases, *tensors)


# cuDNN's plain RNN modes, and the dtypes its kernels take (no bfloat16).
_CUDNN_MODES = {"tanh": "rnn_tanh", "relu": "rnn_relu"}
_CUDNN_DTYPES = ("float16", "float32", "float64")


def native_rnn_reason(compute_dtype, mask, go_backwards):
    """Why `native_rnn` (cuDNN's kernel) cannot run here, or None when it can.

    It needs a GPU that TensorFlow sees, a dtype cuDNN takes, no XLA (cuDNN's
    ops have no XLA kernel: under `jit_compile=True` the scan runs) and no
    mask.
    """
    del go_backwards  # a plain reversal without a mask
    if not tf.config.list_logical_devices("GPU"):
        return "TensorFlow sees no GPU for cuDNN's kernel"
    if compute_dtype not in _CUDNN_DTYPES:
        return f"cuDNN's kernel has no {compute_dtype} path"
    if in_xla_context():
        return "cuDNN's kernel has no XLA form"
    if mask is not None:
        return "a mask is given (cuDNN's kernel runs whole sequences here)"
    return None


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


def native_rnn(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    *,
    go_backwards,
    lengths=None,
    zero_output_for_mask=False,
):
    """The recurrence without an output layer through cuDNN's RNN_TANH / RNN_RELU mode
    (TensorFlow's CudnnRNNV3 op): `(outputs, last_state)`.

    Only on a GPU and without a mask (see `native_rnn_reason`: `lengths`
    and `zero_output_for_mask` are then None and irrelevant); the op's registered gradient
    gives the backward pass. Without a mask every sequence has the full
    length, so `go_backwards` is a plain reversal of the inputs, and the
    outputs come out in processing order.
    """
    del lengths, zero_output_for_mask
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
