"""Bad command-line input: one line of error, a non-zero exit, and nothing written."""

import zipfile

import numpy as np
import pytest

import keras_rnnkit_cli as cli
from keras_rnnkit.forecasting import sunspots

TRAIN = ["train", "--model", "elman", "--task", "plans", "--quiet"]
GRADIENTS = ["gradients", "--model", "elman", "--task", "plans", "--quiet"]

BAD_NUMBERS = [
    (TRAIN, "--epochs", "-1", "must be a positive integer"),
    (TRAIN, "--epochs", "0", "must be a positive integer"),
    (TRAIN, "--batch-size", "0", "must be a positive integer"),
    (TRAIN, "--units", "-3", "must be a positive integer"),
    (TRAIN, "--learning-rate", "nan", "must be a positive finite number"),
    (TRAIN, "--learning-rate", "-1", "must be a positive finite number"),
    (TRAIN, "--learning-rate", "inf", "must be a positive finite number"),
    (TRAIN, "--clipnorm", "-1", "must be a positive finite number"),
    (TRAIN, "--clipnorm", "nan", "must be a positive finite number"),
    (TRAIN, "--clip", "0", "must be a positive finite number"),
    (GRADIENTS, "--probe", "0", "must be a positive integer"),
    (GRADIENTS, "--epochs", "-2", "must be a positive integer"),
    (["demo", "--quiet"], "--epochs", "0", "must be a positive integer"),
    (["tune", "--quiet"], "--max-trials", "0", "must be a positive integer"),
    (
        ["export", "m.keras", "--format", "tflite"],
        "--batch-size",
        "0",
        "must be a positive integer",
    ),
]


@pytest.mark.parametrize(
    "command,flag,value,message",
    BAD_NUMBERS,
    ids=[f"{c[0]}{f}={v}" for c, f, v, _ in BAD_NUMBERS],
)
def test_nonsense_numbers_are_refused_by_the_parser(
    command, flag, value, message, tmp_path, capsys
):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, flag, value, "--out", str(out)])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"error: argument {flag}: {message}. Received: {value}")
    assert not out.exists()


def test_demo_epochs_sets_the_epochs_of_every_family(tmp_path, monkeypatch, capsys):
    # --epochs used to be accepted and ignored (and 0 ended in KeyError: 'loss').
    seen = []

    def train_forecaster(family, task, settings, **kwargs):
        seen.append(settings.epochs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(sunspots, "train_forecaster", train_forecaster)
    argv = ["demo", "--epochs", "7", "--quiet", "--out", str(tmp_path / "demo")]
    assert cli.main(argv) == 1
    assert seen == [7] and "stop here" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def _write_bad_files(folder):
    """Files that are not what their name says, by name."""
    (folder / "text.npz").write_text("hello")
    (folder / "truncated.npz").write_bytes(b"PK\x03\x04garbage")
    np.save(folder / "one_array.npy", np.zeros(3))
    (folder / "one_array.npy").rename(folder / "one_array.npz")
    np.savez(folder / "all_nan.npz", x=np.full((40, 4, 1), np.nan), y=np.zeros(40))
    np.savez(folder / "complex.npz", x=np.ones((40, 4, 1)) * 1j, y=np.zeros(40))
    cells = "\n".join(f"{i},{'nan' if i == 5 else i}" for i in range(40))
    (folder / "nan.csv").write_text("a,b\n" + cells + "\n")


BAD_FILES = [
    ("text.npz", "text.npz: not an NPZ file (not a zip archive of arrays)"),
    ("truncated.npz", "truncated.npz: not an NPZ file (not a zip archive of arrays)"),
    ("one_array.npz", "one_array.npz: not an NPZ file (not a zip archive of arrays)"),
    ("all_nan.npz", "array 'x' has 160 NaN or infinite values"),
    ("complex.npz", "array 'x' is complex (complex128); expected real numbers"),
    ("nan.csv", "line 7, column 'b' holds 'nan', not a finite number"),
]


@pytest.mark.parametrize("name,message", BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_bad_data_files_are_refused_in_one_line(name, message, tmp_path, capsys):
    _write_bad_files(tmp_path)
    out = tmp_path / "out"
    argv = ["train", "--model", "elman", "--data", str(tmp_path / name), "--epochs", "1"]
    target = ["--target", "b"] if name.endswith(".csv") else []
    assert cli.main([*argv, *target, "--quiet", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_a_window_too_large_for_memory_is_refused_before_generating(tmp_path, capsys):
    # It used to allocate until a 522 GiB ArrayMemoryError.
    out = tmp_path / "out"
    assert (
        cli.main([*TRAIN[:3], "--task", "adding", "--window", "10000000", "--out", str(out)]) == 1
    )
    error = capsys.readouterr().err
    assert "task 'adding' with window 10000000 would need about 527 GiB of arrays" in error
    assert len(error.strip().splitlines()) == 1 and not out.exists()


def test_a_run_whose_loss_diverges_stops_and_writes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.normal(size=(40, 4, 2)), y=rng.normal(size=40))
    out = tmp_path / "out"
    argv = ["train", "--model", "elman", "--data", str(path), "--epochs", "3", "--quiet"]
    assert cli.main([*argv, "--learning-rate", "1e30", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "rnnkit: error: training diverged" in error and "nothing was written" in error
    assert len(error.strip().splitlines()) == 1 and not out.exists()


def _write_bad_models(folder):
    (folder / "text.keras").write_text("hello")
    (folder / "truncated.keras").write_bytes(b"PK\x03\x04garbage")
    contents = {
        "no_config.keras": {"foo.txt": "x"},
        "no_weights.keras": {"config.json": "[1, 2]", "metadata.json": "{}"},
        "unknown_class.keras": {
            "config.json": '{"class_name": "Nope", "config": {}}',
            "metadata.json": "{}",
        },
        "config_not_a_dict.keras": {
            "config.json": '{"class_name": "Sequential", "config": 5}',
            "metadata.json": "{}",
        },
        "not_json.keras": {"config.json": "not json", "metadata.json": "{}"},
    }
    for name, files in contents.items():
        with zipfile.ZipFile(folder / name, "w") as archive:
            for member, text in files.items():
                archive.writestr(member, text)


BAD_MODELS = [
    ("text.keras", "not a Keras model file (a .keras file is a zip archive)"),
    ("truncated.keras", "not a Keras model file (a .keras file is a zip archive)"),
    ("no_config.keras", "not a Keras model file that can be loaded (KeyError"),
    ("no_weights.keras", "not a Keras model file that can be loaded (ValueError"),
    ("unknown_class.keras", "not a Keras model file that can be loaded (TypeError"),
    ("config_not_a_dict.keras", "not a Keras model file that can be loaded (TypeError"),
    ("not_json.keras", "not a Keras model file that can be loaded (JSONDecodeError"),
]


@pytest.mark.parametrize("name,message", BAD_MODELS, ids=[n for n, _ in BAD_MODELS])
def test_export_of_a_file_that_is_not_a_keras_model_says_so_in_one_line(
    name, message, tmp_path, capsys
):
    # These gave AttributeError/TypeError tracebacks, or "File not found" for
    # a file that exists.
    _write_bad_models(tmp_path)
    out = tmp_path / "exported"
    argv = ["export", str(tmp_path / name), "--format", "savedmodel", "--out", str(out)]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert f"rnnkit: error: {tmp_path / name}: {message}" in error
    assert len(error.strip().splitlines()) == 1 and not out.exists()
