"""Which loop a recurrent layer runs, and why: the one place that decides.

Three paths run a layer's recurrence: the **step loop** (the loop's step around the
cell's `step` at every time step: every configuration, every cell); the **fused
recurrence** of `keras_rnnkit.backend.engine` (the input projection of all steps as one
product, a loop over the rest of the step and a hand-written backward pass: one
operation per sequence); and a **native kernel** behind the same interface, for the
recurrence without an output layer (PyTorch's RNN kernel; cuDNN's through TensorFlow on
a GPU).

A cell declares whether it has a fused form (the protocol's `fused_form`, or the reason
it has none); the layer's configuration may still rule it out. `fused_reason` names the
first such reason, and the layer then takes the step loop by that visible decision
(nothing is tried and caught). The layer argument `use_fused`: `False` always runs the
step loop; `True` runs the fused path and raises where it is not allowed; `"auto"` runs
it wherever it is supported, since it is faster than the step loop or as fast on every
backend (docs/benchmarks.md, "Which path runs").
"""

import keras

from keras_rnnkit.backend import engine
from keras_rnnkit.layers import protocol
from keras_rnnkit.layers.loop import controls_of

SWITCH_VALUES = ("auto", True, False)


def fused_reason(layer, *, training, teacher_forced=False, probes=False):
    """Why the fused path cannot run this call of `layer`, or None when it can.

    Args:
        layer: a `RecurrentLayer`.
        training: whether the call trains (recurrent dropout and zoneout
            then act inside the step).
        teacher_forced: whether the call feeds back targets.
        probes: whether a `GradientFlowMonitor` probes the states.
    """
    backend = keras.backend.backend()
    controls = controls_of(layer)
    form = protocol.fused_form(layer.cell)
    checks = (
        (backend not in engine.MODULES, f"the {backend} backend has none"),
        (teacher_forced, "teacher forcing feeds back the targets"),
        (isinstance(form, str), form),
        (
            training and getattr(layer.cell, "recurrent_dropout", 0) > 0,
            "recurrent dropout acts inside the step",
        ),
        (controls.zoneout > 0, "zoneout acts inside the step"),
        (controls.gradient_clip is not None, "per-step gradient clipping acts inside the step"),
        (layer.truncate_gradient is not None, "truncated BPTT acts inside the step"),
        (probes, "a GradientFlowMonitor probes the states"),
        (layer.unroll, "unroll=True asks for the unrolled step loop"),
    )
    return next((reason for unsupported, reason in checks if unsupported), None)


def native_kernel(options, compute_dtype, mask, go_backwards):
    """Whether the fused path of this call runs the backend's native kernel.

    Only for the recurrence without an output layer (what vendors' RNN kernels
    compute), never inside `device_independent()`. Otherwise the engine's
    own recurrence runs (it takes any mask, any float dtype, either direction).
    """
    if options.has_output_layer or options.decay or engine.PORTABLE.get():
        return False
    dtype = keras.backend.standardize_dtype(compute_dtype)
    return engine.backend_module().native_rnn_reason(dtype, mask, go_backwards) is None


def last_step_only(return_sequences, training):
    """Whether the fused path of this call needs the last step's output only.

    Then the engine runs an inference loop that carries the state and stacks
    nothing (`feedback_last`, where the backend has one). Not while training:
    that loop's gradient runs the stacking forward loop again (correct, for a
    caller that differentiates an inference call, but slower than the
    stacking loop's own).
    """
    return not return_sequences and not training


def device_independent():
    """Traces inside this context use no cuDNN op (no CPU kernel) and no XLA-compiled function.

    The exporters (`keras_rnnkit.export`) trace in it, so that a SavedModel,
    TFLite or ONNX model written on a GPU machine serves on a CPU too, and
    converters see plain ops. The same as `engine.portable()`.
    """
    return engine.portable()


def uses_tensorflow_native(options, compute_dtype):
    """Whether the fused path runs cuDNN's kernel through TensorFlow (a GPU, no XLA, no mask).

    Such a layer cannot be compiled by XLA: like `keras.layers.GRU`, it then
    tells `Model.compile` so (`supports_jit = False`).
    """
    if keras.backend.backend() != "tensorflow":
        return False
    return native_kernel(options, compute_dtype, mask=None, go_backwards=False)


def checked_switch(owner, value):
    """`use_fused` as given, if it is one of `SWITCH_VALUES`, or raises."""
    if not (value == "auto" or value is True or value is False):
        raise ValueError(
            f"{owner}: `use_fused` must be one of 'auto', True, False. "
            f"Received: use_fused={value!r}"
        )
    return value


def refuse_if_forced(layer, reason):
    """Raises where `use_fused=True` meets a `reason` the fused path cannot run."""
    if reason is not None and layer.use_fused is True:
        raise ValueError(
            f"{type(layer).__name__}: `use_fused=True` needs a configuration that the "
            f"fused recurrence supports, but {reason} on the {keras.backend.backend()} "
            "backend. Pass use_fused='auto' to fall back to the step loop. "
            "Received: use_fused=True"
        )
