"""The tuning code leaves what it is given as it was: oracles keep their class, hypermodels
their attributes."""

import inspect

import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from keras_rnnkit.tuning import HyperElman  # noqa: E402
from keras_rnnkit.tuning import make_tuner  # noqa: E402
from keras_rnnkit.tuning import search  # noqa: E402
from keras_rnnkit.tuning import state  # noqa: E402

# (make_tuner's kind and folds, our tuner class, our oracle class, keras-tuner's tuner class)
TUNERS = {
    "random": ("random", None, state.RandomSearch, state.RandomSearchOracle),
    "bayesian": ("bayesian", None, state.BayesianOptimization, state.BayesianOptimizationOracle),
    "hyperband": ("hyperband", None, state.Hyperband, state.HyperbandOracle),
    "random_folds": ("random", 3, state.RandomSearch, state.RandomSearchOracle),
}
KERAS_TUNER_CLASS = {
    state.RandomSearch: keras_tuner.RandomSearch,
    state.BayesianOptimization: keras_tuner.BayesianOptimization,
    state.Hyperband: keras_tuner.Hyperband,
}


@pytest.mark.parametrize("name", sorted(TUNERS))
def test_each_tuner_builds_its_oracle_of_our_class_and_keeps_it(name, tmp_path):
    kind, folds, tuner_class, oracle_class = TUNERS[name]
    hypermodel = HyperElman((6, 1), 1)
    tuner = make_tuner(kind, hypermodel, max_trials=2, directory=str(tmp_path), folds=folds)
    assert isinstance(tuner, tuner_class)
    assert isinstance(tuner, KERAS_TUNER_CLASS[tuner_class])
    # Exactly the class constructed, not a class made on the fly from keras-tuner's.
    assert type(tuner.oracle) is oracle_class
    assert isinstance(tuner.oracle, state.AtomicOracleState)
    # Resuming reads the saved state into an oracle of the same class.
    oracle = tuner.oracle
    resumed = make_tuner(kind, hypermodel, max_trials=2, directory=str(tmp_path), folds=folds)
    assert type(resumed.oracle) is oracle_class
    assert type(oracle) is oracle_class


@pytest.mark.parametrize("ours", sorted(KERAS_TUNER_CLASS, key=lambda c: c.__name__))
def test_each_tuner_takes_exactly_keras_tuners_arguments(ours):
    # Our constructors write out keras-tuner's, to build our oracle from the same arguments.
    assert inspect.signature(ours) == inspect.signature(KERAS_TUNER_CLASS[ours])


def test_a_tuner_refuses_an_oracle_that_writes_in_place(tmp_path):
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    with pytest.raises(TypeError, match=r"`oracle` must be an AtomicOracleState"):
        state.AtomicTunerState(oracle, HyperElman((6, 1), 1), directory=str(tmp_path))
    # Refused before anything was built on it: keras-tuner's oracle is as it was.
    assert type(oracle) is keras_tuner.oracles.RandomSearchOracle


def test_a_hand_built_keras_tuner_tuner_keeps_keras_tuners_oracle(tmp_path):
    tuner = keras_tuner.RandomSearch(
        HyperElman((6, 1), 1), objective="val_loss", max_trials=1, directory=str(tmp_path)
    )
    assert type(tuner.oracle) is keras_tuner.oracles.RandomSearchOracle


@pytest.mark.slow
def test_run_search_leaves_its_hypermodels_attributes_as_they_were(tmp_path, monkeypatch):
    # Sunspots take rolling folds, so the best configuration is also refitted on the
    # whole training period, with data of its own.
    made = []
    hypermodel_for_task = search.hypermodel_for_task

    def recorded(*args, **kwargs):
        hypermodel = hypermodel_for_task(*args, **kwargs)
        made.append((hypermodel, dict(vars(hypermodel))))
        return hypermodel

    monkeypatch.setattr(search, "hypermodel_for_task", recorded)
    result = search.run_search(
        "sunspots",
        families=("elman",),
        max_trials=1,
        epochs=1,
        samples=48,
        directory=str(tmp_path),
    )
    assert made and result.tuner.hypermodel is made[0][0]
    for hypermodel, before in made:
        after = vars(hypermodel)
        assert after.keys() == before.keys()
        changed = [name for name, value in before.items() if after[name] is not value]
        assert not changed, changed
