"""The search space: every hyperparameter's name, range, default and scope.

The table `HYPERPARAMETERS` holds the values every family shares; each family's own come
from its entry in the registry (`keras_rnnkit.models.families`), the built-in ones and a
user's alike, and `all_hyperparameters` puts the two together. `declare` turns them
into keras-tuner hyperparameters inside the right conditional scopes and
returns the plain values a trial uses. Names are stable: they appear in
trial files, `results_summary()` and `hp.Fixed` pins.
"""

from keras_rnnkit.models import families as registry
from keras_rnnkit.models.families import FAMILIES as FAMILIES
from keras_rnnkit.models.families import Hyperparameter as Hyperparameter
from keras_rnnkit.models.families import tdnn_context as tdnn_context

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
        help="strength of the weight penalty on every kernel (not the biases)",
    ),
    Hyperparameter(
        "weight_penalty",
        "choice",
        "l2",
        {"values": ["l2", "elimination"]},
        help="the penalty weight_decay weighs: L2, or weight elimination (Weigend et al. 1990)",
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
        "recurrent",
        "wrap each layer in keras.layers.Bidirectional",
    ),
    Hyperparameter(
        "dropout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        "recurrent",
        "input dropout, one mask per sequence",
    ),
    Hyperparameter(
        "recurrent_dropout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        "recurrent",
        "dropout of the fed-back state, one mask per sequence",
    ),
    Hyperparameter(
        "zoneout",
        "choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3]},
        "recurrent",
        "probability that a state unit keeps its previous value",
    ),
    Hyperparameter(
        "gradient_clip",
        "choice",
        0.0,
        {"values": [0.0, 1.0, 10.0]},
        "recurrent",
        "per-time-step clip of the gradient into the state (0: none)",
    ),
)


# A forecast of a series that is among the inputs (`RecurrentHyperModel(series_target=...)`):
# what the network forecasts, as `rnnkit train --predict` (see `keras_rnnkit.models.build_model`).
FORECAST = Hyperparameter(
    "forecast",
    "choice",
    "level",
    {"values": ["level", "change", "residual"]},
    help="a series' level, the change from the window's last value, or the residual of a "
    "least-squares AR of the window",
)


def all_hyperparameters(families):
    """The shared table, then the own hyperparameters of each of `families` (registered
    names), in the registry's order."""
    entries = [registry.get_family(f) for f in registry.registered_families() if f in families]
    return (*HYPERPARAMETERS, *(spec for entry in entries for spec in entry.hyperparameters))


def _uses(entry, spec):
    """Whether a search tries `spec` for the family `entry`."""
    if isinstance(spec.scope, tuple):
        return entry.name in spec.scope
    if spec.scope == "recurrent" and not entry.recurrent:
        return False
    if spec.name in registry.LAYER_OPTIONS and entry.layer_hyperparameters is not None:
        return spec.name in entry.layer_hyperparameters
    return True


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


def declare(hp, families, *, many_to_one=True, fixed=None, series=False):
    """Declares the space for `families` in `hp` and returns the trial's active values.

    `family` comes first; every family-specific hyperparameter is declared in a
    conditional scope on it, restricted to the families being searched, so a
    trial records only the values it used. Hyperparameters already present in
    `hp` (e.g. `hp.Fixed` pins passed to a tuner) keep their values.

    Args:
        hp: A `keras_tuner.HyperParameters`.
        families: The families searched, a tuple of registered family names.
        many_to_one: Whether the model returns one output per sequence
            (otherwise TDNN's `stride` is not searched: it would shorten the
            output sequence).
        fixed: Mapping of hyperparameter names to pinned values.
        series: Whether the model forecasts a series among its inputs: then
            `FORECAST` is searched too, for every family.

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
    for spec in all_hyperparameters(families):
        if spec.many_to_one_only and not many_to_one:
            continue
        parents = [f for f in families if _uses(registry.get_family(f), spec)]
        if not parents:
            continue
        if spec.scope is None and len(parents) == len(families):
            values[spec.name] = _make(hp, spec, fixed)  # every family: no condition
            continue
        with hp.conditional_scope("family", parents):
            value = _make(hp, spec, fixed)
        if family in parents:
            values[spec.name] = value
    if series:
        values[FORECAST.name] = _make(hp, FORECAST, fixed)
    return values
