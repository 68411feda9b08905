"""The fused Elman recurrence: one call per sequence instead of one cell call per step.

`ElmanRNN` runs its loop through `run` when `unsupported_reason` finds nothing
in the configuration that the fused path lacks; otherwise it takes the generic
`keras.layers.RNN` loop, by that visible decision (nothing here is ever tried
and caught). Each backend has its own module with the same function, `elman`:

- torch (`torch_rnn.py`): PyTorch's own RNN kernel (`torch.rnn_tanh` /
  `torch.rnn_relu`, what `torch.nn.RNN` runs; cuDNN on a GPU).
- TensorFlow with a GPU, outside XLA (`tensorflow_rnn.cudnn_elman`): cuDNN's
  RNN_TANH / RNN_RELU mode through TensorFlow's CudnnRNNV3 op, as
  `keras.layers.GRU` runs cuDNN's GRU mode.
- JAX (`jax_rnn.py`) and TensorFlow otherwise (`tensorflow_rnn.py`): the input
  projection for all steps in one matrix product, a scan over the recurrent
  product only, and a hand-written backward pass (a reverse scan; the
  gradient of the recurrent kernel as one product over all steps). Generic
  autodiff of the step loop was the bottleneck there (under XLA on
  TensorFlow it made training several times slower).

All of them compute, for h_0 the initial state,

    h_t = activation(x_t W + h_{t-1} U + b),  t = 1..T,

and return `(outputs, last_state)`: outputs (B, T, H) in processing order (the
reversed sequence with `go_backwards`), last_state (B, H).
"""

import contextlib
import contextvars

import keras

from keras_rnnkit.backend import fused

# PyTorch's CPU kernel has no float16 path; the scans of JAX and TensorFlow run in any dtype.
_TORCH_DTYPES = ("float32", "float64")


def unsupported_reason(
    cell, *, compute_dtype, training, mask, unroll, truncate, probes, go_backwards=False
):
    """Why the fused path cannot run this configuration, or None when it can.

    Args:
        cell: the `ElmanCell`.
        compute_dtype: the layer's compute dtype.
        training, unroll, truncate, probes: as in `fused.step_loop_reason`.
        mask: the call's mask, or None.
        go_backwards: the layer's `go_backwards` (on torch, a mask needs it False).

    A mask is supported: any mask on JAX and TensorFlow, whose scans apply
    it step by step, and on torch a right-padded one without
    `go_backwards` (PyTorch's kernel takes it as sequence lengths).
    """
    torch = keras.backend.backend() == "torch"
    reason = fused.step_loop_reason(
        cell,
        training=training,
        unroll=unroll,
        truncate=truncate,
        probes=probes,
    )
    if reason is None and torch and compute_dtype not in _TORCH_DTYPES:
        reason = f"PyTorch's CPU kernel has no {compute_dtype} path"
    if reason is None and torch and mask is not None:
        reason = _mask_reason(mask, go_backwards)
    return reason


def _mask_reason(mask, go_backwards):
    """Why PyTorch's kernel cannot take this (B, T) mask as sequence lengths, or None.

    It can where every row is a run of True followed by False (right
    padding) with at least one True, and the layer runs forwards. A check of
    the mask's values: the torch backend runs eagerly.
    """
    if go_backwards:
        return "a mask is given with go_backwards"
    mask = fused.two_dimensional(mask)
    lengths = keras.ops.sum(keras.ops.cast(mask, "int32"), axis=1)
    steps = keras.ops.arange(keras.ops.shape(mask)[1])
    right_padded = keras.ops.less(steps[None, :], lengths[:, None])
    if not bool(keras.ops.all(keras.ops.equal(keras.ops.cast(mask, "bool"), right_padded))):
        return "the mask is not right-padded (a run of True, then only False, in every row)"
    if not bool(keras.ops.all(lengths > 0)):
        return "the mask has a sequence without any step"
    return None


def auto_prefers_fused():
    """Whether `use_fused="auto"` should take a supported fused path here and now.

    Measured on 2 CPU cores (docs/benchmarks.md): on torch PyTorch's kernel
    is 2-2.5x faster than the step loop, and on JAX the scan is ~10% faster.
    On TensorFlow the scan wins only under XLA (`jit_compile=True`), where
    the generic gradient of the while loop is slow; without XLA (also what
    `Model.compile`'s `jit_compile="auto"` gives a recurrent model there),
    TensorFlow's own while loop is faster than the scan. On TensorFlow with
    a GPU, cuDNN's kernel runs, as for `keras.layers.GRU`.
    """
    if keras.backend.backend() == "tensorflow":
        from keras_rnnkit.backend import tensorflow_rnn

        return tensorflow_rnn.in_xla_context() or uses_tensorflow_cudnn("float32")
    return True


# Set while an exporter traces: graphs that must run on any device.
_DEVICE_INDEPENDENT = contextvars.ContextVar("device_independent", default=False)


@contextlib.contextmanager
def device_independent():
    """Traces inside this context use no cuDNN op (they have no CPU kernel).

    The exporters (`keras_rnnkit.export`) trace in it, so that a SavedModel,
    TFLite or ONNX model written on a GPU machine serves on a CPU too.
    """
    token = _DEVICE_INDEPENDENT.set(True)
    try:
        yield
    finally:
        _DEVICE_INDEPENDENT.reset(token)


def uses_tensorflow_cudnn(compute_dtype):
    """Whether the fused path runs cuDNN's kernel through TensorFlow (a GPU, no XLA, no mask).

    Such a layer cannot be compiled by XLA: like `keras.layers.GRU`, it then
    tells `Model.compile` so (`supports_jit = False`). Never inside
    `device_independent()`.
    """
    if keras.backend.backend() != "tensorflow" or _DEVICE_INDEPENDENT.get():
        return False
    from keras_rnnkit.backend import tensorflow_rnn

    return tensorflow_rnn.cudnn_available(keras.backend.standardize_dtype(compute_dtype))


def run(
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
    """Runs the recurrence over `inputs` (B, T, D) on the current backend.

    `activation` is the cell's activation function (one of `fused.ACTIVATIONS`);
    `bias` may be None. `mask` (B, T) or (B, T, 1), or None (on torch only a
    right-padded one, see `unsupported_reason`): a masked step keeps the
    state; its output repeats the last unmasked step's (zeros before the
    first), or is zeros with `zero_output_for_mask`, as in the step loop.
    Returns `(outputs, last_state)` as described above.
    """
    weights = fused.weights_as_tensors(inputs, kernel, recurrent_kernel, bias)
    module = fused.backend_module()
    if mask is None and uses_tensorflow_cudnn(inputs.dtype):
        return module.cudnn_elman(
            inputs, initial_state, *weights, fused.ACTIVATIONS[activation], go_backwards
        )
    if mask is None:
        return module.elman(
            inputs, initial_state, *weights, fused.ACTIVATIONS[activation], go_backwards
        )
    if keras.backend.backend() != "torch":
        return module.elman(
            inputs,
            initial_state,
            *weights,
            fused.ACTIVATIONS[activation],
            go_backwards,
            mask=fused.two_dimensional(mask),
            zero_output_for_mask=zero_output_for_mask,
        )
    return module.elman_with_lengths(
        inputs,
        initial_state,
        *weights,
        fused.ACTIVATIONS[activation],
        lengths=keras.ops.sum(keras.ops.cast(fused.two_dimensional(mask), "int32"), axis=1),
        zero_output_for_mask=zero_output_for_mask,
    )
