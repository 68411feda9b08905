"""The sunspot benchmark's scripts run, and the demo's settings are the validated best."""

import dataclasses
import json
import pathlib
import subprocess

import pytest

from benchmarks import sunspot_demo
from benchmarks import sunspot_selection
from keras_rnnkit.forecasting import sunspots

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def _checkout_commit():
    """HEAD's short commit, as the stamp records it; None outside a git checkout (the sdist)."""
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def test_demo_settings_are_the_best_candidates_of_the_committed_selection():
    # The demo's settings are what rolling-origin validation on the training
    # years chose, not a hand-picked copy that could drift from it.
    results = json.loads((RESULTS / "sunspot_selection.json").read_text())
    for family, settings in sunspots.SETTINGS.items():
        candidates = [e for e in results.values() if e["family"] == family]
        assert candidates, f"no {family} candidate in sunspot_selection.json"
        best = min(candidates, key=lambda e: e["validation_arv_average"])
        assert best["settings"] == dataclasses.asdict(settings), family
        assert best["folds"] == [list(fold) for fold in sunspot_selection.FOLDS]


def test_folds_never_reach_the_test_years():
    task = sunspot_selection.sunspot_windows(window=12)
    for last_train, last_validation in sunspot_selection.FOLDS:
        fold = sunspot_selection.fold_task(task, last_train, last_validation)
        assert len(fold["x_test"]) == last_validation - last_train
        assert last_validation <= 1920
        # The last validation target is the year `last_validation`: its window
        # ends the year before.
        assert (
            fold["y_test"][-1, 0] == task["y_train"][task["years_train"] == last_validation][0, 0]
        )


@pytest.mark.slow
def test_selection_smoke_run_writes_the_candidate_and_the_baselines(tmp_path):
    out = tmp_path / "selection.json"
    assert sunspot_selection.main(["--smoke", "--only", "tdnn base", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {"tdnn base", "AR(12)", "AR(9)", "persistence"}
    assert results["tdnn base"]["settings"]["members"] == 2
    assert results["tdnn base"]["stamp"]["commit"] == _checkout_commit()


@pytest.mark.slow
def test_demo_recorder_smoke_run(tmp_path):
    record = sunspot_demo.main(["--smoke", "--out", str(tmp_path / "demo.json")])
    metrics = record["runs"]["0"]["metrics"]
    assert record["smoke"] and set(metrics["models"]) == {"elman", "jordan", "narx", "tdnn"}


def test_the_default_family_is_the_best_validated_of_the_settings():
    results = json.loads((RESULTS / "sunspot_selection.json").read_text())
    best = {
        family: min(e["validation_arv_average"] for e in results.values() if e["family"] == family)
        for family in sunspots.SETTINGS
    }
    assert sunspots.DEFAULT_FAMILY == min(best, key=best.get)


def test_each_regulariser_row_takes_its_best_validated_candidate():
    from benchmarks import sunspot_regularisers

    base = dataclasses.asdict(sunspots.ForecasterSettings())

    def entry(family, score, **settings):
        return {"family": family, "settings": {**base, **settings}, "validation_arv_average": score}

    selection = {
        "a": entry("jordan", 0.12, weight_penalty="elimination", weight_decay=1e-2),
        "b": entry("tdnn", 0.11, weight_penalty="elimination", weight_decay=1e-2, prune=0.5),
        "c": entry("elman", 0.13, weight_penalty="l2", weight_decay=3e-2),
        "d": entry("elman", 0.10, weight_penalty="l2", weight_decay=3e-2, ar_order=12),
        "AR(12)": {"family": "baseline", "settings": None, "validation_arv_average": 0.2},
    }
    chosen = {
        name: label for name, (label, _) in sunspot_regularisers.best_candidates(selection).items()
    }
    # A pruned or AR-residual candidate is not its penalty's plain row.
    assert chosen == {
        "L2 weight decay": "c",
        "weight elimination": "a",
        "OBD pruning": "b",
        "AR(12) residual": "d",
    }


@pytest.mark.parametrize("epochs", [12, 11])  # 2 fit epochs of 6 copies; 11 of one
def test_full_batch_training_makes_one_update_on_all_windows_per_epoch(epochs):
    import keras
    import numpy as np

    from keras_rnnkit.models import build_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 1)).astype("float32")
    y = (0.5 * x[:, -1] + 0.1).astype("float32")
    settings = sunspots.ForecasterSettings(units=2, batch_size=None, epochs=epochs, members=1)
    _, (member,), _ = sunspots.train_forecaster("elman", {"x_train": x, "y_train": y}, settings)

    # The same member trained by plain `fit`: one batch of every window per epoch.
    keras.utils.set_random_seed(0)
    reference = build_model(
        "elman", (5, 1), units=2, learning_rate=settings.learning_rate, training_data=(x, y)
    )
    reference.fit(x, y, epochs=epochs, batch_size=len(x), shuffle=False, verbose=0)
    assert int(keras.ops.convert_to_numpy(member.optimizer.iterations)) == epochs
    for trained, expected in zip(member.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(trained, expected, rtol=1e-4, atol=1e-6)


def test_full_batch_pruning_retrains_prune_epochs_updates_per_step():
    import keras
    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4, 1)).astype("float32")
    y = x[:, -1].copy()
    settings = sunspots.ForecasterSettings(
        units=2, batch_size=None, epochs=4, members=1, prune=0.5, prune_steps=2, prune_epochs=3
    )
    _, (member,), _ = sunspots.train_forecaster("jordan", {"x_train": x, "y_train": y}, settings)
    assert int(keras.ops.convert_to_numpy(member.optimizer.iterations)) == 4 + 2 * 3
