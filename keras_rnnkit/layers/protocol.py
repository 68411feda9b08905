"""The recurrence protocol: what keras_rnnkit's loop asks of a cell, and nothing more.

A cell is a `keras.layers.Layer` with:

- `state_size`: an int, or a list of ints (one per state), as for `keras.layers.RNN`;
- `output_size`: an int, the size of the step's output;
- `step(inputs, states, training=False)`: one step, $(y_t, [s_t, ...]) = f(x_t, [s_{t-1}, ...])$,
  on (B, D) inputs and a list of (B, size) states; the math of the cell and nothing else;
- `get_initial_state(batch_size)`: the list of zero states;

and may declare:

- `output_is_state` (default False): the output is the first state (Elman, LSTM), so
  what the loop does to that state (zoneout, probes) it does to the output;
- `fused_form()` (default: none): an `engine.FusedForm`, or a string saying why there is
  none; what a call rules out besides, `fused_policy` adds.

Around `step` the loop (`layers.loop`) adds per-step gradient clipping, zoneout, truncated
BPTT, the gradient-flow probes and Keras's masking rule. `Recurrent(cell)` runs any such
cell; `KerasCell` adapts Keras's own (`LSTMCell`, `GRUCell`, `SimpleRNNCell`).
"""

from typing import Protocol
from typing import runtime_checkable


@runtime_checkable
class Recurrence(Protocol):
    """A cell that keras_rnnkit's loop can run (see the module's docstring)."""

    state_size: object
    output_size: int

    def step(self, inputs, states, training=False):
        """`(output, new_states)` for one step; `states` and `new_states` are lists."""

    def get_initial_state(self, batch_size=None):
        """The list of initial (zero) states, (batch_size, size) each."""


def output_is_state(cell):
    """Whether the step's output is the cell's first state (the protocol's default: no)."""
    return bool(getattr(cell, "output_is_state", False))


def fused_form(cell):
    """The cell's fused recurrence, or a string saying why there is none."""
    declare = getattr(cell, "fused_form", None)
    if declare is None:
        return f"{type(cell).__name__} declares no fused form"
    return declare()


def state_sizes(cell):
    """The cell's state sizes as a list of ints."""
    sizes = cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
