"""keras-tuner's state written by renames, so that a search killed at any moment resumes.

keras-tuner writes `oracle.json`, `tuner0.json` and each `trial_*/trial.json`
in place; a kill mid-write leaves a torn file, and the next run's resume fails
("Expecting value: line 1 column 1"). Here the same state goes through
`keras_rnnkit._atomic.write_text` (written beside the file, renamed over it),
so every file holds the last state written in whole.

The oracles here are keras-tuner's with `AtomicOracleState`, and the tuners
build one of them and hand it to `keras_tuner.Tuner` (whose `oracle`
argument is keras-tuner's way to give a tuner another oracle).
"""

import json
import os

from keras_rnnkit import _atomic
from keras_rnnkit.tuning._dependency import keras_tuner


class AtomicOracleState:
    """An `Oracle` mix-in: its state and its trials' files are replaced by renames.

    On reload, the state of a kill between two of keras-tuner's writes is
    mended: a trial left RUNNING but not recorded as ongoing (killed between
    writing the trial and the oracle's state) is queued to run again, as
    ongoing trials are; a trial already written as finished (COMPLETED or
    FAILED) but still recorded as ongoing (keras-tuner saves the oracle's
    state before it drops the trial from the ongoing ones) is not run again,
    so its result is kept.
    """

    def save(self):
        _atomic.write_text(self._get_oracle_fname(), json.dumps(self.get_state()))

    # A private method: keras-tuner writes a trial's file here and only here,
    # with no public hook to write it another way.
    def _save_trial(self, trial):
        fname = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        _atomic.write_text(fname, json.dumps(trial.get_state()))

    def reload(self):
        super().reload()
        status = keras_tuner.engine.trial.TrialStatus
        finished = (status.COMPLETED, status.FAILED)
        done = {i for i, trial in self.trials.items() if trial.status in finished}
        self._retry_queue = [i for i in self._retry_queue if i not in done]
        for trial_id, trial in self.trials.items():
            if trial.status == status.RUNNING and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)


class RandomSearchOracle(AtomicOracleState, keras_tuner.oracles.RandomSearchOracle):
    """`keras_tuner.oracles.RandomSearchOracle` whose state survives a kill."""


class BayesianOptimizationOracle(AtomicOracleState, keras_tuner.oracles.BayesianOptimizationOracle):
    """`keras_tuner.oracles.BayesianOptimizationOracle` whose state survives a kill."""


class HyperbandOracle(AtomicOracleState, keras_tuner.oracles.HyperbandOracle):
    """`keras_tuner.oracles.HyperbandOracle` whose state survives a kill."""


class AtomicTunerState(keras_tuner.Tuner):
    """A `keras_tuner.Tuner` whose state files, and its oracle's, are replaced by renames.

    The state is also saved once at the start, so that a search killed in its
    first trial resumes instead of starting afresh.

    Args:
        oracle: An `AtomicOracleState`, e.g. `RandomSearchOracle(...)`.
        hypermodel, **kwargs: As in `keras_tuner.Tuner`.

    Example:

    >>> import tempfile
    >>> from keras_rnnkit.tuning import HyperElman
    >>> from keras_rnnkit.tuning.state import AtomicTunerState, RandomSearchOracle
    >>> tuner = AtomicTunerState(
    ...     RandomSearchOracle(objective="val_loss", max_trials=2),
    ...     HyperElman((8, 1), 1),
    ...     directory=tempfile.mkdtemp(),
    ... )
    >>> type(tuner.oracle).__name__
    'RandomSearchOracle'
    """

    def __init__(self, oracle, hypermodel=None, **kwargs):
        if not isinstance(oracle, AtomicOracleState):
            raise TypeError(
                f"{type(self).__name__}: `oracle` must be an AtomicOracleState (e.g. "
                "keras_rnnkit.tuning.state.RandomSearchOracle), whose state files are "
                f"replaced by renames. Received: oracle={oracle!r}"
            )
        super().__init__(oracle, hypermodel, **kwargs)
        # keras-tuner resumes only if tuner0.json exists, which it first writes
        # after a trial: a kill before then would start afresh over that trial.
        if not os.path.exists(self._get_tuner_fname()):
            self.save()

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        _atomic.write_text(self._get_tuner_fname(), json.dumps(self.get_state()))


# keras-tuner's RandomSearch, BayesianOptimization and Hyperband constructors
# build an oracle of keras-tuner's own class and hand it to `Tuner.__init__`,
# and do nothing else but RandomSearch's `self.seed`. The tuners below keep
# those classes as bases (for `isinstance` and Hyperband's `run_trial`), build
# the matching oracle of ours with the same arguments, and hand it on past
# keras-tuner's constructor: `super(keras_tuner.RandomSearch, self)` is
# `AtomicTunerState`. A test checks that each signature is keras-tuner's.


class RandomSearch(keras_tuner.RandomSearch, AtomicTunerState):
    """`keras_tuner.RandomSearch` whose state survives a kill (`AtomicTunerState`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        self.seed = seed
        oracle = RandomSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super(keras_tuner.RandomSearch, self).__init__(oracle, hypermodel, **kwargs)


class BayesianOptimization(keras_tuner.BayesianOptimization, AtomicTunerState):
    """`keras_tuner.BayesianOptimization` whose state survives a kill (`AtomicTunerState`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        num_initial_points=None,
        alpha=1e-4,
        beta=2.6,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        oracle = BayesianOptimizationOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points,
            alpha=alpha,
            beta=beta,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super(keras_tuner.BayesianOptimization, self).__init__(oracle, hypermodel, **kwargs)


class Hyperband(keras_tuner.Hyperband, AtomicTunerState):
    """`keras_tuner.Hyperband` whose state survives a kill (`AtomicTunerState`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_epochs=100,
        factor=3,
        hyperband_iterations=1,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        oracle = HyperbandOracle(
            objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super(keras_tuner.Hyperband, self).__init__(oracle, hypermodel, **kwargs)
