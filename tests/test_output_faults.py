"""`--overwrite` never loses the previous result: commands SIGKILLed while they replace it.

`rnnkit train`, `demo`, `export`, `forecast` and `backtest` with `--overwrite`, and
`export_saved_model(overwrite=True)`, each replace an existing result and are
killed a bounded, seeded number of times: at a random moment once their new
result is being written (a staging folder has appeared beside the target),
or at the first moment the old result's folder changes (it is moved aside).
After each kill, once `_atomic.recover` has run (as every next run does
first), the target holds a whole result, old or new; a clean run afterwards
leaves nothing else beside it. See tests/test_atomic_output.py for the same
guarantee step by step, without a backend.

TensorFlow only: the exports need it, and one backend is enough for what is
tested here (file moves, not numbers), at the cost of a process start per kill.
"""

import json
import os
import pathlib
import random
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit import _atomic
from keras_rnnkit.forecasting import SeriesForecaster

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow_only]

ROOT = pathlib.Path(__file__).resolve().parents[1]
KILLS = 4  # per command; alternately at a random moment and at the first change

EXPORT_SCRIPT = """
import sys
import keras
from keras_rnnkit.export import export_saved_model
export_saved_model(keras.saving.load_model(sys.argv[1]), sys.argv[2], overwrite=True)
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A saved model, and a saved forecaster of a monthly series with that series' file."""
    folder = tmp_path_factory.mktemp("model")
    model = keras.Sequential([keras.Input((5, 2)), keras_rnnkit.ElmanRNN(3), keras.layers.Dense(1)])
    model(np.zeros((1, 5, 2), "float32"))
    model.save(folder / "model.keras")
    inputs = keras.Input((13, 1))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(keras_rnnkit.ElmanRNN(3)(inputs)))
    series = {
        "target": "y",
        "features": ["y"],
        "time_column": "month",
        "window": 13,
        "season": 12,
        "strategy": "recursive",
        "steps": 1,
        "intervals": None,
    }
    SeriesForecaster(inputs, outputs, series=series).save(folder / "forecaster.keras")
    rows = [f"{2000 + i // 12}-{1 + i % 12:02d},{np.sin(i / 2):.4f}" for i in range(96)]
    (folder / "series.csv").write_text("month,y\n" + "\n".join(rows) + "\n")
    return folder / "model.keras"


def _cli(*args):
    return [sys.executable, "-m", "keras_rnnkit", *args, "--overwrite"]


def _train(out, model_file):
    return _cli("train", "--model", "elman", "--task", "sunspots", "--epochs", "1", "--quiet",
                "--folds", "0", "--members", "1", "--out", str(out))  # fmt: skip


def _demo(out, model_file):
    return _cli("demo", "--smoke", "--quiet", "--out", str(out))


def _export(out, model_file):
    return _cli("export", str(model_file), "--format", "savedmodel", "--out", str(out))


def _backtest(out, model_file):
    return _cli("backtest", "--model", "tdnn", "--data", str(model_file.parent / "series.csv"),
                "--target", "y", "--steps", "3", "--origins", "3", "--epochs", "1", "--quiet",
                "--folds", "0", "--members", "1", "--out", str(out))  # fmt: skip


def _backtest_reads(out):
    return "tdnn" in json.loads((out / "backtest.json").read_text())["scores"] and (
        len((out / "forecasts.csv").read_text().splitlines()) == 10
    )


def _export_saved_model(out, model_file):
    return [sys.executable, "-c", EXPORT_SCRIPT, str(model_file), str(out)]


def _models_load(out, names):
    json.loads((out / "metrics.json").read_text())
    for name in names:
        keras.saving.load_model(out / name)
    return True


def _saved_model_loads(out):
    import tensorflow as tf

    return (out / "saved_model.pb").is_file() and tf.saved_model.load(str(out)) is not None


COMMANDS = {
    "train": (_train, lambda out: _models_load(out, ["model.keras"])),
    "demo": (_demo, lambda out: _models_load(out, ["elman.keras", "jordan.keras", "tdnn.keras"])),
    "export": (_export, _saved_model_loads),
    "export_saved_model": (_export_saved_model, _saved_model_loads),
    "backtest": (_backtest, _backtest_reads),
}


def _run(command):
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _identity(path):
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _kill_while_replacing(command, out, mode, rng):
    """Starts `command`; SIGKILLs it while it replaces `out`. Returns True if killed in time."""
    process = subprocess.Popen(
        command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    old = _identity(out)
    staging = f".{out.name}.rnnkit-staging-{process.pid}-"
    deadline = time.monotonic() + 600
    try:
        if mode == "random":  # a random moment once the new result is being written
            while process.poll() is None and time.monotonic() < deadline:
                if any(p.name.startswith(staging) for p in out.parent.iterdir()):
                    time.sleep(rng.uniform(0, 0.3))
                    break
                time.sleep(0.005)
        else:  # the first moment the old result's folder changes
            while _identity(out) == old and process.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.0005)
        process.kill()
    finally:
        _, stderr = process.communicate(timeout=60)
    assert process.returncode in (0, -9), stderr[-3000:]
    return process.returncode == -9


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_kill_while_overwriting_leaves_a_whole_result(name, tmp_path, model_file):
    make_command, is_whole = COMMANDS[name]
    out = tmp_path / "result"
    command = make_command(out, model_file)
    _run(command)  # the old result
    assert is_whole(out)
    rng = random.Random(15)
    killed, in_between = 0, 0
    for kill in range(KILLS):
        killed += _kill_while_replacing(command, out, "random" if kill % 2 else "first", rng)
        # Killed between moving the old result aside and renaming the new one in.
        in_between += not out.exists()
        _atomic.recover(out)  # what the next run does first
        assert is_whole(out), (name, kill)
    assert killed == KILLS
    _run(command)
    assert is_whole(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]
    print(f"{name}: {killed} kills, {in_between} between the two renames, nothing lost")


def test_a_kill_halfway_through_writing_a_forecast_leaves_the_old_file(tmp_path, model_file):
    """`rnnkit forecast --out F --overwrite` writes one small file, too fast to kill by the
    clock: `tests/kill_mid_write.py` kills it halfway through the write itself."""
    folder = model_file.parent
    out = tmp_path / "forecast.csv"
    argv = ["forecast", str(folder / "forecaster.keras"), "--data", str(folder / "series.csv")]
    argv += ["--steps", "6", "--out", str(out), "--overwrite"]
    _run([sys.executable, "-m", "keras_rnnkit", *argv])
    old = out.read_text()
    assert old.splitlines()[0] == "month,y" and old.splitlines()[-1].startswith("2008-06,")
    out.write_text(old.replace("month,y", "month,y ", 1))  # an old result told apart
    old = out.read_text()
    wrapper = [str(ROOT / "tests" / "kill_mid_write.py"), out.name, "1"]
    command = [sys.executable, *wrapper, str(ROOT / "keras_rnnkit_cli" / "__main__.py"), *argv]
    killed = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert out.read_text() == old  # the new one was half-written beside it, never in its place
    _atomic.recover(out)
    assert out.read_text() == old
    _run([sys.executable, "-m", "keras_rnnkit", *argv])
    assert out.read_text() != old and out.read_text().splitlines()[0] == "month,y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]
