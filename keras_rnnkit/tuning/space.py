"""The search space: every hyperparameter's name, range, default and scope.

The table `HYPERPARAMETERS` is the single source of truth; `declare` turns it
into keras-tuner hyperparameters inside the right conditional scopes and
returns the plain values a trial uses. Names are stable: they appear in
trial files, `results_summary()` and `hp.Fixed` pins.
"""

from typing import NamedTuple

from keras_rnnkit_cli.catalog import FAMILIES as FAMILIES
from keras_rnnkit_cli.catalog import RECURRENT_FAMILIES as RECURRENT_FAMILIES


class Hyperparameter(NamedTuple):
    """One searched value.

    `kind` is "choice", "int", "float" or "boolean"; `scope` is the tuple of
    families for which it is active (None: every family); `options` holds the
    keras-tuner arguments (`values`, or `min_value`, `max_value`, `step`,
    `sampling`); `many_to_one_only` marks values only searched when the model
    returns one output per sequence. Rates are choices of round values, not
    stepped floats, so that trials show 0.3 and not 0.30000000000000004.
    """

    name: str
    kind: str
    default: object
    options: dict
    scope: tuple | None = None
    help: str = ""
    many_to_one_only: bool = False


HYPERPARAMETERS = (
    # Every family.
    Hyperparameter(
        "units",
        "choice",
        32,
        {"values": [8, 16, 32, 64, 128]},
        help="units of every layer (H); for Jordan the hidden layer",
    ),
    Hyperparameter("depth", "int", 1, {"min_value": 1, "max_value": 3}, help="stacked layers"),
    Hyperparameter(
        "activation", "choice", "tanh", {"values": ["tanh", "relu"]}, help="layer activation"
    ),
    Hyperparameter("layer_norm", "boolean", False, {}, help="layer normalisation in each layer"),
    Hyperparameter(
        "learning_rate",
        "float",
        1e-3,
        {"min_value": 1e-4, "max_value": 1e-2, "sampling": "log"},
        help="Adam's learning rate",
    ),
    Hyperparameter(
        "weight_decay",
        "choice",
        0.0,
        {"values": [0.0, 1e-4, 1e-3, 3e-3, 1e-2]},
        help="L2 penalty on every kernel (not the biases)",
    ),
    Hyperparameter(
        "clipnorm",
        "choice",
        1.0,
        {"values": [0.0, 1.0, 10.0]},
        help="Adam's clipnorm (0: no clipping)",
    ),
    # Elman and Jordan: the recurrent families.
    Hyperparameter(
        "bidirectional",
        "boolean",
        False,
        {},
        RECURRENT_FAMILIES,
        "wrap each layer in keras.layers.Bidirectional",
    ),
    Hyperparameter(
        "dropout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        RECURRENT_FAMILIES,
        "input dropout, one mask per sequence",
    ),
    Hyperparameter(
        "recurrent_dropout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        RECURRENT_FAMILIES,
        "dropout of the fed-back state, one mask per sequence",
    ),
    Hyperparameter(
        "zoneout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3]},
        RECURRENT_FAMILIES,
        "probability that a state unit keeps its previous value",
    ),
    Hyperparameter(
        "gradient_clip",
        "choice",
        0.0,
        {"values": [0.0, 1.0, 10.0]},
        RECURRENT_FAMILIES,
        "per-time-step clip of the gradient into the state (0: none)",
    ),
    # Jordan.
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
    # TDNN.
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
BY_NAME = {h.name: h for h in HYPERPARAMETERS}
NAMES = ("family", *BY_NAME)


def tdnn_context(width, dilation):
    """The causal offsets of a window of `width` taps, `dilation` steps apart.

    >>> tdnn_context(3, 2)
    (-4, -2, 0)
    """
    return tuple(range(-(width - 1) * dilation, 1, dilation))


def _make(hp, spec, fixed):
    """Declares one hyperparameter (fixed to `fixed[name]` if given); returns its value."""
    if spec.name in fixed:
        return hp.Fixed(spec.name, fixed[spec.name])
    if spec.kind == "choice":
        return hp.Choice(spec.name, default=spec.default, **spec.options)
    if spec.kind == "int":
        return hp.Int(spec.name, default=spec.default, **spec.options)
    if spec.kind == "float":
        return hp.Float(spec.name, default=spec.default, **spec.options)
    return hp.Boolean(spec.name, default=spec.default)


def declare(hp, families, *, many_to_one=True, fixed=None):
    """Declares the space for `families` in `hp` and returns the trial's active values.

    `family` comes first; every family-specific hyperparameter is declared in a
    conditional scope on it, restricted to the families being searched, so a
    trial records only the values it used. Hyperparameters already present in
    `hp` (e.g. `hp.Fixed` pins passed to a tuner) keep their values.

    Args:
        hp: A `keras_tuner.HyperParameters`.
        families: The families searched, a tuple of names from `FAMILIES`.
        many_to_one: Whether the model returns one output per sequence
            (otherwise TDNN's `stride` is not searched: it would shorten the
            output sequence).
        fixed: Mapping of hyperparameter names to pinned values.

    Returns:
        A dict: `family` and the values of the active hyperparameters.
    """
    fixed = dict(fixed or {})
    if "family" in fixed:
        family = hp.Fixed("family", fixed["family"])
    elif len(families) == 1:
        family = hp.Fixed("family", families[0])
    else:
        family = hp.Choice("family", list(families), default=families[0])
    values = {"family": family}
    for spec in HYPERPARAMETERS:
        if spec.many_to_one_only and not many_to_one:
            continue
        if spec.scope is None:
            values[spec.name] = _make(hp, spec, fixed)
            continue
        parents = [f for f in spec.scope if f in families]
        if not parents:
            continue
        with hp.conditional_scope("family", parents):
            value = _make(hp, spec, fixed)
        if family in parents:
            values[spec.name] = value
    return values
