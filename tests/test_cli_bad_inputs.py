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
    # Sizes beyond what the backends take fail part-way with a traceback (OverflowError,
    # an out-of-memory error): refused at once, saying the limit.
    (
        TRAIN,
        "--units",
        "99999999999",
        "must be a positive integer of at most 16384 (a larger layer's weights, with their "
        "gradients and Adam's moments, take over 4 GiB)",
    ),
    (
        TRAIN,
        "--members",
        "1000",
        "must be a positive integer of at most 100 (each member is a whole model)",
    ),
    (
        TRAIN,
        "--batch-size",
        "99999999999999999999",
        "must be a positive integer of at most 2147483647",
    ),
    (TRAIN, "--epochs", "1e20", "must be a positive integer"),
    (TRAIN, "--seed", "-1", "must be a non-negative integer"),
    (
        ["tune", "--quiet"],
        "--seed",
        "2147483648",
        "must be a non-negative integer of at most 2147483647 (the seeds every backend takes)",
    ),
    (["tune", "--quiet"], "--window", "0", "must be a positive integer"),
    (["tune", "--quiet"], "--folds", "0", "must be a positive integer"),
    (
        ["export", "m.keras", "--format", "tflite"],
        "--time-steps",
        "3000000000",
        "must be a positive integer of at most 2147483647",
    ),
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
    cells = "\n".join(f"{i},{'1e308' if i == 5 else i}" for i in range(40))
    (folder / "huge.csv").write_text("a,b\n" + cells + "\n")


BAD_FILES = [
    ("text.npz", "text.npz: not an NPZ file (not a zip archive of arrays)"),
    ("truncated.npz", "truncated.npz: not an NPZ file (not a zip archive of arrays)"),
    ("one_array.npz", "one_array.npz: not an NPZ file (not a zip archive of arrays)"),
    ("all_nan.npz", "array 'x' has 160 NaN or infinite values"),
    ("complex.npz", "array 'x' is complex (complex128); expected real numbers"),
    ("nan.csv", "line 7, column 'b' holds 'nan', not a finite number"),
    # Finite, but infinite as float32: it was reported as a NaN or infinite value.
    ("huge.csv", "line 7, column 'b' holds '1e308', beyond float32's range"),
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


def test_members_and_units_whose_weights_exceed_memory_are_refused_before_training(
    tmp_path, capsys
):
    out = tmp_path / "out"
    argv = [*TRAIN, "--units", "16384", "--members", "3", "--out", str(out)]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error == (
        "rnnkit: error: --members 3 and --units 16384: the models' weights would need about "
        "12.0 GiB with their gradients and Adam's moments, more than the 4 GiB allowed; "
        "choose fewer --members or --units\n"
    )
    assert not out.exists()


def _commands_writing(out, folder):
    """Each command that writes `out` (tune: its --directory), with inputs that pass
    every other check: by command name."""
    model = folder / "m.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}")
    data = folder / "series.csv"
    data.write_text("t,b\n" + "".join(f"{i},{i}\n" for i in range(40)))
    return {
        "train": [*TRAIN, "--out", str(out)],
        "gradients": [*GRADIENTS, "--out", str(out)],
        "demo": ["demo", "--quiet", "--out", str(out)],
        "backtest": ["backtest", "--data", str(data), "--target", "b", "--out", str(out)],
        "tune": ["tune", "--quiet", "--directory", str(out)],
        "export": ["export", str(model), "--format", "savedmodel", "--out", str(out)],
        "forecast": [
            "forecast",
            str(model),
            "--data",
            str(data),
            "--steps",
            "1",
            "--out",
            str(out),
        ],
    }


COMMANDS_WRITING = ["train", "gradients", "demo", "backtest", "tune", "export", "forecast"]


@pytest.mark.parametrize("command", COMMANDS_WRITING)
def test_an_output_below_a_file_is_refused_before_anything_runs(command, tmp_path, capsys):
    # It was reported only once training had finished.
    (tmp_path / "file").write_text("mine")
    out = tmp_path / "file" / "sub" / "out"
    option = "--directory" if command == "tune" else "--out"
    assert cli.main(_commands_writing(out, tmp_path)[command]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"rnnkit: error: {option} {out}: cannot be created, {tmp_path / 'file'} is a file, "
        "not a folder\n"
    )
    assert (tmp_path / "file").read_text() == "mine"


def _writes_in_read_only_folders(folder):
    """Whether this process may write in a folder without write permission (root may)."""
    locked = folder / "probe"
    locked.mkdir(mode=0o555)
    try:
        (locked / "x").mkdir()
    except PermissionError:
        return False
    finally:
        locked.chmod(0o755)
    return True


@pytest.mark.parametrize("command", COMMANDS_WRITING)
def test_an_output_in_a_read_only_folder_is_refused_before_anything_runs(command, tmp_path, capsys):
    if _writes_in_read_only_folders(tmp_path):
        pytest.skip("this process may write in a read-only folder (root)")
    locked = tmp_path / "locked"
    locked.mkdir()
    argv = _commands_writing(locked / "out", tmp_path)[command]
    locked.chmod(0o555)
    try:
        assert cli.main(argv) == 1
    finally:
        locked.chmod(0o755)
    option = "--directory" if command == "tune" else "--out"
    error = capsys.readouterr().err
    out = locked / "out"
    assert error == f"rnnkit: error: {option} {out}: cannot be created, {locked} is not writable\n"


def test_an_output_below_a_folder_that_cannot_be_searched_is_refused_in_one_line(tmp_path, capsys):
    if _writes_in_read_only_folders(tmp_path):
        pytest.skip("this process may enter any folder (root)")
    locked = tmp_path / "locked"
    (locked / "sub").mkdir(parents=True)
    out = locked / "sub" / "new" / "out"
    locked.chmod(0o000)
    try:
        assert cli.main([*TRAIN, "--out", str(out)]) == 1
    finally:
        locked.chmod(0o755)
    error = capsys.readouterr().err
    assert error == (
        f"rnnkit: error: --out {out}: cannot be created (Permission denied: "
        f"{locked / 'sub' / 'new'})\n"
    )


def test_tune_with_a_file_as_its_directory_is_refused_in_one_line(tmp_path, capsys):
    # It ended in a NotADirectoryError traceback.
    directory = tmp_path / "state"
    directory.write_text("mine")
    assert cli.main(["tune", "--quiet", "--directory", str(directory)]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"rnnkit: error: --directory {directory}: an existing file, not a folder; name a folder\n"
    )
    assert directory.read_text() == "mine"


@pytest.mark.parametrize("window", ["1", "2"])
def test_tune_refuses_the_windows_that_train_refuses(tmp_path, window, capsys):
    # `tune --window 1` was accepted where `train --window 1` is not.
    directory = tmp_path / "state"
    assert cli.main(["tune", "--quiet", "--window", window, "--directory", str(directory)]) == 1
    assert (
        capsys.readouterr().err
        == f"rnnkit: error: --window must be at least 3; received {window}\n"
    )
    assert not directory.exists()


TUNE = ["tune", "--task", "sunspots", "--model", "elman", "--max-trials", "1", "--epochs", "1"]


def test_tune_folds_beyond_the_data_are_refused_before_the_search(tmp_path, capsys):
    # Every trial failed (with a traceback), yet it exited 0 and saved a "best" model.
    pytest.importorskip("keras_tuner")
    directory = tmp_path / "search"
    argv = [*TUNE, "--quiet", "--folds", "1000", "--directory", str(directory)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "rnnkit: error: run_search: `folds` must leave samples of task 'sunspots' to train on "
        "before its validation blocks (rolling_origin_splits: 209 samples are too few for 1000 "
        "validation blocks of 20 samples and something to train on before them). "
        "Received: folds=1000\n"
    )
    assert not directory.exists() and "best" not in captured.out


@pytest.fixture
def every_trial_fails(monkeypatch):
    """Each trial's training raises keras-tuner's FailedTrialError."""
    keras_tuner = pytest.importorskip("keras_tuner")
    from keras_rnnkit.tuning.hypermodel import RecurrentHyperModel

    def fail(self, hp, model, *args, **kwargs):
        raise keras_tuner.errors.FailedTrialError("the loss became nan")

    monkeypatch.setattr(RecurrentHyperModel, "fit", fail)


def test_tune_where_no_trial_succeeds_fails_and_saves_no_model(tmp_path, capsys, every_trial_fails):
    directory = tmp_path / "search"
    argv = [*TUNE, "--quiet", "--folds", "2", "--directory", str(directory)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    # One line: keras-tuner's own traceback of each failed trial is not printed.
    (line,) = captured.err.splitlines()
    assert line.startswith(
        "rnnkit: error: run_search: no trial succeeded (1 failed), so there is no best model "
        "and none was written; the first trial failed with: "
    )
    assert line.endswith("FailedTrialError: the loss became nan")
    assert "best" not in captured.out and "Traceback" not in captured.out
    assert not list(directory.rglob("best_model.keras"))


def test_tune_stopped_by_failures_in_a_row_says_so_in_one_line(tmp_path, capsys, every_trial_fails):
    directory = tmp_path / "search"
    argv = [*TUNE, "--folds", "2", "--max-trials", "5", "--directory", str(directory)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line == (
        "rnnkit: error: run_search: 3 trials failed in a row, so the search stopped; the last "
        "failed with: keras_tuner.src.errors.FailedTrialError: the loss became nan"
    )
    # Not --quiet: a line for each failed trial, no traceback.
    failed = [s for s in captured.out.splitlines() if s.startswith("Trial ") and "failed" in s]
    assert len(failed) == 3 and "Traceback" not in captured.out, captured.out
    assert not list(directory.rglob("best_model.keras"))


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


@pytest.mark.parametrize("command", ["export", "forecast"])
def test_a_model_file_that_unpacks_beyond_memory_is_refused_before_loading(
    command, tmp_path, capsys, monkeypatch
):
    # A zip bomb: 64 MiB of config.json stored in a few kB, with 32 MiB of memory left.
    from keras_rnnkit import _arguments

    monkeypatch.setattr(_arguments, "available_memory", lambda: 32 * 2**20)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", b'{"name": "' + b"A" * 64 * 2**20 + b'"}')
    out = tmp_path / "out"
    data = tmp_path / "data.csv"
    data.write_text("y\n" + "\n".join(str(i % 7) for i in range(50)) + "\n")
    argv = {
        "export": ["export", str(bomb), "--format", "savedmodel", "--out", str(out)],
        "forecast": ["forecast", str(bomb), "--data", str(data), "--steps", "3"],
    }[command]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert (
        f"rnnkit: error: {bomb}: not a Keras model file that can be loaded here: its entries "
        "would take 0.125 GiB once unpacked (`config.json` alone 0.0625 GiB), more than the "
        "0.0312 GiB of memory this process can still use"
    ) in error
    assert len(error.strip().splitlines()) == 1 and not out.exists()


def test_a_crafted_layer_deep_in_a_model_file_is_refused_with_its_own_reason(tmp_path, capsys):
    import keras

    from keras_rnnkit.layers import KerasCell
    from keras_rnnkit.layers import Recurrent
    from tests.test_weight_memory import _crafted

    crafted = _crafted(
        tmp_path,
        Recurrent(KerasCell(keras.layers.GRUCell(4))),
        lambda config: config["cell"]["config"]["cell"]["config"].update(units=10**7),
    )
    out = tmp_path / "exported"
    assert cli.main(["export", str(crafted), "--format", "savedmodel", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    # Keras wraps it in "could not be deserialized" once per enclosing layer.
    assert "loaded (TypeError: KerasCell(GRUCell): its weights would take" in error, error
    assert "units=10000000" in error and len(error.strip().splitlines()) == 1


@pytest.mark.tensorflow_only  # export --format savedmodel
@pytest.mark.filterwarnings("default:Skipping invalid path:UserWarning")  # as outside pytest
def test_a_model_file_with_entries_outside_its_folder_loads_them_not_and_warns_in_one_line(
    tmp_path, capsys
):
    import keras

    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((3, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]).save(
        plain
    )
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(crafted, "w") as target:
        for entry in source.infolist():
            target.writestr(entry, source.read(entry))
        target.writestr("../../outside.txt", "written outside")
    out = tmp_path / "exported"
    assert cli.main(["export", str(crafted), "--format", "savedmodel", "--out", str(out)]) == 0
    error = capsys.readouterr().err
    assert error.strip().splitlines() == [
        "rnnkit: warning: Skipping invalid path during archive extraction: '../../outside.txt'."
    ]
    assert not (tmp_path.parent / "outside.txt").exists() and out.is_dir()


def test_the_command_line_takes_the_seeds_the_layers_take():
    # Written twice (the parser loads no backend): they must not drift apart.
    from keras_rnnkit import _arguments
    from keras_rnnkit_cli import parser

    assert parser.LARGEST_SEED == _arguments.LARGEST_SEED


@pytest.mark.parametrize(
    "error, printed",
    [
        (TypeError("bad\n  type"), "rnnkit: error: TypeError: bad type (run again with --debug "),
        (MemoryError(), "rnnkit: error: MemoryError:  (run again with --debug for the traceback)"),
        (RuntimeError("x" * 2000), "rnnkit: error: " + "x" * 300 + " ... " + "x" * 300),
    ],
    ids=["TypeError", "MemoryError", "long RuntimeError"],
)
def test_any_library_error_is_one_line_and_exit_1(monkeypatch, capsys, error, printed):
    from keras_rnnkit import cli as commands

    def fail(args):
        raise error

    monkeypatch.setitem(commands.COMMANDS, "train", fail)
    assert cli.main(TRAIN) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(printed), line
    assert "Traceback" not in captured.out + captured.err
