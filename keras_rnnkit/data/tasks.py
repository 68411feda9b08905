"""Tasks by name, and users' own files, as train/test arrays for `rnnkit train`.

Every loader returns a dict with `x_train` (N, T, D), `y_train` (N, O),
`x_test`, `y_test` (float32).

User files:

- **CSV** with a header row: every column is a feature; `target` names the
  column to forecast. Each sample is a window of `window` consecutive rows (all
  columns); its target is the `target` value of the row that follows. The
  last 20% of the samples, in time order, are the test set.
- **NPZ** with arrays `x` (N, T, D) and `y` (N, O) (or (N,)), and optionally
  `x_test`, `y_test`; without them the last 20% of the samples are the test
  set.
"""

import pathlib

import numpy as np

from keras_rnnkit.data.sunspots import sunspot_windows
from keras_rnnkit.data.synthetic import adding_problem

BUILT_IN = ("sunspots", "adding")
TEST_FRACTION = 0.2


def _split(x, y):
    cut = int(round(len(x) * (1 - TEST_FRACTION)))
    if cut == 0 or cut == len(x):
        raise ValueError(
            f"too few samples ({len(x)}) to keep {TEST_FRACTION:.0%} of them for testing"
        )
    return {"x_train": x[:cut], "y_train": y[:cut], "x_test": x[cut:], "y_test": y[cut:]}


def load_task(name, window, seed=0):
    """A built-in task: `"sunspots"` (window years -> next year) or `"adding"` (T = window)."""
    if name == "sunspots":
        task = sunspot_windows(window=window)
        return {k: task[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    if name == "adding":
        x, y = adding_problem(5000, window, seed=seed)
        x_test, y_test = adding_problem(1000, window, seed=seed + 1)
        return {"x_train": x, "y_train": y, "x_test": x_test, "y_test": y_test}
    raise ValueError(
        f"unknown task {name!r}; built-in tasks: {', '.join(BUILT_IN)} (or pass --data FILE)"
    )


def load_csv(path, target, window):
    """Windows of a CSV file's rows, forecasting column `target` one row ahead."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    names = [n.strip().strip('"') for n in header]
    if target not in names:
        raise ValueError(f"{path}: no column {target!r}; the columns are {', '.join(names)}")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype="float64")
    except ValueError as error:
        raise ValueError(f"{path}: not a numeric CSV table ({error})") from None
    if len(table) <= window:
        raise ValueError(f"{path}: {len(table)} rows, fewer than window + 1 = {window + 1}")
    column = names.index(target)
    x = np.stack([table[t - window : t] for t in range(window, len(table))])
    y = table[window:, column : column + 1]
    return _split(x.astype("float32"), y.astype("float32"))


def load_npz(path):
    """Arrays `x`, `y` (and optionally `x_test`, `y_test`) of an NPZ file."""
    with np.load(path) as arrays:
        if "x" not in arrays or "y" not in arrays:
            raise ValueError(f"{path}: an NPZ file needs arrays 'x' and 'y'")
        data = {k: np.asarray(arrays[k], "float32") for k in arrays.files}
    for key in [k for k in ("y", "y_test") if k in data and data[k].ndim == 1]:
        data[key] = data[key][:, None]
    if data["x"].ndim != 3:
        raise ValueError(f"{path}: 'x' must have shape (N, T, D); it has {data['x'].shape}")
    if "x_test" in data and "y_test" in data:
        return {
            "x_train": data["x"],
            "y_train": data["y"],
            "x_test": data["x_test"],
            "y_test": data["y_test"],
        }
    return _split(data["x"], data["y"])


def load_file(path, target=None, window=12):
    """A user's CSV or NPZ file (see the module's docstring for the formats)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if path.suffix.lower() == ".csv":
        if target is None:
            raise ValueError("a CSV file needs --target COLUMN, the column to forecast")
        return load_csv(path, target, window)
    raise ValueError(f"{path}: expected a .csv or .npz file")
