"""The fused Jordan recurrence: one call per sequence instead of one cell call per step.

`JordanRNN` runs its loop through `run` when `unsupported_reason` finds nothing
in the configuration that the fused path lacks; otherwise it takes the generic
`keras.layers.RNN` loop, by that visible decision (nothing is tried and
caught). Each backend module (`jax_rnn.py`, `tensorflow_rnn.py`,
`torch_rnn.py`) has the same function, `jordan`: the input projection of all
steps as one matrix product, a loop over the rest of the step, and a
hand-written backward pass (a reverse loop; the gradients of the recurrent and
output weights as one product over all steps). On JAX and TensorFlow the
loops are scans; on torch they are plain loops inside one
`torch.autograd.Function`, which records one graph node per sequence instead
of several per step (PyTorch has no Jordan kernel).

All of them compute, for c_0 the initial context and lambda = `context_decay`,

    h_t = activation(x_t W + c_{t-1} U + b)
    y_t = output_activation(h_t V + b_o)
    c_t = lambda c_{t-1} + y_t,        t = 1..T,

and return `(outputs, last_state)`: the outputs y (B, T, O) in processing
order (the reversed sequence with `go_backwards`) and the last context c_T
(B, O). With a mask, a masked step keeps the context (c_t = c_{t-1}) and its
output follows Keras's rule (the last unmasked step's output, or zeros with
`zero_output_for_mask`).
"""

import keras

from keras_rnnkit.backend import fused

# Output activations with a fused form, by the function Keras resolves them to;
# each has a derivative that its own output gives (see the backend modules).
OUTPUT_ACTIVATIONS = {
    keras.activations.linear: "linear",
    keras.activations.tanh: "tanh",
    keras.activations.sigmoid: "sigmoid",
}


def unsupported_reason(
    cell, *, compute_dtype, training, mask, unroll, truncate, probes, go_backwards=False
):
    """Why the fused path cannot run this configuration, or None when it can.

    Args:
        cell: the `JordanCell`.
        compute_dtype, mask, go_backwards: every value is supported (they
            keep the signature of `fused_elman`'s).
        training, unroll, truncate, probes: as in `fused.step_loop_reason`.
    """
    del compute_dtype, mask, go_backwards
    if cell._teacher_forced_features is not None:
        return "teacher forcing feeds back the targets"
    if cell.output_activation not in OUTPUT_ACTIVATIONS:
        return "the output activation is not linear, tanh or sigmoid"
    return fused.step_loop_reason(
        cell, training=training, unroll=unroll, truncate=truncate, probes=probes
    )


def auto_prefers_fused():
    """Whether `use_fused="auto"` should take a supported fused path here and now.

    Measured on 2 CPU cores (docs/benchmarks.md), training step against the
    naive Jordan cell in `keras.layers.RNN`: on torch the fused loop is 2-6x
    faster (one autograd node per sequence instead of several per step).
    On JAX it was 0.95-1.20x, no faster than the step loop, whose scan XLA
    already differentiates well: the step loop is kept. On TensorFlow it is
    faster only under XLA (`jit_compile=True`, 0.92-0.99x); without XLA
    TensorFlow's own while loop and its gradient are faster than the scans
    at short and medium lengths.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_rnnkit.backend import tensorflow_rnn

        return tensorflow_rnn.in_xla_context()
    return backend == "torch"


def run(inputs, initial_state, cell, go_backwards, mask=None, zero_output_for_mask=False):
    """Runs the recurrence of `cell` (a built `JordanCell`) over `inputs` (B, T, D).

    `mask` (B, T) or (B, T, 1), or None: a masked step keeps the context; its
    output repeats the last unmasked step's (zeros before the first), or is
    zeros with `zero_output_for_mask`, as in the step loop. Returns
    `(outputs, last_state)` as described above.
    """
    weights = fused.weights_as_tensors(
        inputs, cell.kernel, cell.recurrent_kernel, cell.bias, cell.output_kernel, cell.output_bias
    )
    return fused.backend_module().jordan(
        inputs,
        initial_state,
        *weights,
        decay=float(cell.context_decay),
        activation=fused.ACTIVATIONS[cell.activation],
        output_activation=OUTPUT_ACTIVATIONS[cell.output_activation],
        go_backwards=go_backwards,
        mask=fused.two_dimensional(mask),
        zero_output_for_mask=zero_output_for_mask,
    )
