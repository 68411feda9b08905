"""A forecaster that `rnnkit train --data` writes serves raw values in every export format.

Each export is served in a fresh process where keras and keras_rnnkit cannot be
imported (and, for TFLite and ONNX, TensorFlow neither), on raw windows of the
user's file, and must give the `.keras` model's outputs.
"""

import json

import numpy as np
import pytest

import keras_rnnkit_cli as cli
from tests.serving import serve_without_keras

pytestmark = [
    pytest.mark.tensorflow_only,
    pytest.mark.slow,
    # tf2onnx and onnx use APIs that their dependencies deprecate.
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning"),
]


def _series_with_a_feature(path):
    """Monthly rows far from zero (so that scaling matters): a target and a driver."""
    rng = np.random.default_rng(0)
    t = np.arange(120)
    driver = 50 + 10 * np.sin(t / 5) + rng.normal(0, 1, t.size)
    target = 1000 + 3 * t + 4 * driver + rng.normal(0, 5, t.size)
    months = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in t]
    rows = [f"{m},{y:.3f},{d:.3f}" for m, y, d in zip(months, target, driver)]
    path.write_text("month,sales,driver\n" + "\n".join(rows) + "\n")
    return target, driver


def test_each_export_of_a_trained_forecaster_serves_its_raw_values(tmp_path):
    import keras

    csv = tmp_path / "sales.csv"
    target, driver = _series_with_a_feature(csv)
    run = tmp_path / "run"
    argv = ["train", "--data", str(csv), "--target", "sales", "--model", "elman"]
    # --folds 0: the default forecaster, the residual of a linear AR (a layer of its own).
    argv += ["--epochs", "2", "--members", "2", "--folds", "0", "--quiet", "--out", str(run)]
    assert cli.main(argv) == 0
    inputs = json.loads((run / "metrics.json").read_text())["inputs"]
    assert inputs["time_column"] == "month"  # the first column, found
    assert json.loads((run / "metrics.json").read_text())["forecast"] == "residual"
    # Raw windows of the file's last rows, the features in the recorded order.
    columns = {"sales": target, "driver": driver}
    rows = np.stack([columns[name] for name in inputs["features"]], axis=-1)
    window = inputs["window"]
    x = np.stack([rows[i : i + window] for i in range(len(rows) - window - 3, len(rows) - window)])
    x = x.astype("float32")
    expected = keras.saving.load_model(run / "model.keras").predict(x, verbose=0)
    assert np.all(np.abs(expected) > 100)  # raw units, not standardised ones

    for form, out in (("savedmodel", "sm"), ("tflite", "m.tflite"), ("onnx", "m.onnx")):
        exported = tmp_path / out
        assert (
            cli.main(
                [
                    "export",
                    str(run / "model.keras"),
                    "--format",
                    form,
                    "--out",
                    str(exported),
                    "--quiet",
                ]
            )
            == 0
        )
        (result,) = serve_without_keras(exported, [x], tmp_path, form=form)
        np.testing.assert_allclose(result["served"], expected, rtol=1e-5, err_msg=form)
