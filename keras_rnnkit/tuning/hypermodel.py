"""keras-tuner hypermodels of the three families (`RecurrentHyperModel` and one per family)."""

import math
import numbers

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.layers.clipping import CLIP_MODES
from keras_rnnkit.models import registered_families
from keras_rnnkit.tuning import space
from keras_rnnkit.tuning._dependency import keras_tuner
from keras_rnnkit.tuning.builder import build_model


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite, and remembers it."""

    def __init__(self):
        super().__init__()
        self.bad = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad = (
                f"the training loss became {float(loss)} at epoch {self._epoch}, batch {batch}"
            )
            self.model.stop_training = True


def _non_finite_in(history):
    """The first non-finite loss in a `History`, described, or None."""
    for key, series in (history.history if history is not None else {}).items():
        if not key.endswith("loss"):
            continue
        for epoch, value in enumerate(series):
            if not math.isfinite(float(value)):
                return f"`{key}` became {float(value)} at epoch {epoch}"
    return None


def _checked_input_shape(owner, input_shape):
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    time_ok = (
        shape is not None and len(shape) == 2 and (shape[0] is None or _positive_int(shape[0]))
    )
    if not time_ok or not _positive_int(shape[1]):
        raise ValueError(
            f"{owner}: `input_shape` must be (time, features): time a positive integer "
            f"or None, features a positive integer. Received: input_shape={input_shape!r}"
        )
    return (None if shape[0] is None else int(shape[0]), int(shape[1]))


def _positive_int(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value > 0


def _checked_families(owner, families):
    if isinstance(families, str):
        families = (families,)
    try:
        names = tuple(families)
    except TypeError:
        names = ()
    registered = registered_families()
    unknown = [f for f in names if f not in registered]
    if unknown:
        raise ValueError(
            f"{owner}: unknown family {unknown[0]!r} in `families`; the families are "
            f"{', '.join(repr(f) for f in registered)}. Received: families={families!r}"
        )
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"{owner}: `families` must be a non-empty sequence of distinct families "
            f"among {', '.join(repr(f) for f in registered)}. Received: families={families!r}"
        )
    return names


def _checked_fixed(owner, fixed, families, series):
    fixed = dict(fixed or {})
    known = ("family", *(spec.name for spec in space.all_hyperparameters(families)))
    known += (space.FORECAST.name,) if series else ()
    unknown = sorted(set(fixed) - set(known))
    if unknown:
        raise ValueError(
            f"{owner}: `fixed` names unknown hyperparameter(s) {', '.join(unknown)}; "
            f"the hyperparameters are {', '.join(known)}. Received: fixed={fixed!r}"
        )
    return fixed


class RecurrentHyperModel(keras_tuner.HyperModel):
    """Searches over the Elman, Jordan and TDNN families and their options.

    `build(hp)` returns a compiled model: `depth` stacked layers of the trial's
    family, then `Dense(output_units, activation=output_activation)`, trained
    with Adam. The family is the hyperparameter `"family"`; the options of one
    family are declared in a conditional scope on it, so a Jordan trial shows
    `context_decay` and no `context_width`. The hyperparameters, their ranges
    and defaults are listed in `keras_rnnkit.tuning.space.HYPERPARAMETERS` and
    in docs/tuning.md. Any of them can be pinned with `fixed={name: value}` or,
    keras-tuner's way, with `hp.Fixed(name, value)` in the `hyperparameters`
    passed to a tuner.

    Training goes through `fit(hp, model, ...)`, which stops at the first NaN
    or infinite loss and reports the trial to keras-tuner as failed
    (`keras_tuner.errors.FailedTrialError`), so the search goes on.

    Args:
        input_shape: `(T, D)`: time steps (a positive integer, or None for
            any length) and features (a positive integer).
        output_units: Positive integer, the size of the model's output.
        output_activation: Activation of the output layer, e.g. `"softmax"`
            for classification (with `loss="sparse_categorical_crossentropy"`).
            Default: `None` (linear, for regression).
        loss: Loss passed to `compile`. Default: `"mse"`.
        metrics: Metrics passed to `compile`. Default: `None`.
        families: The families searched, among `"elman"`, `"jordan"`,
            `"tdnn"` and any registered with `keras_rnnkit.models.register_family`.
            Default: the three built-in ones; with one, `"family"` is fixed.
        return_sequences: `False` (default): many-to-one, (B, T, D) ->
            (B, output_units). `True`: many-to-many, (B, T, D) -> (B, T,
            output_units); TDNN layers then keep `stride=1`.
        fixed: Mapping of hyperparameter names to pinned values. Default: `None`.
        gradient_clip_mode: `"value"` or `"norm"`, how the searched
            `gradient_clip` acts. Default: `"value"`.
        seed: Integer seed of the dropout masks, or None. Default: `None`.
        training_data: `(x_train, y_train)` of a regression task, or None:
            each trial's model then takes and returns raw values (see
            `keras_rnnkit.tuning.build_model`). Default: `None`.
        series_target: The index, among the input features, of the series
            that a many-to-one regression forecasts, or None. Given, the
            hyperparameter `"forecast"` (`space.FORECAST`: the level, the change
            from the window's last value, or an AR's residual) is searched
            too. Default: `None`.
        name, tunable: As in `keras_tuner.HyperModel`.

    Example:

    >>> import keras_tuner
    >>> from keras_rnnkit.tuning import RecurrentHyperModel
    >>> hypermodel = RecurrentHyperModel((12, 1), 1)
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("family", "jordan")
    'jordan'
    >>> model = hypermodel.build(hp)
    >>> tuple(model.output_shape), hp.values["context_decay"], "context_width" in hp.values
    ((None, 1), 0.5, False)
    """

    def __init__(
        self,
        input_shape,
        output_units,
        *,
        output_activation=None,
        loss="mse",
        metrics=None,
        families=space.FAMILIES,
        return_sequences=False,
        fixed=None,
        gradient_clip_mode="value",
        seed=None,
        training_data=None,
        series_target=None,
        name=None,
        tunable=True,
    ):
        owner = type(self).__name__
        self.input_shape = _checked_input_shape(owner, input_shape)
        self.output_units = arguments.positive_int(owner, "output_units", output_units)
        # Checked here, kept as given (a name serialises into the trial's model).
        arguments.activation(owner, "output_activation", output_activation)
        self.output_activation = output_activation
        self.loss = loss
        self.metrics = metrics
        self.families = _checked_families(owner, families)
        self.return_sequences = arguments.boolean(owner, "return_sequences", return_sequences)
        if series_target is not None:
            series_target = arguments.non_negative_int(owner, "series_target", series_target)
            if series_target >= self.input_shape[1] or return_sequences:
                raise ValueError(
                    f"{owner}: `series_target` must index one of the {self.input_shape[1]} "
                    "input features of a many-to-one model. Received: "
                    f"series_target={series_target}, return_sequences={return_sequences}"
                )
        self.series_target = series_target
        self.fixed = _checked_fixed(owner, fixed, self.families, series_target is not None)
        self.gradient_clip_mode = arguments.one_of(
            owner, "gradient_clip_mode", gradient_clip_mode, CLIP_MODES
        )
        self.seed = arguments.optional_seed(owner, "seed", seed)
        self.training_data = training_data
        super().__init__(name=name, tunable=tunable)

    def declare(self, hp):
        """Declares this hypermodel's space in `hp`; returns the trial's active values."""
        values = space.declare(
            hp,
            self.families,
            many_to_one=not self.return_sequences,
            fixed=self.fixed,
            series=self.series_target is not None,
        )
        if values["family"] not in self.families:
            raise ValueError(
                f"{type(self).__name__}: the hyperparameter `family` must be one of "
                f"{', '.join(repr(f) for f in self.families)}. "
                f"Received: family={values['family']!r}"
            )
        return values

    def build(self, hp):
        return build_model(
            self.declare(hp),
            input_shape=self.input_shape,
            output_units=self.output_units,
            output_activation=self.output_activation,
            loss=self.loss,
            metrics=self.metrics,
            return_sequences=self.return_sequences,
            gradient_clip_mode=self.gradient_clip_mode,
            seed=self.seed,
            training_data=self.training_data,
            series_target=self.series_target,
        )

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit(...)`, stopped at a NaN/inf loss, which fails the trial.

        Raises:
            keras_tuner.errors.FailedTrialError: if a loss became NaN or
                infinite; keras-tuner records the trial as failed (no retry)
                and continues the search.
        """
        guard = _StopOnNonFiniteLoss()
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), guard]
        history = model.fit(*args, **kwargs)
        problem = guard.bad or _non_finite_in(history)
        if problem:
            raise keras_tuner.errors.FailedTrialError(
                f"{type(self).__name__}: {problem}; the trial is recorded as failed."
            )
        return history


class _OneFamily(RecurrentHyperModel):
    family = None

    def __init__(self, input_shape, output_units, **kwargs):
        if "families" in kwargs:
            raise TypeError(
                f"{type(self).__name__} searches only the {self.family!r} family; "
                "use RecurrentHyperModel to choose `families`."
            )
        super().__init__(input_shape, output_units, families=(self.family,), **kwargs)


class HyperElman(_OneFamily):
    """`RecurrentHyperModel` for Elman networks only (`"family"` fixed to `"elman"`).

    Same arguments as `RecurrentHyperModel`, without `families`.

    Example:

    >>> import keras_tuner
    >>> from keras_rnnkit.tuning import HyperElman
    >>> hp = keras_tuner.HyperParameters()
    >>> model = HyperElman((None, 3), 2, output_activation="softmax").build(hp)
    >>> hp.values["family"], tuple(model.output_shape)
    ('elman', (None, 2))
    """

    family = "elman"


class HyperJordan(_OneFamily):
    """`RecurrentHyperModel` for Jordan networks only (`"family"` fixed to `"jordan"`).

    Same arguments as `RecurrentHyperModel`, without `families`.
    """

    family = "jordan"


class HyperTDNN(_OneFamily):
    """`RecurrentHyperModel` for time-delay networks only (`"family"` fixed to `"tdnn"`).

    Same arguments as `RecurrentHyperModel`, without `families`.

    Example: many-to-many, one output per step.

    >>> import keras_tuner
    >>> from keras_rnnkit.tuning import HyperTDNN
    >>> hp = keras_tuner.HyperParameters()
    >>> model = HyperTDNN((20, 3), 4, return_sequences=True).build(hp)
    >>> tuple(model.output_shape), "stride" in hp.values
    ((None, 20, 4), False)
    """

    family = "tdnn"
