"""Checks of a parsed command line that need neither the library nor a backend.

`main` runs them before the library (and with it keras and its backend, seconds) loads,
so that a mistyped path or number is reported at once, in one line.
"""

import csv
import os
import pathlib
import zipfile

from keras_rnnkit_cli.parser import MAX_WEIGHT_BYTES

# The files read as delimited text, and the delimiter each has by default.
TEXT_DELIMITERS = {".csv": ",", ".txt": ",", ".tsv": "\t"}


def early_errors(args):
    """Raises a one-line `ValueError` for what is wrong with `args` that shows without
    the library: the numbers and files of `train`, `gradients` and `export`, and an
    output (`--out`, `tune`'s `--directory`) that could not be written."""
    _empty_path_errors(args)
    if args.command in ("train", "gradients", "backtest"):
        _training_errors(args)
    elif args.command == "export":
        _export_errors(args)
    elif args.command == "forecast":
        _forecast_errors(args)
    if args.command == "tune":
        _window_errors(args)
        _data_errors(args)
        _output_errors("--directory", args.directory, folder=True)
    elif getattr(args, "out", None) is not None:
        _output_errors("--out", args.out)


def _empty_path_errors(args):
    """An empty path names no file: `pathlib.Path("")` is the working folder, which then
    "exists" (as an output) or is "not a .keras file" (as a model)."""
    options = {"data": "--data", "future": "--future", "out": "--out", "directory": "--directory"}
    if args.command in ("export", "forecast"):  # elsewhere --model names a family
        options["model"] = "the model file"
    for name, option in options.items():
        if getattr(args, name, None) == "":
            raise ValueError(f"{option} must be a path; received an empty string")


def _input_file_errors(option, path):
    """An input file that is a folder, or is not there."""
    if pathlib.Path(path).is_dir():
        raise ValueError(f"{option} {path}: a folder, not a file")
    if not pathlib.Path(path).is_file():
        raise ValueError(f"{option} {path}: no such file")


def _output_errors(option, path, folder=False):
    """Refuses an output that could not be created, before any training: one below a
    regular file, or in a folder this process may not write in. With `folder`, an
    existing `path` must be a folder (`tune` resumes the search kept there)."""
    path = pathlib.Path(path)
    try:
        if folder and path.exists() and not path.is_dir():
            raise ValueError(f"{option} {path}: an existing file, not a folder; name a folder")
        # The nearest folder that exists: the output (or the folders above it) is created in it.
        place = path.absolute().parent
        while not place.exists() and place != place.parent:
            place = place.parent
        is_folder = place.is_dir()
    except OSError as error:  # a folder above it that may not be searched
        raise ValueError(
            f"{option} {path}: cannot be created ({error.strerror}: {error.filename})"
        ) from error
    if not is_folder:
        raise ValueError(f"{option} {path}: cannot be created, {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: cannot be created, {place} is not writable")


def _window_errors(args):
    # As for `train`: a window of one or two steps leaves no recurrence worth a search.
    if args.window is not None and args.window < 3:
        raise ValueError(f"--window must be at least 3; received {args.window}")


def _data_errors(args):
    """`--data` and its CSV options: the file is there, its --target among its columns."""
    if args.horizon is not None and args.horizon < 1:
        raise ValueError(f"--horizon must be at least 1; received {args.horizon}")
    if args.data is not None:
        _input_file_errors("--data", args.data)
    if args.data is not None and pathlib.Path(args.data).suffix.lower() in TEXT_DELIMITERS:
        _text_file_errors(args)


def _training_errors(args):
    _window_errors(args)
    # `gradients` follows one model; the others train --members side by side.
    members = 1 if args.command == "gradients" else args.members
    # A member's recurrent kernel (units x units) in float32, with its gradient and
    # Adam's two moments: 16 bytes a weight.
    size = members * 16 * args.units**2
    if size > MAX_WEIGHT_BYTES:
        raise ValueError(
            f"--members {members} and --units {args.units}: the models' weights would need "
            f"about {size / 2**30:.1f} GiB with their gradients and Adam's moments, more than "
            f"the {MAX_WEIGHT_BYTES // 2**30} GiB allowed; choose fewer --members or --units"
        )
    _data_errors(args)
    steps_given = getattr(args, "steps", None) is not None
    if args.command == "backtest" or steps_given or getattr(args, "strategy", "auto") != "auto":
        _steps_errors(args)


def _steps_errors(args):
    """--steps and --strategy: a forecast of a CSV file's rows after its end."""
    if args.data is None or pathlib.Path(args.data).suffix.lower() not in TEXT_DELIMITERS:
        source = f"--task {args.task}" if args.data is None else f"--data {args.data}"
        what = (
            "rnnkit backtest applies"
            if args.command == "backtest"
            else "--steps and --strategy apply"
        )
        raise ValueError(f"{what} to --data FILE.csv only, not to {source}")
    if args.horizon not in (None, 1):
        raise ValueError(
            f"--steps forecasts the rows 1 .. STEPS after the window; it does not combine with "
            f"--horizon {args.horizon}"
        )
    if args.strategy == "direct" and (args.steps or 1) < 2:
        raise ValueError("--strategy direct needs --steps 2 or more (one output per row)")


def _forecast_errors(args):
    model_path = pathlib.Path(args.model)
    if not model_path.is_file() or model_path.suffix != ".keras":
        raise ValueError(f"{model_path}: expected a saved model file (.keras)")
    for option, value in (("--data", args.data), ("--future", args.future)):
        if value is not None:
            _input_file_errors(option, value)
    if not zipfile.is_zipfile(model_path):  # Keras's own error says "File not found"
        raise ValueError(f"{model_path}: not a Keras model file (a .keras file is a zip archive)")
    if args.overwrite and args.out is None:
        raise ValueError("--overwrite applies with --out only: it replaces an existing --out file")
    if args.out is not None:
        out = pathlib.Path(args.out)
        if out.is_dir():
            raise ValueError(f"--out {out}: a folder; name the CSV file to write")
        if out.exists() and not args.overwrite:
            raise ValueError(
                f"--out {out} exists; choose another file, or pass --overwrite to replace it"
            )


def _header_and_first_row(args):
    """The header and the first data row of `--data` (empty lists where it has none)."""
    path = pathlib.Path(args.data)
    delimiter = args.delimiter or TEXT_DELIMITERS[path.suffix.lower()]
    delimiter = "\t" if delimiter == "\\t" else delimiter
    if len(delimiter) != 1:
        return [], []  # the library says what a delimiter must be
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [name.strip() for name in next(reader, [])]
            return header, [cell.strip() for cell in next(reader, [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return [], []  # the library reports a file it cannot read, naming the line


def _text_file_errors(args):
    """The target column must be named, and be one of the header's."""
    header, _ = _header_and_first_row(args)
    if not header:
        return
    columns = ", ".join(header)
    if args.target is None:
        raise ValueError(
            f"{args.data}: --target COLUMN names the column to forecast; the columns are {columns}"
        )
    if args.target not in header:
        raise ValueError(f"{args.data}: no column {args.target!r}; the columns are {columns}")


# A first column of numbers under one of these names (any case) is the time, not a feature.
TIME_NAMES = frozenset({"year", "date", "time", "datetime", "timestamp", "period", "t"})
TIME_NAMES |= {"quarter", "month", "week", "day", "hour", "minute"}


def time_column_of(args):
    """The `--time-column` of a command that trains (`train`, `tune`, ...) on a text file, or
    else its first column when that holds labels, not numbers (`1959Q1`, `2020-01-31`), or is
    named as a time (`TIME_NAMES`: `year` holding 1871, 1872, ...); `None` for neither.

    Such a first column is the time in nearly every file a user exports
    (spreadsheets, statistics offices); the library then parses its labels or
    refuses them in one line. With `--features`, the columns are the user's choice.
    """
    if args.command not in ("train", "gradients", "backtest", "tune") or args.data is None:
        return None
    if args.time_column is not None or args.features is not None:
        return args.time_column
    if pathlib.Path(args.data).suffix.lower() not in TEXT_DELIMITERS:
        return None
    header, first = _header_and_first_row(args)
    if len(header) < 2 or not first or header[0] == args.target:
        return None
    if header[0].lower() in TIME_NAMES:
        return header[0]
    try:
        float(first[0])
    except ValueError:
        return header[0] if first[0] else None
    return None


def _export_errors(args):
    model_path = pathlib.Path(args.model)
    if not model_path.is_file() or model_path.suffix != ".keras":
        raise ValueError(f"{model_path}: expected a saved model file (.keras)")
    if args.format != "tflite" and (args.batch_size is not None or args.time_steps is not None):
        raise ValueError("--batch-size and --time-steps apply to --format tflite only")
    if args.format == "onnx" and args.streaming:
        raise ValueError("--streaming applies to --format savedmodel or tflite")
    if pathlib.Path(args.out).exists() and not args.overwrite:
        raise ValueError(
            f"--out {args.out} exists; choose another path, or pass --overwrite to replace it"
        )
    if not zipfile.is_zipfile(model_path):
        raise ValueError(f"{model_path}: not a Keras model file (a .keras file is a zip archive)")
