r"""Forecasts beyond the data: a saved forecaster, its history in, the next values out.

A `SeriesForecaster` is a Keras model that remembers what it was trained on: the
target column, the feature columns in window order, the time column, the window
W, the season, its strategy and its intervals. `rnnkit train --data FILE.csv`
saves one; `forecast(model, history, steps)` then needs only the history.

Two strategies forecast S steps from an origin row o (the first row after the
history), with $x_r$ the features of row r and $y_r$ the target:

- **recursive**: a one-step model $f$ fed its own forecasts,
  $\hat y_{o+h} = f(x_{o+h-W}, \dots, x_{o+h-1})$ for h = 0 .. S - 1, where
  the target's own column of each row $r \ge o$ holds $\hat y_r$ (its other
  features, if any, come from their known future values);
- **direct**: a model with S outputs, $(\hat y_o, \dots, \hat y_{o+S-1}) =
  g(x_{o-W}, \dots, x_{o-1})$, trained for all S steps at once.

Intervals are split conformal: for each step h the half-width at level
$\alpha$ is the $\lceil (n_h + 1)\alpha \rceil$-th smallest of the $n_h$
absolute errors $|y_{o+h} - \hat y_{o+h}|$ of forecasts from held-out origins
(rows the model never trained on), which covers a new error with probability
at least $\alpha$ where errors are exchangeable. Where $n_h$ is too small for
that rank, the half-width is $z_\alpha$ times the errors' root mean square
(a normal approximation), and the interval says so.
"""

import dataclasses
import math
import pathlib
import statistics

import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit import _atomic
from keras_rnnkit._series_forecaster import STRATEGIES as STRATEGIES
from keras_rnnkit._series_forecaster import SeriesForecaster as SeriesForecaster
from keras_rnnkit.data.csv_files import read_csv_columns
from keras_rnnkit.data.csv_files import seasonal_lag
from keras_rnnkit.data.time_steps import next_times
from keras_rnnkit.data.time_steps import same_time

DEFAULT_LEVELS = (0.8, 0.95)
# A time label ("2026-12-07", a Python str in a list) takes about as much memory as 12 floats.
LABEL_FLOATS = 12


def as_series_forecaster(model, series):
    """`model`'s graph as a `SeriesForecaster` of `series`, compiled as `model` is."""
    forecaster = SeriesForecaster(model.inputs, model.outputs, series=series, name=model.name)
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    if compiled:
        forecaster.compile_from_config(compiled)
        forecaster.optimizer.build(forecaster.trainable_variables)
    return forecaster


def _predict(model, windows):
    return np.asarray(model.predict_on_batch(windows.astype("float32")), "float64")


def multi_step_forecasts(model, features, origins, steps, *, window, strategy, target_index=None):
    """Forecasts of `steps` rows from each origin, (len(origins), steps), in raw units.

    Args:
        model: A recursive model (B, W, F) -> (B, 1) or a direct one -> (B, S >= steps).
        features: The rows, (R, F), in window order. A recursive forecast reads the
            other features of the rows it forecasts from here (rows past R count
            as unknown: NaN).
        origins: The first forecast row of each forecast, each in [W, R].
        steps: Rows per forecast.
        window: W.
        strategy: `"recursive"` or `"direct"`.
        target_index: The target's column among the features (recursive only).
    """
    features = np.asarray(features, "float64")
    origins = np.asarray(origins, int)
    windows = np.stack([features[o - window : o] for o in origins])
    if strategy == "direct":
        return _predict(model, windows)[:, :steps]
    # Rows past the end are unknown; a forecast that needs them becomes NaN.
    known = np.concatenate([features, np.full((steps, features.shape[1]), np.nan)])
    forecasts = np.empty((len(origins), steps))
    for h in range(steps):
        forecasts[:, h] = _predict(model, windows)[:, 0]
        if h + 1 < steps:
            rows = known[origins + h].copy()
            rows[:, target_index] = forecasts[:, h]
            windows = np.concatenate([windows[:, 1:], rows[:, None]], axis=1)
    return forecasts


def _z(level):
    return statistics.NormalDist().inv_cdf(0.5 + level / 2)


def conformal_intervals(forecasts, truth, levels=DEFAULT_LEVELS):
    """Split-conformal half-widths per step from held-out forecasts and what happened.

    Args:
        forecasts: (n, S) forecasts from n held-out origins.
        truth: (n, S) the true values, NaN where the row is past the data.
        levels: The coverage levels, each in (0, 1).

    Returns:
        A dict: `levels`, `half_widths` (one list of S per level), `origins` (the
        errors each step had) and `method` (per level and step: `"conformal"`,
        or `"normal"` where too few errors gave the conformal rank).

    Example:

    >>> import numpy as np
    >>> truth = np.arange(1.0, 20.0)[:, None]  # errors 1 .. 19
    >>> conformal_intervals(np.zeros_like(truth), truth, levels=(0.9,))["half_widths"]
    [[18.0]]
    """
    forecasts, truth = np.asarray(forecasts, "float64"), np.asarray(truth, "float64")
    widths, methods, counts = [], [], []
    errors = [
        np.sort(np.abs(t[np.isfinite(t)] - f[np.isfinite(t)])) for f, t in zip(forecasts.T, truth.T)
    ]
    for level in levels:
        row, how = [], []
        for e in errors:
            rank = math.ceil((len(e) + 1) * level)
            if 0 < rank <= len(e):
                row.append(float(e[rank - 1]))
                how.append("conformal")
            else:
                rms = float(np.sqrt(np.mean(e**2))) if len(e) else float("nan")
                row.append(_z(level) * rms)
                how.append("normal")
        widths.append(row)
        methods.append(how)
    counts = [len(e) for e in errors]
    return {"levels": list(levels), "half_widths": widths, "origins": counts, "method": methods}


def _read(owner, what, data, names, series, *, missing, delimiter):
    """`(values (R, len(names)), times or None)` of a CSV path or an array."""
    if isinstance(data, (str, pathlib.Path)):
        table = read_csv_columns(
            data,
            delimiter=delimiter,
            time_column=series["time_column"],
            columns=names,
            missing=missing,
        )
        return table.values, table.times, table.time_format
    values = np.asarray(data, "float64")
    if values.ndim == 1 and len(names) == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(
            f"{owner}: `{what}` must be a CSV file or an array (R, {len(names)}) of the columns "
            f"{', '.join(names)}. Received: shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner}: `{what}` holds NaN or infinite values")
    return values, None, None


@dataclasses.dataclass(frozen=True)
class Forecast:
    """Forecasts of the rows after a history.

    Attributes:
        target: The forecast column's name.
        time_column: The time column's name, or None (then `times` count steps 1, 2, ...).
        times: The forecast rows' time labels.
        values: The point forecasts, (S,).
        intervals: `{level: (lower, upper)}`, arrays (S,); NaN past the steps the
            intervals were calibrated for.
        strategy: `"recursive"` or `"direct"`.
    """

    target: str
    time_column: str | None
    times: list
    values: np.ndarray
    intervals: dict
    strategy: str

    def columns(self):
        """`{column name: values}` in output order: time, target, then each interval."""
        columns = {self.time_column or "step": list(self.times), self.target: self.values}
        for level, (lower, upper) in self.intervals.items():
            percent = f"{100 * level:g}"
            columns[f"lower_{percent}"] = lower
            columns[f"upper_{percent}"] = upper
        return columns

    def _rows(self, digits):
        """The header and one list of cells per row: labels as written, numbers to `digits`
        significant digits, an unknown bound as an empty cell."""
        columns = self.columns()
        rows = []
        for i in range(len(self.values)):
            cells = []
            for values in columns.values():
                value = values[i]
                if isinstance(value, (str, int, np.integer)):
                    cells.append(str(value))
                else:
                    cells.append(f"{float(value):.{digits}g}" if np.isfinite(value) else "")
            rows.append(cells)
        return list(columns), rows

    def to_csv(self, path=None, *, overwrite=False):
        """The forecast as CSV text; with `path`, written there atomically (an existing
        file only with `overwrite`) and the path returned."""
        header, rows = self._rows(digits=6)
        text = "\n".join(",".join(cells) for cells in [header, *rows]) + "\n"
        if path is None:
            return text
        path = pathlib.Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{path} exists; choose another path, or pass overwrite=True to replace it"
            )
        _atomic.write_text(path, text)
        return path

    def __str__(self):
        header, rows = self._rows(digits=4)
        widths = [max(len(name), 10) for name in header]
        return "\n".join(
            "  ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths))
            for cells in [header, *rows]
        )


def _future_rows(owner, series, future, steps, times, time_format, *, missing, delimiter):
    """The exogenous features of the forecast rows, (steps, F) with the target NaN."""
    features, target = series["features"], series["target"]
    exogenous = [name for name in features if name != target]
    rows = np.full((steps, len(features)), np.nan)
    needs = series["strategy"] == "recursive" and exogenous and steps > 1
    if not needs:
        if future is not None:
            why = (
                "a direct forecaster reads only the history"
                if series["strategy"] == "direct"
                else f"it has no features other than {target!r}"
                if not exogenous
                else "one step needs only the history"
            )
            raise ValueError(f"{owner}: `future` is not used here: {why}; leave it out")
        return rows
    if future is None:
        raise ValueError(
            f"{owner}: the model also takes {', '.join(exogenous)}; a recursive forecast of "
            f"{steps} steps needs their values in the {steps - 1} rows after the history: "
            "pass them as `future` (rnnkit forecast --future FILE.csv)"
        )
    values, future_times, _ = _read(
        owner, "future", future, exogenous, series, missing=missing, delimiter=delimiter
    )
    if len(values) < steps - 1:
        raise ValueError(
            f"{owner}: `future` has {len(values)} rows; {steps} steps need the exogenous "
            f"features of the next {steps - 1} rows"
        )
    if times is not None and future_times is not None:
        expected = next_times(
            times, time_format, steps - 1, owner=owner, name=series["time_column"]
        )
        for label, wanted in zip(future_times, expected):
            if not same_time(label, wanted, time_format):
                raise ValueError(
                    f"{owner}: `future`'s time column must continue the history's: it holds "
                    f"{label!r} where {wanted!r} comes next"
                )
    for j, name in enumerate(exogenous):
        rows[: steps - 1, features.index(name)] = values[: steps - 1, j]
    return rows


def forecast(model, history, steps, *, future=None, levels=None, missing="error", delimiter=","):
    """The next `steps` values of a series after its `history`, with intervals.

    Args:
        model: A `SeriesForecaster` (as `rnnkit train --data FILE.csv` saves one,
            loaded with `keras.saving.load_model`).
        history: The series so far: a CSV file with the model's feature columns
            (and its time column, if it was trained with one), or an array
            (R, F) of the features in the model's order. Only its last W rows
            are used, and the forecast starts at the row after its end.
        steps: How many rows to forecast, a positive integer. A direct
            forecaster forecasts at most its own S.
        future: A recursive forecaster with exogenous features (columns other
            than the target) needs their values in the `steps - 1` rows after
            the history: a CSV file or an array of those columns. Default: None.
        levels: The interval levels, a subset of those the model was calibrated
            for. Default: all of them.
        missing: How to read the CSV files, as `read_csv_columns`. Default: `"error"`.
        delimiter: Their field delimiter. Default: `","`.

    Returns:
        A `Forecast`.
    """
    owner = "forecast"
    series = getattr(model, "series", None)
    if not isinstance(model, SeriesForecaster):
        raise ValueError(
            f"{owner}: `model` must be a SeriesForecaster, as `rnnkit train --data FILE.csv` "
            f"saves one. Received: {type(model).__name__}"
        )
    steps = arguments.positive_int(owner, "steps", steps)
    if series["strategy"] == "direct" and steps > series["steps"]:
        raise ValueError(
            f"{owner}: this direct forecaster forecasts at most {series['steps']} steps. "
            f"Received: steps={steps}; train one with rnnkit train --steps {steps}"
        )
    names = series["features"]
    # Checked before a recursive forecast of 2**31 steps runs for days and then fails.
    calibrated = len((series.get("intervals") or {}).get("levels", ()))
    shapes = {
        "rows read and forecast": (series["window"] + steps, len(names)),
        "values and intervals": (steps, 1 + 2 * calibrated),
        "time labels": (steps, LABEL_FLOATS),
    }
    arguments.within_memory(owner, "forecasts", shapes, "float64", {"steps": steps}, "fewer steps")
    values, times, time_format = _read(
        owner, "history", history, names, series, missing=missing, delimiter=delimiter
    )
    window = series["window"]
    if len(values) < window:
        raise ValueError(
            f"{owner}: `history` has {len(values)} rows; the model reads the last {window} "
            "(its window)"
        )
    future_rows = _future_rows(
        owner, series, future, steps, times, time_format, missing=missing, delimiter=delimiter
    )
    rows = np.concatenate([values[-window:], future_rows])
    target_index = names.index(series["target"]) if series["target"] in names else None
    point = multi_step_forecasts(
        model,
        rows,
        [window],
        steps,
        window=window,
        strategy=series["strategy"],
        target_index=target_index,
    )[0]
    if times is not None:
        labels = next_times(times, time_format, steps, owner=owner, name=series["time_column"])
    else:
        labels = list(range(1, steps + 1))
    return Forecast(
        target=series["target"],
        time_column=series["time_column"] if times is not None else None,
        times=labels,
        values=point,
        intervals=_intervals(owner, series.get("intervals"), point, levels),
        strategy=series["strategy"],
    )


def _intervals(owner, calibration, point, levels):
    if calibration is None:
        if levels:
            raise ValueError(
                f"{owner}: the model holds no interval calibration; leave `levels` out"
            )
        return {}
    known = [float(level) for level in calibration["levels"]]
    wanted = known if levels is None else [float(level) for level in levels]
    unknown = [level for level in wanted if not any(math.isclose(level, k) for k in known)]
    if unknown:
        raise ValueError(
            f"{owner}: `levels` must be among those the model was calibrated for, "
            f"{', '.join(f'{k:g}' for k in known)}. Received: levels={list(levels)}"
        )
    intervals = {}
    for level in wanted:
        index = next(i for i, k in enumerate(known) if math.isclose(level, k))
        widths = np.full(len(point), np.nan)
        calibrated = np.asarray(calibration["half_widths"][index], "float64")[: len(point)]
        widths[: len(calibrated)] = calibrated
        intervals[level] = (point - widths, point + widths)
    return intervals


def series_of(task, *, strategy, steps, time_column=None):
    """The `series` dict of a forecaster trained on a CSV task (`load_csv`), without intervals;
    `time_column` None: the task's own."""
    return {
        "target": task["target"],
        "features": list(task["feature_names"]),
        "time_column": time_column or task.get("time_column"),
        "window": int(task["x_train"].shape[1]),
        "season": task.get("season"),
        "strategy": strategy,
        "steps": int(steps) if strategy == "direct" else 1,
        "intervals": None,
    }


def calibration_steps(task, strategy, steps):
    """Rows ahead that a forecaster's intervals are calibrated for: a direct model's
    `steps`; a recursive one's at least two seasons (or 12 rows), which `forecast` may be
    asked for later."""
    season = task.get("season")
    return steps if strategy == "direct" else max(steps, 2 * season if season else 12)


def held_out_forecasts(model, task, series, steps, *, start="val", end=None):
    """Forecasts of `steps` rows from every origin in the task's rows from the first target
    row of split `start` up to (not including) that of split `end` (None: the end of the
    file), and what happened: `(forecasts (n, steps), truth (n, steps), origins (n,))`.
    Truth past the end (or past `end`'s first row) is NaN, so that no score uses it."""
    table = task["rows"]
    features, target = table.columns(series["features"]), table.column(series["target"])
    first = task["split_rows"][start]
    last = len(target) if end is None else task["split_rows"][end]
    origins = np.arange(first, last)
    index = (
        series["features"].index(series["target"]) if series["strategy"] == "recursive" else None
    )
    forecasts = multi_step_forecasts(
        model,
        features[:last],
        origins,
        steps,
        window=series["window"],
        strategy=series["strategy"],
        target_index=index,
    )
    rows = origins[:, None] + np.arange(steps)
    truth = np.where(rows < last, target[np.minimum(rows, last - 1)], np.nan)
    return forecasts, truth, origins


def naive_forecasts(task, origins, steps, season=None):
    """Persistence (the last value before each origin) and, with a season, seasonal-naive
    forecasts (the value a whole number of seasons before each row, at least as many rows
    as it lies ahead) of `steps` rows from each origin: `{name: (n, steps)}`."""
    table = task["rows"]
    target = table.column(task["target"])
    origins = np.asarray(origins, int)
    forecasts = {"persistence": np.repeat(target[origins - 1, None], steps, axis=1)}
    if season:
        ahead = np.arange(1, steps + 1)
        rows = origins[:, None] + ahead - 1 - seasonal_lag(season, ahead)
        if (rows >= 0).all():
            forecasts[f"seasonal naive ({season})"] = target[rows]
    return forecasts


def mean_absolute_error(forecasts, truth):
    """The MAE over every (origin, step) whose truth is known, and per step."""
    errors = np.abs(np.asarray(forecasts) - np.asarray(truth))
    known = np.isfinite(errors)
    per_step = [
        float(np.mean(e[k])) if k.any() else float("nan") for e, k in zip(errors.T, known.T)
    ]
    return float(np.mean(errors[known])), per_step
