"""One-step-ahead forecasting of the sunspot series with each family, and its baseline.

Shared by `rnnkit demo` and `examples/sunspots.py`.
"""

import numpy as np

from keras_rnnkit.models import FAMILIES as FAMILIES
from keras_rnnkit.models import build_model

# The test periods of the classic benchmark, and their keys in `sunspot_windows`.
TEST_PERIODS = {"1921-1955": "test", "1956-1979": "test_late"}


def build_forecaster(family, window):
    """The demo's forecaster of `family`: (B, window, 1) -> (B, 1), compiled.

    Example:

    >>> from keras_rnnkit.forecasting import build_forecaster
    >>> # Jordan: kernel 1x8, recurrent 4x8, bias 8, output 8x4 and 4; Dense 4 + 1.
    >>> build_forecaster("jordan", 12).count_params()
    89
    """
    return build_model(family, (window, 1))


def ar_baseline(task, order=9):
    """Least-squares linear AR(order) on the same windows: `{period: ARV}`."""

    def design(x):
        lags = x[:, -order:, 0]
        return np.concatenate([lags, np.ones((len(lags), 1))], axis=1)

    coefficients, *_ = np.linalg.lstsq(design(task["x_train"]), task["y_train"], rcond=None)
    return {
        period: float(
            np.mean((design(task[f"x_{key}"]) @ coefficients - task[f"y_{key}"]) ** 2)
            / task["variance"]
        )
        for period, key in TEST_PERIODS.items()
    }


def arv(model, task):
    """`{period: average relative variance}` of `model` on the test periods."""
    return {
        period: float(model.evaluate(task[f"x_{key}"], task[f"y_{key}"], verbose=0))
        / task["variance"]
        for period, key in TEST_PERIODS.items()
    }
