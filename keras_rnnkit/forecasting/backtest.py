r"""Rolling-origin evaluation of multi-step forecasts (a backtest), and what it is scored by.

From each origin row $o$ (the first row forecast) a forecaster forecasts the S rows
$o, \dots, o + S - 1$ from what was known before $o$. Over N origins and S steps,
with errors $e = y - \hat y$:

$$\mathrm{MAE} = \overline{|e|}, \qquad \mathrm{RMSE} = \sqrt{\overline{e^2}}, \qquad
\mathrm{MASE} = \mathrm{MAE} / \tfrac{1}{n - m} \textstyle\sum_{t=m+1}^{n} |y_t - y_{t-m}|$$

MASE (Hyndman & Koehler 2006) scales the MAE by the in-sample MAE of the one-step
(seasonal, m = the season; else m = 1) naive forecast on the rows before the first
origin: below 1, a forecaster beats that naive forecast's in-sample error.
"""

import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.forecasting.diagnostics import _matplotlib
from keras_rnnkit.forecasting.diagnostics import _output_path
from keras_rnnkit.forecasting.diagnostics import _save
from keras_rnnkit.forecasting.diagnostics import _time_axis


def rolling_origins(rows, steps, origins, *, stride=1, first=1, owner="rolling_origins"):
    """The last `origins` origin rows, `stride` apart, the last leaving exactly `steps` rows.

    Args:
        rows: R, the rows of the series.
        steps: S, the rows forecast from each origin.
        origins: N, the number of origins.
        stride: Rows between consecutive origins. Default: 1.
        first: The earliest row an origin may be (the rows before it train). Default: 1.
        owner: Who is named in errors.

    Returns:
        An int array (N,): R - S - stride * (N - 1), ..., R - S.

    Example:

    >>> rolling_origins(100, 12, 3, stride=12).tolist()
    [64, 76, 88]
    """
    for name, value in (("steps", steps), ("origins", origins), ("stride", stride)):
        arguments.positive_int(owner, name, value)
    found = rows - steps - stride * np.arange(origins)[::-1]
    if found[0] < first:
        raise ValueError(
            f"{owner}: {origins} origins {stride} row(s) apart, each forecasting {steps} rows, "
            f"need at least {first + steps + stride * (origins - 1)} rows (the first {first} "
            f"before any origin); the series has {rows}. Use fewer origins or steps"
        )
    return found


def naive_scale(target, season=None):
    """The in-sample MAE of the one-step (seasonal) naive forecast, MASE's denominator.

    Example:

    >>> naive_scale([1.0, 2.0, 4.0, 7.0])  # |2-1|, |4-2|, |7-4|
    2.0
    """
    target = np.asarray(target, "float64")
    lag = season or 1
    if len(target) <= lag:
        raise ValueError(
            f"naive_scale: the MASE scale needs more than {lag} rows. Received: {len(target)}"
        )
    return float(np.mean(np.abs(target[lag:] - target[:-lag])))


def scores(forecasts, truth, scale):
    """`{"MAE", "RMSE", "MASE"}` over every (origin, step) of `forecasts` and `truth` (N, S).

    Example:

    >>> scores([[1.0, 2.0]], [[2.0, 5.0]], scale=2.0)
    {'MAE': 2.0, 'RMSE': 2.23606797749979, 'MASE': 1.0}
    """
    errors = np.asarray(truth, "float64") - np.asarray(forecasts, "float64")
    mae = float(np.mean(np.abs(errors)))
    return {"MAE": mae, "RMSE": float(np.sqrt(np.mean(errors**2))), "MASE": mae / scale}


def autoregressive_forecasts(target, origins, steps, order, *, refit=False):
    r"""Recursive forecasts of a least-squares AR(p) with intercept, from each origin.

    $\hat y_t = c + \sum_{k=1}^{p} a_k y_{t-k}$, fitted on the rows before the first
    origin (with `refit`, before each origin), fed its own forecasts past the origin.

    Returns:
        An array (N, S).

    Example:

    >>> y = 0.5 ** np.arange(20.0)
    >>> np.round(autoregressive_forecasts(y, [10], 2, order=1), 6).tolist()
    [[0.000977, 0.000488]]
    """
    target = np.asarray(target, "float64")
    origins = np.asarray(origins, int)

    def fit(end):
        lags = np.stack([target[order - k : end - k] for k in range(1, order + 1)], axis=1)
        design = np.concatenate([lags, np.ones((len(lags), 1))], axis=1)
        solution, *_ = np.linalg.lstsq(design, target[order:end], rcond=None)
        return solution

    solution = fit(origins[0])
    forecasts = np.empty((len(origins), steps))
    for i, origin in enumerate(origins):
        if refit:
            solution = fit(origin)
        recent = list(target[origin - order : origin])
        for h in range(steps):
            value = float(np.dot(solution[:-1], recent[::-1][:order]) + solution[-1])
            forecasts[i, h] = value
            recent = recent[1:] + [value]
    return forecasts


def plot_backtest(
    path, times, target, origins, forecasts, *, target_name="target", overwrite=False
):
    """Writes a PNG of the series and each forecaster's forecasts from every origin.

    Args:
        path: The PNG file to write (atomically; an existing one only with `overwrite`).
        times: The rows' time labels (numbers or strings), (R,).
        target: The series, (R,).
        origins: The origin rows, (N,).
        forecasts: `{name: (N, S) forecasts}`.
        target_name: The series' name, for the axis.
        overwrite: Replace an existing file. Default: False.
    """
    owner = "plot_backtest"
    Figure, _ = _matplotlib(owner)
    path = _output_path(owner, path, overwrite)
    x, labels = _time_axis(owner, times)
    origins = np.asarray(origins, int)
    steps = next(iter(forecasts.values())).shape[1]
    start = max(0, origins[0] - 3 * steps)
    end = min(len(target), origins[-1] + steps)
    figure = Figure(figsize=(11, 4.5), constrained_layout=True)
    axis = figure.add_subplot()
    axis.plot(x[start:end], np.asarray(target)[start:end], "k-", linewidth=2, label=target_name)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for (name, values), colour in zip(forecasts.items(), colours * 3):
        for i, origin in enumerate(origins):
            span = np.arange(origin, min(origin + steps, len(x)))
            axis.plot(
                x[span],
                values[i, : len(span)],
                color=colour,
                alpha=0.6,
                linewidth=1,
                label=name if i == 0 else None,
            )
    axis.axvline(x[origins[0]], color="grey", linestyle=":")
    if labels is not None:
        ticks = np.linspace(start, end - 1, 8).astype(int)
        axis.set_xticks(x[ticks], [labels[t] for t in ticks], rotation=30)
    axis.set(
        ylabel=target_name,
        title=f"Backtest: {steps}-step forecasts from {len(origins)} "
        "origins (dotted: the first origin)",
    )
    axis.legend(fontsize="small")
    _save(figure, path)
