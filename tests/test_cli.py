"""The `rnnkit` command line on tiny settings."""

import datetime
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_rnnkit_cli as cli
from keras_rnnkit.data import sunspot_windows
from keras_rnnkit.forecasting import sunspots
from keras_rnnkit.models import FAMILIES


@pytest.mark.slow
def test_demo_smoke_writes_models_metrics_and_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--smoke", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("AR(12)", "AR(9)", "persistence", *FAMILIES, "1700-1979"):
        assert name in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert "variance of the whole series 1700-1979" in metrics["arv_definition"]
    assert set(metrics["baselines"]) == {"AR(12)", "AR(9)", "persistence"}
    assert set(metrics["models"]) == {"elman", "jordan", "narx", "tdnn"} == set(FAMILIES)
    for record in metrics["models"].values():
        assert set(record["arv"]) == {"1921-1955", "1956-1979"}
        assert all(np.isfinite(v) and v > 0 for v in record["arv"].values())
        # --smoke trains 2 members; their spread is over those 2.
        assert len(record["members_arv"]) == 2
        for period, spread in record["members_mean_sd"].items():
            values = [member[period] for member in record["members_arv"]]
            assert spread["mean"] == pytest.approx(np.mean(values))
            assert spread["sd"] == pytest.approx(np.std(values, ddof=1))
    for family in FAMILIES:
        assert (out / f"{family}.keras").stat().st_size > 0
    pytest.importorskip("matplotlib")
    for name in ("learning_curves.png", "forecasts.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_demo_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert cli.main(["demo", "--smoke", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"


@pytest.mark.slow
def test_bad_arguments_exit_non_zero_without_traceback():
    completed = subprocess.run(
        [sys.executable, "-m", "keras_rnnkit", "demo", "--epochs", "many"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "argument --epochs: must be a positive integer. Received: many" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("command", ["demo", "train", "gradients", "tune", "export"])
def test_help_of_every_command(command, capsys):
    parser = cli.build_parser()
    assert command in parser.format_help()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: rnnkit {command}" in capsys.readouterr().out


def test_ar_baselines_equal_an_independent_least_squares_fit_and_arv_by_hand():
    task = sunspot_windows(window=12)
    table = sunspots.baselines(task)
    for order in (9, 12):
        # Lags 1..p and an intercept, fitted by the normal equations.
        design = np.hstack([task["x_train"][:, -order:, 0], np.ones((len(task["x_train"]), 1))])
        coefficients = np.linalg.solve(design.T @ design, design.T @ task["y_train"][:, 0])
        for period, key in (("1921-1955", "test"), ("1956-1979", "test_late")):
            x = np.hstack([task[f"x_{key}"][:, -order:, 0], np.ones((len(task[f"x_{key}"]), 1))])
            errors = x @ coefficients - task[f"y_{key}"][:, 0]
            expected = sum(e * e for e in errors) / len(errors) / task["variance"]
            assert table[f"AR({order})"][period] == pytest.approx(expected, rel=1e-6)
    # Persistence: last year's number as the forecast.
    errors = task["x_test"][:, -1, 0].astype("float64") - task["y_test"][:, 0]
    expected = float(np.mean(errors**2)) / task["variance"]
    assert table["persistence"]["1921-1955"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_train_on_a_built_in_task(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--task", "sunspots", "--epochs", "2", "--quiet"]
    assert cli.main([*argv, "--out", str(out), "--clip", "1.0", "--folds", "2"]) == 0
    assert "elman on sunspots" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == len(metrics["history"]["val_loss"]) == 2
    assert np.isfinite(metrics["test"]["loss"]) and metrics["problem"] == "regression"
    task = sunspot_windows(window=12, validation_years=20)
    baselines = metrics["test_baselines"]
    expected = np.mean((task["y_test"] - task["y_train"].astype("float64").mean()) ** 2)
    assert baselines["MSE of training mean"] == pytest.approx(expected, rel=1e-6)
    expected = np.mean((task["y_test"] - task["x_test"][:, -1].astype("float64")) ** 2)
    assert baselines["MSE of persistence"] == pytest.approx(expected, rel=1e-6)
    assert "MSE of AR(12)" in baselines
    # --predict auto: the residual of the AR, the change or the level, then a weight
    # decay and a size, each scored on rolling-origin folds; the lowest mean is kept.
    scores = metrics["choice"]["mean_fold_mse"]
    assert {"residual", "change", "level"} < set(scores) and len(scores) == 6
    chosen = min(scores, key=scores.get)
    assert metrics["choice"]["chosen"] == chosen and metrics["choice"]["folds"] == 2
    assert metrics["forecast"] == chosen.split(",")[0]
    # The saved model takes and returns sunspot numbers: its MSE on raw windows,
    # in a fresh process, is the reported one.
    script = (
        "import sys, keras, numpy as np, keras_rnnkit;"
        "from keras_rnnkit.data import sunspot_windows;"
        "t = sunspot_windows(12, 20);"
        "m = keras.saving.load_model(sys.argv[1]);"
        "print(float(np.mean((m.predict(t['x_test'], verbose=0) - t['y_test']) ** 2)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(out / "model.keras")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    fresh = float(completed.stdout.strip().splitlines()[-1])
    assert fresh == pytest.approx(metrics["test"]["mse"], rel=1e-4)
    assert (out / "model.keras").stat().st_size > 0
    assert cli.main([*argv, "--out", str(out)]) == 1  # exists: refused
    assert cli.main([*argv, "--out", str(out), "--overwrite"]) == 0


@pytest.mark.slow
def test_train_on_a_csv_file_forecasts_the_target_column(tmp_path):
    rows = np.stack([np.sin(np.arange(80) / 4), np.cos(np.arange(80) / 4)], axis=1)
    path = tmp_path / "series.csv"
    np.savetxt(path, rows, delimiter=",", header="a,b", comments="")
    out = tmp_path / "csv-run"
    argv = ["train", "--model", "tdnn", "--data", str(path), "--target", "b", "--window", "5"]
    assert cli.main([*argv, "--epochs", "1", "--folds", "0", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == str(path)

    from keras_rnnkit.data.tasks import load_csv

    task = load_csv(path, "b", 5)
    # 75 windows in time order: the last 20% (15) test, the 10% before them
    # (7.5, rounded to even: 8) validation, the first 52 train; each target is
    # the next row's b.
    assert task["x_train"].shape == (52, 5, 2)
    assert task["x_val"].shape == (8, 5, 2) and task["x_test"].shape == (15, 5, 2)
    np.testing.assert_allclose(task["x_val"][0, -1], rows[52 + 4], rtol=1e-6)
    np.testing.assert_allclose(task["y_train"][0, 0], rows[5, 1], rtol=1e-6)
    np.testing.assert_allclose(task["x_test"][-1], rows[-6:-1], rtol=1e-6)


def test_metrics_say_how_to_feed_the_saved_model(tmp_path):
    """Windows cut from the file as metrics.json's `inputs` says, without this library's
    data code, give the saved model's reported test MSE."""
    steps = np.arange(90)
    table = np.stack([np.sin(steps / 5), np.cos(steps / 7), steps / 90.0], axis=1)
    days = [str(datetime.date(2020, 1, 1) + datetime.timedelta(days=int(i))) for i in steps]
    path = tmp_path / "daily.csv"
    lines = [f"{day},{a:.6f},{b:.6f},{c:.6f}" for day, (a, b, c) in zip(days, table)]
    path.write_text("day,a,b,c\n" + "\n".join(lines) + "\n")
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--data", str(path), "--target", "b", "--window", "4"]
    argv += ["--features", "c,a", "--time-column", "day", "--horizon", "2", "--predict", "level"]
    assert cli.main([*argv, "--epochs", "1", "--units", "4", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    inputs = metrics["inputs"]
    assert inputs["shape"] == [None, 4, 2]
    assert (inputs["window"], inputs["features"], inputs["target"]) == (4, ["c", "a"], "b")
    assert (inputs["horizon"], inputs["time_column"], inputs["raw_values"]) == (2, "day", True)
    columns = {"a": table[:, 0], "b": table[:, 1], "c": table[:, 2]}
    features = np.stack([columns[name] for name in inputs["features"]], axis=1)
    window, horizon = inputs["window"], inputs["horizon"]
    last_rows = np.arange(window - 1, len(table) - horizon)
    x = np.stack([features[r - window + 1 : r + 1] for r in last_rows]).astype("float32")
    y = columns[inputs["target"]][last_rows + horizon]
    # The test split: the last 20% of the windows (time order).
    test = slice(len(x) - round(0.2 * len(x)), None)
    model = keras.saving.load_model(out / "model.keras")
    mse = float(np.mean((model.predict(x[test], verbose=0)[:, 0] - y[test]) ** 2))
    assert mse == pytest.approx(metrics["test"]["mse"], rel=1e-4)


def test_training_keeps_the_weights_of_the_best_validation_epoch(tmp_path):
    """Early stopping on the validation rows: the saved model's validation loss is the
    lowest of the run, not the last epoch's, and the run stops `--patience` epochs after."""
    rng = np.random.default_rng(3)
    path = tmp_path / "noisy.csv"
    values = np.cumsum(rng.normal(size=160))
    path.write_text("v\n" + "\n".join(f"{v:.6f}" for v in values) + "\n")
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--data", str(path), "--target", "v", "--window", "4"]
    argv += ["--members", "1", "--patience", "2", "--epochs", "40", "--units", "16", "--folds", "0"]
    argv += ["--learning-rate", "0.05", "--predict", "level", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    losses = metrics["history"]["val_loss"]
    training = metrics["training"]
    assert training["members"] == 1 and training["epochs_run"] == len(losses)
    assert training["best_epoch"] == int(np.argmin(losses)) + 1
    if training["stopped_early"]:
        assert training["epochs_run"] == training["best_epoch"] + 2
    from keras_rnnkit.data import load_file

    task = load_file(path, target="v", window=4)
    model = keras.saving.load_model(out / "model.keras")
    kept = model.evaluate(task["x_val"], task["y_val"], verbose=0, return_dict=True)["loss"]
    assert kept == pytest.approx(min(losses), rel=1e-4)


def test_train_on_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.normal(size=(40, 6, 3)), y=rng.normal(size=40))
    out = tmp_path / "npz-run"
    argv = ["train", "--model", "jordan", "--data", str(path), "--epochs", "1", "--quiet"]
    assert cli.main([*argv, "--folds", "0", "--out", str(out)]) == 0


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--data", "missing.csv", "--target", "a"], "no such file"),
        (["--data", "{csv}"], "--target COLUMN names the column to forecast; the columns are a, b"),
        (["--data", "{csv}", "--target", "zzz"], "no column 'zzz'"),
        (["--data", "{json}"], "expected a .csv, .tsv, .txt or .npz file"),
    ],
)
def test_train_explains_bad_input_in_one_line(extra, message, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n" + "\n".join(f"{i},{i}" for i in range(30)))
    json_file = tmp_path / "t.json"
    json_file.write_text("{}")
    extra = [e.format(csv=csv, json=json_file) for e in extra]
    code = cli.main(["train", "--model", "elman", *extra, "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err
    assert code == 1 and message in error and len(error.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_shows_keras_progress_bars_unless_quiet(tmp_path, capsys):
    assert cli.main(["demo", "--smoke", "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().out
    assert "training elman" in loud and "epoch" in loud
    assert cli.main(["demo", "--smoke", "--quiet", "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr().out
    assert "training elman" not in quiet and "AR(9)" in quiet


@pytest.mark.parametrize(
    "task,model,metric",
    [("digits", "elman", "accuracy"), ("xor", "jordan", "binary_accuracy")],
)
def test_train_on_classification_and_many_to_many_tasks(task, model, metric, tmp_path):
    out = tmp_path / task
    argv = ["train", "--model", model, "--task", task, "--epochs", "1", "--quiet", "--folds", "0"]
    assert cli.main([*argv, "--units", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test"][metric] <= 1
    assert list(metrics["test_baselines"])[0].startswith("accuracy")


@pytest.mark.slow
def test_gradients_writes_the_flow_plot_and_norms(tmp_path, capsys):
    out = tmp_path / "flow"
    argv = ["gradients", "--model", "elman", "--task", "adding", "--window", "12"]
    assert cli.main([*argv, "--epochs", "2", "--quiet", "--probe", "16", "--out", str(out)]) == 0
    record = json.loads((out / "gradient_norms.json").read_text())
    (rows,) = record["state_gradient_norms"].values()  # one recurrent layer
    rows = np.asarray(rows)
    assert rows.shape == (2, 12) and np.all(rows >= 0) and np.all(np.isfinite(rows))
    assert "at the first step" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    assert (out / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.tensorflow_only
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")  # tf2onnx
def test_export_a_trained_model_in_each_format(tmp_path, capsys):
    import keras

    run = tmp_path / "run"
    argv = ["train", "--model", "elman", "--task", "sunspots", "--epochs", "1", "--quiet"]
    assert cli.main([*argv, "--folds", "0", "--out", str(run)]) == 0
    saved = str(run / "model.keras")
    x = sunspot_windows(window=12)["x_test"][:1]
    expected = keras.saving.load_model(saved).predict(x, verbose=0)

    assert cli.main(["export", saved, "--format", "savedmodel", "--out", str(tmp_path / "sm")]) == 0
    import tensorflow as tf

    loaded = tf.saved_model.load(str(tmp_path / "sm"))  # kept: it owns the variables
    served = loaded.serve(tf.constant(x))
    np.testing.assert_allclose(np.asarray(served), expected, rtol=1e-5, atol=1e-6)

    tflite = str(tmp_path / "model.tflite")
    assert cli.main(["export", saved, "--format", "tflite", "--out", tflite]) == 0
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=tflite).get_signature_runner("serve")
    (output,) = runner(**{next(iter(runner.get_input_details())): x}).values()
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)

    onnx = str(tmp_path / "model.onnx")
    assert cli.main(["export", saved, "--format", "onnx", "--out", onnx]) == 0
    assert "exported as onnx" in capsys.readouterr().out
    # Refused: an existing target, a file that is no .keras model, options of another format.
    assert cli.main(["export", saved, "--format", "onnx", "--out", onnx]) == 1
    assert cli.main(["export", onnx, "--format", "onnx", "--out", str(tmp_path / "x")]) == 1
    bad = ["export", saved, "--format", "onnx", "--time-steps", "3", "--out", str(tmp_path / "y")]
    assert cli.main(bad) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "exists" in errors[0] and ".keras" in errors[1]


@pytest.mark.slow
def test_tune_runs_a_small_search_and_resumes_it(tmp_path, capsys):
    pytest.importorskip("keras_tuner")
    directory = tmp_path / "search"
    argv = ["tune", "--task", "sunspots", "--model", "elman", "--max-trials", "2"]
    argv += ["--epochs", "1", "--quiet", "--directory", str(directory)]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert "best: family=elman" in first and "test loss" in first
    assert "ARV 1921-1955" in first and "ARV 1956-1979" in first
    saved = directory / "sunspots-random" / "best_model.keras"
    assert f"saved to {saved}" in first
    # The saved model takes and returns sunspot numbers.
    model = keras.saving.load_model(saved)
    task = sunspot_windows(window=12)
    assert abs(float(model.predict(task["x_test"], verbose=0).mean()) - 50) < 40
    trials = sorted(p.name for p in directory.rglob("trial.json"))
    assert len(trials) == 2
    # Run again: the finished search is resumed, not repeated or overwritten.
    assert cli.main(argv) == 0
    assert sorted(p.name for p in directory.rglob("trial.json")) == trials
    again = capsys.readouterr().out
    assert "Reloading Tuner" in again
    assert [line for line in again.splitlines() if line.startswith("best:")] == [
        first.splitlines()[0]
    ]


def test_unknown_options_and_commands_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--no-such-option"])
    assert exit_.value.code == 2
    # The benchmark is a script of the checkout (benchmarks/run.py), not a command.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench"])
    assert exit_.value.code == 2
    assert "invalid choice: 'bench'" in capsys.readouterr().err
