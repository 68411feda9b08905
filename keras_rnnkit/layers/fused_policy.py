"""Which loop a recurrent layer runs, and why: the one place that decides.

The step loop runs any cell; the fused recurrence (`engine.run`) runs a cell that declares
a fused form, where the call allows it (`fused_reason` names the first reason against);
a native kernel (PyTorch's RNN, cuDNN's) runs it behind the same interface when it has
no output layer.
"""

import keras

from keras_rnnkit.backend import engine
from keras_rnnkit.layers import protocol
from keras_rnnkit.layers.loop import controls_of

# The values of `use_fused`.
SWITCH_VALUES = ("auto", True, False)


def fused_reason(layer, *, training, teacher_forced=False, probes=False):
    """Why the fused path cannot run this call of `layer`, or None; raises if use_fused=True."""
    if layer.use_fused is False:
        return "use_fused=False"
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
    reason = next((reason for unsupported, reason in checks if unsupported), None)
    if reason is not None and layer.use_fused is True:
        raise ValueError(
            f"{type(layer).__name__}: `use_fused=True` needs a configuration that the "
            f"fused recurrence supports, but {reason} on the {backend} backend. Pass "
            "use_fused='auto' to fall back to the step loop. Received: use_fused=True"
        )
    return reason


def native_kernel(options, compute_dtype, mask, go_backwards):
    """Whether the fused path runs the backend's native kernel: only without an output
    layer (what vendors' kernels compute), never in `engine.portable()`."""
    if options.has_output_layer or options.decay or engine.PORTABLE.get():
        return False
    dtype = keras.backend.standardize_dtype(compute_dtype)
    return engine.backend_module().native_rnn_reason(dtype, mask, go_backwards) is None


def last_step_only(return_sequences, training):
    """Whether the fused path runs `feedback_last`, which stacks nothing: not while
    training (its gradient reruns the stacking loop)."""
    return not return_sequences and not training


def uses_tensorflow_native(options, compute_dtype):
    """Whether the fused path runs cuDNN's kernel through TensorFlow (a GPU, no mask),
    which XLA cannot compile."""
    if keras.backend.backend() != "tensorflow":
        return False
    return native_kernel(options, compute_dtype, mask=None, go_backwards=False)
