"""Which loop a recurrent layer runs, and why: the one place that decides.

Three paths run a layer's recurrence:

- the **step loop**: the cell called once per step inside `keras.layers.RNN`'s
  loop; it runs every configuration;
- the **fused recurrence** of `keras_rnnkit.backend.engine`: the input
  projection of all steps as one product (on JAX at inference, inside each
  step), a loop over the rest of the step, and a hand-written backward
  pass, one operation per sequence;
- a **native kernel** behind the same interface, for ElmanRNN: PyTorch's RNN
  kernel on torch, cuDNN's through TensorFlow on a GPU.

A fused path runs only where nothing acts inside a step that it does not
know about; `fused_reason` names the first such thing, and the layer then
takes the step loop by that visible decision (nothing is tried and caught).
The switch is the layer argument `use_fused`: `False` always runs the step
loop; `True` runs the fused path and raises where the configuration does not
allow it; `"auto"` runs it wherever it is supported, since on every backend
it is faster than the step loop or as fast (the figures: docs/benchmarks.md,
"Which path runs"):

- torch: PyTorch's kernel for Elman; otherwise one autograd node per
  sequence instead of several per step;
- JAX: the scan with its hand-written backward pass; at inference it
  multiplies x_t W inside each step (`jax_rnn.feedback`);
- TensorFlow: outside XLA its scans run as XLA-compiled functions inside
  the graph (`tensorflow_rnn.compiles_scans`); under XLA
  (`jit_compile=True`) the hand-written backward pass replaces XLA's
  generic gradient of the while loop, which is slower. With a GPU, cuDNN's
  kernel runs for Elman, as for `keras.layers.GRU`.
"""

import keras

from keras_rnnkit.backend import engine

SWITCH_VALUES = ("auto", True, False)


def _shared_reason(cell, *, training, unroll, truncate, probes):
    """What stops any family's fused path: something that acts inside the step."""
    backend = keras.backend.backend()
    checks = (
        (backend not in engine.MODULES, f"the {backend} backend has none"),
        (cell.activation not in engine.ACTIVATIONS, "the activation is not tanh or relu"),
        (training and cell.recurrent_dropout > 0, "recurrent dropout acts inside the step"),
        (cell.zoneout > 0, "zoneout acts inside the step"),
        (cell.layer_norm, "layer norm acts inside the step"),
        (cell.gradient_clip is not None, "per-step gradient clipping acts inside the step"),
        (truncate is not None, "truncated BPTT acts inside the step"),
        (probes, "a GradientFlowMonitor probes the states"),
        (unroll, "unroll=True asks for the unrolled step loop"),
    )
    return next((reason for unsupported, reason in checks if unsupported), None)


def _jordan_reason(cell, *, teacher_forced):
    if teacher_forced:
        return "teacher forcing feeds back the targets"
    if cell.output_activation not in engine.OUTPUT_ACTIVATIONS:
        return "the output activation is not linear, tanh or sigmoid"
    return None


def fused_reason(family, cell, *, training, unroll, truncate, probes, teacher_forced=False):
    """Why the fused path cannot run this configuration, or None when it can.

    Args:
        family: "elman" or "jordan".
        cell: the layer's cell.
        training: whether the call trains (recurrent dropout and zoneout
            then act inside the step).
        unroll: the layer's `unroll`.
        truncate: the layer's `truncate_gradient`.
        probes: whether a `GradientFlowMonitor` probes the states.
        teacher_forced: whether the call feeds back targets (JordanRNN).
    """
    if family == "jordan":
        reason = _jordan_reason(cell, teacher_forced=teacher_forced)
        if reason is not None:
            return reason
    return _shared_reason(cell, training=training, unroll=unroll, truncate=truncate, probes=probes)


def native_kernel(family, compute_dtype, mask, go_backwards):
    """Whether the fused path of this call runs the backend's native Elman kernel.

    Elman only; never inside `device_independent()`. Otherwise the engine's
    own recurrence runs (it takes any mask, any float dtype, either
    direction).
    """
    if family != "elman" or engine.PORTABLE.get():
        return False
    dtype = keras.backend.standardize_dtype(compute_dtype)
    return engine.backend_module().native_elman_reason(dtype, mask, go_backwards) is None


def last_step_only(return_sequences, training):
    """Whether the fused path of this call needs the last step's output only.

    Then, where the backend has one (`feedback_last`: TensorFlow and JAX),
    the engine runs an inference loop that carries the state and stacks
    nothing. Not while training: on TensorFlow that loop's gradient runs the
    stacking forward loop again (correct, for a caller that differentiates
    an inference call, but slower than the stacking loop's own).
    """
    return not return_sequences and not training


def device_independent():
    """Traces inside this context use no cuDNN op (no CPU kernel) and no XLA-compiled function.

    The exporters (`keras_rnnkit.export`) trace in it, so that a SavedModel,
    TFLite or ONNX model written on a GPU machine serves on a CPU too, and
    converters see plain ops. The same as `engine.portable()`.
    """
    return engine.portable()


def uses_tensorflow_cudnn(family, compute_dtype):
    """Whether the fused path runs cuDNN's kernel through TensorFlow (a GPU, no XLA, no mask).

    Such a layer cannot be compiled by XLA: like `keras.layers.GRU`, it then
    tells `Model.compile` so (`supports_jit = False`).
    """
    if keras.backend.backend() != "tensorflow":
        return False
    return native_kernel(family, compute_dtype, mask=None, go_backwards=False)


class FusedLoop:
    """Mixin for a `RecurrentLayer` with a fused recurrence.

    The subclass names its family (`fused_family`, "elman" or "jordan"),
    keeps `use_fused` in its `layer_defaults` with the default `"auto"`, and
    implements `_run_fused(sequences, initial_state, mask, training)`.
    """

    fused_family = None

    def _check_fused_switch(self):
        """Validates the switch; with `True`, what can be known before a call (all but the mask)."""
        value = self.use_fused
        if not (value == "auto" or value is True or value is False):
            raise ValueError(
                f"{type(self).__name__}: `use_fused` must be one of 'auto', True, False. "
                f"Received: use_fused={value!r}"
            )
        if value is True:
            self._fused_unsupported(training=True, raise_if_forced=True)

    def _fused_unsupported(
        self, training, teacher_forced=False, probes=False, raise_if_forced=False
    ):
        """Why the fused recurrence does not run this call, or None when it does."""
        if self.use_fused is False:
            return "use_fused=False"
        reason = fused_reason(
            self.fused_family,
            self.cell,
            training=training,
            unroll=self.unroll,
            truncate=self.truncate_gradient,
            probes=probes,
            teacher_forced=teacher_forced,
        )
        if reason is not None and raise_if_forced and self.use_fused is True:
            raise ValueError(
                f"{type(self).__name__}: `use_fused=True` needs a configuration that the "
                f"fused recurrence supports, but {reason} on the {keras.backend.backend()} "
                "backend. Pass use_fused='auto' to fall back to the step loop. "
                "Received: use_fused=True"
            )
        return reason

    def _input_dropout_once(self, sequences, training):
        """The cell's input dropout, one mask per sequence as in the step loop."""
        dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
        if training and dropout_mask is not None:
            sequences = sequences * keras.ops.expand_dims(dropout_mask, 1)
        return sequences
