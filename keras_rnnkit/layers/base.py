"""What every recurrent cell and layer of keras_rnnkit shares.

Cells own the math (`RecurrentCell` subclasses); layers only loop
(`RecurrentLayer`, a `keras.layers.RNN` built around one cell). A layer's
constructor, properties and config are all derived from its cell's constructor,
so that the two can never disagree.
"""

import inspect
import re

import keras

from keras_rnnkit.backend.keras_internals import DropoutRNNCell
from keras_rnnkit.layers import arguments
from keras_rnnkit.layers.config import BASE_LAYER_KEYS
from keras_rnnkit.layers.config import config_from_signature
from keras_rnnkit.layers.config import constructor_arguments


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the cells: config from the signature, dropout bookkeeping.

    Subclasses set every constructor argument as an attribute of the same name
    (that is what `get_config` reads) and call `_init_dropout` when they support
    dropout.
    """

    def _init_dropout(self, dropout, recurrent_dropout, seed):
        owner = type(self).__name__
        self.dropout = arguments.rate(owner, "dropout", dropout)
        self.recurrent_dropout = arguments.rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        # Created even without dropout, as SimpleRNNCell does, so that the
        # layer's variables are the same whatever the rates.
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _dropped(self, tensor, mask, training):
        """`tensor * mask` while training with a mask, else `tensor`."""
        if training and mask is not None:
            return tensor * mask
        return tensor

    # Set by `RecurrentLayer.inner_loop` while it runs a masked sequence: each
    # step's input then ends with a 0/1 mask channel, and the states end with
    # the previous output. None, "previous" or "zeros" (zero_output_for_mask).
    _masked_steps = None

    def call(self, sequence, states, training=False):
        """One step, as `keras.layers.RNN` calls it; the math is in `step`."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if self._masked_steps is None:
            return self.step(sequence, states, training=training)
        keep = sequence[:, -1:] > 0.5
        *states, previous_output = states
        output, new_states = self.step(sequence[:, :-1], states, training=training)
        # Keras's masking rule: a masked step keeps the states and repeats the
        # previous output (or outputs zeros).
        new_states = [keras.ops.where(keep, new, old) for new, old in zip(new_states, states)]
        held = keras.ops.zeros_like(output) if self._masked_steps == "zeros" else previous_output
        output = keras.ops.where(keep, output, held)
        return output, [*new_states, output]

    def step(self, sequence, states, training=False):
        """Returns `(output, new_states)` for one step; `states` is a list."""
        raise NotImplementedError

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [keras.ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        return {**super().get_config(), **config_from_signature(self)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake_case(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# The arguments that belong to the loop (`keras.layers.RNN`), not to the cell.
RNN_LAYER_DEFAULTS = {
    "activity_regularizer": None,
    "return_sequences": False,
    "return_state": False,
    "go_backwards": False,
    "stateful": False,
    "unroll": False,
    "zero_output_for_mask": False,
}


class RecurrentLayer(keras.layers.RNN):
    """A `keras.layers.RNN` around one `cell_class` cell.

    Subclasses only name their cell: `cell_class = ElmanCell`. The constructor
    takes the cell's arguments (positional ones in the cell's order) plus the
    loop's arguments (`RNN_LAYER_DEFAULTS`) and the base layer's (`name`,
    `dtype`, `trainable`, ...). Each cell argument is readable as a property of
    the layer, and `get_config` is the cell's config plus the loop's.
    """

    cell_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.cell_class is None:
            return
        for name in constructor_arguments(cls.cell_class):
            if not hasattr(cls, name):
                setattr(cls, name, property(lambda self, _n=name: getattr(self.cell, _n)))
        # What `help()` and IDEs show: the cell's arguments, then the loop's.
        cell_params = [
            p
            for p in inspect.signature(cls.cell_class.__init__).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        ]
        loop_params = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
            for n, d in RNN_LAYER_DEFAULTS.items()
        ]
        kwargs_param = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
        cls.__signature__ = inspect.Signature(cell_params + loop_params + [kwargs_param])

    def __init__(self, *args, **kwargs):
        cell_names = constructor_arguments(self.cell_class)
        cell_kwargs = {n: kwargs.pop(n) for n in cell_names if n in kwargs}
        loop_kwargs = {n: kwargs.pop(n, d) for n, d in RNN_LAYER_DEFAULTS.items()}
        owner = type(self).__name__
        for flag in (
            "return_sequences",
            "return_state",
            "go_backwards",
            "stateful",
            "unroll",
            "zero_output_for_mask",
        ):
            arguments.boolean(owner, flag, loop_kwargs[flag])
        cell = self.cell_class(
            *args,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=f"{_snake_case(self.cell_class.__name__)}",
            **cell_kwargs,
        )
        activity_regularizer = loop_kwargs.pop("activity_regularizer")
        super().__init__(
            cell,
            activity_regularizer=keras.regularizers.get(activity_regularizer),
            **loop_kwargs,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        # After build a different feature size is an error naming this layer,
        # not a shape mismatch deep inside a matrix product.
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def call(self, sequences, initial_state=None, mask=None, training=False):
        # `keras.layers.RNN` prepares one dropout mask per sequence only for
        # cells it recognises (see backend/keras_internals.py); preparing them
        # here as well (the cache makes it idempotent) keeps our layers right
        # whatever Keras does.
        if self.cell.dropout or self.cell.recurrent_dropout:
            state = (
                initial_state
                if initial_state is not None
                else (
                    self.states
                    if self.stateful
                    else self.get_initial_state(keras.ops.shape(sequences)[0])
                )
            )
            first_state = state[0] if isinstance(state, (list, tuple)) else state
            self.cell.get_dropout_mask(sequences[:, 0, :])
            self.cell.get_recurrent_dropout_mask(
                keras.ops.cast(first_state, self.cell.compute_dtype)
            )
        try:
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        finally:
            self.cell.reset_dropout_mask()
            self.cell.reset_recurrent_dropout_mask()

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if mask is None:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        # The cell applies the mask itself (see RecurrentCell.call) instead of
        # the backend's loop: the JAX loop assumes that the first state is the
        # previous output, which is false for a Jordan cell (its context). The
        # mask travels as one more input channel, so `go_backwards` reverses
        # it with the inputs, and the previous output as one more state.
        if len(mask.shape) == 3:
            mask = mask[..., 0]
        channel = keras.ops.cast(keras.ops.expand_dims(mask, -1), sequences.dtype)
        sequences = keras.ops.concatenate([sequences, channel], axis=-1)
        previous_output = keras.ops.zeros(
            (keras.ops.shape(sequences)[0], self.cell.output_size),
            dtype=initial_state[0].dtype,
        )
        self.cell._masked_steps = "zeros" if self.zero_output_for_mask else "previous"
        try:
            last_output, outputs, states = super().inner_loop(
                sequences, [*initial_state, previous_output], None, training=training
            )
        finally:
            self.cell._masked_steps = None
        return last_output, outputs, list(states)[:-1]

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in BASE_LAYER_KEYS}
        loop_config = {
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer)
        }
        return {**config, **loop_config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
