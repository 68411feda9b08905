"""Probes on the recurrent states, inside a `with probing(provider)` block: each layer's
call adds `provider(layer, call, zeros)` ((B, T, state units); `call` counts the layer's
calls in the block) to its new states, so that the loss gradient by the probe is the state
gradient (`GradientFlowMonitor`). Nothing is set on a layer.
"""

import contextlib
import contextvars

import keras

_PROBING = contextvars.ContextVar("state_probes", default=None)


@contextlib.contextmanager
def probing(provider):
    """Within the block, recurrent layers take their state probes from `provider`."""
    token = _PROBING.set((provider, {}))
    try:
        yield
    finally:
        _PROBING.reset(token)


def active():
    """Whether a `probing` block is open (the fused recurrences cannot be probed)."""
    return _PROBING.get() is not None


def probe_for(layer, shape, dtype):
    """`layer`'s probe for this call, a `shape` tensor, or None outside a block."""
    current = _PROBING.get()
    if current is None:
        return None
    zeros = keras.ops.zeros(shape, dtype=dtype)
    provider, calls = current
    call = calls.get(id(layer), 0)
    calls[id(layer)] = call + 1
    return provider(layer, call, zeros)
