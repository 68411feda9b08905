"""The model families by name: the one place that says what each family is.

A `Family` tells the model builder (`keras_rnnkit.models.build_model`) how to make the
family's layer, and tells the command line, tuning and export what they need to know of it:
whether it has a recurrent state, which hyperparameters a search tries for it, whether it
streams. This registry is the one list of families: the command line, tuning, the demo and
the data tasks read it.

Families come in by one path, `register_family`, from three places:

- the built-in ones (`ELMAN_FAMILY`, `JORDAN_FAMILY`, `TDNN_FAMILY`, `NARX_FAMILY`),
  registered when this module is imported;
- installed packages, through the entry-point group `keras_rnnkit.families` (each entry
  point names a `Family`, or a function that returns one, under the family's name); they
  are registered the first time the registry is read, so that `rnnkit train --model NAME`
  works for a plugin with no Python glue. keras_rnnkit declares its own four there too,
  which is how the command line lists families without importing keras;
- a user's code, calling `register_family`.

A registered family works everywhere a family name is taken: `build_model`, `rnnkit train`,
tuning (`keras_rnnkit.tuning.RecurrentHyperModel(..., families=(name,))`) and, for a layer
that `keras_rnnkit.export.to_streaming` can step, streaming export.

A plugin package declares its family in its own metadata, e.g. in `setup.cfg`:

    [options.entry_points]
    keras_rnnkit.families =
        my_family = my_package.my_family:MY_FAMILY

Example: an Elman network with ReLU, registered under its own name.

>>> import keras
>>> from keras_rnnkit.layers import ElmanRNN
>>> from keras_rnnkit.models import Family, build_model, register_family, unregister_family
>>> from keras_rnnkit.regularizers import per_weight
>>> def make_relu_elman(units, *, return_sequences, regularizer, seed, **options):
...     return ElmanRNN(units, activation="relu", return_sequences=return_sequences,
...                     kernel_regularizer=per_weight(regularizer), seed=seed, **options)
>>> _ = register_family(Family("relu_elman", make_relu_elman, recurrent=True))
>>> tuple(build_model("relu_elman", (10, 3), 2).output_shape)
(None, 2)
>>> unregister_family("relu_elman")
"""

import dataclasses
import re
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import NamedTuple

from keras_rnnkit.layers import NARX
from keras_rnnkit.layers import TDNN
from keras_rnnkit.layers import ElmanRNN
from keras_rnnkit.layers import JordanRNN
from keras_rnnkit.regularizers import per_weight

# The entry-point group through which installed packages add families.
ENTRY_POINT_GROUP = "keras_rnnkit.families"


class Hyperparameter(NamedTuple):
    """One searched value.

    `kind` is "choice", "int", "float" or "boolean"; `scope` is the tuple of
    families for which it is active (None: every family; `"recurrent"`: every
    family with a recurrent state); `options` holds the keras-tuner arguments
    (`values`, or `min_value`, `max_value`, `step`, `sampling`); `many_to_one_only`
    marks values only searched when the model returns one output per sequence.
    Rates are choices of round values, not stepped floats, so that trials show
    0.3 and not 0.30000000000000004.
    """

    name: str
    kind: str
    default: object
    options: dict
    scope: tuple | str | None = None
    help: str = ""
    many_to_one_only: bool = False


def _same_units(units, output_units, sequence_output):
    return units, {}


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: how to make its layer, and what the builders need to know of it.

    Attributes:
        name: The name it is registered under: lowercase letters, digits and `_`.
        make_layer: `make_layer(units, *, return_sequences, regularizer, seed,
            **options)` returns a new Keras layer on (B, T, D) inputs. A recurrent
            family also receives `gradient_clip` and `gradient_clip_mode` in
            `options` and returns (B, T, H), or (B, H) without `return_sequences`.
            A family without a recurrent state returns (B, T', H) either way;
            the builder then flattens it (fixed T) or averages it over time for
            one output per sequence. `regularizer` (or None) is the weight
            penalty of every kernel: give each kernel
            `keras_rnnkit.regularizers.per_weight(regularizer)`, its own copy
            of a penalty with variables; `seed` (or None) seeds the layer's dropout.
        recurrent: Whether the layer has a state carried across time steps
            (`keras.layers.RNN`): gradient clipping through time, dropout of the
            state, `Bidirectional` and `rnnkit gradients` apply to it.
        small_model: `small_model(units, output_units, sequence_output)` returns
            `(layer_units, options)`, the layer of `build_model`'s default small
            model. Default: `units` and no options.
        options_from_values: `options_from_values(values)` returns `(units,
            options)` from a tuning trial's values (the shared ones and the
            family's own `hyperparameters`). Default: `values["units"]` and the
            shared recurrent options (see `recurrent_options`) for a recurrent
            family, none otherwise.
        hyperparameters: The family's own searched values (`Hyperparameter`s,
            active for this family only), declared after the shared ones.
        layer_hyperparameters: Which of the shared searched layer options
            (`LAYER_OPTIONS`: activation, layer_norm, dropout, recurrent_dropout,
            zoneout) a search tries for this family, or None (default) for all
            that apply to its kind (the last three need a recurrent state). The
            other shared values (units, depth, learning rate, weight decay,
            clipnorm; for a recurrent family bidirectional and gradient_clip)
            are the builder's and apply to every family.
        streaming: Whether `keras_rnnkit.export.to_streaming` can run the layer
            one time step at a time (any `keras.layers.RNN`, a causal TDNN).
        description: One line, for help texts.
    """

    name: str
    make_layer: Callable
    recurrent: bool
    small_model: Callable = _same_units
    options_from_values: Callable | None = None
    hyperparameters: tuple = ()
    layer_hyperparameters: tuple | None = None
    streaming: bool = True
    description: str = ""

    def layer_from_values(self, values):
        """`(units, options)` of a tuning trial's layer; see `options_from_values`."""
        if self.options_from_values is not None:
            return self.options_from_values(values)
        return values["units"], recurrent_options(values) if self.recurrent else {}


# The shared searched values that are options of the family's layer (see `Family`).
LAYER_OPTIONS = ("activation", "layer_norm", "dropout", "recurrent_dropout", "zoneout")


def recurrent_options(values):
    """The options a trial's shared recurrent hyperparameters give any recurrent layer.

    `activation` and `layer_norm` (every family) and `dropout`,
    `recurrent_dropout` and `zoneout` (the recurrent families), as the
    constructor arguments of `ElmanRNN` and `JordanRNN` name them.
    """
    names = ("activation", "dropout", "recurrent_dropout", "zoneout", "layer_norm")
    return {name: values[name] for name in names}


_NAME = re.compile(r"[a-z][a-z0-9_]*")
_REGISTRY = {}
# Whether the installed packages' families have been registered (see `_register_installed`).
_installed = {"registered": False}


def register_family(family, *, overwrite=False):
    """Registers `family` (a `Family`) under `family.name`; returns it.

    Raises:
        TypeError: if `family` is not a `Family`.
        ValueError: if the name is not lowercase letters, digits and `_`, or
            is taken and `overwrite` is False.
    """
    _register_installed()
    return _add(family, overwrite=overwrite)


def _add(family, *, overwrite=False):
    """`register_family`'s checks and registration, for every source of families."""
    if not isinstance(family, Family):
        raise TypeError(
            f"register_family: `family` must be a keras_rnnkit.models.Family. "
            f"Received: family={family!r}"
        )
    if not isinstance(family.name, str) or not _NAME.fullmatch(family.name):
        raise ValueError(
            "register_family: the family's `name` must be lowercase letters, digits and "
            f"underscores, starting with a letter. Received: name={family.name!r}"
        )
    taken = _REGISTRY.get(family.name)
    if taken is not None and taken is not family and not overwrite:
        raise ValueError(
            f"register_family: a family named {family.name!r} is registered already; pass "
            "overwrite=True to replace it"
        )
    for spec in family.hyperparameters:
        if spec.scope not in (None, (family.name,)):
            raise ValueError(
                f"register_family: the hyperparameter {spec.name!r} of {family.name!r} must "
                f"have scope ({family.name!r},). Received: scope={spec.scope!r}"
            )
    _REGISTRY[family.name] = family
    return family


def unregister_family(name):
    """Removes the family registered as `name`."""
    get_family(name, owner="unregister_family")
    del _REGISTRY[name]


def get_family(name, owner="get_family"):
    """The `Family` registered as `name`; a ValueError naming the registered ones otherwise."""
    _register_installed()
    if name not in _REGISTRY:
        raise ValueError(
            f"{owner}: `family` must be one of {', '.join(_REGISTRY)}. Received: family={name!r}"
        )
    return _REGISTRY[name]


def registered_families():
    """The names of the registered families: the built-in ones first, then the installed
    packages' and a user's, in the order they were registered."""
    _register_installed()
    return tuple(_REGISTRY)


def installed_entry_points():
    """The entry points of the group `keras_rnnkit.families`, keras_rnnkit's own first."""
    entries = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted(entries, key=lambda entry: not _is_ours(entry))


def _is_ours(entry):
    distribution = getattr(entry, "dist", None)
    name = "" if distribution is None else distribution.name
    return re.sub(r"[-_.]+", "-", name).lower() == "keras-rnnkit"


def _register_installed():
    """Registers, once, the family of every entry point of `ENTRY_POINT_GROUP`.

    An entry point that cannot be loaded, or does not give a `Family` of its own
    name, is skipped with a warning that names it: one broken package must not
    take the other families down with it.
    """
    if _installed["registered"]:
        return
    # Set first: a plugin's module may itself import and call this registry.
    _installed["registered"] = True
    for entry in installed_entry_points():
        where = f"the entry point {entry.name} = {entry.value} ({ENTRY_POINT_GROUP})"
        try:
            family = entry.load()
            if callable(family) and not isinstance(family, Family):
                family = family()
        except Exception as error:  # noqa: BLE001 - any failure of a third party's import
            warnings.warn(f"{where} could not be loaded: {error!r}", RuntimeWarning, stacklevel=3)
            continue
        if not isinstance(family, Family) or family.name != entry.name:
            warnings.warn(
                f"{where} must give a keras_rnnkit.models.Family named {entry.name!r}. "
                f"Received: {family!r}",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        taken = _REGISTRY.get(family.name)
        if taken is not None and taken is not family:
            warnings.warn(
                f"{where}: a family named {family.name!r} is registered already; the "
                "installed one is not registered",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        try:
            _add(family)
        except ValueError as error:
            warnings.warn(f"{where}: {error}", RuntimeWarning, stacklevel=3)


# -- The built-in families -------------------------------------------------------------------


def _make_elman(units, *, return_sequences, regularizer, seed, **options):
    return ElmanRNN(
        units,
        return_sequences=return_sequences,
        kernel_regularizer=per_weight(regularizer),
        recurrent_regularizer=per_weight(regularizer),
        seed=seed,
        **options,
    )


def _make_jordan(units, *, return_sequences, regularizer, seed, **options):
    return JordanRNN(
        units,
        return_sequences=return_sequences,
        kernel_regularizer=per_weight(regularizer),
        recurrent_regularizer=per_weight(regularizer),
        output_kernel_regularizer=per_weight(regularizer),
        seed=seed,
        **options,
    )


def _jordan_small_model(units, output_units, sequence_output):
    # The fed-back outputs carry everything Jordan remembers: at least as many
    # as the model's outputs.
    return units, {"output_units": max(4, output_units), "context_decay": 0.5}


def _jordan_from_values(values):
    options = recurrent_options(values)
    options.update(
        output_units=values["jordan_output_units"], context_decay=values["context_decay"]
    )
    return values["units"], options


def _make_tdnn(units, *, return_sequences, regularizer, seed, **options):
    # No state, no dropout: `return_sequences` and `seed` do not apply.
    return TDNN(units, kernel_regularizer=per_weight(regularizer), **options)


def _tdnn_small_model(units, output_units, sequence_output):
    padding = "same" if sequence_output else "valid"
    return 2 * units, {"context": (-2, -1, 0), "padding": padding, "activation": "tanh"}


def tdnn_context(width, dilation):
    """The causal offsets of a window of `width` taps, `dilation` steps apart.

    >>> tdnn_context(3, 2)
    (-4, -2, 0)
    """
    return tuple(range(-(width - 1) * dilation, 1, dilation))


def _tdnn_from_values(values):
    return values["units"], {
        "context": tdnn_context(values["context_width"], values["dilation"]),
        "padding": "same",
        "strides": values.get("stride", 1),
        "activation": values["activation"],
        "layer_norm": values["layer_norm"],
    }


def _make_narx(units, *, return_sequences, regularizer, seed, **options):
    return NARX(
        units,
        return_sequences=return_sequences,
        kernel_regularizer=per_weight(regularizer),
        recurrent_regularizer=per_weight(regularizer),
        output_kernel_regularizer=per_weight(regularizer),
        seed=seed,
        **options,
    )


def narx_delays(input_taps, feedback_taps):
    """`(input_delays, feedback_delays)` of a window model's NARX: the inputs x_t, ...,
    x_{t - input_taps + 1} (the last step's own input included: the window's last step
    forecasts) and the outputs y_{t-1}, ..., y_{t - feedback_taps}.

    >>> narx_delays(2, 3)
    ((0, 1), (1, 2, 3))
    """
    return tuple(range(input_taps)), tuple(range(1, feedback_taps + 1))


def _narx_small_model(units, output_units, sequence_output):
    # The window's models take no per-step targets: the layer runs closed loop, and its
    # fed-back outputs are a learned summary, at least as many as the model's outputs.
    input_delays, feedback_delays = narx_delays(2, 2)
    return units, {
        "output_units": max(4, output_units),
        "input_delays": input_delays,
        "feedback_delays": feedback_delays,
    }


def _narx_from_values(values):
    options = {
        name: values[name] for name in ("activation", "dropout", "recurrent_dropout", "layer_norm")
    }
    input_delays, feedback_delays = narx_delays(values["input_taps"], values["feedback_taps"])
    options.update(
        output_units=values["narx_output_units"],
        input_delays=input_delays,
        feedback_delays=feedback_delays,
    )
    return values["units"], options


_JORDAN_HYPERPARAMETERS = (
    Hyperparameter(
        "jordan_output_units",
        "choice",
        4,
        {"values": [1, 2, 4, 8, 16]},
        ("jordan",),
        "JordanRNN's `output_units` (O, the size of the fed-back context)",
    ),
    Hyperparameter(
        "context_decay",
        "choice",
        0.5,
        {"values": [0.0, 0.25, 0.5, 0.75, 0.9]},
        ("jordan",),
        "JordanRNN's `context_decay` (the context's self-connection)",
    ),
)
_TDNN_HYPERPARAMETERS = (
    Hyperparameter(
        "context_width",
        "int",
        3,
        {"min_value": 2, "max_value": 5},
        ("tdnn",),
        "taps of the causal window (len(context))",
    ),
    Hyperparameter(
        "dilation",
        "int",
        1,
        {"min_value": 1, "max_value": 3},
        ("tdnn",),
        "steps between taps",
    ),
    Hyperparameter(
        "stride",
        "int",
        1,
        {"min_value": 1, "max_value": 2},
        ("tdnn",),
        "TDNN `stride` (sub-sampling); searched only for many-to-one models",
        many_to_one_only=True,
    ),
)

_NARX_HYPERPARAMETERS = (
    Hyperparameter(
        "narx_output_units",
        "choice",
        4,
        {"values": [1, 2, 4, 8]},
        ("narx",),
        "NARX's `output_units` (O, the size of the fed-back output)",
    ),
    Hyperparameter(
        "input_taps",
        "int",
        2,
        {"min_value": 1, "max_value": 4},
        ("narx",),
        "NARX input delay line: x_t back to x_{t-taps+1}",
    ),
    Hyperparameter(
        "feedback_taps",
        "int",
        2,
        {"min_value": 1, "max_value": 4},
        ("narx",),
        "NARX feedback delay line: y_{t-1} back to y_{t-taps}",
    ),
)

ELMAN_FAMILY = Family(
    "elman", _make_elman, recurrent=True, description="ElmanRNN: the hidden state feeds back"
)
JORDAN_FAMILY = Family(
    "jordan",
    _make_jordan,
    recurrent=True,
    small_model=_jordan_small_model,
    options_from_values=_jordan_from_values,
    hyperparameters=_JORDAN_HYPERPARAMETERS,
    description="JordanRNN: the previous output feeds back",
)
TDNN_FAMILY = Family(
    "tdnn",
    _make_tdnn,
    recurrent=False,
    small_model=_tdnn_small_model,
    options_from_values=_tdnn_from_values,
    hyperparameters=_TDNN_HYPERPARAMETERS,
    description="TDNN: each output sees a fixed window of inputs",
)
NARX_FAMILY = Family(
    "narx",
    _make_narx,
    recurrent=True,
    small_model=_narx_small_model,
    options_from_values=_narx_from_values,
    hyperparameters=_NARX_HYPERPARAMETERS,
    # Zoneout would stop a delay line's slots from shifting: not searched.
    layer_hyperparameters=("activation", "layer_norm", "dropout", "recurrent_dropout"),
    description="NARX: inputs and fed-back outputs through tapped delay lines",
)
# The built-in families, in the order the demo and the help list them: by name, the order
# in which setuptools writes the entry points that the help reads.
BUILT_IN = (ELMAN_FAMILY, JORDAN_FAMILY, NARX_FAMILY, TDNN_FAMILY)
FAMILIES = tuple(family.name for family in BUILT_IN)
for _family in BUILT_IN:
    # Not `register_family`: that reads the installed packages, whose modules may
    # import this package, which is still being imported.
    _add(_family)
