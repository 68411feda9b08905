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

import inspect
import json
import os

from keras_rnnkit import _atomic
from keras_rnnkit.tuning._dependency import keras_tuner
from keras_rnnkit.tuning.first_trial import FirstTrialValues


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


class RandomSearchOracle(
    AtomicOracleState, FirstTrialValues, keras_tuner.oracles.RandomSearchOracle
):
    """`keras_tuner.oracles.RandomSearchOracle` whose state survives a kill, and whose first
    trial may be given (`FirstTrialValues`)."""


class BayesianOptimizationOracle(
    AtomicOracleState, FirstTrialValues, keras_tuner.oracles.BayesianOptimizationOracle
):
    """`keras_tuner.oracles.BayesianOptimizationOracle` whose state survives a kill, and whose
    first trial may be given (`FirstTrialValues`)."""


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


def _with_atomic_oracle(tuner_class, oracle_class):
    """`tuner_class` (a keras-tuner tuner) whose constructor builds an `oracle_class` oracle.

    keras-tuner's RandomSearch, BayesianOptimization and Hyperband constructors
    build an oracle of keras-tuner's own class from some of their arguments and
    hand it to `Tuner.__init__`; RandomSearch also keeps `seed`. The class made
    here has the same signature and bases (for `isinstance` and Hyperband's
    `run_trial`): its constructor builds our oracle from the same arguments (those
    the oracle's constructor names) and hands it to `AtomicTunerState`, past
    keras-tuner's constructor.
    """
    signature = inspect.signature(tuner_class.__init__)
    oracle_arguments = set(inspect.signature(oracle_class.__init__).parameters) - {"self"}

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        given.pop("self")
        rest = given.pop("kwargs", {})
        oracle = oracle_class(**{k: v for k, v in given.items() if k in oracle_arguments})
        self.seed = given.get("seed")
        AtomicTunerState.__init__(self, oracle, given.get("hypermodel"), **rest)

    __init__.__signature__ = signature
    doc = f"`keras_tuner.{tuner_class.__name__}` whose state survives a kill (`AtomicTunerState`)."
    return type(
        tuner_class.__name__,
        (tuner_class, AtomicTunerState),
        {"__init__": __init__, "__doc__": doc, "__module__": __name__},
    )


RandomSearch = _with_atomic_oracle(keras_tuner.RandomSearch, RandomSearchOracle)
BayesianOptimization = _with_atomic_oracle(
    keras_tuner.BayesianOptimization, BayesianOptimizationOracle
)
Hyperband = _with_atomic_oracle(keras_tuner.Hyperband, HyperbandOracle)
