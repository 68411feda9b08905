"""Probes on the recurrent states, for the length of a `with probing(provider)` block.

There, each recurrent layer's call asks `provider(layer, call, zeros)` for its probe
(`call` counts that layer's calls in the block; `zeros` is (B, T, state units)) and adds
it to its new states step by step, so the loss gradient with respect to the probe is the
state gradient (`GradientFlowMonitor`). Nothing is set on a layer.
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
