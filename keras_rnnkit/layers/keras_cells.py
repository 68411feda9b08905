"""`KerasCell`: one of Keras's own cells (`LSTMCell`, `GRUCell`, `SimpleRNNCell`, or any
cell for `keras.layers.RNN`) as a cell of keras_rnnkit's recurrence protocol.

Run by `keras_rnnkit.layers.Recurrent`, such a cell gets what the loop adds to every cell:
per-step gradient clipping, truncated BPTT, zoneout and the gradient-flow monitor.
"""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export

# Keras's own cells, by how many `units`-wide blocks their kernels hold side by side.
KNOWN_GATES = (
    (keras.layers.LSTMCell, 4),
    (keras.layers.GRUCell, 3),
    (keras.layers.SimpleRNNCell, 1),
)


@export
class KerasCell(keras.layers.Layer):
    r"""A cell written for `keras.layers.RNN`, as a cell of keras_rnnkit's protocol.

    Its step is the wrapped cell's call, $(y_t, s_t) = \mathrm{cell}(x_t, s_{t-1})$:
    same weights, same values. Keras's recurrent cells output their first state
    ($h_t$ of `LSTMCell`'s $[h_t, c_t]$), which the adapter declares
    (`output_is_state`).

    Args:
        cell: A Keras cell: a layer with `state_size`, `call(inputs, states,
            training=...)` and optionally `output_size` (default: the first
            state's size).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example: an LSTM whose state gradient is clipped at every step.

    >>> import numpy as np, keras
    >>> from keras_rnnkit.layers import KerasCell, Recurrent
    >>> lstm = Recurrent(KerasCell(keras.layers.LSTMCell(4)), gradient_clip=1.0)
    >>> tuple(lstm(np.zeros((2, 5, 3), "float32")).shape)
    (2, 4)
    """

    output_is_state = True

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            # Without its build config: Keras would build (allocate) the cell before its
            # sizes are checked below; `build` builds it.
            cell = keras.saving.deserialize_keras_object(
                {key: value for key, value in cell.items() if key != "build_config"}
            )
        if not isinstance(cell, keras.layers.Layer) or not hasattr(cell, "state_size"):
            raise TypeError(
                "KerasCell: `cell` must be a Keras cell (a layer with `state_size` and "
                f"`call(inputs, states)`, e.g. keras.layers.LSTMCell). Received: cell={cell!r}"
            )
        self.cell = cell
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        self.state_size = list(sizes) if isinstance(cell.state_size, (list, tuple)) else sizes[0]
        self.output_size = getattr(cell, "output_size", None) or sizes[0]
        # What keras.layers.RNN asks of a cell with dropout: the wrapped cell's own masks.
        self.dropout = getattr(cell, "dropout", 0.0)
        self.recurrent_dropout = getattr(cell, "recurrent_dropout", 0.0)
        # A file or a typo asking for a cell of 10**6 units is refused here, before
        # Keras builds (allocates) it; for one input feature, the least any input gives.
        self._weights_within_memory(1)

    def weight_shapes(self, input_width):
        """`{name: shape}` of the wrapped cell's weights for `input_width` features, for
        Keras's `SimpleRNNCell`, `GRUCell` and `LSTMCell`; `{}` for any other cell,
        whose weights only its own build knows."""
        gates = next((g for kind, g in KNOWN_GATES if isinstance(self.cell, kind)), None)
        units = getattr(self.cell, "units", None)
        if gates is None or not isinstance(units, int):
            return {}
        shapes = {
            "kernel": (input_width, gates * units),
            "recurrent_kernel": (units, gates * units),
        }
        if getattr(self.cell, "use_bias", True):
            reset_after = gates == 3 and getattr(self.cell, "reset_after", False)
            shapes["bias"] = (2, gates * units) if reset_after else (gates * units,)
        return shapes

    def _weights_within_memory(self, input_width):
        arguments.within_memory(
            f"KerasCell({type(self.cell).__name__})",
            "weights",
            self.weight_shapes(input_width),
            self.cell.variable_dtype,
            {"units": getattr(self.cell, "units", None), "input features": input_width},
        )

    def build(self, input_shape):
        if not self.cell.built:
            self._weights_within_memory(int(input_shape[-1]))
            self.cell.build(input_shape)

    def step(self, inputs, states, training=False):
        states = states if isinstance(self.state_size, list) else states[0]
        output, new_states = self.cell(inputs, states, training=training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        return output, list(new_states)

    def call(self, inputs, states, training=False):
        return self.step(
            inputs, list(states) if isinstance(states, (list, tuple)) else [states], training
        )

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [keras.ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    # keras.layers.RNN and our layers draw one dropout mask per sequence through these.
    def get_dropout_mask(self, step_input):
        getter = getattr(self.cell, "get_dropout_mask", None)
        return None if getter is None else getter(step_input)

    def get_recurrent_dropout_mask(self, step_input):
        getter = getattr(self.cell, "get_recurrent_dropout_mask", None)
        return None if getter is None else getter(step_input)

    def reset_dropout_mask(self):
        if hasattr(self.cell, "reset_dropout_mask"):
            self.cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        if hasattr(self.cell, "reset_recurrent_dropout_mask"):
            self.cell.reset_recurrent_dropout_mask()

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}
