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

import importlib

import keras

# Activations with a fused kernel on every backend, by the function Keras resolves them to.
ACTIVATIONS = {keras.activations.tanh: "tanh", keras.activations.relu: "relu"}
_MODULES = {
    "torch": "keras_rnnkit.backend.torch_rnn",
    "jax": "keras_rnnkit.backend.jax_rnn",
    "tensorflow": "keras_rnnkit.backend.tensorflow_rnn",
}
# PyTorch's CPU kernel has no float16 path; the scans of JAX and TensorFlow run in any dtype.
_TORCH_DTYPES = ("float32", "float64")


def unsupported_reason(cell, *, compute_dtype, training, mask, unroll, truncate, probes):
    """Why the fused path cannot run this configuration, or None when it can.

    Args:
        cell: the `ElmanCell`.
        compute_dtype: the layer's compute dtype.
        training: whether the call trains (recurrent dropout and zoneout
            then act inside the step).
        mask: the call's mask, or None.
        unroll: the layer's `unroll`.
        truncate: the layer's `truncate_gradient`.
        probes: whether a `GradientFlowMonitor` probes the states.
    """
    backend = keras.backend.backend()
    checks = (
        (backend not in _MODULES, f"the {backend} backend has none"),
        (cell.activation not in ACTIVATIONS, "the activation is not tanh or relu"),
        (training and cell.recurrent_dropout > 0, "recurrent dropout acts inside the step"),
        (cell.zoneout > 0, "zoneout acts inside the step"),
        (cell.layer_norm, "layer norm acts inside the step"),
        (cell.gradient_clip is not None, "per-step gradient clipping acts inside the step"),
        (truncate is not None, "truncated BPTT acts inside the step"),
        (probes, "a GradientFlowMonitor probes the states"),
        (mask is not None, "a mask is given"),
        (unroll, "unroll=True asks for the unrolled step loop"),
        (
            backend == "torch" and compute_dtype not in _TORCH_DTYPES,
            f"PyTorch's CPU kernel has no {compute_dtype} path",
        ),
    )
    for unsupported, reason in checks:
        if unsupported:
            return reason
    return None


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

    `activation` is the cell's activation function (one of `ACTIVATIONS`);
    `bias` may be None. Returns `(outputs, last_state)` as described above.
    """
    module = importlib.import_module(_MODULES[keras.backend.backend()])
    # Keras variables to the backend's tensors, in the compute dtype (inside
    # an autocast scope) and with the values of a stateless call.
    weights = [
        None if w is None else keras.ops.convert_to_tensor(w, dtype=inputs.dtype)
        for w in (kernel, recurrent_kernel, bias)
    ]
    return module.elman(inputs, initial_state, *weights, ACTIVATIONS[activation], go_backwards)
