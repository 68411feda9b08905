"""Tasks by name, and users' own files, as train/validation/test arrays for `rnnkit train`.

Every loader returns a dict of float32 / int32 NumPy arrays: `x_train`
(N, T, D), `y_train`, `x_val`, `y_val`, `x_test`, `y_test`. Targets are
(N, O) for regression, (N,) integer labels for classification, and carry a
time axis, (N, T, O) or (N, T), for the many-to-many tasks.

User files (regression):

- **CSV** (`.csv`, `.txt`; `.tsv`: tab-separated unless `delimiter` says otherwise)
  with a header row (`keras_rnnkit.data.csv_files`): `target` names
  the column to forecast; the features are the columns named in `features`,
  by default every column except `time_column` (dates or numbers that order
  the rows, checked to increase, never a feature). Each sample is a window of
  `window` consecutive rows of the features; its target is the `target`
  value `horizon` rows after the window's last row (default 1, the next
  row). The samples are split in time order: the first 70% train, the next
  10% validate, the last 20% test. An empty, `nan` or non-numeric cell is an
  error naming its line and column unless `missing` is `"drop"` or
  `"ffill"`. The dict also holds the persistence forecast of each sample
  (`persistence_*`), the time labels of its target row (`time_*`, with
  `time_column`), `feature_names`, `target`, `target_feature_index`,
  `horizon`, `rows_dropped` and `rows_filled`.
- **NPZ** with arrays `x` (N, T, D) and `y` (N, O) (or (N,)), and optionally
  `x_val`, `y_val`, `x_test`, `y_test`; a split the file lacks is cut from the
  end of `x`, `y` in file order (10% validation, 20% test). Every value must
  be a finite real number.
"""

import dataclasses
import json
import pathlib
import zipfile

import numpy as np

from keras_rnnkit.data.csv_files import load_csv
from keras_rnnkit.data.digits import digit_sequences
from keras_rnnkit.data.splits import TEST_FRACTION
from keras_rnnkit.data.splits import VALIDATION_FRACTION
from keras_rnnkit.data.splits import split_fractions
from keras_rnnkit.data.sunspots import sunspot_windows
from keras_rnnkit.data.synthetic import adding_problem
from keras_rnnkit.data.synthetic import copy_task
from keras_rnnkit.data.synthetic import plan_sequences
from keras_rnnkit.data.synthetic import shifted_patterns
from keras_rnnkit.data.synthetic import temporal_xor


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What a built-in task is, for a model builder.

    Attributes:
        description: One line: the task, its source and what `window` means.
        problem: `"regression"` (MSE), `"classification"` (integer labels,
            softmax) or `"binary"` (0/1 targets, sigmoid).
        sequence_output: Whether targets have a time axis (many-to-many).
        default_window: The sequence length used when none is given, or
            `None` where the length is fixed by the data.
    """

    description: str
    problem: str
    sequence_output: bool
    default_window: int | None


# The built-in tasks, by name, in the order the help lists them. They are data (tasks.json,
# beside this module), so that the command line can list them without importing keras.
TASKS = {
    name: TaskInfo(**fields)
    for name, fields in json.loads(
        (pathlib.Path(__file__).parent / "tasks.json").read_text(encoding="utf-8")
    ).items()
}


def _shuffled(name, x, y, seed, stratify=False):
    return split_fractions(name, x, y, VALIDATION_FRACTION, TEST_FRACTION, seed, stratify)


def _sunspots(window, seed):
    task = sunspot_windows(window=window, validation_years=20)
    # The one input feature is the series itself: persistence and AR(p) apply.
    return {**{k: task[k] for k in ARRAYS}, "target_feature_index": 0}


def _plans(window, seed):
    # Jordan's task is to reproduce the learned sequences: every split holds
    # the same plans, and the test is free-running production.
    x, y = plan_sequences(length=window, seed=seed)
    return {f"{a}_{s}": v for s in ("train", "val", "test") for a, v in (("x", x), ("y", y))}


ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
_NPZ_ARRAYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")
_LOADERS = {
    "sunspots": _sunspots,
    "adding": lambda window, seed: _shuffled("adding", *adding_problem(7000, window, seed), seed),
    "digits": lambda window, seed: digit_sequences(VALIDATION_FRACTION, TEST_FRACTION, seed),
    "shifted": lambda window, seed: _shuffled(
        "shifted", *shifted_patterns(3000, window, seed=seed)[:2], seed, stratify=True
    ),
    "xor": lambda window, seed: _shuffled("xor", *temporal_xor(3000, window, seed), seed),
    "copy": lambda window, seed: _shuffled(
        "copy", *copy_task(5000, window, delay=window, seed=seed), seed
    ),
    "plans": _plans,
}


def load_task(name, window=None, seed=0):
    """A built-in task by name (see `TASKS`): a dict of the six split arrays.

    Args:
        name: One of `TASKS`: sunspots, adding, digits, shifted, xor, copy, plans.
        window: Sequence length (its meaning per task is in `TASKS[name]`);
            `None` for the task's default. Digits have a fixed length of 8.
        seed: Integer seed of the generator and of the shuffle.

    Returns:
        A dict with `x_train`, `y_train`, `x_val`, `y_val`, `x_test`, `y_test`.

    Example:

    >>> from keras_rnnkit.data import load_task
    >>> task = load_task("adding", window=20, seed=0)
    >>> task["x_train"].shape, task["x_val"].shape, task["y_test"].shape
    ((4900, 20, 2), (700, 20, 2), (1400, 1))
    """
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}; built-in tasks: {', '.join(TASKS)} (or pass --data FILE)"
        )
    info = TASKS[name]
    if info.default_window is None and window is not None:
        raise ValueError(f"task {name!r} has a fixed sequence length; do not pass a window")
    if window is not None and window > info.default_window:
        _check_size(name, window, seed)
    return _LOADERS[name](info.default_window if window is None else window, seed)


# The most that a built-in task's arrays may take; above it the generators
# would run out of memory with a traceback (522 GiB for adding, window 1e7).
MAX_TASK_BYTES = 4 * 2**30


def _check_size(name, window, seed):
    """Raises if the task at `window` would exceed `MAX_TASK_BYTES`.

    The size grows linearly with the window, so it is extrapolated from the
    task at its default window.
    """
    default = TASKS[name].default_window
    small = _LOADERS[name](default, seed)
    size = sum(small[key].nbytes for key in ARRAYS) * window / default
    if size > MAX_TASK_BYTES:
        raise ValueError(
            f"task {name!r} with window {window} would need about {size / 2**30:.0f} GiB "
            f"of arrays, more than the {MAX_TASK_BYTES / 2**30:.0f} GiB allowed; "
            "choose a smaller window"
        )


def _real_array(path, name, array):
    """`array` as float32, refused if it is not real or not finite."""
    if np.iscomplexobj(array):
        # A cast to float32 would drop the imaginary part without a word.
        raise ValueError(
            f"{path}: array {name!r} is complex ({array.dtype}); expected real numbers"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{path}: array {name!r} holds {array.dtype}, not numbers")
    with np.errstate(over="ignore"):  # a value too large for float32 is caught below
        values = np.asarray(array, "float32")
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        raise ValueError(
            f"{path}: array {name!r} has {len(bad)} NaN or infinite values as float32, the "
            f"first at {tuple(int(i) for i in bad[0])}; every value must be finite"
        )
    return values


def _open_npz(path):
    """The archive of `path`, or a one-line ValueError if it is not an NPZ file."""
    # Checked first: NumPy reads anything that is not a zip or .npy file as a
    # pickle (and refuses it with a message about pickles).
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an NPZ file (not a zip archive of arrays)")
    arrays = np.load(path)
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        arrays.close()
        raise ValueError(f"{path}: not an NPZ file")
    return arrays


def load_npz(path):
    """Arrays `x`, `y` (and optionally `x_val`, `y_val`, `x_test`, `y_test`) of an NPZ file."""
    with _open_npz(path) as arrays:
        if "x" not in arrays or "y" not in arrays:
            raise ValueError(f"{path}: an NPZ file needs arrays 'x' and 'y'")
        try:
            data = {k: _real_array(path, k, arrays[k]) for k in _NPZ_ARRAYS if k in arrays}
        except zipfile.BadZipFile as error:
            raise ValueError(f"{path}: not an NPZ file (a broken zip archive: {error})") from error
    for key in [k for k in ("y", "y_val", "y_test") if k in data and data[k].ndim == 1]:
        data[key] = data[key][:, None]
    if data["x"].ndim != 3:
        raise ValueError(f"{path}: 'x' must have shape (N, T, D); it has {data['x'].shape}")
    task = {"x_train": data["x"], "y_train": data["y"]}
    # Test first, from the very end; then validation from the end of the rest.
    for split, fraction in (("test", TEST_FRACTION), ("val", VALIDATION_FRACTION)):
        if (f"x_{split}" in data) != (f"y_{split}" in data):
            raise ValueError(f"{path}: arrays 'x_{split}' and 'y_{split}' go together")
        if f"x_{split}" in data:
            task[f"x_{split}"], task[f"y_{split}"] = data[f"x_{split}"], data[f"y_{split}"]
            continue
        cut = len(task["x_train"]) - int(round(len(data["x"]) * fraction))
        if not 0 < cut < len(task["x_train"]):
            raise ValueError(
                f"{path}: {len(data['x'])} samples are too few to cut {fraction:.0%} of them "
                f"for the {split} split; add arrays 'x_{split}' and 'y_{split}'"
            )
        for array in ("x", "y"):
            task[f"{array}_{split}"] = task[f"{array}_train"][cut:]
            task[f"{array}_train"] = task[f"{array}_train"][:cut]
    return {key: task[key] for key in ARRAYS}


# The suffixes of delimited text files, with each one's default delimiter.
TEXT_SUFFIXES = {".csv": ",", ".txt": ",", ".tsv": "\t"}


def load_file(path, target=None, window=None, **csv_options):
    """A user's CSV or NPZ file (see the module's docstring for the formats).

    Args:
        path: A `.csv`, `.tsv`, `.txt` or `.npz` file.
        target: CSV only, and needed there: the column to forecast.
        window: CSV only: rows per sample, or `None` (the default): see `load_csv`.
        **csv_options: CSV only: `horizon`, `features`, `time_column`,
            `missing`, `delimiter`, `season` of `keras_rnnkit.data.csv_files.load_csv`.

    Returns:
        The task dict: the six split arrays, and for a CSV file the extra keys
        of `load_csv`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        if csv_options:
            raise ValueError(f"{path}: {', '.join(csv_options)} apply to CSV files only")
        return load_npz(path)
    if path.suffix.lower() in TEXT_SUFFIXES:
        if target is None:
            raise ValueError("a CSV file needs --target COLUMN, the column to forecast")
        csv_options.setdefault("delimiter", TEXT_SUFFIXES[path.suffix.lower()])
        return load_csv(path, target, window, **csv_options)
    raise ValueError(f"{path}: expected a .csv, .tsv, .txt or .npz file")


def output_units(data, problem):
    """The size of a model's output for a task's arrays: the number of classes
    (`max(label) + 1` over every split) for classification, else the targets' last axis.

    >>> import numpy as np
    >>> output_units({"y_train": np.array([0, 2]), "y_val": np.array([1]),
    ...               "y_test": np.array([4])}, "classification")
    5
    """
    if problem == "classification":
        labels = [data[f"y_{split}"] for split in ("train", "val", "test")]
        return int(max(int(np.max(y)) for y in labels)) + 1
    return int(data["y_train"].shape[-1])
