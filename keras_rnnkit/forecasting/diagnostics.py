r"""Residual diagnostics of a forecaster, as MATLAB's `ploterrcorr` and `plotresponse` show them.

Two statistics of the residuals $e_1, \dots, e_n$ (forecast minus target, or the
reverse: the sign does not matter here), in NumPy alone:

- `residual_autocorrelation`: the sample autocorrelation $r_k$ at lags
  $k = 1, \dots, K$ and the approximate 95% bounds $\pm 1.96/\sqrt{n}$ that
  $r_k$ of white noise stays inside;
- `ljung_box`: the Ljung-Box portmanteau test that $r_1, \dots, r_h$ are all 0.

And two figures, written as PNG files: `plot_residuals` (the autocorrelation and
the histogram) and `plot_response` (target and one-step forecasts over time,
coloured by split, and their errors). matplotlib is imported only inside these
two; without it they raise `ImportError`, and the statistics still work. A
figure is written to a staging file beside `path` and renamed into place, so
`path` never holds a partial PNG; an existing `path` is replaced only with
`overwrite=True`.
"""

import dataclasses
import datetime
import math
import numbers
import os
import pathlib

import numpy as np

from keras_rnnkit import _atomic

# The default number of lags, as MATLAB's `autocorr` and `ploterrcorr` (lags -20..20).
DEFAULT_MAX_LAG = 20
# The two-sided 95% quantile of the standard normal: the bounds are +-Z_95 / sqrt(n).
Z_95 = 1.96
SPLITS = ("train", "val", "test")
_SPLIT_COLORS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}


@dataclasses.dataclass(frozen=True, eq=False)
class ResidualAutocorrelation:
    """The sample autocorrelation of residuals at lags 1..K, from `residual_autocorrelation`.

    Attributes:
        lags: The lags 1, ..., K, an int array of shape (K,).
        values: r_1, ..., r_K, a float64 array of shape (K,).
        bound: 1.96 / sqrt(n): the r_k of white noise lie in [-bound, bound]
            with probability about 0.95 each.
        n: The number of residuals.
        outside: The lags k with |r_k| > bound, an int array (possibly empty).
    """

    lags: np.ndarray
    values: np.ndarray
    bound: float
    n: int
    outside: np.ndarray


@dataclasses.dataclass(frozen=True)
class LjungBox:
    """The Ljung-Box test of residuals, from `ljung_box`.

    Attributes:
        statistic: Q = n (n + 2) sum_{k=1}^{h} r_k^2 / (n - k).
        p_value: P(X > Q) for X chi-square with h degrees of freedom: small
            values say the residuals are autocorrelated.
        lags: h, the number of lags tested.
        n: The number of residuals.
    """

    statistic: float
    p_value: float
    lags: int
    n: int


def _error(owner, message):
    return ValueError(f"{owner}: {message}")


def _residuals(owner, residuals):
    """`residuals` as a 1-D float64 array of n >= 3 finite, not all equal values, or raises."""
    array = np.asarray(residuals)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise _error(
            owner,
            "`residuals` must be an array of real numbers. "
            f"Received: residuals with dtype {array.dtype}",
        )
    if not (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)):
        raise _error(
            owner,
            f"`residuals` must have shape (n,) or (n, 1). Received: residuals.shape={array.shape}",
        )
    array = array.astype("float64").ravel()
    if array.size < 3:
        raise _error(
            owner,
            f"`residuals` must hold at least 3 values. Received: residuals.shape={array.shape}",
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise _error(
            owner,
            "`residuals` must be finite. Received: residuals with "
            f"{array[bad[0]]} at index {bad[0]} ({bad.size} non-finite in all)",
        )
    if np.all(array == array[0]):
        # r_k = 0 / 0: a constant series has no autocorrelation to estimate.
        raise _error(
            owner,
            f"`residuals` must not all be equal. Received: residuals all equal to {array[0]}",
        )
    return array


def _lag_count(owner, name, value, n):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value < n:
        raise _error(
            owner,
            f"`{name}` must be an integer in [1, n - 1] = [1, {n - 1}], n being the number "
            f"of residuals. Received: {name}={value!r}",
        )
    return int(value)


def _autocorrelation(owner, e, max_lag):
    """The `ResidualAutocorrelation` of `e`, residuals already checked by `_residuals`."""
    n = e.size
    if max_lag is None:
        max_lag = min(DEFAULT_MAX_LAG, n - 1)
    else:
        max_lag = _lag_count(owner, "max_lag", max_lag, n)
    centred = e - e.mean()
    denominator = centred @ centred
    values = (
        np.array([centred[k:] @ centred[:-k] for k in range(1, max_lag + 1)], "float64")
        / denominator
    )
    lags = np.arange(1, max_lag + 1)
    bound = Z_95 / math.sqrt(n)
    outside = lags[np.abs(values) > bound]
    for array in (lags, values, outside):
        array.setflags(write=False)
    return ResidualAutocorrelation(lags, values, bound, n, outside)


def residual_autocorrelation(residuals, max_lag=None):
    r"""The sample autocorrelation of residuals at lags 1..K, with its 95% white-noise bounds.

    $$r_k = \frac{\sum_{t=k+1}^{n} (e_t - \bar e)(e_{t-k} - \bar e)}
                 {\sum_{t=1}^{n} (e_t - \bar e)^2}, \qquad k = 1, \dots, K,$$

    the estimate of MATLAB's `autocorr` and `ploterrcorr` and of statsmodels'
    `acf` (its default `adjusted=False`). For white noise each $r_k$ is about
    normal with mean 0 and variance $1/n$, so about 5% of the lags fall outside
    $\pm 1.96/\sqrt{n}$; many more outside say the forecaster left structure in
    its errors. Lag 0 ($r_0 = 1$) and the negative lags ($r_{-k} = r_k$) that
    MATLAB's plot also shows are left out.

    Args:
        residuals: The residuals $e_1, \dots, e_n$ in time order, shape (n,) or
            (n, 1); finite, n >= 3, not all equal.
        max_lag: K, an integer in [1, n - 1]. Default: None, which means
            min(20, n - 1), as MATLAB.

    Returns:
        A `ResidualAutocorrelation`: `lags`, `values`, `bound`, `n` and `outside`.

    Raises:
        ValueError: If `residuals` or `max_lag` is not as above.

    Example:

    >>> from keras_rnnkit.forecasting.diagnostics import residual_autocorrelation
    >>> acf = residual_autocorrelation([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], max_lag=2)
    >>> acf.values.round(4).tolist()  # -5/6 and 4/6
    [-0.8333, 0.6667]
    >>> round(acf.bound, 4), acf.outside.tolist()  # 1.96 / sqrt(6)
    (0.8002, [1])
    """
    owner = "residual_autocorrelation"
    return _autocorrelation(owner, _residuals(owner, residuals), max_lag)


def _chi2_survival(x, dof):
    """P(X > x) for X chi-square with `dof` degrees of freedom.

    The regularized upper incomplete gamma function Q(a, z), a = dof / 2 and
    z = x / 2: below z = a + 1 by the series of P = 1 - Q, above it by the
    continued fraction of Q (Numerical Recipes, 6.2), which keeps small
    p-values accurate to a relative 1e-14 or so. scipy is not a dependency of
    the package; the tests compare this with `scipy.stats.chi2.sf`.
    """
    a, z = dof / 2.0, x / 2.0
    if z <= 0.0:
        return 1.0
    log_scale = a * math.log(z) - z - math.lgamma(a)  # log(z^a e^-z / Gamma(a))
    tiny = 1e-300
    epsilon = 1e-16
    # Both expansions converge within a few sqrt(a) + 100 terms; the cap only
    # guards against an endless loop.
    iterations = 10_000 + int(100 * math.sqrt(a))
    if z < a + 1.0:
        term = total = 1.0 / a
        denominator = a
        for _ in range(iterations):
            denominator += 1.0
            term *= z / denominator
            total += term
            if abs(term) < abs(total) * epsilon:
                return max(0.0, 1.0 - total * math.exp(log_scale))
    else:
        # The modified Lentz evaluation of the continued fraction for Q(a, z).
        b = z + 1.0 - a
        c = 1.0 / tiny
        d = 1.0 / b
        fraction = d
        for i in range(1, iterations):
            numerator = -i * (i - a)
            b += 2.0
            d = numerator * d + b
            d = tiny if abs(d) < tiny else d
            c = b + numerator / c
            c = tiny if abs(c) < tiny else c
            d = 1.0 / d
            step = d * c
            fraction *= step
            if abs(step - 1.0) < epsilon:
                return math.exp(log_scale) * fraction
    raise ArithmeticError(f"the chi-square tail P(X > {x}) with {dof} degrees did not converge")


def ljung_box(residuals, lags):
    r"""The Ljung-Box test that residuals are not autocorrelated at lags 1..h.

    $$Q = n (n + 2) \sum_{k=1}^{h} \frac{r_k^2}{n - k},$$

    with $r_k$ as in `residual_autocorrelation`, and its p-value
    $P(\chi^2_h > Q)$ (MATLAB's `lbqtest`, statsmodels' `acorr_ljungbox` with
    `model_df=0`). A small p-value (below 0.05, say) rejects "white noise".

    Args:
        residuals: The residuals in time order, shape (n,) or (n, 1); finite,
            n >= 3, not all equal.
        lags: h, an integer in [1, n - 1]: the number of lags tested, and the
            degrees of freedom of the chi-square.

    Returns:
        A `LjungBox`: `statistic`, `p_value`, `lags` and `n`.

    Raises:
        ValueError: If `residuals` or `lags` is not as above.

    Example:

    >>> import math
    >>> from keras_rnnkit.forecasting.diagnostics import ljung_box
    >>> test = ljung_box([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], lags=2)
    >>> test.statistic  # 6 * 8 * ((5/6)^2 / 5 + (4/6)^2 / 4)
    12.0
    >>> math.isclose(test.p_value, math.exp(-6.0))  # chi-square, 2 degrees: exp(-Q / 2)
    True
    """
    owner = "ljung_box"
    e = _residuals(owner, residuals)
    n = e.size
    lags = _lag_count(owner, "lags", lags, n)
    r = _autocorrelation(owner, e, lags).values
    statistic = float(n * (n + 2) * np.sum(r**2 / (n - np.arange(1, lags + 1))))
    return LjungBox(statistic, _chi2_survival(statistic, lags), lags, n)


# --- Figures ---------------------------------------------------------------------------


def _matplotlib(owner):
    """`(Figure, MaxNLocator)`; a Figure of its own, not pyplot, so no GUI and no global state."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise ImportError(
            f"{owner} draws with matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'keras-rnnkit[plot]')"
        ) from error
    return Figure, MaxNLocator


def _output_path(owner, path, overwrite):
    """`path` as a Path, once it may be written: refuses an existing one without `overwrite`."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise _error(owner, f"`path` must be a file path (str or os.PathLike). Received: {path=!r}")
    if not isinstance(overwrite, bool):
        raise _error(owner, f"`overwrite` must be True or False. Received: {overwrite=!r}")
    path = pathlib.Path(path)
    _atomic.recover(path)  # a file a killed write left aside counts as existing
    if path.is_dir():
        # Never replace a folder by a picture, even with overwrite=True.
        raise IsADirectoryError(
            f"{owner}: `path` must be a file path, not a folder. Received: path={str(path)!r}"
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{owner}: `path` exists; choose another, or pass overwrite=True to replace it. "
            f"Received: path={str(path)!r}"
        )
    return path


def _save(figure, path):
    """Writes `figure` as a PNG: into a staging file beside `path`, then renamed into place."""
    with _atomic.replacing(path) as staging:
        figure.savefig(staging, format="png", dpi=100)


def _optional_text(owner, name, value):
    if value is not None and not isinstance(value, str):
        raise _error(owner, f"`{name}` must be None or a string. Received: {name}={value!r}")
    return value


def plot_residuals(path, residuals, *, title=None, max_lag=None, overwrite=False):
    r"""Writes a PNG of the residuals' autocorrelation and histogram; returns the former.

    The upper panel shows $r_1, \dots, r_K$ as bars (see
    `residual_autocorrelation`), the lags outside the dashed bounds
    $\pm 1.96/\sqrt{n}$ in red, as MATLAB's `ploterrcorr`; the lower panel the
    histogram of the residuals (as a density) with the normal density of their
    mean and standard deviation over it.

    Args:
        path: The PNG file to write (a `.png` name is usual; PNG is written
            whatever the suffix). Missing parent folders are created.
        residuals: The residuals in time order, shape (n,) or (n, 1); finite,
            n >= 3, not all equal.
        title: The figure's title. Default: None, which means "Residuals".
        max_lag: K, as in `residual_autocorrelation`. Default: min(20, n - 1).
        overwrite: Whether an existing file at `path` may be replaced.
            Default: False.

    Returns:
        The `ResidualAutocorrelation` drawn.

    Raises:
        ValueError: If an argument is not as above.
        FileExistsError: If `path` exists and `overwrite` is False.
        IsADirectoryError: If `path` is a folder.
        ImportError: If matplotlib is not installed.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_rnnkit.forecasting.diagnostics import plot_residuals
    >>> path = os.path.join(tempfile.mkdtemp(), "residuals.png")
    >>> noise = np.random.default_rng(0).normal(size=200)
    >>> acf = plot_residuals(path, noise, max_lag=10)
    >>> acf.lags.tolist() == list(range(1, 11)), os.path.getsize(path) > 0
    (True, True)
    """
    owner = "plot_residuals"
    e = _residuals(owner, residuals)
    acf = _autocorrelation(owner, e, max_lag)
    title = _optional_text(owner, "title", title)
    path = _output_path(owner, path, overwrite)
    figure_class, integer_ticks = _matplotlib(owner)

    figure = figure_class(figsize=(8, 6.5), layout="constrained")
    figure.suptitle("Residuals" if title is None else title)
    correlation, histogram = figure.subplots(2, 1)

    colors = np.where(np.abs(acf.values) > acf.bound, "tab:red", "tab:blue")
    correlation.bar(acf.lags, acf.values, width=0.6, color=colors)
    correlation.axhline(0.0, color="black", linewidth=0.8)
    for bound in (acf.bound, -acf.bound):
        correlation.axhline(bound, color="tab:red", linestyle="--", linewidth=1.0)
    correlation.set_xlim(0.3, acf.lags[-1] + 0.7)
    correlation.xaxis.set_major_locator(integer_ticks(integer=True))
    correlation.set_xlabel("lag")
    correlation.set_ylabel("autocorrelation")
    correlation.set_title(
        f"Autocorrelation, n = {acf.n}: {acf.outside.size} of {acf.lags.size} lags "
        f"outside ±1.96/√n = ±{acf.bound:.3g}"
    )

    mean, deviation = e.mean(), e.std(ddof=1)
    histogram.hist(e, bins="auto", density=True, color="tab:blue", alpha=0.6, label="residuals")
    grid = np.linspace(min(e.min(), mean - 3 * deviation), max(e.max(), mean + 3 * deviation), 200)
    density = np.exp(-0.5 * ((grid - mean) / deviation) ** 2) / (deviation * math.sqrt(2 * math.pi))
    histogram.plot(
        grid, density, color="black", label=f"normal, μ = {mean:.3g}, σ = {deviation:.3g}"
    )
    histogram.set_xlabel("residual")
    histogram.set_ylabel("density")
    histogram.set_title("Histogram")
    histogram.legend(loc="upper right")

    _save(figure, path)
    return acf


def _time_axis(owner, times):
    """`(x, labels)`: numbers plotted as themselves (labels None), or labels plotted by position."""
    if isinstance(times, str) or not hasattr(times, "__len__"):
        raise _error(
            owner, f"`times` must be a sequence of numbers or of labels. Received: {times=!r}"
        )
    array = np.asarray(times)
    if array.ndim != 1 or array.size == 0:
        raise _error(
            owner, f"`times` must be a non-empty 1-D sequence. Received: times.shape={array.shape}"
        )
    if array.dtype != bool and array.dtype.kind in "iuf":
        x = array.astype("float64")
        bad = np.flatnonzero(~np.isfinite(x[1:]) | ~(np.diff(x) > 0))
        if not np.isfinite(x[0]) or bad.size:
            index = 0 if not np.isfinite(x[0]) else bad[0] + 1
            raise _error(
                owner,
                "`times`, when numbers, must be finite and increasing. "
                f"Received: times[{index}]={array[index]!r}"
                + (f" after times[{index - 1}]={array[index - 1]!r}" if index else ""),
            )
        return x, None
    if array.dtype.kind in "UM" or all(
        isinstance(t, str | datetime.date | np.datetime64) for t in array.tolist()
    ):
        return np.arange(array.size, dtype="float64"), [str(t) for t in array]
    raise _error(
        owner,
        "`times` must hold numbers, or labels (strings or dates). "
        f"Received: times with dtype {array.dtype}",
    )


def _series(owner, name, values, length):
    """`values` as a 1-D float64 array of `length`; NaN (no value) allowed, infinities not."""
    array = np.asarray(values)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise _error(
            owner,
            f"`{name}` must be an array of real numbers. Received: {name} with dtype {array.dtype}",
        )
    if not (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)):
        raise _error(
            owner, f"`{name}` must have shape (N,) or (N, 1). Received: {name}.shape={array.shape}"
        )
    array = array.astype("float64").ravel()
    if array.size != length:
        raise _error(
            owner,
            f"`{name}` must have one value per time step, N = {length} (len(times)). "
            f"Received: {name}.shape={np.shape(values)}",
        )
    if np.any(np.isinf(array)):
        raise _error(
            owner,
            f"`{name}` must not hold infinities (NaN marks a step without a value). "
            f"Received: {name} with an infinity at index {np.flatnonzero(np.isinf(array))[0]}",
        )
    return array


def _splits(owner, splits, length):
    if isinstance(splits, str) or not hasattr(splits, "__len__"):
        raise _error(
            owner,
            f"`splits` must be a sequence of one label per time step. Received: {splits=!r}",
        )
    labels = list(splits)
    if len(labels) != length:
        raise _error(
            owner,
            f"`splits` must have one label per time step, N = {length} (len(times)). "
            f"Received: len(splits)={len(labels)}",
        )
    unknown = next((label for label in labels if label not in SPLITS), None)
    if unknown is not None:
        raise _error(
            owner,
            f"`splits` must hold only 'train', 'val' and 'test'. Received: a label {unknown!r}",
        )
    return np.array(labels, dtype=object)


def plot_response(
    path, times, target, forecasts, splits, *, target_name="target", title=None, overwrite=False
):
    """Writes a PNG of the target and its one-step forecasts over time, and their errors.

    As MATLAB's `plotresponse`: the upper panel shows the target (black) and the
    forecasts, coloured by split (train blue, val orange, test green), in the
    units of the values given (pass raw, unscaled values); the lower panel the
    errors, forecast minus target, as vertical lines in the same colours.

    Args:
        path: The PNG file to write. Missing parent folders are created.
        times: N time stamps: increasing numbers (plotted as they are), or
            labels such as dates, strings or `datetime.date`s (plotted by
            position, a few of them written under the axis).
        target: The N observed values, shape (N,) or (N, 1).
        forecasts: The N one-step forecasts, shape (N,) or (N, 1). NaN marks a
            step without a forecast (the first window, say); so may NaN in
            `target`. Infinities are refused.
        splits: N labels, each "train", "val" or "test": the split whose
            forecast each step is.
        target_name: The name of the target and its units, for the y axis.
            Default: "target".
        title: The figure's title. Default: None, which means "Response of
            `target_name`".
        overwrite: Whether an existing file at `path` may be replaced.
            Default: False.

    Raises:
        ValueError: If an argument is not as above.
        FileExistsError: If `path` exists and `overwrite` is False.
        IsADirectoryError: If `path` is a folder.
        ImportError: If matplotlib is not installed.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_rnnkit.forecasting.diagnostics import plot_response
    >>> path = os.path.join(tempfile.mkdtemp(), "response.png")
    >>> years = np.arange(1990, 2000)
    >>> target = np.sin(years / 2.0)
    >>> forecasts = np.r_[np.nan, target[:-1]]  # persistence: none for the first year
    >>> plot_response(path, years, target, forecasts, ["train"] * 6 + ["val"] * 2 + ["test"] * 2)
    >>> os.path.getsize(path) > 0
    True
    """
    owner = "plot_response"
    x, labels = _time_axis(owner, times)
    target = _series(owner, "target", target, x.size)
    forecasts = _series(owner, "forecasts", forecasts, x.size)
    splits = _splits(owner, splits, x.size)
    if not isinstance(target_name, str) or not target_name:
        raise _error(owner, f"`target_name` must be a non-empty string. Received: {target_name=!r}")
    title = _optional_text(owner, "title", title)
    path = _output_path(owner, path, overwrite)
    figure_class, _ = _matplotlib(owner)

    figure = figure_class(figsize=(10, 6.5), layout="constrained")
    figure.suptitle(f"Response of {target_name}" if title is None else title)
    response, errors = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (2, 1)})
    marker = "." if x.size <= 200 else None
    response.plot(x, target, color="black", linewidth=1.2, label=target_name)
    error = forecasts - target
    for split in SPLITS:
        where = splits == split
        if not where.any():
            continue
        color = _SPLIT_COLORS[split]
        # NaN outside the split breaks the line there.
        response.plot(
            x,
            np.where(where, forecasts, np.nan),
            color=color,
            marker=marker,
            linewidth=1.0,
            label=f"forecast ({split})",
        )
        shown = where & np.isfinite(error)
        errors.vlines(x[shown], 0.0, error[shown], color=color, linewidth=1.0, label=split)
    errors.axhline(0.0, color="black", linewidth=0.8)
    response.set_ylabel(target_name)
    response.legend(loc="best")
    errors.set_ylabel("error (forecast − target)")
    errors.set_xlabel("time")
    if labels is not None:
        positions = np.unique(np.linspace(0, x.size - 1, min(x.size, 8)).round().astype(int))
        errors.set_xticks(positions)
        errors.set_xticklabels([labels[i] for i in positions], rotation=30, ha="right")

    _save(figure, path)
