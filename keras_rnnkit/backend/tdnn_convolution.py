"""TDNN as one convolution, where the context is evenly spaced and conv is the faster path.

A context c_i = c_0 + i * d (i = 0..K-1) is a convolution with K taps and
dilation d: y_t = sum_i x_{t + c_0 + i d} W_i, the kernel (K, D, H) already in
`keras.ops.conv`'s layout. `TDNN.call` runs `convolve` when
`convolution_reason` finds no reason against it, and otherwise its generic
gather-and-matmul path (by that visible decision; nothing is tried and caught).

Which backends take conv follows the training-step time of conv against
matmul (docs/benchmarks.md, "Which path runs"): see `convolution_reason`.
"""

import keras

# Why each backend keeps the matmul path for an evenly spaced context
# (None: conv is used), by which of the two is faster there:
_BACKEND_REASONS = {
    # Conv for a contiguous context; TensorFlow's CPU conv with dilation > 1
    # is the slower one, so there only d == 1 takes conv (see below).
    "tensorflow": None,
    # Conv, contiguous and dilated alike.
    "jax": None,
    # PyTorch's CPU conv1d is slower than its matrix product (so is Conv1D there).
    "torch": "on torch the matrix product is faster than conv1d",
}


def dilation(context):
    """The spacing d of an evenly spaced context (c_0 + i * d), or None.

    A single offset counts as evenly spaced with d = 1.

    >>> dilation((-2, -1, 0, 1, 2)), dilation((-4, -2, 0)), dilation((3,))
    (1, 2, 1)
    >>> dilation((-7, -3, -1, 0, 2)) is None
    True
    """
    steps = {b - a for a, b in zip(context[:-1], context[1:])}
    if len(steps) > 1:
        return None
    return steps.pop() if steps else 1


def convolution_reason(context, backend, shape=None):
    """Why `TDNN` runs `context` as gather-and-matmul on `backend` for inputs of static
    `shape` (B, T, D); None when conv is used.

    >>> convolution_reason((-2, -1, 0, 1, 2), "jax") is None
    True
    >>> convolution_reason((-7, -3, -1, 0, 2), "jax")
    'the context is not evenly spaced'
    >>> convolution_reason((-1, 0, 1), "tensorflow", shape=(0, 7, 3))
    'conv gives wrong shapes for an empty batch or sequence'
    >>> convolution_reason((-9, 0, 9), "jax", shape=(2, 7, 3))
    'the window is longer than the sequence'
    """
    if shape is not None and 0 in tuple(shape)[:2]:
        return "conv gives wrong shapes for an empty batch or sequence"
    if shape is not None and shape[1] is not None and context[-1] - context[0] >= shape[1]:
        # Conv would pad the whole window; the matrix product pads at most T a side.
        return "the window is longer than the sequence"
    d = dilation(context)
    if d is None:
        return "the context is not evenly spaced"
    if len(context) == 1:
        return "a single offset is already one matrix product"
    if backend not in _BACKEND_REASONS:
        return f"conv is not known to be faster on the {backend} backend"
    if backend == "tensorflow" and d > 1:
        return "TensorFlow's CPU conv with dilation > 1 is slower than the matrix product"
    return _BACKEND_REASONS[backend]


def _strides_exact(d, static_length):
    # tf.nn.convolution refuses strides > 1 together with dilation > 1, and its gradient
    # fails for strides of 10**6 (TDNN caps the stride at a known length): there the
    # output is sub-sampled by slicing instead.
    if static_length is None:
        return False
    return d == 1 or keras.backend.backend() != "tensorflow"


def convolve(inputs, kernel, context, padding, stride):
    """The TDNN product sum_i x_{t + context[i]} W_i as one `keras.ops.conv`.

    Args:
        inputs: (B, T, D), masked steps already zeroed.
        kernel: (K, D, H).
        context: K evenly spaced increasing offsets (`dilation(context)` is
            not None).
        padding: `"same"` (inputs outside [0, T) are zeros, T outputs) or
            `"valid"` (T - (max - min) outputs).
        stride: keep every `stride`-th output, starting with the first.

    Returns:
        (B, T', H): what `TDNN` computes before the bias, as its matmul path.
    """
    d = dilation(context)
    lo, hi = context[0], context[-1]
    span = hi - lo
    length = keras.ops.shape(inputs)[1]
    static_length = inputs.shape[1]
    strides = stride if _strides_exact(d, static_length) else 1
    keep = None  # output steps to keep when conv computes extra ones
    if padding == "same":
        # (conv's own "same" padding is the same for a window centred on 0 at
        # stride 1, but no faster on TensorFlow, so one padding serves all.)
        # Zero padding as TDNN's matmul path pads, then the window that makes
        # output u the sum over x_{u + c_0 + i d}: T + span steps from max(c_0, 0).
        left, right = max(0, -lo), max(0, hi)
        inputs = keras.ops.pad(inputs, [(0, 0), (left, right), (0, 0)])
        if lo > 0 or hi < 0:  # all-future or all-past: the padding overshoots
            start = max(lo, 0)
            inputs = inputs[:, start : start + length + span]
    elif static_length is None or static_length <= span:
        # A sequence shorter than the window has no output, which conv
        # cannot give (it fails on a negative size): pad, then drop the extra.
        inputs = keras.ops.pad(inputs, [(0, 0), (0, span), (0, 0)])
        valid = (
            max(static_length - span, 0)  # JAX slices only with Python integers
            if static_length is not None
            else keras.ops.maximum(length - span, 0)
        )
        keep = (valid + strides - 1) // strides
    outputs = keras.ops.conv(inputs, kernel, strides=strides, padding="valid", dilation_rate=d)
    if keep is not None:
        outputs = outputs[:, :keep]
    return outputs[:, ::stride] if strides != stride else outputs
