"""The sunspot benchmark as the literature defines it: periods, ARV, baselines, forecasters.

Weigend, Huberman & Rumelhart (1990) train one-step-ahead forecasters of the
yearly Wolf numbers on 1700–1920 (with 12-year windows, the training targets
are 1712–1920) and score them on 1921–1955 and 1956–1979 by the average
relative variance

$$\\mathrm{ARV} = \\frac{1}{N \\sigma^2} \\sum_{t \\in \\text{period}} (x_t - \\hat x_t)^2,$$

with $\\sigma^2$ the variance of the whole series 1700–1979
(`sunspot_windows()["variance"]`). Shared by `rnnkit demo` and
`examples/sunspots.py`.
"""

import dataclasses

import numpy as np

from keras_rnnkit.forecasting.baselines import LeastSquaresAR
from keras_rnnkit.forecasting.baselines import persistence

# The test periods of the benchmark, and their keys in `sunspot_windows`.
TEST_PERIODS = {"1921-1955": "test", "1956-1979": "test_late"}
ARV_DEFINITION = (
    "ARV = MSE / variance of the whole series 1700-1979 (Weigend, Huberman & Rumelhart 1990)"
)


def arv(predictions, targets, variance):
    """The average relative variance: mean squared error / `variance`.

    Example:

    >>> from keras_rnnkit.forecasting.sunspots import arv
    >>> arv([[1.0], [3.0]], [[2.0], [2.0]], variance=2.0)
    0.5
    """
    errors = np.asarray(predictions, "float64") - np.asarray(targets, "float64")
    return float(np.mean(errors**2) / variance)


def period_scores(forecaster, task):
    """`{period: ARV}` on the test periods of a forecaster (see `forecast`)."""
    return {
        period: arv(forecast(forecaster, task[f"x_{key}"]), task[f"y_{key}"], task["variance"])
        for period, key in TEST_PERIODS.items()
    }


def forecast(forecaster, x):
    """The forecasts of a Keras model, a `LeastSquaresAR` or a function `f(x) -> (N, 1)`."""
    import keras

    if isinstance(forecaster, keras.Model):
        return forecaster.predict(x, verbose=0)
    if isinstance(forecaster, LeastSquaresAR):
        return forecaster.predict(x)
    return forecaster(x)


def mean_and_sd(scores):
    """`{period: {"mean", "sd"}}` over a list of `{period: ARV}` (sample sd, n - 1).

    Example:

    >>> from keras_rnnkit.forecasting.sunspots import mean_and_sd
    >>> mean_and_sd([{"1921-1955": 0.1}, {"1921-1955": 0.3}])
    {'1921-1955': {'mean': 0.2, 'sd': 0.1414213562373095}}
    """
    periods = scores[0].keys()
    return {
        period: {
            "mean": float(np.mean([s[period] for s in scores])),
            "sd": float(np.std([s[period] for s in scores], ddof=1)) if len(scores) > 1 else 0.0,
        }
        for period in periods
    }


def baselines(task, orders=(12, 9)):
    """`{name: {period: ARV}}` of least-squares AR(p) for each order, and persistence.

    The AR models are fitted on the task's training windows only.

    Example:

    >>> from keras_rnnkit.data import sunspot_windows
    >>> from keras_rnnkit.forecasting.sunspots import baselines
    >>> table = baselines(sunspot_windows(window=12))
    >>> sorted(table), round(table["AR(12)"]["1921-1955"], 3)
    (['AR(12)', 'AR(9)', 'persistence'], 0.13)
    """
    table = {}
    for order in orders:
        model = LeastSquaresAR(order).fit(task["x_train"], task["y_train"])
        table[f"AR({order})"] = period_scores(model.predict, task)
    table["persistence"] = period_scores(persistence, task)
    return table


@dataclasses.dataclass(frozen=True)
class ForecasterSettings:
    """How the demo builds and trains each family's forecaster (see `docs/reproductions.md`).

    Chosen by rolling-origin cross-validation inside the training years
    (`benchmarks/sunspot_selection.py`); the test years chose nothing.

    Attributes:
        units: Hidden units H of the family layer (a TDNN gets 2H).
        weight_decay: The weight penalty's strength on every kernel.
        weight_penalty: `"l2"`, `"elimination"` (weight elimination, as
            Weigend et al.), `"soft_sharing"` (Nowlan & Hinton's mixture prior)
            or `"bayesian"` (weight decay set from the evidence every 10
            epochs, `BayesianRegularization`); see
            `keras_rnnkit.models.build_model`.
        predict_change: Forecast the change from the last year, not the level.
        linear_skip: A linear AR(12) term beside the network (see
            `keras_rnnkit.models.build_model`).
        ar_order: Forecast the residual of a least-squares AR of this order
            fitted on the training years, or None (see
            `keras_rnnkit.models.build_model`).
        learning_rate: Adam's learning rate.
        epochs: Training epochs (fixed, no early stopping on the test years):
            passes over the training windows.
        batch_size: Minibatch size, or None for full-batch training: each
            pass over the training windows is one update on all of them.
        members: Independently initialised members averaged per family.
        prune: The fraction of each member's prunable weights (its kernels)
            that Optimal Brain Damage removes after training, in
            `prune_steps` equal steps, each followed by `prune_epochs` epochs
            of retraining (see `keras_rnnkit.training.prune_least_salient`).
            Default: 0 (no pruning).
        prune_steps: Pruning steps. Default: 4.
        prune_epochs: Retraining epochs after each pruning step. Default: 50.
    """

    units: int = 8
    weight_decay: float = 0.0
    weight_penalty: str = "l2"
    predict_change: bool = False
    linear_skip: bool = False
    ar_order: int | None = None
    learning_rate: float = 0.01
    epochs: int = 300
    batch_size: int = 32
    members: int = 5
    prune: float = 0.0
    prune_steps: int = 4
    prune_epochs: int = 50


# The best candidate per family of benchmarks/sunspot_selection.py (its
# results: benchmarks/results/sunspot_selection.json; a test checks the match).
# Every family trains full batch, for as many updates as 300 epochs of minibatches of 32
# (and 50 such epochs after each pruning step).
_FULL_BATCH = {"batch_size": None, "epochs": 2100}
SETTINGS = {
    "elman": ForecasterSettings(weight_decay=1e-2, **_FULL_BATCH),
    "jordan": ForecasterSettings(
        weight_decay=1e-2, weight_penalty="elimination", prune=0.5, prune_epochs=350, **_FULL_BATCH
    ),
    "narx": ForecasterSettings(weight_decay=1e-2, **_FULL_BATCH),
    "tdnn": ForecasterSettings(weight_decay=3e-2, prune=0.5, prune_epochs=350, **_FULL_BATCH),
}


# The family of the lowest validation ARV among `SETTINGS` (the same results):
# the configuration a search of the sunspots starts from (`rnnkit tune`).
DEFAULT_FAMILY = "jordan"


def train_forecaster(family, task, settings, *, seed=0, callbacks=(), verbose=0):
    """Trains `settings.members` forecasters of `family`: `(model, members, history)`.

    Each member is `keras_rnnkit.models.build_model(family, ...)` with the
    task's training windows as `training_data`, so it takes and returns
    sunspot numbers; they train side by side (`fit_members`) and `model` is
    their average, ready to save.
    """
    import keras

    from keras_rnnkit.forecasting.ensemble import average
    from keras_rnnkit.models import build_model

    keras.utils.set_random_seed(seed)
    x, y = task["x_train"], task["y_train"]
    members = [
        build_model(
            family,
            x.shape[1:],
            units=settings.units,
            learning_rate=settings.learning_rate,
            weight_decay=settings.weight_decay,
            weight_penalty=settings.weight_penalty,
            training_data=(x, y),
            predict_change=settings.predict_change,
            linear_skip=settings.linear_skip,
            ar_order=settings.ar_order,
            name=f"{family}_{index + 1}",
        )
        for index in range(settings.members)
    ]
    callbacks = list(callbacks)
    if settings.weight_penalty == "bayesian":
        from keras_rnnkit.training import BayesianRegularization

        # Every 10 passes: the evidence moves slowly, and each update costs a Jacobian.
        every = max(1, 10 // passes_per_fit_epoch(settings, settings.epochs))
        callbacks.append(BayesianRegularization(x, y, models=members, update_every=every))
    history = _fit(members, x, y, settings, settings.epochs, callbacks, verbose)
    if settings.prune:
        _prune(members, x, y, settings, callbacks, verbose)
    return average(members, name=family), members, history


def _prune(members, x, y, settings, callbacks, verbose):
    """OBD in `settings.prune_steps` steps, each member retrained after each."""
    import keras

    from keras_rnnkit.training import BayesianRegularization
    from keras_rnnkit.training import prunable_weights
    from keras_rnnkit.training import prune_least_salient

    total = sum(int(np.prod(v.shape)) for v in prunable_weights(members[0]))
    target = int(round(settings.prune * total))
    for step in range(1, settings.prune_steps + 1):
        goal = target * step // settings.prune_steps
        for member in members:
            pruned = sum(
                int(np.sum(keras.ops.convert_to_numpy(v) == 0)) for v in prunable_weights(member)
            )
            prune_least_salient(member, x, max(goal - pruned, 0))
        # The evidence goes on setting the decay; progress bars count the first fit only.
        evidence = [c for c in callbacks if isinstance(c, BayesianRegularization)]
        _fit(members, x, y, settings, settings.prune_epochs, evidence, verbose)


def _fit(members, x, y, settings, epochs, callbacks, verbose):
    """`fit_members` for `epochs` passes over `(x, y)` as `settings.batch_size` says.

    Full batch: each of `fit`'s epochs holds several copies of the windows in
    order, one batch each, so that `fit`'s cost per epoch (callbacks, the
    iterator) is paid once per several updates; the updates are the same.
    Callbacks therefore see one epoch per `passes_per_fit_epoch` passes.
    """
    from keras_rnnkit.forecasting.ensemble import fit_members

    copies = passes_per_fit_epoch(settings, epochs)
    if settings.batch_size is None:
        x, y = np.concatenate([x] * copies), np.concatenate([y] * copies)
    return fit_members(
        members,
        x,
        y,
        epochs=epochs // copies,
        batch_size=settings.batch_size or len(x) // copies,
        shuffle=settings.batch_size is not None,
        callbacks=callbacks,
        verbose=verbose,
    )


def passes_per_fit_epoch(settings, epochs):
    """How many passes over the training windows each of `fit`'s epochs makes when
    `train_forecaster` trains for `epochs` passes: 1 with minibatches; with full
    batch, the largest divisor of `epochs` up to 10.

    Example:

    >>> from keras_rnnkit.forecasting.sunspots import ForecasterSettings, passes_per_fit_epoch
    >>> passes_per_fit_epoch(ForecasterSettings(), 300)
    1
    >>> passes_per_fit_epoch(ForecasterSettings(batch_size=None), 2100)
    10
    """
    if settings.batch_size is not None:
        return 1
    return max(d for d in range(1, 11) if epochs % d == 0)


def parameter_count(model):
    """The weights of `model` that are not zero (pruned), without its priors' variables.

    The mixture of a `SoftWeightSharing` and the strength of a
    `BayesianWeightDecay` are hyperparameters, not weights of the forecaster.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting.sunspots import parameter_count
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.set_weights([np.array([[1.0], [0.0], [2.0]]), np.zeros(1)])
    >>> parameter_count(model)
    2
    """
    import keras

    priors = {
        id(weight)
        for variable in model.weights
        if isinstance(variable.regularizer, keras.layers.Layer)
        for weight in variable.regularizer.weights
    }
    return sum(
        int(np.count_nonzero(keras.ops.convert_to_numpy(v)))
        for v in model.trainable_variables
        if id(v) not in priors
    )
