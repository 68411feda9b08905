"""The forecasts a network must beat: the training mean, persistence and a linear AR(p).

Each works on the same windows as the networks, (N, T, D) inputs and (N, O)
targets, in raw units, so their scores sit beside the networks' in one table.
"""

import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.layers.autoregression import lagged_design


def _window_column(owner, x, feature_index):
    x = np.asarray(x, "float64")
    if x.ndim != 3:
        raise ValueError(f"{owner}: `x` must have shape (N, T, D). Received: x.shape={x.shape}")
    if not 0 <= feature_index < x.shape[-1]:
        raise ValueError(
            f"{owner}: `feature_index` must be in [0, {x.shape[-1]}). "
            f"Received: feature_index={feature_index!r}"
        )
    return x[:, :, feature_index]


def persistence(x, feature_index=0):
    """The last observed value as the forecast: `x[:, -1, feature_index]`, shape (N, 1).

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.forecasting import persistence
    >>> persistence(np.arange(6.0).reshape(2, 3, 1)).tolist()
    [[2.0], [5.0]]
    """
    return _window_column("persistence", x, feature_index)[:, -1:]


class LeastSquaresAR:
    r"""A linear autoregression of order p, fitted by least squares on training windows.

    $\hat y = c + \sum_{k=1}^{p} a_k\, x_{T+1-k}$, with $x$ the series in
    column `feature_index` of each window (the last p of its T steps).

    Args:
        order: p, the number of lags (at most the window length T).
        feature_index: The input feature that holds the series.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.forecasting import LeastSquaresAR
    >>> series = 0.5 ** np.arange(12.0)  # x_t = 0.5 x_{t-1}
    >>> x = np.stack([series[i : i + 3] for i in range(9)])[..., None]
    >>> model = LeastSquaresAR(order=1).fit(x, series[3:12, None])
    >>> np.round(model.coefficients.ravel(), 6).tolist()  # lag 1, then the intercept
    [0.5, 0.0]
    """

    def __init__(self, order, feature_index=0):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(
                f"LeastSquaresAR: `order` must be a positive integer. Received: order={order!r}"
            )
        self.order = order
        self.feature_index = feature_index
        self.coefficients = None

    def _design(self, x):
        series = _window_column("LeastSquaresAR", x, self.feature_index)
        if series.shape[1] < self.order:
            raise ValueError(
                f"LeastSquaresAR: `order` must be at most the window length {series.shape[1]}. "
                f"Received: order={self.order}"
            )
        return lagged_design(series, self.order)

    def fit(self, x, y):
        """Fits the coefficients on windows `x` (N, T, D) and targets `y` (N, O); returns self."""
        design = self._design(x)
        y = np.asarray(y, "float64").reshape(len(design), -1)
        self.coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
        return self

    def predict(self, x):
        """The forecasts for windows `x`, (N, O)."""
        if self.coefficients is None:
            raise ValueError("LeastSquaresAR.predict: call fit first")
        return self._design(x) @ self.coefficients

    @property
    def parameters(self):
        """The number of fitted coefficients (lags and intercept, per output)."""
        return (self.order + 1) * (1 if self.coefficients is None else self.coefficients.shape[1])


def series_feature(task):
    """The input feature that holds the target's own past, or None where there is none.

    Tasks that forecast a series say so with `target_feature_index` (a CSV
    forecast, the sunspots task); other regression tasks (the adding problem,
    NPZ files) have no such feature.
    """
    return task.get("target_feature_index")


def regression_baselines(task, split="test"):
    """`{name: MSE on split}` of the baselines that fit a regression task, in raw units.

    Always the training targets' mean; for a forecast of a series (see
    `series_feature`, or a task with `persistence_test`), persistence; with a
    season (a task with `seasonal_naive_test`), the seasonal-naive forecast; and
    for a forecast of a series, least-squares AR(p) of its own past with p the
    window length, fitted on the training windows (other input features unused).
    `split` is `"test"` (the default) or `"val"`.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.forecasting import regression_baselines
    >>> series = np.sin(np.arange(60.0))
    >>> x = np.stack([series[i : i + 4] for i in range(56)])[..., None]
    >>> task = {"x_train": x[:40], "y_train": series[4:44, None], "x_test": x[40:],
    ...         "y_test": series[44:, None], "target_feature_index": 0}
    >>> sorted(regression_baselines(task))
    ['AR(4)', 'persistence', 'training mean']
    """
    arguments.one_of("regression_baselines", "split", split, ("test", "val"))
    y_train, y_scored = np.asarray(task["y_train"]), np.asarray(task[f"y_{split}"])
    x_scored = task[f"x_{split}"]

    def mse(forecast):
        return float(np.mean((np.asarray(forecast, "float64") - y_scored) ** 2))

    scores = {"training mean": mse(y_train.mean(axis=0))}
    feature = series_feature(task)
    if f"persistence_{split}" in task:
        scores["persistence"] = mse(task[f"persistence_{split}"])
    elif feature is not None:
        scores["persistence"] = mse(persistence(x_scored, feature))
    if f"seasonal_naive_{split}" in task:
        scores[f"seasonal naive ({task['season']})"] = mse(task[f"seasonal_naive_{split}"])
    if feature is not None and y_train.ndim == 2:
        order = task["x_train"].shape[1]
        model = LeastSquaresAR(order, feature).fit(task["x_train"], y_train)
        scores[f"AR({order})"] = mse(model.predict(x_scored))
    return scores
