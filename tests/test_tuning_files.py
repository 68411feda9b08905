"""A search on a user's file: `run_search(data=load_file(...))` and `rnnkit tune --data`.

The saved model of a CSV file's series must be what `rnnkit train` saves (a
`SeriesForecaster` taking and returning raw values, which `forecast` continues),
and a search kept in a folder is never resumed on other data.
"""

import json

import keras
import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

import keras_rnnkit_cli as cli  # noqa: E402
from keras_rnnkit.data import load_file  # noqa: E402
from keras_rnnkit.forecasting import forecast  # noqa: E402
from keras_rnnkit.forecasting.future import SeriesForecaster  # noqa: E402
from keras_rnnkit.tuning import run_search  # noqa: E402
from keras_rnnkit.tuning.search import DATA_RECORD  # noqa: E402
from keras_rnnkit.tuning.search import search_defaults  # noqa: E402

# One small trial: the search's plumbing, not its quality, is under test here.
QUICK = dict(max_trials=1, epochs=2, members=2, first_values=None, batch_size=64)


def _series_file(folder, rows=150, name="level.csv", seed=0):
    """A monthly series around 500 (a season of 12 plus noise), with a time column."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    level = 500 + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(scale=5, size=rows)
    months = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in t]
    path = folder / name
    path.write_text("month,level\n" + "\n".join(f"{m},{v:.3f}" for m, v in zip(months, level)))
    return path


def _task(path, window=6):
    return load_file(path, target="level", window=window, time_column="month")


def test_a_series_search_saves_a_raw_value_forecaster_of_its_file(tmp_path):
    path = _series_file(tmp_path)
    data = _task(path)
    result = run_search(
        data=data, directory=tmp_path / "search", **{**QUICK, "first_values": "validated"}
    )
    assert result.model_path == tmp_path / "search" / "data-random" / "best_model.keras"
    # The one trial is the first: `rnnkit train`'s model (--units 8, --learning-rate 0.01).
    values = result.best_hyperparameters
    assert (values["family"], values["units"], values["learning_rate"]) == ("elman", 8, 0.01)
    assert (values["weight_decay"], values["dropout"], values["depth"]) == (0.0, 0.0, 1)
    assert values["forecast"] == "residual"  # `rnnkit train --folds 0`'s
    loaded = keras.saving.load_model(result.model_path)
    assert isinstance(loaded, SeriesForecaster)
    series = loaded.series
    assert (series["target"], series["features"], series["time_column"]) == (
        "level",
        ["level"],
        "month",
    )
    assert series["window"] == 6 and series["strategy"] == "recursive"
    # Refit on the training and validation rows: calibrated on the test rows' forecasts
    # only (a recursive model for two seasons ahead: from the last test rows, fewer).
    tests = len(data["x_test"])
    assert series["intervals"]["origins"][0] == tests
    # Raw values in and out: the forecasts are levels near 500, not z-scores.
    ahead = forecast(loaded, path, 3)
    assert ahead.times == ["2012-07", "2012-08", "2012-09"]
    assert np.all(np.abs(np.asarray(ahead.values) - 500) < 150)
    raw = loaded.predict(data["x_test"], verbose=0)
    np.testing.assert_allclose(raw, result.model.predict(data["x_test"], verbose=0), rtol=1e-5)


def test_a_file_takes_the_series_defaults():
    data = {"x_train": np.zeros((4, 3, 1)), "target_feature_index": 0}
    assert search_defaults(None, data) == {
        "max_trials": 4,
        "epochs": 100,
        "patience": 10,
        "members": 3,
        "fixed": {"depth": 1, "bidirectional": False},
    }
    # An NPZ file's arrays are no series: the generic defaults.
    assert search_defaults(None, {"x_train": np.zeros((4, 3, 1))})["members"] == 1


def test_run_search_refuses_a_task_and_data_together_and_data_without_its_arrays(tmp_path):
    data = _task(_series_file(tmp_path))
    with pytest.raises(ValueError, match="not both"):
        run_search("sunspots", data=data, directory=tmp_path / "s")
    with pytest.raises(ValueError, match="Missing: x_test, y_test"):
        partial = {k: v for k, v in data.items() if k not in ("x_test", "y_test")}
        run_search(data=partial, directory=tmp_path / "s")
    with pytest.raises(ValueError, match="`data` must be the dict"):
        run_search(data=np.zeros((3, 2)), directory=tmp_path / "s")
    with pytest.raises(ValueError, match="`window` applies to a built-in `task`"):
        run_search(data=data, window=5, directory=tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_a_search_is_resumed_on_its_own_data_only(tmp_path):
    path = _series_file(tmp_path)
    directory = tmp_path / "search"
    first = run_search(data=_task(path), directory=directory, **QUICK)
    record = json.loads((directory / "data-random" / DATA_RECORD).read_text())
    assert record["shapes"]["x_train"][1:] == [6, 1]
    # The same arrays: resumed, no trial repeated.
    again = run_search(data=_task(path), directory=directory, **QUICK)
    assert again.best_hyperparameters == first.best_hyperparameters
    assert len(again.tuner.oracle.trials) == 1
    saved = (directory / "data-random" / "best_model.keras").read_bytes()
    # Another window (other arrays): refused before anything is written.
    with pytest.raises(ValueError, match="ran on other data"):
        run_search(data=_task(path, window=7), directory=directory, **QUICK)
    assert (directory / "data-random" / "best_model.keras").read_bytes() == saved
    # Other rows of the same shape: refused too.
    other = _task(_series_file(tmp_path, name="other.csv", seed=1))
    with pytest.raises(ValueError, match="ran on other data"):
        run_search(data=other, directory=directory, **QUICK)
    # With overwrite, the search starts afresh on the new arrays.
    fresh = run_search(data=_task(path, window=7), directory=directory, overwrite=True, **QUICK)
    assert fresh.model.input_shape[1:] == (7, 1)


@pytest.mark.slow
def test_rnnkit_tune_on_a_csv_file_saves_what_rnnkit_forecast_takes(tmp_path, capsys):
    path = _series_file(tmp_path)
    directory = tmp_path / "search"
    argv = ["tune", "--data", str(path), "--target", "level", "--window", "6", "--quiet"]
    argv += ["--max-trials", "1", "--epochs", "2", "--members", "2", "--directory", str(directory)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    saved = directory / "level-level-random" / "best_model.keras"
    assert f"saved to {saved}" in out
    assert "baselines on the test split: MSE of training mean" in out
    assert "MSE of persistence" in out and "seasonal naive (12)" in out
    assert f"rnnkit forecast {saved} --data {path} --steps 12" in out
    assert cli.main(["forecast", str(saved), "--data", str(path), "--steps", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["month", "level", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert [line.split()[0] for line in table[1:]] == ["2012-07", "2012-08"]


def test_rnnkit_tune_refuses_a_csv_file_without_its_target_before_loading(tmp_path, capsys):
    path = _series_file(tmp_path)
    assert cli.main(["tune", "--data", str(path), "--directory", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and "--target COLUMN" in err
    assert "the columns are month, level" in err
    assert cli.main(["tune", "--data", str(path), "--target", "nope"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    assert cli.main(["tune", "--data", str(tmp_path / "missing.csv"), "--target", "x"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_rnnkit_tune_refuses_csv_options_with_a_built_in_task(tmp_path, capsys):
    directory = tmp_path / "s"
    argv = ["tune", "--target", "level", "--directory", str(directory)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "--target apply to --data FILE.csv" in err and "not to --task sunspots" in err
    with pytest.raises(SystemExit):
        cli.main(["tune", "--task", "sunspots", "--data", "x.csv"])
    assert not directory.exists()


@pytest.mark.parametrize("forecast", ["level", "change", "residual"])
def test_a_folds_score_is_in_units_of_its_targets_variance_whatever_is_forecast(
    forecast, tmp_path, monkeypatch
):
    """Trials forecasting the level, the change or an AR's residual train on losses of
    different scales (their own targets' variance): each fold scores them all on one, the
    variance of the fold's training targets, so that the search can rank them."""
    from keras_rnnkit.tuning import RecurrentHyperModel
    from keras_rnnkit.tuning import make_tuner

    data = _task(_series_file(tmp_path))
    x, y = data["x_train"], data["y_train"]
    hypermodel = RecurrentHyperModel(
        (6, 1), 1, families=("elman",), training_data=(x, y), series_target=0
    )
    # Untrained: the score is that of the model as built, which the test rebuilds.
    untrained = keras.callbacks.History()
    untrained.history = {"loss": [1.0]}
    monkeypatch.setattr(hypermodel, "fit", lambda hp, model, *a, **k: untrained)
    tuner = make_tuner("random", hypermodel, folds=2, directory=tmp_path / "t")
    hp = keras_tuner.HyperParameters()
    hp.Fixed("forecast", forecast)
    trial = keras_tuner.engine.trial.Trial(hp)
    fold, block = (x[:60], y[:60]), (x[60:80], y[60:80])
    keras.utils.set_random_seed(4)
    score, _ = tuner._own_fit(trial, fold, block, 20, {"epochs": 1})
    keras.utils.set_random_seed(4)
    hypermodel.training_data = fold
    model = hypermodel.build(hp)
    errors = (model.predict(block[0], verbose=0) - block[1]) ** 2
    assert score == pytest.approx(float(np.mean(errors) / np.var(fold[1])), rel=1e-4)
