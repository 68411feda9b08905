"""The `rnnkit` command line on tiny settings."""

import json
import subprocess
import sys

import numpy as np
import pytest

from keras_rnnkit import cli
from keras_rnnkit.data import sunspot_windows
from keras_rnnkit.forecasting import ar_baseline


@pytest.mark.slow
def test_demo_smoke_writes_models_metrics_and_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--smoke", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("AR(9)", "elman", "jordan", "tdnn", "ARV 1921-1955", "ARV 1956-1979"):
        assert name in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"elman", "jordan", "tdnn"}
    for record in metrics["models"].values():
        assert set(record["arv"]) == {"1921-1955", "1956-1979"}
        assert all(np.isfinite(v) and v > 0 for v in record["arv"].values())
    for name in ("elman.keras", "jordan.keras", "tdnn.keras"):
        assert (out / name).stat().st_size > 0
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


def test_bad_arguments_exit_non_zero_without_traceback():
    completed = subprocess.run(
        [sys.executable, "-m", "keras_rnnkit", "demo", "--epochs", "many"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "invalid int value" in completed.stderr and "Traceback" not in completed.stderr


def test_help_of_every_command():
    parser = cli.build_parser()
    assert "demo" in parser.format_help()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["demo", "--help"])
    assert exit_.value.code == 0


def test_ar9_baseline_equals_an_independent_least_squares_fit():
    task = sunspot_windows(window=12)
    # Lags 1..9 and an intercept, fitted by the normal equations.
    design = np.hstack([task["x_train"][:, -9:, 0], np.ones((len(task["x_train"]), 1))])
    coefficients = np.linalg.solve(design.T @ design, design.T @ task["y_train"][:, 0])
    test = np.hstack([task["x_test"][:, -9:, 0], np.ones((len(task["x_test"]), 1))])
    expected = np.mean((test @ coefficients - task["y_test"][:, 0]) ** 2) / task["variance"]
    assert ar_baseline(task)["1921-1955"] == pytest.approx(expected, rel=1e-4)
