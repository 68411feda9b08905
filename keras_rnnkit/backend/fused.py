"""What every fused recurrence (`fused_elman`, `fused_jordan`) shares.

A fused recurrence runs a whole sequence as one operation with a hand-written
backward pass (or, on torch, PyTorch's own kernel), so nothing may act inside
a step that the fused code does not know about. `step_loop_reason` names the
first such thing in a configuration; each recurrence adds its own checks.
"""

import importlib

import keras

# Hidden activations with a fused form on every backend, by the function Keras resolves them to.
ACTIVATIONS = {keras.activations.tanh: "tanh", keras.activations.relu: "relu"}
MODULES = {
    "torch": "keras_rnnkit.backend.torch_rnn",
    "jax": "keras_rnnkit.backend.jax_rnn",
    "tensorflow": "keras_rnnkit.backend.tensorflow_rnn",
}


def backend_module():
    """The current backend's module of fused recurrences (same function names in each)."""
    return importlib.import_module(MODULES[keras.backend.backend()])


def step_loop_reason(cell, *, training, unroll, truncate, probes):
    """Why only the step loop can run this configuration, or None.

    Args:
        cell: the layer's cell.
        training: whether the call trains (recurrent dropout and zoneout
            then act inside the step).
        unroll: the layer's `unroll`.
        truncate: the layer's `truncate_gradient`.
        probes: whether a `GradientFlowMonitor` probes the states.
    """
    backend = keras.backend.backend()
    checks = (
        (backend not in MODULES, f"the {backend} backend has none"),
        (cell.activation not in ACTIVATIONS, "the activation is not tanh or relu"),
        (training and cell.recurrent_dropout > 0, "recurrent dropout acts inside the step"),
        (cell.zoneout > 0, "zoneout acts inside the step"),
        (cell.layer_norm, "layer norm acts inside the step"),
        (cell.gradient_clip is not None, "per-step gradient clipping acts inside the step"),
        (truncate is not None, "truncated BPTT acts inside the step"),
        (probes, "a GradientFlowMonitor probes the states"),
        (unroll, "unroll=True asks for the unrolled step loop"),
    )
    for unsupported, reason in checks:
        if unsupported:
            return reason
    return None


def two_dimensional(mask):
    """A (B, T) mask from a (B, T) or (B, T, 1) one; None stays None."""
    return mask[..., 0] if mask is not None and len(mask.shape) == 3 else mask


def weights_as_tensors(inputs, *weights):
    """Keras variables to the backend's tensors in the inputs' (compute) dtype; None stays None.

    Inside an autocast scope and in a stateless call this gives the values
    the call must use.
    """
    return [
        None if w is None else keras.ops.convert_to_tensor(w, dtype=inputs.dtype) for w in weights
    ]
