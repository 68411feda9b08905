"""Rolling-origin validation for keras-tuner: each trial scored on several later blocks.

A forecaster validated on one short block of years (the sunspots' 1901–1920)
is chosen by noise. Rolling-origin validation (time-series cross-validation)
scores each trial on K consecutive blocks instead, each time training only on
what came before the block, and averages the K validation losses. It lives in
keras-tuner's `run_trial`, so the tuners' search, resume and distributed modes
work unchanged.
"""

import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.data.splits import rolling_origin_splits
from keras_rnnkit.tuning import state


class RollingOriginValidation:
    """A keras-tuner `Tuner` mix-in: each trial's objective is averaged over rolling folds.

    `search(x, y, validation_data=(x_val, y_val), ...)` is read as one series
    of samples in time order, `x` then `x_val`. Fold k (of `folds`) trains a
    fresh model of the trial on everything before its block and validates on
    the block (as long as `x_val`); the trial's score is the mean of the
    folds' final-epoch validation losses. A hypermodel with `training_data`
    (a model that scales itself) gets each fold's training samples as it.
    """

    def __init__(self, hypermodel=None, *, folds=3, **kwargs):
        self.folds = arguments.positive_int(type(self).__name__, "folds", folds)
        super().__init__(hypermodel, **kwargs)

    def run_trial(self, trial, x, y, *, validation_data, **kwargs):
        x_val, y_val = validation_data
        x_all, y_all = np.concatenate([x, x_val]), np.concatenate([y, y_val])
        own_data = getattr(self.hypermodel, "training_data", None)
        losses = []
        try:
            for train_end, validation_end in rolling_origin_splits(
                len(x_all), len(x_val), self.folds
            ):
                train = slice(0, train_end)
                if own_data is not None:
                    self.hypermodel.training_data = (x_all[train], y_all[train])
                validation = slice(train_end, validation_end)
                histories = super().run_trial(
                    trial,
                    x_all[train],
                    y_all[train],
                    validation_data=(x_all[validation], y_all[validation]),
                    **kwargs,
                )
                losses.extend(history.history["val_loss"][-1] for history in histories)
        finally:
            if own_data is not None:
                self.hypermodel.training_data = own_data
        return {"val_loss": float(np.mean(losses))}


class CrossValidatedRandomSearch(RollingOriginValidation, state.RandomSearch):
    """`keras_tuner.RandomSearch` scored by rolling-origin validation (`folds`)."""


class CrossValidatedBayesianOptimization(RollingOriginValidation, state.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` scored by rolling-origin validation (`folds`)."""
