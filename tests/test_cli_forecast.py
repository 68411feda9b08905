"""`rnnkit train --steps` and `rnnkit forecast`, as a user runs them on a monthly CSV file."""

import json
import sys

import keras
import numpy as np
import pytest

import keras_rnnkit_cli as cli
from keras_rnnkit.forecasting import SeriesForecaster
from keras_rnnkit.forecasting import forecast

TINY = ["--epochs", "2", "--members", "1", "--folds", "0", "--units", "4", "--quiet"]


def monthly_csv(path, months=120, with_exogenous=False, seed=0):
    """A seasonal monthly series (a yearly cycle plus noise), optionally with a driver u."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    u = rng.normal(size=months)
    y = 10 + 3 * np.sin(2 * np.pi * t / 12) + 0.3 * rng.normal(size=months)
    if with_exogenous:
        y[1:] += 0.5 * u[:-1]
    header = "month,sales" + (",price" if with_exogenous else "")
    lines = [header]
    for i in range(months):
        label = f"{2000 + i // 12}-{1 + i % 12:02d}"
        lines.append(f"{label},{y[i]:.4f}" + (f",{u[i]:.4f}" if with_exogenous else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A direct-or-recursive elman trained for 3 steps on a monthly file."""
    folder = tmp_path_factory.mktemp("trained")
    data = monthly_csv(folder / "sales.csv")
    out = folder / "run"
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "sales"]
    assert cli.main([*argv, "--steps", "3", "--out", str(out), *TINY]) == 0
    return data, out


def test_train_saves_a_forecaster_that_remembers_its_series(trained):
    data, out = trained
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, SeriesForecaster)
    series = model.series
    assert series["target"] == "sales" and series["features"] == ["sales"]
    assert series["time_column"] == "month" and series["season"] == 12
    assert series["window"] == 25
    metrics = json.loads((out / "metrics.json").read_text())
    record = metrics["forecast_beyond_the_data"]
    assert set(record["validation_mae"]) == {"recursive", "direct"}
    assert record["strategy"] == min(record["validation_mae"], key=record["validation_mae"].get)
    assert series["strategy"] == record["strategy"]
    # Recursive intervals are calibrated for two seasons, direct ones for the steps trained.
    calibrated = 24 if record["strategy"] == "recursive" else 3
    assert record["calibrated_steps"] == calibrated
    assert [len(w) for w in series["intervals"]["half_widths"]] == [calibrated] * 2
    assert set(record["test_mae"]) == {"model", "persistence", "seasonal naive (12)"}


def test_forecast_prints_the_next_months_with_intervals(trained, capsys):
    data, out = trained
    capsys.readouterr()
    assert (
        cli.main(["forecast", str(out / "model.keras"), "--data", str(data), "--steps", "3"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["month", "sales", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert [line.split()[0] for line in lines[1:]] == ["2010-01", "2010-02", "2010-03"]
    for line in lines[1:]:
        point, low80, high80, low95, high95 = map(float, line.split()[1:])
        assert low95 <= low80 <= point <= high80 <= high95


def test_forecast_writes_the_same_table_as_the_library_and_never_replaces_unasked(trained, capsys):
    data, out = trained
    target = out.parent / "forecast.csv"
    argv = ["forecast", str(out / "model.keras"), "--data", str(data), "--steps", "3"]
    assert cli.main([*argv, "--out", str(target)]) == 0
    model = keras.saving.load_model(out / "model.keras")
    assert target.read_text() == forecast(model, data, 3).to_csv()
    written = target.read_text()
    assert cli.main([*argv, "--out", str(target)]) == 1
    assert "exists; choose another file, or pass --overwrite" in capsys.readouterr().err
    assert target.read_text() == written
    assert cli.main([*argv, "--out", str(target), "--overwrite"]) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "4"], "forecasts at most 3 steps"),
        (["--steps", "2", "--future", "FILE"], "`future` is not used here"),
    ],
)
def test_forecast_errors_are_one_line(trained, capsys, argv, message):
    data, out = trained
    argv = [a if a != "FILE" else str(data) for a in argv]
    model = keras.saving.load_model(out / "model.keras")
    if "at most" in message and model.series["strategy"] == "recursive":
        pytest.skip("a recursive forecaster forecasts any number of steps")
    code = cli.main(["forecast", str(out / "model.keras"), "--data", str(data), *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_steps_whose_forecasts_outgrow_memory_are_refused_before_forecasting(
    trained, capsys, monkeypatch
):
    from keras_rnnkit import _arguments

    data, out = trained
    model = keras.saving.load_model(out / "model.keras")
    monkeypatch.setattr(_arguments, "available_memory", lambda: 2**30)
    steps = 2**31 - 1 if model.series["strategy"] == "recursive" else 3
    if model.series["strategy"] == "direct":
        monkeypatch.setattr(_arguments, "available_memory", lambda: 100)
    code = cli.main(
        ["forecast", str(out / "model.keras"), "--data", str(data), "--steps", str(steps)]
    )
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "rnnkit: error: forecast: its forecasts would take" in err
    assert f"choose fewer steps. Received: steps={steps}" in err


def test_train_refuses_steps_beyond_the_validation_rows_before_training(
    tmp_path, capsys, monkeypatch
):
    from keras_rnnkit import cli as commands

    def trained_anyway(*args, **kwargs):
        raise AssertionError("a model trained before the steps were checked")

    monkeypatch.setattr(commands, "_fit", trained_anyway)
    data = monthly_csv(tmp_path / "sales.csv")
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "sales"]
    assert cli.main([*argv, "--steps", "60", "--out", str(tmp_path / "run"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "use fewer steps (at most" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_forecast_refuses_bad_files_before_the_library_loads(tmp_path, capsys):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not a zip")
    for argv, message in [
        ([str(tmp_path / "none.keras"), "--data", str(model)], "expected a saved model file"),
        ([str(model), "--data", str(tmp_path / "none.csv")], "--data"),
        ([str(model), "--data", str(model), "--future", "nope.csv"], "--future nope.csv"),
    ]:
        assert cli.main(["forecast", *argv, "--steps", "2"]) == 1
        assert message in capsys.readouterr().err
    assert cli.main(["forecast", str(model), "--data", str(model), "--steps", "2"]) == 1
    # As export says it: Keras's own error said "File not found" of a file that exists.
    assert "not a Keras model file (a .keras file is a zip archive)" in capsys.readouterr().err


def test_a_model_without_a_series_is_refused(tmp_path, capsys):
    path = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((3, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]).save(
        path
    )
    data = monthly_csv(tmp_path / "s.csv", months=20)
    assert cli.main(["forecast", str(path), "--data", str(data), "--steps", "2"]) == 1
    assert "must be a SeriesForecaster" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--task", "sunspots", "--steps", "3"], "apply to --data FILE.csv only"),
        (["--data", "CSV", "--target", "sales", "--strategy", "direct"], "needs --steps 2"),
        (["--data", "CSV", "--target", "sales", "--steps", "3", "--horizon", "2"], "--horizon 2"),
        (["--data", "CSV", "--target", "sales", "--steps", "0"], "positive integer"),
    ],
)
def test_train_steps_errors_come_before_training(tmp_path, capsys, extra, message):
    data = monthly_csv(tmp_path / "s.csv", months=40)
    extra = [str(data) if a == "CSV" else a for a in extra]
    argv = ["train", "--model", "elman", *extra, "--out", str(tmp_path / "o"), *TINY]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own refusal
        code = exit_.code
    assert code in (1, 2) and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_exogenous_model_forecasts_with_the_future_file(tmp_path, capsys):
    data = monthly_csv(tmp_path / "s.csv", with_exogenous=True)
    out = tmp_path / "run"
    argv = ["train", "--model", "tdnn", "--data", str(data), "--target", "sales"]
    assert cli.main([*argv, "--strategy", "recursive", "--out", str(out), *TINY]) == 0
    model = str(out / "model.keras")
    capsys.readouterr()
    assert cli.main(["forecast", model, "--data", str(data), "--steps", "3"]) == 1
    assert "also takes price" in capsys.readouterr().err
    future = tmp_path / "future.csv"
    future.write_text("month,price\n2010-01,0.5\n2010-02,-0.5\n")
    assert (
        cli.main(["forecast", model, "--data", str(data), "--steps", "3", "--future", str(future)])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[3].split()[0] == "2010-03"
    future.write_text("month,price\n2010-02,0.5\n2010-03,-0.5\n")
    assert (
        cli.main(["forecast", model, "--data", str(data), "--steps", "3", "--future", str(future)])
        == 1
    )
    assert "it holds '2010-02' where '2010-01' comes next" in capsys.readouterr().err


def _hand_ar(y, end, order, origin, steps):
    """AR(order) with intercept fitted by least squares on y[:end], forecast from origin."""
    rows = [[y[t - k] for k in range(1, order + 1)] + [1.0] for t in range(order, end)]
    coef = np.linalg.lstsq(np.array(rows), y[order:end], rcond=None)[0]
    history = list(y[:origin])
    for _ in range(steps):
        history.append(sum(coef[k - 1] * history[-k] for k in range(1, order + 1)) + coef[-1])
    return history[origin:]


def test_backtest_table_agrees_with_a_hand_computation(tmp_path, capsys):
    data = monthly_csv(tmp_path / "s.csv", months=80)
    out = tmp_path / "bt"
    argv = ["backtest", "--model", "tdnn", "--data", str(data), "--target", "sales"]
    argv += ["--steps", "2", "--origins", "4", "--stride", "3", "--out", str(out), *TINY]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "backtest.json").read_text())
    y = np.loadtxt(data, delimiter=",", skiprows=1, usecols=1)
    origins = [80 - 2 - 9, 80 - 2 - 6, 80 - 2 - 3, 80 - 2]
    assert record["origins"] == ["2005-10", "2006-01", "2006-04", "2006-07"]  # rows 69 .. 78
    truth = np.array([[y[o], y[o + 1]] for o in origins])
    scale = np.mean([abs(y[t] - y[t - 12]) for t in range(12, origins[0])])
    assert record["mase_scale"]["value"] == pytest.approx(scale)
    hand = {
        "persistence": [[y[o - 1], y[o - 1]] for o in origins],
        "seasonal naive (12)": [[y[o - 12], y[o + 1 - 12]] for o in origins],
        "AR(25)": [_hand_ar(y, origins[0], 25, o, 2) for o in origins],
    }
    table = np.genfromtxt(
        out / "forecasts.csv", delimiter=",", names=True, dtype=None, encoding="utf-8"
    )
    hand["tdnn"] = np.asarray(table["tdnn"], float).reshape(4, 2)
    np.testing.assert_allclose(np.asarray(table["sales"], float).reshape(4, 2), truth, rtol=1e-6)
    for name, forecasts in hand.items():
        errors = truth - np.asarray(forecasts)
        mae = np.mean(np.abs(errors))
        expected = {"MAE": mae, "RMSE": np.sqrt(np.mean(errors**2)), "MASE": mae / scale}
        for metric, value in expected.items():
            assert record["scores"][name][metric] == pytest.approx(value, rel=1e-5), (name, metric)
        assert f"{name:24s} {record['scores'][name]['MAE']:10.4g}" in printed
    pytest.importorskip("matplotlib")
    assert (out / "backtest.png").read_bytes()[:4] == b"\x89PNG"


def test_backtest_refits_before_each_origin_and_refuses_too_many_origins(tmp_path, capsys):
    data = monthly_csv(tmp_path / "s.csv", months=60)
    argv = ["backtest", "--model", "elman", "--data", str(data), "--target", "sales", *TINY]
    assert cli.main([*argv, "--origins", "60", "--out", str(tmp_path / "a")]) == 1
    assert "60 origins 1 row(s) apart" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    out = tmp_path / "b"
    assert cli.main([*argv, "--origins", "2", "--refit", "--out", str(out)]) == 0
    assert json.loads((out / "backtest.json").read_text())["refit"] is True
    with pytest.raises(SystemExit):  # a CSV file only: no --task
        cli.main(["backtest", "--data", str(data), "--task", "sunspots"])
    assert "unrecognized arguments: --task sunspots" in capsys.readouterr().err


def test_train_writes_the_residual_diagnostics_and_warns_of_structure_left(trained):
    data, out = trained
    record = json.loads((out / "metrics.json").read_text())["test_residuals"]
    n = record["n"]
    assert record["bound"] == pytest.approx(1.96 / np.sqrt(n))
    outside = [k for k, r in enumerate(record["autocorrelation"], 1) if abs(r) > record["bound"]]
    assert record["lags_outside_bound"] == outside
    assert (record["warning"] is not None) == bool(outside)
    pytest.importorskip("matplotlib")
    for name in ("residuals.png", "response.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("plotted", [True, False], ids=["matplotlib", "no-matplotlib"])
def test_a_model_that_misses_a_cycle_is_told_so(tmp_path, capsys, monkeypatch, plotted):
    # Window 3 cannot see a 12-month cycle in the noise: its residuals keep the cycle.
    if plotted:
        pytest.importorskip("matplotlib")
    else:
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    rng = np.random.default_rng(3)
    t = np.arange(240)
    y = 3 * np.sin(2 * np.pi * t / 12) + rng.normal(size=240)
    data = tmp_path / "cycle.csv"
    data.write_text("t,y\n" + "\n".join(f"{i},{v:.4f}" for i, v in enumerate(y)) + "\n")
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "y", "--window", "3"]
    assert cli.main([*argv, "--predict", "level", "--out", str(tmp_path / "o"), *TINY]) == 0
    err = capsys.readouterr().err
    assert "the one-step test residuals are autocorrelated at lag(s)" in err
    # It points at the plot only where one was written.
    assert ("see residuals.png, or try another --window" in err) == plotted
    assert "try another --window or --model" in err


@pytest.mark.slow
def test_the_trained_models_intervals_cover_new_data_as_often_as_their_level(tmp_path):
    """An AR(1) series with unit noise: `rnnkit train --steps 3` calibrates its intervals on
    the 1,200 rows it held out of 4,000; on 3,000 new origins of the same process they cover
    within 5 points. (With 450 held-out rows, a stretch of higher variance by chance moved the
    coverage of the 80 % interval to 0.87 for one seed: the calibration needs that many.)"""
    from keras_rnnkit.forecasting import multi_step_forecasts

    rng = np.random.default_rng(7)
    y = np.zeros(9000)
    for t in range(1, len(y)):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    data = tmp_path / "ar1.csv"
    data.write_text("y\n" + "\n".join(f"{v:.6f}" for v in y[:4000]) + "\n")
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "y", "--window", "4"]
    argv += ["--steps", "3", "--epochs", "10", "--members", "1", "--folds", "0", "--quiet"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    model = keras.saving.load_model(out / "model.keras")
    series = model.series
    origins = np.arange(5000, 8000)
    forecasts = multi_step_forecasts(
        model, y[:, None], origins, 3, window=4, strategy=series["strategy"], target_index=0
    )
    truth = y[origins[:, None] + np.arange(3)]
    calibration = series["intervals"]
    for level, widths in zip(calibration["levels"], calibration["half_widths"]):
        covered = (np.abs(truth - forecasts) <= np.asarray(widths[:3])).mean(axis=0)
        assert np.all(np.abs(covered - level) <= 0.05), (level, covered)


def test_backtest_runs_on_the_sunspots_with_their_years(tmp_path, capsys):
    from keras_rnnkit.data import example_csv

    out = tmp_path / "o"
    argv = ["backtest", "--model", "jordan", "--data", str(example_csv("sunspots_yearly"))]
    argv += ["--target", "SUNACTIVITY", "--steps", "4", "--origins", "3", "--out", str(out)]
    assert cli.main([*argv, *TINY]) == 0
    record = json.loads((out / "backtest.json").read_text())
    assert record["origins"] == [2003, 2004, 2005]  # 1700-2008: the last 4 rows from 2005
    assert "from 3 origins (2003 .. 2005)" in capsys.readouterr().out
    assert (out / "forecasts.csv").read_text().splitlines()[1].startswith("2003,1,2003,")


def test_train_warns_of_a_training_outlier_naming_its_line(tmp_path, capsys):
    # One 1e6 in a unit-scale series made the model 10**6 times worse than persistence,
    # with no word of it: the inputs are scaled by the training rows' mean and sd.
    data = monthly_csv(tmp_path / "sales.csv")
    lines = data.read_text().splitlines()
    month, _ = lines[30].split(",")  # line 31 of the file, a training row
    lines[30] = f"{month},1000000"
    data.write_text("\n".join(lines) + "\n")
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "sales"]
    assert cli.main([*argv, "--out", str(tmp_path / "run"), *TINY]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert any("line 31, 'sales' = 1e+06" in line for line in warnings), warnings


def test_train_on_a_clean_series_gives_no_outlier_warning(tmp_path, capsys):
    data = monthly_csv(tmp_path / "sales.csv")
    argv = ["train", "--model", "elman", "--data", str(data), "--target", "sales"]
    assert cli.main([*argv, "--out", str(tmp_path / "run"), *TINY]) == 0
    assert "robust standard deviations" not in capsys.readouterr().err
