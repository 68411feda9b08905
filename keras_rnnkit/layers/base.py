"""What every recurrent cell and layer shares: cells own the math (`RecurrentCell`), layers
loop (`RecurrentLayer`). Signatures, properties and configs derive from the cells'
constructors, so that the two never disagree."""

import contextlib
import inspect
import re

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.backend import engine
from keras_rnnkit.backend.engine import two_dimensional
from keras_rnnkit.backend.keras_internals import DropoutRNNCell
from keras_rnnkit.backend.keras_internals import backend_rnn
from keras_rnnkit.layers import fused_policy
from keras_rnnkit.layers import protocol
from keras_rnnkit.layers import state_probes
from keras_rnnkit.layers.clipping import CLIP_MODES
from keras_rnnkit.layers.config import BASE_LAYER_KEYS
from keras_rnnkit.layers.config import config_from_signature
from keras_rnnkit.layers.config import constructor_arguments
from keras_rnnkit.layers.loop import controls_of
from keras_rnnkit.layers.loop import run_step
from keras_rnnkit.layers.normalization import layer_normalized
from keras_rnnkit.layers.state_probes import probe_for


def weight_arguments(initializers):
    """`{name: default}` of the weights' arguments, from `{prefix: default initializer}`,
    in Keras's order: every `_initializer`, then `_regularizer`, then `_constraint`."""
    return {
        **{f"{prefix}_initializer": default for prefix, default in initializers.items()},
        **{f"{prefix}_regularizer": None for prefix in initializers},
        **{f"{prefix}_constraint": None for prefix in initializers},
    }


def weight_options(owner, initializers, kwargs):
    """The `weight_arguments` popped from `kwargs` (or defaults), checked by kind; an
    object that needs a kernel (`needs_matrix`, as `SpectralNormConstraint`) is refused
    for a bias."""
    options = {}
    for name, default in weight_arguments(initializers).items():
        prefix, kind = name.rsplit("_", 1)
        value = getattr(arguments, kind)(owner, name, kwargs.pop(name, default))
        if prefix.endswith("bias") and getattr(value, "needs_matrix", False):
            raise ValueError(
                f"{owner}: `{name}` must suit a bias, a vector; {type(value).__name__} "
                f"needs a kernel of rank >= 2. Received: {name}={value!r}"
            )
        options[name] = value
    return options


# The options every cell takes after its own arguments: (default, check) by name.
SHARED_OPTIONS = {
    "dropout": (0.0, arguments.rate),
    "recurrent_dropout": (0.0, arguments.rate),
    "seed": (None, arguments.optional_seed),
    "gradient_clip": (None, arguments.optional_positive_float),
    "gradient_clip_mode": ("value", lambda *a: arguments.one_of(*a, CLIP_MODES)),
    "zoneout": (0.0, arguments.rate),
    "layer_norm": (False, arguments.boolean),
}
# Those of a cell with `supports_dropout` only.
DROPOUT_OPTIONS = ("dropout", "recurrent_dropout", "seed", "zoneout")


def shared_options(cell_class):
    """`{name: default}` of the shared options `cell_class` takes."""
    return {
        name: default
        for name, (default, _) in SHARED_OPTIONS.items()
        if cell_class.supports_dropout or name not in DROPOUT_OPTIONS
    }


def with_arguments(init, extra, kind=inspect.Parameter.POSITIONAL_OR_KEYWORD):
    """`init` under the signature a user sees: its own arguments, then `extra`
    (`{name: default}` of `kind`, or `inspect.Parameter`s, which reach `init` in its
    `**kwargs`), then `**kwargs`."""
    own = [p for p in inspect.signature(init).parameters.values() if p.kind is not p.VAR_KEYWORD]
    if isinstance(extra, dict):
        extra = [inspect.Parameter(name, kind, default=d) for name, d in extra.items()]
    added = [p for p in extra if p.name not in {q.name for q in own}]
    rest = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    signature = inspect.Signature([*own, *added, rest])

    def __init__(*args, **kwargs):
        bound = signature.bind(*args, **kwargs).arguments
        init(**bound.pop("kwargs", {}), **bound)

    __init__.__signature__ = signature
    __init__.__qualname__ = init.__qualname__
    __init__.__doc__ = init.__doc__
    return __init__


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the cells. A cell's `__init__` checks its own arguments into `options`
    and passes them with `**kwargs` here, where the weights' arguments and the shared
    options are checked and every argument becomes an attribute (`get_config` reads
    them). Its signature: own arguments, `weight_arguments`, `shared_options`, `**kwargs`.
    """

    # Whether the cell takes `DROPOUT_OPTIONS`.
    supports_dropout = True
    # The prefixes of the weight arguments, with their default initializers.
    weight_initializers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and any(
            p.kind is p.VAR_KEYWORD for p in inspect.signature(init).parameters.values()
        ):
            extra = {**weight_arguments(cls.weight_initializers), **shared_options(cls)}
            cls.__init__ = with_arguments(init, extra)

    def __init__(self, *, options, **kwargs):
        owner = type(self).__name__
        arguments.float_dtype(owner, "dtype", kwargs.get("dtype"))
        options = {**options, **weight_options(owner, self.weight_initializers, kwargs)}
        for name, default in shared_options(type(self)).items():
            options[name] = SHARED_OPTIONS[name][1](owner, name, kwargs.pop(name, default))
        super().__init__(**kwargs)
        for name, value in options.items():
            setattr(self, name, value)
        weights_within_memory(self, input_width=1)
        # Even without dropout, as SimpleRNNCell's: the variables do not depend on the rates.
        self.seed_generator = None
        if self.supports_dropout:
            self.seed_generator = keras.random.SeedGenerator(self.seed)

    def weight_shapes(self, input_width):
        """`{name: shape}` of the weights the cell builds for `input_width` input features,
        None for an absent bias (`add_named_weights`); read in the constructor too, so only
        from the cell's arguments."""
        return {}

    def _dropped(self, tensor, mask, training):
        if not training or mask is None:
            return tensor
        # The mask is drawn in the loop's dtype, which a cell of another dtype inside
        # `keras.layers.RNN` does not share (JAX would promote the state to it).
        return tensor * keras.ops.cast(mask, tensor.dtype)

    # What a cell without `supports_dropout` (TDNNCell) has of those options.
    dropout = recurrent_dropout = zoneout = 0.0

    # A cell of the engine's recurrence defines `feedback()`, its `engine.Feedback`, and
    # `recurrence_weights()`, `(kernel, bias, engine.Weights)` (None before build); a cell
    # with math of its own overrides `step` and sets `fused_form = None` (TDNNCell).
    def fused_form(self):
        """The protocol's `fused_form`: an `engine.FusedForm`, or why there is none."""
        form = engine.fused_form(self.feedback(), *self.recurrence_weights())
        if not isinstance(form, str) and self.layer_norm:
            return "layer norm acts inside the step"
        return form

    def call(self, sequence, states, training=False):
        """One step for a plain `keras.layers.RNN`: the loop's step (`loop.run_step`)."""
        return run_step(self, controls_of(self), sequence, states, training)

    def step(self, sequence, states, training=False, teacher=None):
        """`(output, new_states)`: `engine.recurrence` with dropout and layer norm;
        `teacher=(target, use_own)` while a Jordan layer feeds back targets."""
        (context,) = states
        inputs = self._dropped(sequence, self.get_dropout_mask(sequence), training)
        fed = self._dropped(context, self.get_recurrent_dropout_mask(context), training)
        kernel, bias, weights = self.recurrence_weights()
        output, new_context = engine.recurrence(
            engine.KERAS_OPS,
            self.feedback(),
            weights,
            context,
            engine.project(inputs, kernel, bias),
            fed=fed,
            normalize=(lambda z: layer_normalized(self, z)) if self.layer_norm else None,
            target=teacher,
        )
        return output, [new_context]

    def get_initial_state(self, batch_size=None):
        sizes = protocol.state_sizes(self)
        if isinstance(batch_size, int):
            shapes = {f"state {i}": (batch_size, size) for i, size in enumerate(sizes)}
            given = {"batch_size": batch_size, **size_arguments(self)}
            owner = type(self).__name__
            # A step holds the states, their next values and its own temporaries.
            arguments.within_memory(
                owner,
                "states",
                shapes,
                self.compute_dtype,
                given,
                remedy="a smaller batch or smaller sizes",
                copies=4,
            )
        return [keras.ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        return {**super().get_config(), **config_from_signature(self)}


# The arguments that size a cell's or layer's weights, named when a weight is too large.
SIZE_ARGUMENTS = ("units", "output_units", "context", "input_delays", "feedback_delays")


# Variable dtypes whose weights are drawn in float32 (see add_named_weight).
HALF_DTYPES = ("float16", "bfloat16")


def _in_float32(initializer):
    def initialize(shape, dtype=None):
        return keras.ops.cast(initializer(shape, dtype="float32"), dtype)

    return initialize


class _LossInFloatx(keras.regularizers.Regularizer):
    """`regularizer`'s penalty cast to floatx. A `Regularizer`, not a plain function:
    keras 3.14's variables take no other regularizer."""

    def __init__(self, regularizer):
        self.regularizer = regularizer

    def __call__(self, weight):
        return keras.ops.cast(self.regularizer(weight), keras.config.floatx())


def state_within_memory(cell, remedy):
    """Raises where the states of one sample (`cell.state_size`) would take more memory
    than this process can still use: a cell whose state is a line of delays."""
    shapes = {f"state {i}": (1, size) for i, size in enumerate(protocol.state_sizes(cell))}
    owner = type(cell).__name__
    arguments.within_memory(
        owner, "state", shapes, cell.variable_dtype, size_arguments(cell), remedy
    )


def size_arguments(layer):
    """`{argument: value}` of the `SIZE_ARGUMENTS` that `layer` has."""
    return {n: getattr(layer, n) for n in SIZE_ARGUMENTS if getattr(layer, n, None) is not None}


def weights_within_memory(layer, input_width):
    """Raises where the weights of `layer.weight_shapes(input_width)` would take more memory
    than this process can still use: in the constructor (for one input feature, the least
    any input gives) and again when the layer is built."""
    shapes = {name: shape for name, shape in layer.weight_shapes(input_width).items() if shape}
    dtype = layer.variable_dtype
    arguments.within_memory(type(layer).__name__, "weights", shapes, dtype, size_arguments(layer))


def add_named_weights(layer, input_width):
    """Makes the weights of `layer.weight_shapes(input_width)` (`{name: shape}`; None for
    an absent bias, which becomes a None attribute), each an attribute, with the layer's
    `{prefix}_initializer`, `_regularizer` and `_constraint` (prefix `recurrent` for
    `recurrent_kernel`, else the name), after checking that together they fit in memory."""
    weights_within_memory(layer, input_width)
    for name, shape in layer.weight_shapes(input_width).items():
        prefix = "recurrent" if name == "recurrent_kernel" else name
        setattr(
            layer, name, None if shape is None else _add_named_weight(layer, name, shape, prefix)
        )


def _add_named_weight(layer, name, shape, prefix):
    """`layer.add_weight` with the layer's `{prefix}_*` arguments; an initializer that
    cannot make the shape raises naming it."""
    initializer = getattr(layer, f"{prefix}_initializer")
    made = initializer
    regularizer = getattr(layer, f"{prefix}_regularizer")
    dtype = keras.backend.standardize_dtype(layer.variable_dtype)
    if dtype in HALF_DTYPES:
        # JAX's and PyTorch's QR (the orthogonal initializers) have no 16-bit kernels: the
        # weight is drawn in float32, then cast.
        made = initializer and _in_float32(keras.initializers.get(initializer))
    if dtype != keras.config.floatx():
        # Keras stacks the penalties with the loss, in floatx (TensorFlow refuses others).
        regularizer = regularizer and _LossInFloatx(regularizer)
    try:
        return layer.add_weight(
            shape=shape,
            name=name,
            initializer=made,
            regularizer=regularizer,
            constraint=getattr(layer, f"{prefix}_constraint"),
        )
    except ValueError as error:
        raise ValueError(
            f"{type(layer).__name__}: `{prefix}_initializer` cannot initialize `{name}` of "
            f"shape {tuple(shape)} ({error}). Received: {prefix}_initializer="
            f"{type(initializer).__name__}"
        ) from error


@contextlib.contextmanager
def errors_named_for(owner, cell_class):
    """Re-raises a `ValueError` of a `cell_class` cell as one of `owner`, the class the
    user constructed ("ElmanRNN: ..." rather than "ElmanCell: ...")."""
    prefix = f"{cell_class.__name__}: "
    try:
        yield
    except ValueError as error:
        message = str(error)
        if not message.startswith(prefix):
            raise
        # From the error's own cause: the cell's error only repeats it.
        raise ValueError(f"{owner}: {message[len(prefix) :]}") from error.__cause__


def as_compute_dtype(layer, inputs):
    """Integer or boolean `inputs` cast to the compute dtype (Keras autocasts only
    floats, and torch's matmul refuses int32 inputs against float32 weights)."""
    inputs = keras.ops.convert_to_tensor(inputs)
    if not keras.backend.is_float_dtype(inputs.dtype):
        inputs = keras.ops.cast(inputs, layer.compute_dtype)
    return inputs


def checked_initial_state(owner, initial_state, state_size, batch_size):
    """`initial_state` as a list of (B, size) tensors, one per state (None stays None), or
    raises (else the backends disagree: TensorFlow broadcasts a (H,) state, JAX takes
    extra ones)."""
    if initial_state is None:
        return None
    sizes = list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    must = f"{owner}: `initial_state` must be a list of {len(sizes)} tensor(s) of shape " + (
        ", ".join(f"(batch, {size})" for size in sizes)
    )
    if len(states) != len(sizes):
        raise ValueError(f"{must}. Received: {len(states)} tensor(s)")
    states = [s if hasattr(s, "shape") else keras.ops.convert_to_tensor(s) for s in states]
    for shape, size in zip((tuple(s.shape) for s in states), sizes):
        if (
            len(shape) != 2
            or shape[1] not in (None, size)
            or (None not in (shape[0], batch_size) and shape[0] != batch_size)
        ):
            raise ValueError(
                f"{must}, with the batch size of the inputs ({batch_size}). "
                f"Received: initial_state shapes={[tuple(s.shape) for s in states]}"
            )
    return states


def built_width(layer):
    """The number of input features D that `layer` was built for, or None before build."""
    spec = layer.input_spec if layer.built else None
    axes = getattr(spec, "axes", None) or {}
    return axes.get(-1)


def checked_width(owner, layer, name, tensor):
    """Raises, naming `name`, unless `tensor`'s last axis is the D `layer` was built for."""
    width = built_width(layer)
    if width is not None and tensor.shape[-1] != width:
        raise ValueError(
            f"{owner}: `{name}` must have {width} features, as the inputs this layer was "
            f"built for. Received: {name}.shape={tuple(tensor.shape)}"
        )


def checked_steps(owner, sequences):
    """Raises, naming `sequences`, where they have no time step: a recurrent layer's output
    and state are its last step's (Keras's own layers fail inside the backend)."""
    if sequences.shape[1] == 0:
        raise ValueError(
            f"{owner}: `sequences` must have at least one time step: the output and state "
            f"are the last step's. Received: sequences with shape {tuple(sequences.shape)}"
        )


def checked_mask(owner, sequences, mask):
    """`mask` as a boolean (B, T) tensor that selects the steps of `sequences` (B, T, D), or
    raises naming `mask` (None stays None). Keras's (B, T, 1) masks are taken; a mask of
    numbers keeps its non-zero steps, so that only which steps count matters, never their
    values. A symbolic mask is checked by its shape alone."""
    if mask is None:
        return None
    if not hasattr(mask, "shape"):
        mask = keras.ops.convert_to_tensor(mask)
    shape = tuple(mask.shape)
    if len(shape) == 3 and shape[-1] == 1:
        mask, shape = mask[..., 0], shape[:2]
    expected = tuple(sequences.shape[:2])
    if len(shape) != 2 or any(
        None not in (got, want) and got != want for got, want in zip(shape, expected)
    ):
        raise ValueError(
            f"{owner}: `mask` must have the inputs' (batch, time) shape {expected}. "
            f"Received: mask with shape {shape}"
        )
    if isinstance(mask, keras.KerasTensor) or keras.backend.standardize_dtype(mask.dtype) == "bool":
        return mask
    return keras.ops.not_equal(mask, 0)


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
    """A `keras.layers.RNN` around one `cell_class` cell: keras_rnnkit's loop.

    A subclass names its cell (`cell_class = ElmanCell`); its signature is the cell's
    arguments, then the loop's, keyword-only (`loop_defaults`), then `**kwargs`; the
    cell's are read-only properties. A call runs the fused recurrence where
    `fused_policy` allows it, else the loop's step (`loop.run_step`) at every step.
    """

    cell_class = None
    # The class's own loop arguments (name: default), stored and kept in the config.
    layer_defaults = {}
    # Whether the fused recurrence may run ("auto", True, False), if not an argument.
    use_fused = False
    # Deprecated argument names (old: new): the old warns; configs with it load.
    renamed_arguments = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.cell_class is None:
            return
        for name in constructor_arguments(cls.cell_class):
            if not hasattr(cls, name):
                setattr(cls, name, property(lambda self, _n=name: getattr(self.cell, _n)))
        if "__init__" not in cls.__dict__:
            cell = inspect.signature(cls.cell_class.__init__).parameters.values()
            cell = [p for p in cell if p.kind is not p.VAR_KEYWORD]
            keyword = inspect.Parameter.KEYWORD_ONLY
            defaults = cls.loop_defaults()
            loop = [inspect.Parameter(n, keyword, default=d) for n, d in defaults.items()]
            cls.__init__ = with_arguments(RecurrentLayer.__init__, [*cell, *loop])
            cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"

    @classmethod
    def loop_defaults(cls):
        """`{name: default}` of the loop's arguments, in the signature's order."""
        return {**RNN_LAYER_DEFAULTS, "truncate_gradient": None, **cls.layer_defaults}

    def __init__(self, **kwargs):
        owner = type(self).__name__
        defaults = self.loop_defaults()
        for old, new in self.renamed_arguments.items():
            # stacklevel 4: the user's call, above the derived __init__ and this one.
            kwargs[new] = arguments.renamed(
                owner, kwargs, old, new, kwargs.get(new, defaults[new]), defaults[new], stacklevel=4
            )
        cell_names = constructor_arguments(self.cell_class)
        cell_kwargs = {n: kwargs.pop(n) for n in cell_names if n in kwargs}
        with errors_named_for(owner, self.cell_class):
            cell = self.cell_class(
                dtype=kwargs.get("dtype"),
                trainable=kwargs.get("trainable", True),
                name=re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.cell_class.__name__).lower(),
                **cell_kwargs,
            )
        self._init_loop(cell, kwargs)

    def _init_loop(self, cell, kwargs):
        """`keras.layers.RNN`'s constructor around `cell`, with the loop's arguments checked."""
        owner = type(self).__name__
        arguments.float_dtype(owner, "dtype", kwargs.get("dtype"))
        loop_kwargs = {n: kwargs.pop(n, d) for n, d in RNN_LAYER_DEFAULTS.items()}
        layer_kwargs = {n: kwargs.pop(n, d) for n, d in self.layer_defaults.items()}
        truncate_gradient = arguments.optional_step_count(
            owner, "truncate_gradient", kwargs.pop("truncate_gradient", None)
        )
        for name, value in loop_kwargs.items():
            check = arguments.boolean if name != "activity_regularizer" else arguments.regularizer
            loop_kwargs[name] = check(owner, name, value)
        regularizer = loop_kwargs["activity_regularizer"]
        if getattr(regularizer, "needs_sequences", False) and (
            not loop_kwargs["return_sequences"] or loop_kwargs["return_state"]
        ):
            # Keras regularizes every output the layer returns, states included.
            raise ValueError(
                f"{owner}: `activity_regularizer` {type(regularizer).__name__} needs the "
                "outputs of every step (B, T, H): pass `return_sequences=True` and "
                f"`return_state=False`. Received: return_sequences="
                f"{loop_kwargs['return_sequences']}, return_state={loop_kwargs['return_state']}"
            )
        super().__init__(cell, **loop_kwargs, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.truncate_gradient = truncate_gradient
        for name, value in layer_kwargs.items():
            setattr(self, name, value)
        arguments.one_of(owner, "use_fused", self.use_fused, fused_policy.SWITCH_VALUES)
        reason = fused_policy.fused_reason(self, training=True)
        if reason is None and fused_policy.uses_tensorflow_native(
            protocol.fused_form(self.cell).options, self.compute_dtype
        ):
            # No XLA kernel: `Model.compile` leaves XLA off, as for keras.layers.GRU.
            self.supports_jit = False

    def build(self, sequences_shape, initial_state_shape=None):
        with errors_named_for(type(self).__name__, type(self.cell)):
            super().build(sequences_shape, initial_state_shape)
        # A different feature size is then an error naming this layer.
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=False):
        # A symbolic call never runs `call`: the same checks, so that a functional
        # model with a bad argument fails when it is built.
        checked_steps(type(self).__name__, sequences)
        self._checked_initial_state(sequences, initial_state)
        checked_mask(type(self).__name__, sequences, mask)
        return super().compute_output_spec(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def _checked_initial_state(self, sequences, initial_state):
        owner, size = type(self).__name__, self.cell.state_size
        return checked_initial_state(owner, initial_state, size, sequences.shape[0])

    def call(self, sequences, initial_state=None, mask=None, training=False):
        sequences = as_compute_dtype(self, sequences)
        checked_steps(type(self).__name__, sequences)
        initial_state = self._checked_initial_state(sequences, initial_state)
        mask = checked_mask(type(self).__name__, sequences, mask)
        try:
            # Keras's call draws one dropout mask per sequence (`DropoutRNNCell`).
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        finally:
            # Also after an error, which Keras's reset misses; a cell of the protocol may
            # have no dropout at all.
            for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
                getattr(self.cell, reset, lambda: None)()

    def _mask_rule(self, mask):
        return None if mask is None else ("zeros" if self.zero_output_for_mask else "previous")

    def _step_inputs(self, sequences):
        """What Keras's loop hands each step, by name: the features (and, in a subclass,
        step controls of `loop.run_step` that travel in the sequences)."""
        return {"features": sequences}

    def inner_loop(self, sequences, initial_state, mask, training=False):
        step_inputs = self._step_inputs(sequences)
        reason = fused_policy.fused_reason(
            self,
            training=training,
            teacher_forced="target" in step_inputs,
            probes=state_probes.active(),
        )
        if reason is None:
            return self._fused_loop(sequences, initial_state, mask, training)
        return self._step_loop(step_inputs, initial_state, mask, training)

    def _fused_loop(self, sequences, initial_state, mask, training):
        """The cell's fused recurrence (`engine.run`), with Keras's masking rule."""
        form = protocol.fused_form(self.cell)
        form = form._replace(options=form.options._replace(mask_rule=self._mask_rule(mask)))
        dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
        if training and dropout_mask is not None:
            # The cell's input dropout, one mask per sequence as in the step loop.
            sequences = sequences * keras.ops.expand_dims(dropout_mask, 1)
        outputs, last_state = engine.run(
            sequences,
            initial_state[0],
            form,
            go_backwards=self.go_backwards,
            mask=mask,
            native=fused_policy.native_kernel(
                form.options, sequences.dtype, mask, self.go_backwards
            ),
            last_only=fused_policy.last_step_only(self.return_sequences, training),
        )
        return outputs[:, -1], outputs, [last_state]

    def _step_loop(self, step_inputs, initial_state, mask, training):
        """The loop's step around the cell at every time step (`loop.run_step`), with each
        step's controls as inputs of Keras's loop beside the features."""
        sequences = step_inputs["features"]
        units = sum(protocol.state_sizes(self.cell))
        batch_time = keras.ops.shape(sequences)[:2]
        # Only inside `state_probes.probing`: the tensor the monitor differentiates by.
        probe = probe_for(self, (*batch_time, units), sequences.dtype)
        if probe is not None:
            step_inputs["probe"] = probe
        zoneout = controls_of(self).zoneout
        if zoneout and training:
            draws = keras.random.uniform((*batch_time, units), seed=self._zoneout_seeds())
            step_inputs["zoneout"] = keras.ops.cast(draws < zoneout, sequences.dtype)
        if mask is not None:
            # The step applies the mask, not Keras's loop: the JAX loop takes the first
            # state for the previous output, false for a cell whose state is not.
            keep = keras.ops.expand_dims(two_dimensional(mask), -1)
            step_inputs["keep"] = keras.ops.cast(keep, sequences.dtype)
        if self.truncate_gradient:
            step_inputs["cut"] = self._truncation_channel(sequences)
        # With a mask, the states end with the held output (see `loop.run_step`).
        held = keras.ops.zeros((batch_time[0], self.cell.output_size), initial_state[0].dtype)
        states = [*initial_state, *([] if mask is None else [held])]
        controls, mask_rule = controls_of(self), self._mask_rule(mask)
        # A tuple: Keras's unrolled loops iterate a dict's keys, not its values.
        names = tuple(step_inputs)

        def step(inputs, states):
            # As Keras's loop: on torch, stateful updates of the states are in place.
            if keras.backend.backend() == "torch" and self.stateful:
                states = [keras.ops.copy(s) for s in states]
            inputs = dict(zip(names, inputs))
            return run_step(self.cell, controls, inputs, states, training, mask_rule)

        last_output, outputs, states = backend_rnn(
            step,
            tuple(step_inputs.values()),
            states,
            go_backwards=self.go_backwards,
            mask=None,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        return last_output, outputs, list(states)[: len(initial_state)]

    def _zoneout_seeds(self):
        return self.cell.seed_generator

    def _truncation_channel(self, sequences):
        """(B, T, 1): 1 at every `truncate_gradient`-th step in processing order but the
        first, where the gradient through the state it receives stops."""
        steps = keras.ops.arange(keras.ops.shape(sequences)[1])
        cut = keras.ops.logical_and(steps % self.truncate_gradient == 0, steps > 0)
        if self.go_backwards:
            cut = keras.ops.flip(cut, axis=0)  # the loop flips it back
        cut = keras.ops.cast(cut[None, :, None], sequences.dtype)
        return keras.ops.zeros_like(sequences[..., :1]) + cut

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in BASE_LAYER_KEYS}
        loop_config = {
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
            "truncate_gradient": self.truncate_gradient,
            **{name: getattr(self, name) for name in self.layer_defaults},
        }
        return {**config, **loop_config, **cell_config}

    @classmethod
    def from_config(cls, config):
        # A deprecated name in a config loads without a warning: the user did not write it.
        config = {cls.renamed_arguments.get(k, k): v for k, v in config.items()}
        return cls(**config)
