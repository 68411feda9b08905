"""Probes on the recurrent states, for the length of a `with probing(...)` block.

`GradientFlowMonitor` measures the loss gradient with respect to each
recurrent state at each step. It runs the model inside `probing(provider)`;
every keras_rnnkit recurrent layer called in that block asks the provider for
its probe, `provider(layer, call, zeros)`, where `call` counts that layer's
calls in the block (0 for the first: a layer shared by two branches is
called twice) and `zeros` is (B, T, state units). The layer adds the returned
tensor to its new states step by step (see `step_layout`), so the gradient
with respect to it is the state gradient.

The provider is a context variable: nothing is set on a layer, and the
measurement keys each probe by layer and call, not by the order in which the
model happens to call its layers.
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
    """`layer`'s probe for this call, a `shape` tensor, or None outside a block.

    The provider receives zeros of that shape; they are made only inside a
    block, so that a call that nothing probes allocates nothing.
    """
    current = _PROBING.get()
    if current is None:
        return None
    zeros = keras.ops.zeros(shape, dtype=dtype)
    provider, calls = current
    call = calls.get(id(layer), 0)
    calls[id(layer)] = call + 1
    return provider(layer, call, zeros)
