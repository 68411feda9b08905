"""Nonsense on the command line, command by command: one line of error, a non-zero exit,
no traceback, and nothing written (tests/test_cli_bad_inputs.py holds the first cases)."""

import os
import zipfile

import keras
import numpy as np
import pytest

import keras_rnnkit_cli as cli
from keras_rnnkit.forecasting import SeriesForecaster
from keras_rnnkit.forecasting import conformal_intervals

# Should a case pass every check by mistake, it trains for seconds, not minutes.
TINY = ["--epochs", "1", "--members", "1", "--folds", "0", "--units", "2", "--quiet"]
TRAIN = ["train", "--model", "elman", "--task", "adding", *TINY]
CSV = ["train", "--model", "elman", "--data", "{in}/series.csv", "--target", "b", *TINY]
GRADIENTS = ["gradients", "--model", "elman", "--task", "adding", *TINY]
BACKTEST = ["backtest", "--model", "elman", "--data", "{in}/series.csv", "--target", "b", *TINY]
TUNE = ["tune", "--quiet", "--max-trials", "1", "--epochs", "1"]
EXPORT = ["export", "{in}/plain.keras", "--quiet"]
SAVEDMODEL = [*EXPORT, "--format", "savedmodel", "--out", "{here}/exported"]
FORECAST = ["forecast", "{in}/forecaster.keras", "--steps", "2"]
HISTORY = [*FORECAST, "--data", "{in}/series.csv"]


def _export(model):
    return ["export", model, *SAVEDMODEL[2:]]


def _forecast(model):
    return ["forecast", model, *HISTORY[2:]]


def _csv(folder, name, text):
    (folder / name).write_text(text)


def _write_inputs(folder):
    """The input files of the cases, by name: good ones, and ones that are nonsense."""
    rows = "".join(f"{i},{np.sin(i):.4f}\n" for i in range(40))
    _csv(folder, "series.csv", "t,b\n" + rows)
    _csv(folder, "empty.csv", "")
    _csv(folder, "blank_lines.csv", "\n\n\n")
    _csv(folder, "header_only.csv", "t,b\n")
    _csv(folder, "one_row.csv", "t,b\n1,2\n")
    _csv(folder, "words.csv", "name,city\n" + "ann,oslo\n" * 40)
    _csv(folder, "twice.csv", "t,b,b\n" + "".join(f"{i},{i},{i}\n" for i in range(40)))
    _csv(folder, "ragged.csv", "t,b\n1,2\n3,4,5\n" + rows)
    _csv(folder, "falling.csv", "year,b\n" + "".join(f"{2000 - i},{i}\n" for i in range(40)))
    _csv(folder, "semicolons.csv", "t;b\n" + rows.replace(",", ";"))
    _csv(folder, "text_target.csv", "t,b\n" + "".join(f"{i},x{i}\n" for i in range(40)))
    # A field beyond the csv module's limit (131072 characters).
    _csv(folder, "long_field.csv", "t,b\n1," + "9" * 200_000 + "\n" + rows)
    (folder / "latin1.csv").write_bytes(b"t,b\n" + "1,caf\xe9\n".encode("latin-1") * 40)
    (folder / "nul.csv").write_bytes(b"t,b\n" + b"".join(b"%d,\x00\x01\n" % i for i in range(40)))
    (folder / "utf16.csv").write_bytes(("t,b\n" + rows).encode("utf-16"))
    (folder / "sheet.xlsx").write_bytes(b"PK\x03\x04 not a spreadsheet")
    (folder / "no_suffix").write_text("t,b\n" + rows)
    with zipfile.ZipFile(folder / "zipped.csv", "w") as archive:
        archive.writestr("series.csv", "t,b\n" + rows)
    (folder / "folder.csv").mkdir()
    (folder / "folder.keras").mkdir()
    _csv(folder, "locked.csv", "t,b\n" + rows)
    (folder / "locked.csv").chmod(0)
    (folder / "empty.keras").write_bytes(b"")
    (folder / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (folder / "series.keras").write_text("t,b\n" + rows)
    with zipfile.ZipFile(folder / "junk.keras", "w") as archive:
        archive.writestr("config.json", bytes(range(256)))
        archive.writestr("model.weights.h5", b"\x00" * 64)
    with zipfile.ZipFile(folder / "null_config.keras", "w") as archive:
        archive.writestr("config.json", "null")
        archive.writestr("metadata.json", "{}")
    with zipfile.ZipFile(folder / "empty_zip.keras", "w"):
        pass
    np.savez(folder / "arrays.npz", x=np.zeros((40, 4, 1)), y=np.zeros(40))
    inputs = keras.Input((3, 1))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(folder / "plain.keras")
    # A recursive forecaster of column b (window 3), as rnnkit train --data saves one.
    series = {
        "target": "b",
        "features": ["b"],
        "time_column": None,
        "window": 3,
        "season": None,
        "strategy": "recursive",
        "steps": 1,
        "intervals": conformal_intervals(np.zeros((20, 2)), np.ones((20, 2))),
    }
    SeriesForecaster(inputs, outputs, series=series).save(folder / "forecaster.keras")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    _write_inputs(folder)
    yield folder
    (folder / "locked.csv").chmod(0o644)


def _contents(folder):
    """Every entry below `folder`: a file's bytes, or None for a folder, by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
        if path.name != "locked.csv"
    }


# (id, argv, what the error line must say). {in}: the input files; {here}: the working
# folder, which holds the outputs that exist (taken/, taken.csv) and any default output.
CASES = [
    # rnnkit itself
    ("no-command", [], "the following arguments are required: COMMAND"),
    ("unknown-command", ["fit"], "invalid choice: 'fit'"),
    ("empty-command", [""], "invalid choice: ''"),
    ("unicode-command", ["обучить"], "invalid choice: 'обучить'"),
    ("command-in-capitals", ["TRAIN", "--model", "elman"], "invalid choice: 'TRAIN'"),
    ("global-flag-with-a-value", ["--quiet=yes", "demo"], "ignored explicit argument 'yes'"),
    ("version-with-a-value", ["--version=2"], "ignored explicit argument '2'"),
    ("unknown-global-flag", ["--verbose", "demo"], "unrecognized arguments: --verbose"),
    # train: the options
    ("train-no-model", ["train", "--task", "adding"], "required: --model"),
    ("train-no-task-or-data", ["train", "--model", "elman"], "--task --data is required"),
    (
        "train-task-and-data",
        [*TRAIN, "--data", "{in}/series.csv"],
        "not allowed with argument --task",
    ),
    ("train-unknown-task", [*TRAIN, "--task", "nope"], "invalid choice: 'nope'"),
    ("train-empty-task", [*TRAIN, "--task", ""], "invalid choice: ''"),
    ("train-empty-model", [*TRAIN, "--model", ""], "--model"),
    ("train-unicode-model", [*TRAIN, "--model", "élman"], "family='élman'"),
    ("train-model-in-capitals", [*TRAIN, "--model", "ELMAN"], "family='ELMAN'"),
    ("train-underscored-flag", [*TRAIN, "--learning_rate", "0.1"], "--learning_rate"),
    ("train-unknown-flag", [*TRAIN, "--epochz", "3"], "unrecognized arguments: --epochz 3"),
    ("train-positional", [*TRAIN, "extra"], "unrecognized arguments: extra"),
    ("train-epochs-text", [*TRAIN, "--epochs", "ten"], "--epochs"),
    ("train-epochs-fraction", [*TRAIN, "--epochs", "1.5"], "--epochs"),
    ("train-epochs-empty", [*TRAIN, "--epochs", ""], "--epochs"),
    ("train-epochs-without-value", [*TRAIN, "--epochs"], "--epochs: expected one argument"),
    ("train-units-fraction", [*TRAIN, "--units", "2.5"], "--units"),
    ("train-units-inf", [*TRAIN, "--units", "inf"], "--units"),
    ("train-units-zero", [*TRAIN, "--units", "0"], "--units"),
    ("train-batch-size-negative", [*TRAIN, "--batch-size", "-5"], "--batch-size"),
    ("train-batch-size-text", [*TRAIN, "--batch-size", "all"], "--batch-size"),
    ("train-learning-rate-zero", [*TRAIN, "--learning-rate", "0"], "--learning-rate"),
    ("train-learning-rate-minus-zero", [*TRAIN, "--learning-rate", "-0"], "--learning-rate"),
    ("train-learning-rate-text", [*TRAIN, "--learning-rate", "fast"], "--learning-rate"),
    ("train-learning-rate-1e400", [*TRAIN, "--learning-rate", "1e400"], "--learning-rate"),
    ("train-learning-rate-1e-400", [*TRAIN, "--learning-rate", "1e-400"], "--learning-rate"),
    ("train-learning-rate-hex", [*TRAIN, "--learning-rate", "0x10"], "--learning-rate"),
    ("train-learning-rate-percent", [*TRAIN, "--learning-rate", "1%"], "--learning-rate"),
    ("train-clipnorm-zero", [*TRAIN, "--clipnorm", "0"], "--clipnorm"),
    ("train-clip-minus-inf", [*TRAIN, "--clip=-inf"], "--clip"),
    ("train-clip-empty", [*TRAIN, "--clip", ""], "--clip"),
    ("train-seed-fraction", [*TRAIN, "--seed", "1.5"], "--seed"),
    ("train-seed-nan", [*TRAIN, "--seed", "nan"], "--seed"),
    ("train-seed-huge", [*TRAIN, "--seed", "1" + "0" * 30], "--seed"),
    ("train-patience-zero", [*TRAIN, "--patience", "0"], "--patience"),
    ("train-patience-negative", [*TRAIN, "--patience", "-1"], "--patience"),
    ("train-members-zero", [*TRAIN, "--members", "0"], "--members"),
    ("train-members-fraction", [*TRAIN, "--members", "1.5"], "--members"),
    ("train-folds-negative", [*TRAIN, "--folds", "-1"], "--folds"),
    ("train-folds-nan", [*TRAIN, "--folds", "nan"], "--folds"),
    ("train-window-text", [*TRAIN, "--window", "twelve"], "--window"),
    ("train-window-zero", [*TRAIN, "--window", "0"], "--window"),
    ("train-window-negative", [*TRAIN, "--window", "-5"], "--window"),
    ("train-window-exponent", [*TRAIN, "--window", "1e3"], "--window"),
    ("train-window-huge", [*TRAIN, "--window", "9" * 20], "window " + "9" * 20),
    ("train-csv-window-huge", [*CSV, "--window", "9" * 20], "window=" + "9" * 20),
    ("train-horizon-negative", [*CSV, "--horizon", "-1"], "--horizon"),
    ("train-horizon-text", [*CSV, "--horizon", "soon"], "--horizon"),
    ("train-horizon-huge", [*CSV, "--horizon", "9" * 20], "horizon=" + "9" * 20),
    ("train-predict-unknown", [*TRAIN, "--predict", "trend"], "--predict"),
    ("train-predict-number", [*TRAIN, "--predict", "1"], "--predict"),
    ("train-missing-unknown", [*CSV, "--missing", "skip"], "--missing"),
    ("train-strategy-unknown", [*CSV, "--strategy", "both"], "--strategy"),
    ("train-steps-zero", [*CSV, "--steps", "0"], "--steps"),
    ("train-steps-fraction", [*CSV, "--steps", "2.5"], "--steps"),
    ("train-steps-with-a-task", [*TRAIN, "--steps", "3"], "--steps and --strategy apply"),
    ("train-strategy-with-a-task", [*TRAIN, "--strategy", "recursive"], "--task adding"),
    ("train-steps-with-an-npz", [*TRAIN[:3], "--data", "{in}/arrays.npz", "--steps", "2"], "npz"),
    ("train-direct-for-one-step", [*CSV, "--strategy", "direct"], "--strategy direct"),
    ("train-steps-and-horizon", [*CSV, "--steps", "3", "--horizon", "2"], "--horizon 2"),
    ("train-delimiter-with-a-task", [*TRAIN, "--delimiter", ";"], "--delimiter"),
    ("train-missing-with-a-task", [*TRAIN, "--missing", "drop"], "--missing"),
    ("train-season-with-a-task", [*TRAIN, "--season", "12"], "--season"),
    ("train-time-column-with-a-task", [*TRAIN, "--time-column", "t"], "--time-column"),
    (
        "train-features-with-an-npz",
        [*TRAIN[:3], "--data", "{in}/arrays.npz", "--features", "b"],
        "--features",
    ),
    ("train-season-zero", [*CSV, "--season", "0"], "--season"),
    ("train-season-text", [*CSV, "--season", "monthly"], "--season"),
    ("train-delimiter-two-characters", [*CSV, "--delimiter", ";;"], "delimiter"),
    ("train-delimiter-empty", [*CSV, "--delimiter", ""], "delimiter"),
    ("train-features-empty", [*CSV, "--features", ""], "features"),
    ("train-features-twice", [*CSV, "--features", "b,b"], "features"),
    ("train-features-trailing-comma", [*CSV, "--features", "b,"], "features"),
    ("train-time-column-unknown", [*CSV, "--time-column", "when"], "'when'"),
    ("train-time-column-is-the-target", [*CSV, "--time-column", "b"], "time column"),
    ("train-target-empty", [*CSV, "--target", ""], "no column ''"),
    ("train-target-unicode", [*CSV, "--target", "ß"], "no column 'ß'"),
    ("train-target-text-column", [*CSV, "--data", "{in}/text_target.csv"], "'b'"),
    ("train-out-exists", [*TRAIN, "--out", "{here}/taken"], "exists"),
    ("train-out-is-a-file", [*TRAIN, "--out", "{here}/taken.csv"], "exists"),
    ("train-out-empty", [*TRAIN, "--out", ""], "--out must be a path"),
    # train: the data file
    ("train-data-empty-path", [*CSV, "--data", ""], "--data must be a path"),
    ("train-data-folder", [*CSV, "--data", "{in}/folder.csv"], "a folder, not a file"),
    ("train-data-empty-file", [*CSV, "--data", "{in}/empty.csv"], "empty.csv: no header row"),
    ("train-data-blank-lines", [*CSV, "--data", "{in}/blank_lines.csv"], "no header row"),
    ("train-data-header-only", [*CSV, "--data", "{in}/header_only.csv"], "no data rows"),
    ("train-data-one-row", [*CSV, "--data", "{in}/one_row.csv"], "1 data rows are too few"),
    (
        "train-data-no-numeric-column",
        [*CSV, "--data", "{in}/words.csv", "--target", "city"],
        "the time column 'name' holds 'ann'",
    ),
    ("train-data-a-column-twice", [*CSV, "--data", "{in}/twice.csv"], "'b' twice"),
    ("train-data-ragged-rows", [*CSV, "--data", "{in}/ragged.csv"], "line 3 has 3 fields"),
    ("train-data-time-falls", [*CSV, "--data", "{in}/falling.csv"], "must increase"),
    ("train-data-other-delimiter", [*CSV, "--data", "{in}/semicolons.csv"], "no column 'b'"),
    ("train-data-field-too-long", [*CSV, "--data", "{in}/long_field.csv"], "field limit"),
    ("train-data-not-utf8", [*CSV, "--data", "{in}/latin1.csv"], "latin1.csv: not UTF-8"),
    ("train-data-utf16", [*CSV, "--data", "{in}/utf16.csv"], "utf16.csv: not UTF-8"),
    (
        "train-data-nul-bytes",
        [*CSV, "--data", "{in}/nul.csv"],
        "column 'b' is not numeric (line 2: '\\x00\\x01')",
    ),
    ("train-data-a-zip-named-csv", [*CSV, "--data", "{in}/zipped.csv"], "zipped.csv: not UTF-8"),
    ("train-data-unreadable", [*CSV, "--data", "{in}/locked.csv"], "locked.csv"),
    ("train-data-spreadsheet", [*CSV, "--data", "{in}/sheet.xlsx"], "not to --data"),
    ("train-data-no-suffix", [*CSV, "--data", "{in}/no_suffix"], "not to --data"),
    # gradients
    ("gradients-no-model", ["gradients", "--task", "adding"], "required: --model"),
    ("gradients-unknown-task", [*GRADIENTS, "--task", "sines"], "invalid choice: 'sines'"),
    ("gradients-steps", [*GRADIENTS, "--steps", "2"], "unrecognized arguments: --steps 2"),
    ("gradients-probe-text", [*GRADIENTS, "--probe", "many"], "--probe"),
    ("gradients-probe-negative", [*GRADIENTS, "--probe", "-1"], "--probe"),
    ("gradients-window-zero", [*GRADIENTS, "--window", "0"], "--window"),
    ("gradients-learning-rate-nan", [*GRADIENTS, "--learning-rate", "NaN"], "--learning-rate"),
    ("gradients-unknown-model", [*GRADIENTS, "--model", "lstm"], "family='lstm'"),
    ("gradients-out-exists", [*GRADIENTS, "--out", "{here}/taken"], "exists"),
    (
        "gradients-data-header-only",
        [*GRADIENTS[:3], "--data", "{in}/header_only.csv", "--target", "b", *TINY],
        "no data rows",
    ),
    # demo
    ("demo-positional", ["demo", "now"], "unrecognized arguments: now"),
    ("demo-model", ["demo", "--model", "elman"], "unrecognized arguments: --model elman"),
    ("demo-data", ["demo", "--data", "{in}/series.csv"], "unrecognized arguments: --data"),
    ("demo-epochs-1e400", ["demo", "--epochs", "1e400"], "--epochs"),
    ("demo-epochs-huge", ["demo", "--epochs", "99999999999"], "at most 2147483647"),
    ("demo-seed-fraction", ["demo", "--seed", "0.5"], "--seed"),
    ("demo-smoke-with-a-value", ["demo", "--smoke=yes"], "ignored explicit argument 'yes'"),
    ("demo-out-is-a-file", ["demo", "--quiet", "--out", "{here}/taken.csv"], "exists"),
    ("demo-out-empty", ["demo", "--quiet", "--out", ""], "--out must be a path"),
    # tune
    ("tune-unknown-tuner", [*TUNE, "--tuner", "grid"], "--tuner"),
    ("tune-tuner-number", [*TUNE, "--tuner", "1"], "--tuner"),
    ("tune-unknown-task", [*TUNE, "--task", "weather"], "--task"),
    ("tune-max-trials-text", [*TUNE, "--max-trials", "some"], "--max-trials"),
    ("tune-max-trials-negative", [*TUNE, "--max-trials", "-4"], "--max-trials"),
    ("tune-epochs-fraction", [*TUNE, "--epochs", "0.5"], "--epochs"),
    ("tune-window-negative", [*TUNE, "--window", "-3"], "--window"),
    ("tune-window-huge", [*TUNE, "--window", "99999999999"], "at most 2147483647"),
    ("tune-folds-negative", [*TUNE, "--folds", "-1"], "--folds"),
    ("tune-seed-nan", [*TUNE, "--seed", "nan"], "--seed"),
    ("tune-data-without-target", [*TUNE, "--data", "{in}/series.csv"], "--target COLUMN"),
    (
        "tune-data-and-task",
        [*TUNE, "--task", "sunspots", "--data", "{in}/series.csv"],
        "not allowed with argument",
    ),
    ("tune-target-with-task", [*TUNE, "--target", "b"], "apply to --data FILE.csv"),
    ("tune-empty-model", [*TUNE, "--model", ""], "--model"),
    ("tune-directory-empty", [*TUNE, "--directory", ""], "--directory must be a path"),
    ("tune-directory-is-a-file", [*TUNE, "--directory", "{here}/taken.csv"], "not a folder"),
    # export
    ("export-no-model", ["export", "--format", "onnx", "--out", "x.onnx"], "required: model"),
    ("export-no-format", ["export", "{in}/plain.keras", "--out", "x"], "required: --format"),
    ("export-no-out", [*EXPORT, "--format", "onnx"], "required: --out"),
    ("export-unknown-format", [*EXPORT, "--format", "h5", "--out", "x"], "--format"),
    ("export-format-in-capitals", [*EXPORT, "--format", "ONNX", "--out", "x"], "--format"),
    ("export-two-models", [*SAVEDMODEL, "{in}/plain.keras"], "unrecognized arguments"),
    ("export-an-h5-file", _export("{in}/model.h5"), "model.h5: expected a saved model file"),
    ("export-a-folder", _export("{in}/folder.keras"), "folder.keras: expected a saved model"),
    ("export-an-empty-file", _export("{in}/empty.keras"), "empty.keras: not a Keras model"),
    ("export-a-csv-named-keras", _export("{in}/series.keras"), "series.keras: not a Keras"),
    ("export-a-zip-of-junk", _export("{in}/junk.keras"), "junk.keras: not a Keras model"),
    ("export-a-config-of-null", _export("{in}/null_config.keras"), "null_config.keras: not"),
    ("export-an-empty-zip", _export("{in}/empty_zip.keras"), "empty_zip.keras: not a Keras"),
    ("export-an-empty-path", _export(""), "the model file must be a path"),
    ("export-batch-size-for-savedmodel", [*SAVEDMODEL, "--batch-size", "2"], "--batch-size"),
    (
        "export-batch-size-for-onnx",
        [*EXPORT, "--format", "onnx", "--out", "m.onnx", "--batch-size", "2"],
        "--batch-size",
    ),
    (
        "export-streaming-onnx",
        [*EXPORT, "--format", "onnx", "--out", "m.onnx", "--streaming"],
        "--streaming",
    ),
    (
        "export-time-steps-text",
        [*EXPORT, "--format", "tflite", "--out", "m.tflite", "--time-steps", "all"],
        "--time-steps",
    ),
    (
        "export-batch-size-negative",
        [*EXPORT, "--format", "tflite", "--out", "m.tflite", "--batch-size", "-1"],
        "--batch-size",
    ),
    ("export-out-empty", [*EXPORT, "--format", "onnx", "--out", ""], "--out must be a path"),
    (
        "export-out-exists",
        [*EXPORT, "--format", "savedmodel", "--out", "{here}/taken"],
        "--overwrite",
    ),
    # forecast
    ("forecast-no-model", ["forecast", "--data", "{in}/series.csv", "--steps", "1"], "model"),
    ("forecast-no-data", [*FORECAST], "required: --data"),
    ("forecast-no-steps", [*HISTORY[:2], *HISTORY[4:]], "required: --steps"),
    ("forecast-steps-zero", [*HISTORY, "--steps", "0"], "--steps"),
    ("forecast-steps-negative", [*HISTORY, "--steps", "-3"], "--steps"),
    ("forecast-steps-text", [*HISTORY, "--steps", "three"], "--steps"),
    ("forecast-steps-fraction", [*HISTORY, "--steps", "1.5"], "--steps"),
    ("forecast-steps-huge", [*HISTORY, "--steps", "1" + "0" * 20], "--steps"),
    ("forecast-unknown-missing", [*HISTORY, "--missing", "zero"], "--missing"),
    ("forecast-target-flag", [*HISTORY, "--target", "b"], "unrecognized arguments: --target"),
    ("forecast-an-h5-file", _forecast("{in}/model.h5"), "model.h5: expected a saved model"),
    ("forecast-a-folder", _forecast("{in}/folder.keras"), "folder.keras: expected a saved"),
    ("forecast-an-empty-file", _forecast("{in}/empty.keras"), "empty.keras: not a Keras model"),
    ("forecast-an-empty-path", _forecast(""), "the model file must be a path"),
    (
        "forecast-a-model-not-a-forecaster",
        _forecast("{in}/plain.keras"),
        "must be a SeriesForecaster",
    ),
    ("forecast-data-folder", [*FORECAST, "--data", "{in}/folder.csv"], "a folder, not a file"),
    ("forecast-data-empty-path", [*FORECAST, "--data", ""], "--data must be a path"),
    ("forecast-future-folder", [*HISTORY, "--future", "{in}/folder.csv"], "a folder, not a file"),
    ("forecast-out-folder", [*HISTORY, "--out", "{here}/taken"], "--out"),
    ("forecast-out-exists", [*HISTORY, "--out", "{here}/taken.csv"], "--overwrite"),
    ("forecast-out-empty", [*HISTORY, "--out", ""], "--out must be a path"),
    ("forecast-future-empty", [*HISTORY, "--future", ""], "--future must be a path"),
    ("forecast-overwrite-without-out", [*HISTORY, "--overwrite"], "with --out only"),
    ("forecast-data-empty-file", [*FORECAST, "--data", "{in}/empty.csv"], "no header row"),
    ("forecast-data-header-only", [*FORECAST, "--data", "{in}/header_only.csv"], "no data rows"),
    ("forecast-data-one-row", [*FORECAST, "--data", "{in}/one_row.csv"], "1 rows"),
    ("forecast-data-without-its-column", [*FORECAST, "--data", "{in}/words.csv"], "'b'"),
    ("forecast-data-a-column-twice", [*FORECAST, "--data", "{in}/twice.csv"], "'b' twice"),
    ("forecast-data-not-utf8", [*FORECAST, "--data", "{in}/latin1.csv"], "latin1.csv: not UTF-8"),
    ("forecast-data-field-too-long", [*FORECAST, "--data", "{in}/long_field.csv"], "field limit"),
    ("forecast-data-npz", [*FORECAST, "--data", "{in}/arrays.npz"], "arrays.npz: not UTF-8"),
    ("forecast-data-spreadsheet", [*FORECAST, "--data", "{in}/sheet.xlsx"], "sheet.xlsx"),
    ("forecast-data-text-values", [*FORECAST, "--data", "{in}/text_target.csv"], "'b'"),
    ("forecast-delimiter-two-characters", [*HISTORY, "--delimiter", "::"], "delimiter"),
    ("forecast-delimiter-empty", [*HISTORY, "--delimiter", ""], "delimiter"),
    ("forecast-delimiter-unicode", [*HISTORY, "--delimiter", "→"], "no column 'b'"),
    # backtest
    ("backtest-no-data", ["backtest", "--target", "b"], "required: --data"),
    ("backtest-task", [*BACKTEST, "--task", "sunspots"], "unrecognized arguments: --task"),
    ("backtest-origins-zero", [*BACKTEST, "--origins", "0"], "--origins"),
    ("backtest-origins-huge", [*BACKTEST, "--origins", "2147483647"], "--origins 2147483647"),
    ("backtest-stride-text", [*BACKTEST, "--stride", "weekly"], "--stride"),
    ("backtest-stride-huge", [*BACKTEST, "--stride", "2147483647"], "origins"),
    ("backtest-steps-beyond-the-rows", [*BACKTEST, "--steps", "1000"], "origins"),
    ("backtest-npz", [*BACKTEST, "--data", "{in}/arrays.npz"], "--data FILE.csv only"),
    ("backtest-unknown-model", [*BACKTEST, "--model", "gru"], "family='gru'"),
    ("backtest-horizon", [*BACKTEST, "--horizon", "2"], "--horizon 2"),
    ("backtest-direct-for-one-step", [*BACKTEST, "--strategy", "direct"], "--strategy direct"),
    ("backtest-no-target", [*BACKTEST[:5], *TINY], "--target COLUMN"),
    ("backtest-header-only", [*BACKTEST, "--data", "{in}/header_only.csv"], "no data rows"),
    ("backtest-out-exists", [*BACKTEST, "--out", "{here}/taken"], "exists"),
    ("backtest-refit-with-a-value", [*BACKTEST, "--refit=no"], "ignored explicit argument"),
]


@pytest.mark.parametrize("name,argv,says", CASES, ids=[name for name, _, _ in CASES])
def test_nonsense_gets_one_line_of_error_and_writes_nothing(
    name, argv, says, inputs, tmp_path, monkeypatch, capsys
):
    if "{in}/locked.csv" in argv and os.access(inputs / "locked.csv", os.R_OK):
        pytest.skip("this process may read any file (root)")
    argv = [arg.replace("{in}", str(inputs)).replace("{here}", str(tmp_path)) for arg in argv]
    monkeypatch.chdir(tmp_path)  # default outputs land here, where they would be seen
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("mine")
    (tmp_path / "taken.csv").write_text("mine")
    before, inputs_before = _contents(tmp_path), _contents(inputs)
    try:
        code = cli.main(argv)
    except SystemExit as exited:  # argparse: its usage lines, then the error
        code, parsed = exited.code, False
    else:
        parsed = True
    captured = capsys.readouterr()
    assert code not in (0, None), captured
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    if parsed:
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("rnnkit: error: "), captured.err
    else:
        assert lines[0].startswith("usage: rnnkit") and "error: " not in "\n".join(lines[:-1])
        assert lines[-1].startswith("rnnkit") and ": error: " in lines[-1], captured.err
    assert says in lines[-1], lines[-1]
    assert _contents(tmp_path) == before and _contents(inputs) == inputs_before


def test_forecast_creates_the_folders_above_its_out_as_the_other_commands_do(
    inputs, tmp_path, capsys
):
    # It failed once the forecast was made, naming its staging file.
    out = tmp_path / "new" / "forecast.csv"
    argv = ["forecast", str(inputs / "forecaster.keras"), "--data", str(inputs / "series.csv")]
    assert cli.main([*argv, "--steps", "2", "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0].split(",")[:2] == ["step", "b"]
    assert capsys.readouterr().err == ""


def test_the_cases_are_distinct_and_enough():
    assert len({name for name, _, _ in CASES}) == len(CASES) >= 100
    assert len({tuple(argv) for _, argv, _ in CASES}) == len(CASES)
