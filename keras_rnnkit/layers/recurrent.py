"""`Recurrent`: keras_rnnkit's loop around any cell of the recurrence protocol."""

import inspect

import keras

from keras_rnnkit._api import export
from keras_rnnkit.layers.base import SHARED_OPTIONS
from keras_rnnkit.layers.base import RecurrentLayer
from keras_rnnkit.layers.base import with_arguments


def _check_protocol(owner, cell):
    """Raises a `TypeError` naming what `cell` lacks of the protocol."""
    missing = [
        name
        for name in ("state_size", "output_size", "step", "get_initial_state")
        if not hasattr(cell, name)
    ]
    if missing:
        raise TypeError(
            f"{owner}: `cell` must follow keras_rnnkit's recurrence protocol (state_size, "
            f"output_size, step, get_initial_state; keras_rnnkit.layers.KerasCell wraps "
            f"Keras's own cells); it lacks {', '.join(missing)}. "
            f"Received: cell={type(cell).__name__}"
        )
    return cell


@export
class Recurrent(RecurrentLayer):
    r"""keras_rnnkit's loop around any cell, like `keras.layers.RNN(cell)`.

    The cell follows the recurrence protocol (`keras_rnnkit.layers.protocol`):
    `state_size`, `output_size`, `step(inputs, states, training)` and
    `get_initial_state`. Keras's own cells join through `KerasCell`. Around
    each step the loop adds what it adds for `ElmanRNN`: per-step gradient
    clipping, zoneout, truncated BPTT, the gradient-flow monitor's probes and
    Keras's masking rule.

    Args:
        cell: A cell of the protocol, e.g. `KerasCell(keras.layers.LSTMCell(8))`.
        gradient_clip: None, or a positive float c: at every step, the gradient
            flowing back into the states is clipped to c (see
            `gradient_clip_mode`). The forward pass is unchanged. Default: `None`.
        gradient_clip_mode: `"value"` (elementwise) or `"norm"` (per sample
            and state). Default: `"value"`.
        zoneout: Probability in [0, 1) that a state unit keeps its previous
            value at a step while training (Krueger et al. 2016); at inference
            the expectation. Default: `0.0`.
        seed: Integer seed of the zoneout draws. Default: `None`.
        activity_regularizer, return_sequences, return_state, go_backwards,
        stateful, unroll, zero_output_for_mask, truncate_gradient: as in
            `ElmanRNN`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example: a GRU whose gradient is truncated every 10 steps.

    >>> import numpy as np, keras
    >>> from keras_rnnkit.layers import KerasCell, Recurrent
    >>> gru = Recurrent(KerasCell(keras.layers.GRUCell(4)), truncate_gradient=10)
    >>> tuple(gru(np.zeros((2, 30, 3), "float32")).shape)
    (2, 4)
    """

    def __init__(
        self, cell, gradient_clip=None, gradient_clip_mode="value", zoneout=0.0, seed=None, **kwargs
    ):
        owner = type(self).__name__
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        _check_protocol(owner, cell)
        # Checked as a cell checks the same options.
        given = {
            "gradient_clip": gradient_clip,
            "gradient_clip_mode": gradient_clip_mode,
            "zoneout": zoneout,
            "seed": seed,
        }
        for name, value in given.items():
            setattr(self, name, SHARED_OPTIONS[name][1](owner, name, value))
        self._init_loop(cell, kwargs)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _zoneout_seeds(self):
        return self.seed_generator

    # The loop's arguments, keyword-only, shown in the signature.
    __init__ = with_arguments(
        __init__, RecurrentLayer.loop_defaults(), inspect.Parameter.KEYWORD_ONLY
    )

    def get_config(self):
        config = keras.layers.RNN.get_config(self)
        return {
            **config,
            "cell": keras.saving.serialize_keras_object(self.cell),
            "gradient_clip": self.gradient_clip,
            "gradient_clip_mode": self.gradient_clip_mode,
            "zoneout": self.zoneout,
            "seed": self.seed,
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
            "truncate_gradient": self.truncate_gradient,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
