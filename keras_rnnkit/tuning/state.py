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


@functools.cache
def _atomic_class(oracle_class):
    return type(oracle_class.__name__, (AtomicOracleState, oracle_class), {})


def _give_atomic_state(oracle):
    # Only a local oracle writes files (a distributed worker's client does not).
    if isinstance(oracle, keras_tuner.Oracle) and not isinstance(oracle, AtomicOracleState):
        oracle.__class__ = _atomic_class(type(oracle))


class AtomicTunerState:
    """A `Tuner` mix-in: the tuner's and its oracle's state files are replaced by renames.

    The state is also saved once at the start, so that a search killed in its
    first trial resumes instead of starting afresh.

    Put it first among the bases, e.g.
    `class RandomSearch(AtomicTunerState, keras_tuner.RandomSearch)`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _give_atomic_state(self.oracle)
        # keras-tuner resumes only if tuner0.json exists, which it first writes
        # after a trial: a kill before then would start afresh over that trial.
        if not os.path.exists(self._get_tuner_fname()):
            self.save()

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
