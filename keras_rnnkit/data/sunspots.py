"""The yearly sunspot series (1700–2008) and the classic forecasting split.

See PROVENANCE.md beside this file for the source and licence.
"""

import csv
from importlib import resources

import numpy as np

# Weigend, Huberman & Rumelhart (1990): train on 1700–1920, test on 1921–1955
# and, harder, 1956–1979.
TRAIN_YEARS = (1700, 1920)
TEST_YEARS = (1921, 1955)
LATE_TEST_YEARS = (1956, 1979)
# The years whose variance is the ARV's denominator: the whole series the
# benchmark covers (Weigend et al. 1990).
ARV_YEARS = (1700, 1979)


def load_sunspots():
    """Returns `(years, activity)`, two float64 arrays of 309 values (1700–2008).

    Example:

    >>> from keras_rnnkit.data import load_sunspots
    >>> years, activity = load_sunspots()
    >>> int(years[0]), int(years[-1]), len(activity)
    (1700, 2008, 309)
    """
    text = resources.files(__package__).joinpath("sunspots_yearly.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    years = np.array([float(r["YEAR"]) for r in rows])
    activity = np.array([float(r["SUNACTIVITY"]) for r in rows])
    return years, activity


def sunspot_windows(window=12, validation_years=0):
    """One-step-ahead forecasting windows on the classic split, in sunspot numbers.

    Each input is the `window` years before a target year; the target is that
    year's activity. Values are raw (a model standardises them itself: see
    `keras_rnnkit.forecasting.in_raw_units`). The classic benchmark trains on
    every target year up to 1920 (`validation_years=0`; with the default
    12-year window the training targets are 1712–1920); `validation_years=V`
    holds the last V of them (1921 - V to 1920) out as a validation set.

    Args:
        window: Positive integer, years of history per input.
        validation_years: Integer in [0, 100), training years held out.

    Returns:
        A dict with `x_train` (N, window, 1), `y_train` (N, 1), `x_val`,
        `y_val` (V targets, empty when V = 0), `x_test`, `y_test` (targets in
        1921–1955), `x_test_late`, `y_test_late` (targets in 1956–1979), the
        target years of each split as `years_train`, `years_val`,
        `years_test`, `years_test_late`, and `variance`: the variance of the
        whole series 1700–1979, the denominator of the average relative
        variance ARV = MSE / variance as Weigend, Huberman & Rumelhart (1990)
        and the work compared with them define it.

    Example:

    >>> from keras_rnnkit.data import sunspot_windows
    >>> task = sunspot_windows(window=12)
    >>> task["x_train"].shape, task["x_test"].shape, int(task["years_train"][0])
    ((209, 12, 1), (35, 12, 1), 1712)
    >>> task = sunspot_windows(window=12, validation_years=20)
    >>> task["x_train"].shape, task["x_val"].shape
    ((189, 12, 1), (20, 12, 1))
    """
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise ValueError(
            f"sunspot_windows: `window` must be a positive integer. Received: window={window!r}"
        )
    if (
        isinstance(validation_years, bool)
        or not isinstance(validation_years, int)
        or not 0 <= validation_years < 100
    ):
        raise ValueError(
            "sunspot_windows: `validation_years` must be an integer in [0, 100). "
            f"Received: validation_years={validation_years!r}"
        )
    years, activity = load_sunspots()
    series = activity.astype("float32")
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], window)[..., None]
    y = series[window:, None]
    target_years = years[window:]
    splits = {
        "train": target_years <= TRAIN_YEARS[1] - validation_years,
        "val": (target_years > TRAIN_YEARS[1] - validation_years)
        & (target_years <= TRAIN_YEARS[1]),
        "test": (target_years >= TEST_YEARS[0]) & (target_years <= TEST_YEARS[1]),
        "test_late": (target_years >= LATE_TEST_YEARS[0]) & (target_years <= LATE_TEST_YEARS[1]),
    }
    task = {}
    for split, rows in splits.items():
        task[f"x_{split}"] = np.ascontiguousarray(x[rows])
        task[f"y_{split}"] = y[rows]
        task[f"years_{split}"] = target_years[rows].astype(int)
    whole = (years >= ARV_YEARS[0]) & (years <= ARV_YEARS[1])
    task["variance"] = float(np.var(activity[whole]))
    return task
