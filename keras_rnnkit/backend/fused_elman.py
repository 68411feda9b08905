"""The fused Elman recurrence: one call per sequence instead of one cell call per step.

`ElmanRNN` runs its loop through `run` when `unsupported_reason` finds nothing
in the configuration that the fused path lacks; otherwise it takes the generic
`keras.layers.RNN` loop, by that visible decision (nothing here is ever tried
and caught). Each backend has its own module with the same function, `elman`:

- torch (`torch_rnn.py`): PyTorch's own RNN kernel (`torch.rnn_tanh` /
  `torch.rnn_relu`, what `torch.nn.RNN` runs; cuDNN on a GPU).
- JAX (`jax_rnn.py`) and TensorFlow (`tensorflow_rnn.py`): the input
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

import keras

from keras_rnnkit.backend import fused

# PyTorch's CPU kernel has no float16 path; the scans of JAX and TensorFlow run in any dtype.
_TORCH_DTYPES = ("float32", "float64")


def unsupported_reason(cell, *, compute_dtype, training, mask, unroll, truncate, probes):
    """Why the fused path cannot run this configuration, or None when it can.

    Args:
        cell: the `ElmanCell`.
        compute_dtype: the layer's compute dtype.
        training, mask, unroll, truncate, probes: as in `fused.step_loop_reason`.
    """
    reason = fused.step_loop_reason(
        cell, training=training, mask=mask, unroll=unroll, truncate=truncate, probes=probes
    )
    if reason is None and keras.backend.backend() == "torch" and compute_dtype not in _TORCH_DTYPES:
        reason = f"PyTorch's CPU kernel has no {compute_dtype} path"
    return reason


def auto_prefers_fused():
    """Whether `use_cudnn="auto"` should take a supported fused path here and now.

    Measured on 2 CPU cores (docs/benchmarks.md): on torch PyTorch's kernel
    is 2-2.5x faster than the step loop, and on JAX the scan is ~10% faster.
    On TensorFlow the scan wins only under XLA (`jit_compile=True`), where
    the generic gradient of the while loop is slow; without XLA (also what
    `Model.compile`'s `jit_compile="auto"` gives a recurrent model there),
    TensorFlow's own while loop is faster than the scan.
    """
    if keras.backend.backend() == "tensorflow":
        from keras_rnnkit.backend import tensorflow_rnn

        return tensorflow_rnn.in_xla_context()
    return True


def run(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """Runs the recurrence over `inputs` (B, T, D) on the current backend.

    `activation` is the cell's activation function (one of `fused.ACTIVATIONS`);
    `bias` may be None. Returns `(outputs, last_state)` as described above.
    """
    weights = fused.weights_as_tensors(inputs, kernel, recurrent_kernel, bias)
    return fused.backend_module().elman(
        inputs, initial_state, *weights, fused.ACTIVATIONS[activation], go_backwards
    )
