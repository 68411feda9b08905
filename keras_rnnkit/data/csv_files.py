"""A user's CSV file as forecasting windows: columns by name, every bad cell named.

A CSV file is read with the standard `csv` module (quoted fields, quoted
header names, any one-character delimiter, a UTF-8 byte-order mark). Rows stay
in file order: a time column, when named, is parsed and checked to increase, never sorted.
An empty, `nan`, infinite or non-numeric cell in a used column is an error
naming its line and column unless `missing` says to drop or fill such rows;
nothing is skipped or shifted silently. A number beyond float32's range (the
windows are float32) is always an error naming its line and column. Fully
blank lines at the end of the file are ignored; a blank line between rows is a
row of empty cells.

Shapes: R rows, F features, W = `window`, k = `horizon`, N = R - W - k + 1
samples. Sample i is rows i .. i + W - 1 of the features; its target is the
target column at row t + k - 1, where t = i + W is the row after the window.
"""

import csv
import dataclasses
import datetime
import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.data.splits import TEST_FRACTION
from keras_rnnkit.data.splits import VALIDATION_FRACTION
from keras_rnnkit.data.splits import chronological_split

MISSING = ("error", "drop", "ffill")
_SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class CsvTable:
    """The numeric columns of a CSV file, in file order.

    Attributes:
        names: The columns read, in the order asked for.
        values: float64 array (R, C): one row per kept data row, every value finite.
        lines: int array (R,): each row's line in the file (the header is line 1).
        times: The time column's labels, one per row (floats where every label
            is a number, otherwise the strings as written), or `None`.
        rows_dropped: Rows left out by `missing="drop"`.
        rows_filled: Rows with a cell filled by `missing="ffill"`.
        season: The season the time column's spacing shows (`season_of`), or `None`.
        time_format: The form of the time column's labels, a key of `TIME_FORMATS`,
            or `None`.
    """

    names: tuple
    values: np.ndarray
    lines: np.ndarray
    times: tuple | None
    rows_dropped: int
    rows_filled: int
    season: int | None = None
    time_format: str | None = None

    def column(self, name):
        """The values (R,) of the column `name`."""
        return self.values[:, self.names.index(name)]

    def columns(self, names):
        """The values (R, len(names)) of the columns `names`, in that order."""
        return self.values[:, [self.names.index(name) for name in names]]


def _column_names(owner, name, value):
    """`value` as a list of distinct, non-empty column names, or None."""
    if value is None:
        return None
    # One spelling, a list: a string would be read letter by letter.
    names = None if isinstance(value, str) else [str(n).strip() for n in value]
    if not names or not all(names) or len(set(names)) != len(names):
        raise ValueError(
            f"{owner}: `{name}` must be a list of distinct column names. Received: {name}={value!r}"
        )
    return names


def _records(path, delimiter):
    """The header and the data rows of a CSV file, each row with its first line's number."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, None)
            rows, lines, line = [], [], reader.line_num
            for row in reader:
                rows.append(row)
                # A quoted field may span lines: report the line the record starts on.
                lines.append(line + 1)
                line = reader.line_num
        except UnicodeDecodeError as error:  # a spreadsheet, an archive, Latin-1 or UTF-16 text
            raise ValueError(
                f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} cannot be "
                "decoded); save the file as CSV in UTF-8"
            ) from error
        except csv.Error as error:  # such as a field beyond csv.field_size_limit()
            raise ValueError(f"{path}: line {reader.line_num}: {error}") from error
    if header is None or not any(name.strip() for name in header):
        raise ValueError(f"{path}: no header row; the first line must name the columns")
    while rows and _blank(rows[-1]):
        rows.pop()
        lines.pop()
    return [name.strip() for name in header], rows, lines


def _blank(row):
    """Whether a row is a blank line (no delimiter, nothing but white space)."""
    return len(row) <= 1 and not "".join(row).strip()


def _cells(path, header, rows, lines):
    """The rows as a list of equal-length rows; a blank line is a row of empty cells."""
    width = len(header)
    for row, line in zip(rows, lines):
        if _blank(row):
            row[:] = [""] * width
        elif len(row) != width:
            raise ValueError(
                f"{path}: line {line} has {len(row)} fields, the header has {width} "
                "(check the delimiter and the quoting)"
            )
    return rows


def _number(cell):
    """The cell as a finite float, or None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _what(cell):
    """Why a cell that is not a finite number is not one."""
    text = cell.strip()
    if not text:
        return "is empty"
    if _is_text(text):
        return f"holds {text!r}, not a number"
    return f"holds {text!r}, not a finite number"


def _is_text(cell):
    """Whether a non-empty cell is no number at all (not even `nan` or `inf`)."""
    try:
        float(cell)
    except ValueError:
        return bool(cell.strip())
    return False


def _time_labels(path, name, cells, lines):
    """The time column's labels (floats if all are numbers), parsed by one of
    `TIME_FORMATS` and checked to increase down the file; anything else raises."""
    for cell, line in zip(cells, lines):
        if not cell.strip():
            raise ValueError(
                f"{path}: line {line}, column {name!r} is empty; the time column "
                "needs a value in every row"
            )
    labels = [cell.strip() for cell in cells]
    kind, parse = next(
        ((kind, parse) for kind, parse in TIME_FORMATS.items() if parse(labels[0]) is not None),
        (None, None),
    )
    keys = [parse(label) for label in labels] if parse else [None]
    bad = next((i for i, key in enumerate(keys) if key is None), None)
    if bad is not None:
        expected = f"{kind}, as line {lines[0]}" if kind else ", ".join(TIME_FORMATS)
        raise ValueError(
            f"{path}: line {lines[bad]}, the time column {name!r} holds {labels[bad]!r}, "
            f"not one of {expected}; write the times in one of these forms, or leave "
            "the time column out"
        )
    if len({getattr(key, "tzinfo", None) is None for key in keys}) > 1:
        raise ValueError(
            f"{path}: the time column {name!r} mixes times with and without a time zone"
        )
    for i in range(1, len(labels)):
        if not keys[i] > keys[i - 1]:
            raise ValueError(
                f"{path}: the time column {name!r} must increase down the file, but line "
                f"{lines[i]} ({labels[i]!r}) does not come after line {lines[i - 1]} "
                f"({labels[i - 1]!r}); sort the file by time"
            )
    return tuple(keys if kind == "numbers" else labels), kind, keys


# How many robust standard deviations (1.4826 median absolute deviations) from the median
# make a value an outlier: twice the farthest of the real series we tried (4.9, the US
# inflation rate's of 1959-1994, docs/forecasting.md's series).
OUTLIER_DEVIATIONS = 10.0


def outliers(table, names, rows):
    """`[(line, column, value, deviations)]` for each value of the columns `names` in the
    first `rows` rows of `table` (a `CsvTable`) that lies more than `OUTLIER_DEVIATIONS`
    robust standard deviations from its column's median there, in file order. One such
    value scales a model's inputs by its size (the mean and standard deviation follow it).

    >>> values, lines = np.array([[1.0], [2.0], [1e6], [3.0]]), np.array([2, 3, 4, 5])
    >>> table = CsvTable(("v",), values, lines, times=None, rows_dropped=0, rows_filled=0)
    >>> [(line, name, value) for line, name, value, _ in outliers(table, ["v"], 4)]
    [(4, 'v', 1000000.0)]
    """
    found = []
    for name in names:
        values = table.column(name)[:rows]
        median = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - median))
        if spread == 0:  # half the values equal: no scale to measure against
            continue
        deviations = np.abs(values - median) / spread
        for i in np.flatnonzero(deviations > OUTLIER_DEVIATIONS):
            found.append((int(table.lines[i]), name, float(values[i]), float(deviations[i])))
    return sorted(found)


def seasonal_lag(season, ahead):
    """How far back the seasonal-naive forecast of a row `ahead` rows ahead looks: the fewest
    whole seasons that reach at least `ahead` rows back, so that the value is known at
    forecast time. `ahead` may be an array.

    >>> [int(seasonal_lag(12, ahead)) for ahead in (1, 12, 13)]
    [12, 12, 24]
    >>> seasonal_lag(4, np.arange(1, 7))
    array([4, 4, 4, 4, 8, 8])
    """
    return season * ((np.asarray(ahead) - 1) // season + 1)


def default_window(season):
    """The rows per sample that a series with this season gets by default.

    Two seasons and one row, at least 12, for seasons of up to 12 rows: the window then holds
    the value one season back and the one a season before that, whose mean is a seasonal
    level with half the year-to-year noise (docs/forecast.md measures the difference).
    One season and one row for longer seasons (52 weeks), where two would double the loop.
    12 without a season.

    >>> [default_window(s) for s in (None, 4, 7, 12, 52)]
    [12, 12, 15, 25, 53]
    """
    if not season:
        return 12
    return max(12, 2 * season + 1) if season <= 12 else season + 1


def season_of(kind, keys):
    """The season that a time column's spacing plainly shows, or None.

    Months (`2020-01`) have 12 a year, quarters 4. ISO dates nine in ten of whose
    steps are one day apart have a week (7); seven days apart, 52 weeks; 28 to 31
    days, 12 months; 89 to 92 days, 4 quarters. Numbers show none.

    >>> season_of("months (2020-01)", [(2020, 1), (2020, 2)])
    12
    """
    if kind == "months (2020-01)":
        return 12
    if kind == "quarters (2020Q1)":
        return 4
    if kind == "numbers" or len(keys) < 3:
        return None
    days = np.array([(b - a).total_seconds() / 86400.0 for a, b in zip(keys, keys[1:])])
    for low, high, season in ((0.9, 1.1, 7), (6.5, 7.5, 52), (28, 31.5, 12), (89, 92.5, 4)):
        if np.mean((days >= low) & (days <= high)) >= 0.9:
            return season
    return None


def _iso_time(label):
    try:
        return datetime.datetime.fromisoformat(label)
    except ValueError:
        return None


def _month(label):
    match = re.fullmatch(r"(\d{4})-(\d{2})", label)
    return (int(match[1]), int(match[2])) if match and 1 <= int(match[2]) <= 12 else None


def _quarter(label):
    match = re.fullmatch(r"(\d{4})[ -]?Q([1-4])", label, flags=re.IGNORECASE)
    return (int(match[1]), int(match[2])) if match else None


# The forms a time label may take, each with its parser (None: not this form); all
# labels of a column take the form of its first.
TIME_FORMATS = {
    "numbers": _number,
    "ISO 8601 dates or times (2020-01-31, 2020-01-31T12:00)": _iso_time,
    "months (2020-01)": _month,
    "quarters (2020Q1)": _quarter,
}


def _parse(path, names, columns, lines):
    """The cells as floats (R, C) and a mask of those that are finite numbers."""
    values = np.zeros((len(lines), len(names)))
    good = np.zeros(values.shape, bool)
    for j, (name, cells) in enumerate(zip(names, columns)):
        for i, cell in enumerate(cells):
            value = _number(cell)
            if value is not None:
                values[i, j], good[i, j] = value, True
        if not good[:, j].any():
            text = next((i for i, cell in enumerate(cells) if _is_text(cell)), None)
            if text is not None:
                # A column of dates or labels, not a series with gaps.
                raise ValueError(
                    f"{path}: column {name!r} is not numeric (line {lines[text]}: "
                    f"{cells[text].strip()!r}); if it holds the time, pass --time-column "
                    f"{name}, or choose the feature columns with --features"
                )
    return values, good


# The largest magnitude a float32 holds: the windows are float32, and a larger
# finite value would become infinite in the cast, then be reported as such.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(path, names, columns, lines, values):
    """Raises for the first cell, in reading order, whose magnitude exceeds `_FLOAT32_MAX`."""
    beyond = np.argwhere(np.abs(values) > _FLOAT32_MAX)
    if len(beyond):
        i, j = beyond[0]  # argwhere is in row-major order: the first in the file
        raise ValueError(
            f"{path}: line {lines[i]}, column {names[j]!r} holds {columns[j][i].strip()!r}, "
            f"beyond float32's range (magnitudes up to {_FLOAT32_MAX:.7g})"
        )


def _first_bad(good, rows):
    """(row, column) of the first bad cell in `rows` of the mask, in reading order."""
    i = rows[0]
    return i, int(np.flatnonzero(~good[i])[0])


def _handle_missing(path, names, columns, lines, values, good, missing):
    """The rows to keep and the values with bad cells filled, by `missing`."""
    bad_rows = np.flatnonzero(~good.all(axis=1))
    if not len(bad_rows):
        return values, np.arange(len(values))
    if missing == "drop":
        return values, np.flatnonzero(good.all(axis=1))
    if missing == "error":
        i, j = _first_bad(good, bad_rows)
        advice = "pass --missing drop or --missing ffill to drop or fill such rows"
        if _is_text(columns[j][i]):
            advice += ", or leave the column out with --features"
    elif not good[0].all():
        i, j = _first_bad(good, [0])
        advice = "the first data row has no earlier value to carry forward"
    else:
        # Each cell takes the value of the last good cell at or above it.
        above = np.where(good, np.arange(len(values))[:, None], 0)
        source = np.maximum.accumulate(above, axis=0)
        return np.take_along_axis(values, source, axis=0), np.arange(len(values))
    what = _what(columns[j][i])
    raise ValueError(f"{path}: line {lines[i]}, column {names[j]!r} {what}; {advice}")


def read_csv_columns(path, *, delimiter=",", time_column=None, columns=None, missing="error"):
    """Reads numeric columns (and a time column) of a CSV file with a header row.

    Args:
        path: The CSV file (UTF-8, with or without a byte-order mark).
        delimiter: The one-character field delimiter. Default: `","`.
        time_column: The name of a column of dates, times or numbers that
            orders the rows; it must increase down the file and is never a
            numeric column of the result. Its labels are numbers, ISO 8601 dates
            or times, months (`2020-01`) or quarters (`2020Q1`), all of one form
            (`TIME_FORMATS`); any other label is an error. Default: `None`.
        columns: The names of the numeric columns to read, or `None` (the
            default) for every column except `time_column`.
        missing: What to do with a row that has an empty, `nan`, infinite or
            non-numeric cell in one of `columns`: `"error"` (the default)
            raises, naming the line and the column; `"drop"` leaves the row
            out; `"ffill"` fills the cell with the column's last good value
            above it (an error in the first data row). A number whose magnitude
            exceeds float32's largest is an error whatever `missing` says.

    Returns:
        A `CsvTable`: `names`, `values` (R, C), `lines`, `times`,
        `rows_dropped`, `rows_filled`.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "weather.csv"
    >>> text = "day,temp,rain\\n2020-01-01,1.5,0\\n2020-01-02,,3\\n2020-01-03,2.5,1\\n"
    >>> _ = path.write_text(text)
    >>> table = read_csv_columns(path, time_column="day", missing="ffill")
    >>> table.names, table.values.tolist(), table.rows_filled
    (('temp', 'rain'), [[1.5, 0.0], [1.5, 3.0], [2.5, 1.0]], 1)
    >>> table.times
    ('2020-01-01', '2020-01-02', '2020-01-03')
    """
    owner = "read_csv_columns"
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(
            f"{owner}: `delimiter` must be a single character. Received: delimiter={delimiter!r}"
        )
    arguments.one_of(owner, "missing", missing, MISSING)
    columns = _column_names(owner, "columns", columns)
    header, rows, lines = _records(path, delimiter)
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path}: the header names {', '.join(map(repr, duplicates))} twice")
    known = ", ".join(header)
    if time_column is not None and time_column not in header:
        raise ValueError(f"{path}: no time column {time_column!r}; the columns are {known}")
    if columns is None:
        columns = [name for name in header if name != time_column]
    unknown = [name for name in columns if name not in header]
    if unknown:
        raise ValueError(f"{path}: no column {unknown[0]!r}; the columns are {known}")
    if time_column in columns:
        raise ValueError(
            f"{path}: the time column {time_column!r} orders the rows and cannot also be "
            "a feature or the target"
        )
    if not columns:
        raise ValueError(f"{path}: no numeric column to read; the columns are {known}")
    rows = _cells(path, header, rows, lines)
    if not rows:
        raise ValueError(f"{path}: no data rows below the header")
    times = None
    if time_column is not None:
        index = header.index(time_column)
        times, kind, keys = _time_labels(path, time_column, [row[index] for row in rows], lines)
    names = tuple(columns)
    cells = [[row[header.index(name)] for row in rows] for name in names]
    values, good = _parse(path, names, cells, lines)
    _check_float32_range(path, names, cells, lines, values)
    values, keep = _handle_missing(path, names, cells, lines, values, good, missing)
    return CsvTable(
        names=names,
        values=values[keep],
        lines=np.asarray(lines, int)[keep],
        times=None if times is None else tuple(times[i] for i in keep),
        rows_dropped=len(lines) - len(keep),
        rows_filled=int((~good).any(axis=1).sum()) if missing == "ffill" else 0,
        season=None if times is None else season_of(kind, [keys[i] for i in keep]),
        time_format=None if times is None else kind,
    )


def forecast_windows(features, target, window, horizon=1, steps=1):
    """Direct `horizon`-step-ahead samples of a multivariate series.

    For t = W .. R - k - S + 1: the sample is `features[t - W : t]`, its targets
    `target[t + k - 1 : t + k - 1 + S]` and its persistence forecast `target[t - 1]`.
    Equal to that loop, without one (`sliding_window_view`).

    Args:
        features: Array (R, F): one row per time step.
        target: Array (R,): the series to forecast.
        window: W, the rows per sample, a positive integer.
        horizon: k, how many rows after the window's last row the (first) target
            lies, a positive integer. Default: 1 (the next row).
        steps: S, consecutive target rows per sample (a direct multi-step
            forecast), a positive integer. Default: 1.

    Returns:
        `(x, y, persistence, rows)`: x (N, W, F), y (N, S), persistence (N, 1)
        and the (first) target's row index of each sample (N,), with
        N = R - W - k - S + 2.

    Example:

    >>> import numpy as np
    >>> series = np.arange(6.0)
    >>> x, y, persistence, rows = forecast_windows(series[:, None], series, window=2, horizon=2)
    >>> x[..., 0].tolist(), y[:, 0].tolist(), persistence[:, 0].tolist(), rows.tolist()
    ([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], [3.0, 4.0, 5.0], [1.0, 2.0, 3.0], [3, 4, 5])
    >>> forecast_windows(series[:, None], series, window=3, steps=2)[1].tolist()
    [[3.0, 4.0], [4.0, 5.0]]
    """
    window = arguments.positive_int("forecast_windows", "window", window)
    horizon = arguments.positive_int("forecast_windows", "horizon", horizon)
    steps = arguments.positive_int("forecast_windows", "steps", steps)
    features, target = np.asarray(features), np.asarray(target)
    needed = window + horizon + steps - 1
    samples = len(features) - needed + 1
    if samples < 1:
        raise ValueError(
            f"forecast_windows: {len(features)} rows are too few for window={window}, "
            f"horizon={horizon} and steps={steps}; they need at least window + horizon + "
            f"steps - 1 = {needed}"
        )
    # sliding_window_view puts the window axis last: (R - W + 1, F, W) -> (., W, F).
    x = sliding_window_view(features, window, axis=0)[:samples].transpose(0, 2, 1)
    rows = np.arange(samples) + window + horizon - 1
    y = target[rows[:, None] + np.arange(steps)]
    return x, y, target[rows - horizon, None], rows


def load_csv(
    path,
    target,
    window=None,
    *,
    horizon=1,
    features=None,
    time_column=None,
    missing="error",
    delimiter=",",
    season=None,
):
    """A CSV file's rows as windows forecasting column `target`, split in time order.

    Each sample is `window` consecutive rows of the feature columns; its
    target is the `target` column `horizon` rows after the window's last row
    (see `forecast_windows`). The samples are split in file order: the first
    70% train, the next 10% validate, the last 20% test.

    Args:
        path: The CSV file, with a header row (see `read_csv_columns`).
        target: The name of the column to forecast; it need not be a feature.
        window: Rows per sample, or `None` (the default): `default_window(season)`.
        horizon: How many rows ahead the target lies. Default: 1.
        features: The feature columns' names, or `None` (the default) for
            every column except `time_column`.
        time_column: A column of dates, times or numbers that orders the rows
            (never a feature), reported as `time_*`. Default: `None`.
        missing: `"error"` (default), `"drop"` or `"ffill"`; see
            `read_csv_columns`.
        delimiter: The field delimiter. Default: `","`.
        season: The number of rows in one season (12 for monthly rows of a yearly
            cycle), or `None` (the default): the one the time column's spacing
            plainly shows (`season_of`), if any. It gives the seasonal-naive
            forecast and the default window.

    Returns:
        A dict: the float32 arrays `x_train`, `y_train`, `x_val`, `y_val`,
        `x_test`, `y_test` (x (N, window, F), y (N, 1)); `persistence_train`,
        `persistence_val`, `persistence_test` (N, 1), the target at each
        window's last row; with `time_column`, `time_train`, `time_val`,
        `time_test`, the time label of each sample's target row; and
        `feature_names`, `target`, `target_feature_index` (the target's index
        among the features, or `None`), `time_column`, `horizon`, `rows_dropped`, `rows_filled`;
        `season` (or `None`) and `season_source` (`"given"`, `"time column"` or
        `None`); with a season, `seasonal_naive_val` and `seasonal_naive_test`
        (N, 1), the target one season (or a whole number of seasons, at least
        `horizon` rows) before each sample's target row; and the rows
        themselves, for forecasts from any origin (`direct_task`,
        `keras_rnnkit.forecasting.held_out_forecasts`): `rows` (a `CsvTable` of
        the feature columns and the target) and `split_rows` (the first target
        row of the `"val"` and `"test"` samples).

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sales.csv"
    >>> rows = "\\n".join(f"2021-01-{d:02d},{d},{d * d}" for d in range(1, 31))
    >>> _ = path.write_text("day,units,price\\n" + rows)
    >>> task = load_csv(path, "units", window=5, time_column="day", features=["price"])
    >>> task["x_train"].shape, task["x_val"].shape, task["y_test"].shape
    ((18, 5, 1), (2, 5, 1), (5, 1))
    >>> task["time_test"][:2].tolist(), task["y_test"][:2, 0].tolist()
    (['2021-01-26', '2021-01-27'], [26.0, 27.0])

    (30 rows make 25 samples: 5 test, 2 validation (2.5 rounds to even), 18
    train; the first test sample is rows 20-24, its target row 25, day 26.)
    """
    owner = "load_csv"
    feature_names = _column_names(owner, "features", features)
    if window is not None:
        window = arguments.positive_int(owner, "window", window)
    horizon = arguments.positive_int(owner, "horizon", horizon)
    if season is not None:
        season = arguments.positive_int(owner, "season", season)
    if target == time_column:
        raise ValueError(
            f"{path}: the target {target!r} is the time column; forecast another column"
        )
    columns = None
    if feature_names is not None:
        columns = feature_names + ([target] if target not in feature_names else [])
    table = read_csv_columns(
        path, delimiter=delimiter, time_column=time_column, columns=columns, missing=missing
    )
    if feature_names is None:
        feature_names = list(table.names)
    source = "given" if season is not None else ("time column" if table.season else None)
    season = season or table.season
    if window is None:
        window = default_window(season)
    if target not in table.names:
        known = ", ".join(([time_column] if time_column else []) + feature_names)
        raise ValueError(f"{path}: no column {target!r}; the columns are {known}")
    task = _windows_task(str(path), table, target, feature_names, window, horizon, season, source)
    return {**task, "time_column": time_column}


def _windows_task(name, table, target, feature_names, window, horizon, season, source):
    """The task dict of `load_csv` from the rows of `table` (`name` names them in errors)."""
    if len(table.values) < window + horizon:
        dropped = f" (after dropping {table.rows_dropped})" if table.rows_dropped else ""
        raise ValueError(
            f"{name}: {len(table.values)} data rows{dropped} are too few for window={window} "
            f"and horizon={horizon}; they need at least window + horizon = {window + horizon}"
        )
    x, y, persistence, rows = forecast_windows(
        table.columns(feature_names),
        table.column(target),
        window,
        horizon,
    )
    order = np.arange(len(x))
    parts = chronological_split(name, order, order, VALIDATION_FRACTION, TEST_FRACTION)
    target_values = table.column(target)
    lag = seasonal_lag(season, horizon) if season else None
    task = {}
    for split in _SPLITS:
        picked = parts[f"x_{split}"]
        for name, array in (("x", x), ("y", y), ("persistence", persistence)):
            task[f"{name}_{split}"] = array[picked].astype("float32")
        if table.times is not None:
            task[f"time_{split}"] = np.asarray(table.times)[rows[picked]]
        if lag and split != "train" and (rows[picked] - lag >= 0).all():
            naive = target_values[rows[picked] - lag, None]
            task[f"seasonal_naive_{split}"] = naive.astype("float32")
    split_rows = {split: int(rows[parts[f"x_{split}"]][0]) for split in ("val", "test")}
    return {
        **task,
        "feature_names": feature_names,
        "target": target,
        "target_feature_index": feature_names.index(target) if target in feature_names else None,
        "horizon": horizon,
        "season": season,
        "season_source": source,
        "rows_dropped": table.rows_dropped,
        "rows_filled": table.rows_filled,
        "rows": table,
        "split_rows": split_rows,
    }


def first_rows_task(task, rows):
    """The task of a `load_csv` task's first `rows` rows: the same columns, window, horizon
    and season, split 70/10/20 again, as if the file ended there (for a backtest)."""
    owner = "first_rows_task"
    table = task["rows"]
    rows = arguments.positive_int(owner, "rows", rows)
    cut = dataclasses.replace(
        table,
        values=table.values[:rows],
        lines=table.lines[:rows],
        times=None if table.times is None else table.times[:rows],
    )
    return _windows_task(
        f"the first {rows} rows",
        cut,
        task["target"],
        task["feature_names"],
        task["x_train"].shape[1],
        task["horizon"],
        task["season"],
        task["season_source"],
    )


def direct_task(task, steps):
    """The windows of a `load_csv` task (one step ahead) with `steps` targets each, split
    at the same rows, so that no target row of a split lies in a later one.

    Sample t (the window's next row) trains where all its target rows t .. t + S - 1
    lie before the task's first validation row, validates where they lie in the
    validation rows, and tests from the first test row on. The rows, the
    window, the features and the splits' first rows are the task's own.

    Args:
        task: A dict of `load_csv` with `horizon` 1.
        steps: S, the targets per sample, a positive integer.

    Returns:
        A task dict as `load_csv` gives, with y (N, S) and `steps` S.
    """
    owner = "direct_task"
    steps = arguments.positive_int(owner, "steps", steps)
    if task["horizon"] != 1:
        raise ValueError(
            f"{owner}: `task` must forecast one row ahead. Received a task with "
            f"horizon={task['horizon']}"
        )
    table, names = task["rows"], task["feature_names"]
    target, features = table.column(task["target"]), table.columns(names)
    window = task["x_train"].shape[1]
    x, y, persistence, rows = forecast_windows(features, target, window, 1, steps)
    first_val, first_test = task["split_rows"]["val"], task["split_rows"]["test"]
    last = rows + steps - 1
    picks = {
        "train": last < first_val,
        "val": (rows >= first_val) & (last < first_test),
        "test": rows >= first_test,
    }
    for split, picked in picks.items():
        if not picked.any():
            raise ValueError(
                f"{owner}: no {split} samples with all {steps} target rows in the {split} "
                f"rows; use fewer steps (at most {first_test - first_val} fit the validation "
                "rows) or a longer series"
            )
    season = task.get("season")
    lags = seasonal_lag(season, np.arange(1, steps + 1)) if season else None
    direct = {}
    for split, picked in picks.items():
        for name, array in (("x", x), ("y", y), ("persistence", persistence)):
            direct[f"{name}_{split}"] = array[picked].astype("float32")
        if f"time_{split}" in task:
            direct[f"time_{split}"] = np.asarray(table.times)[rows[picked]]
        naive_rows = rows[picked, None] + np.arange(steps) - lags if season else None
        if season and split != "train" and (naive_rows >= 0).all():
            direct[f"seasonal_naive_{split}"] = target[naive_rows].astype("float32")
    kept = ("feature_names", "target", "target_feature_index", "horizon", "season")
    kept += ("season_source", "rows_dropped", "rows_filled", "rows", "split_rows")
    return {**direct, **{key: task[key] for key in kept}, "steps": steps}
