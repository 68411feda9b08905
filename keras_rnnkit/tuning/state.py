"""keras-tuner's state written by renames, so that a search killed at any moment resumes.

keras-tuner writes `oracle.json`, `tuner0.json` and each `trial_*/trial.json`
in place; a kill mid-write leaves a torn file, and the next run's resume fails
("Expecting value: line 1 column 1"). Here the same state goes through
`keras_rnnkit._atomic.write_text` (written beside the file, renamed over it),
so every file holds the last state written in whole.

keras-tuner builds a tuner's oracle inside the tuner's constructor and takes
no oracle class, so `AtomicTunerState` gives its oracle the `AtomicOracleState`
hooks (a subclass of the oracle's own class) before the first save or reload.
"""

import functools
import json
import os

from keras_rnnkit import _atomic
from keras_rnnkit.tuning._dependency import keras_tuner


class AtomicOracleState:
    """An `Oracle` mix-in: its state and its trials' files are replaced by renames.

    On reload, a trial that a kill left RUNNING but not recorded as ongoing
    (killed between writing the trial and the oracle's state) is queued to
    run again, as ongoing trials are; finished trials are kept as they are.
    """

    def save(self):
        _atomic.write_text(self._get_oracle_fname(), json.dumps(self.get_state()))

    def _save_trial(self, trial):
        fname = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        _atomic.write_text(fname, json.dumps(trial.get_state()))

    def reload(self):
        super().reload()
        for trial_id, trial in self.trials.items():
            running = trial.status == keras_tuner.engine.trial.TrialStatus.RUNNING
            if running and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)


@functools.cache
def _atomic_class(oracle_class):
    return type(oracle_class.__name__, (AtomicOracleState, oracle_class), {})


def _give_atomic_state(oracle):
    # Only a local oracle writes files (a distributed worker's client does not).
    if isinstance(oracle, keras_tuner.Oracle) and not isinstance(oracle, AtomicOracleState):
        oracle.__class__ = _atomic_class(type(oracle))


class AtomicTunerState:
    """A `Tuner` mix-in: the tuner's and its oracle's state files are replaced by renames.

    Put it first among the bases, e.g.
    `class RandomSearch(AtomicTunerState, keras_tuner.RandomSearch)`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _give_atomic_state(self.oracle)

    def reload(self):
        # Called from keras-tuner's constructor, before ours returns.
        _give_atomic_state(self.oracle)
        super().reload()

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        _atomic.write_text(self._get_tuner_fname(), json.dumps(self.get_state()))


class RandomSearch(AtomicTunerState, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` whose state survives a kill (`AtomicTunerState`)."""


class BayesianOptimization(AtomicTunerState, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` whose state survives a kill (`AtomicTunerState`)."""


class Hyperband(AtomicTunerState, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` whose state survives a kill (`AtomicTunerState`)."""
