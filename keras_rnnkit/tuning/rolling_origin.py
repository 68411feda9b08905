"""Rolling-origin validation for keras-tuner: each trial scored on several later blocks.

A forecaster validated on one short block of years (the sunspots' 1901–1920)
is chosen by noise. Rolling-origin validation (time-series cross-validation)
scores each trial on K consecutive blocks instead, each time training only on
what came before the block, and averages the K validation losses. It lives in
keras-tuner's `run_trial`, so the tuners' search, resume and distributed modes
work unchanged.
"""

import copy

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.data.splits import rolling_origin_splits
from keras_rnnkit.losses import ScaledMeanSquaredError
from keras_rnnkit.models.scaling import target_variance
from keras_rnnkit.tuning import state


class RollingOriginValidation:
    """A keras-tuner `Tuner` mix-in: each trial's objective is averaged over rolling folds.

    `search(x, y, validation_data=(x_val, y_val), ...)` is read as one series
    of samples in time order, `x` then `x_val`. Fold k (of `folds`) trains a
    fresh model of the trial on everything before its block and validates on
    the block (as long as `x_val`); the trial's score is the mean of the
    folds' final-epoch validation losses. With a `keras.callbacks.EarlyStopping`
    among the callbacks, a fold's model is stopped on a block of its own (the
    last `len(x_val)` samples before the scored block, at most half the
    fold's, left out of its training) and then scored on the fold's block. With `members` > 1, each
    fold trains that many models side by side and scores their average (the
    ensemble a search on the sunspots refits). `best_epochs` is the mean
    of the folds' epochs run (stopped early: of their best epochs). A
    hypermodel with `training_data` (a model that scales itself) gets each
    fold's training samples as it.
    """

    def __init__(self, hypermodel=None, *, folds=3, members=1, **kwargs):
        self.folds = arguments.positive_int(type(self).__name__, "folds", folds)
        self.members = arguments.positive_int(type(self).__name__, "members", members)
        super().__init__(hypermodel, **kwargs)

    def run_trial(self, trial, x, y, *, validation_data, **kwargs):
        x_val, y_val = validation_data
        x_all, y_all = np.concatenate([x, x_val]), np.concatenate([y, y_val])
        own_data = getattr(self.hypermodel, "training_data", None)
        early = any(
            isinstance(c, keras.callbacks.EarlyStopping) for c in kwargs.get("callbacks") or ()
        )
        losses, best_epochs = [], []
        try:
            for train_end, validation_end in rolling_origin_splits(
                len(x_all), len(x_val), self.folds
            ):
                fold = (x_all[:train_end], y_all[:train_end])
                block = (x_all[train_end:validation_end], y_all[train_end:validation_end])
                if early or self.members > 1:
                    loss, best_epoch = self._own_fit(trial, fold, block, len(x_val), kwargs)
                    losses.append(loss)
                    best_epochs.append(best_epoch)
                    continue
                if own_data is not None:
                    self.hypermodel.training_data = fold
                histories = super().run_trial(trial, *fold, validation_data=block, **kwargs)
                for history in histories:
                    losses.append(history.history["val_loss"][-1])
                    best_epochs.append(len(history.history["val_loss"]))
        finally:
            if own_data is not None:
                self.hypermodel.training_data = own_data
        return {"val_loss": float(np.mean(losses)), "best_epochs": float(np.mean(best_epochs))}

    def _own_fit(self, trial, fold, block, size, fit_options):
        """Trains the fold's model (or `members` of them, side by side) and scores `block`.

        With early stopping, the models train on the fold less its last `size`
        samples and stop on those: stopped on the scored block, a trial would
        be scored at its luckiest epoch there, which favours the
        configurations that vary most. With `members`, the score is that of
        their average, the model a search refits. The score is the loss on the
        data, without the weight penalties; a model that un-scales its output
        is scored in units of the fold's targets' variance, whatever it
        forecasts (the level, the change, an AR's residual).
        """
        from keras_rnnkit.forecasting.ensemble import average
        from keras_rnnkit.forecasting.ensemble import stacked

        x, y = fold
        options = dict(fit_options)
        callbacks = copy.deepcopy(list(options.pop("callbacks", None) or ()))
        early = any(isinstance(c, keras.callbacks.EarlyStopping) for c in callbacks)
        # The stopping block is as long as the scored one, but at most half the fold.
        inner = len(x) - min(size, len(x) // 2) if early else len(x)
        if inner < 1 or inner == len(x) and early:
            raise ValueError(
                f"{type(self).__name__}: early stopping needs a fold of at least 2 samples, "
                f"to train on and to stop on; a fold has {len(x)}"
            )
        if getattr(self.hypermodel, "training_data", None) is not None:
            self.hypermodel.training_data = (x[:inner], y[:inner])
        hp = trial.hyperparameters
        copies = self.members
        if early:
            options["validation_data"] = (x[inner:], _copies(y[inner:], copies))
        if copies == 1:
            model = trained = self.hypermodel.build(hp)
        else:
            models = [self.hypermodel.build(hp) for _ in range(copies)]
            for index, member in enumerate(models):
                member.name = f"{member.name}_{index + 1}"
            # Side by side, each on its own loss (as `fit_members`), through the
            # hypermodel's `fit`: a NaN loss fails the trial.
            trained, model = stacked(models), average(models)
        history = self.hypermodel.fit(
            hp, trained, x[:inner], _copies(y[:inner], copies), callbacks=callbacks, **options
        )
        curve = history.history["val_loss" if early else "loss"]
        # The data's loss alone: the average's `evaluate` would add every member's weight
        # penalty, and so score an ensemble of regularised models against its own size.
        loss_function = keras.losses.get(model.loss)
        if isinstance(loss_function, ScaledMeanSquaredError):
            # One scale for every trial: the fold's targets' variance. A forecaster of the
            # change or of an AR's residual trains in units of those, a smaller variance.
            loss_function = ScaledMeanSquaredError(target_variance(y[:inner]).tolist())
        predictions = model.predict(block[0], verbose=0)
        loss = keras.ops.convert_to_numpy(loss_function(block[1], predictions))
        return float(np.mean(loss)), (int(np.argmin(curve)) + 1) if early else len(curve)


def _copies(y, count):
    """The targets of one model, or of `count` side by side (a list of `count` references)."""
    return y if count == 1 else [y] * count


class CrossValidatedRandomSearch(RollingOriginValidation, state.RandomSearch):
    """`keras_tuner.RandomSearch` scored by rolling-origin validation (`folds`)."""


class CrossValidatedBayesianOptimization(RollingOriginValidation, state.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` scored by rolling-origin validation (`folds`)."""
