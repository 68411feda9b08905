"""`rnnkit train` with its defaults on real series, beside an AIC-chosen ARIMA: the table of
docs/forecasting.md ("Measured on real series").

`python benchmarks/real_series.py --out real-series` writes each series as the CSV a user would
have (from `statsmodels.datasets`, which ships them: no download), runs `rnnkit train` for each
family on it (its output folders land under `--out`), fits the ARIMA of the lowest AIC on the
rows before the test windows, and prints one row per series with the one-step test MSEs.

Needs statsmodels and pandas (`pip install statsmodels`), which keras_rnnkit itself does not.
The runs take about 30 minutes on 2 cores.
"""

import argparse
import itertools
import json
import pathlib
import subprocess
import sys
import warnings

import numpy as np

FAMILIES = ("elman", "jordan", "tdnn")
TEST_FRACTION = 0.2  # keras_rnnkit.data.splits.TEST_FRACTION


def _macro():
    import statsmodels.api as sm

    data = sm.datasets.macrodata.load_pandas().data
    labels = data.year.astype(int).astype(str) + "Q" + data.quarter.astype(int).astype(str)
    frame = data.drop(columns=["year", "quarter"])
    frame.insert(0, "quarter", labels)
    return frame


def _co2():
    import statsmodels.api as sm

    frame = sm.datasets.co2.load_pandas().data
    frame.index = frame.index.strftime("%Y-%m-%d")
    return frame.rename_axis("date").reset_index()


def _nile():
    import statsmodels.api as sm

    frame = sm.datasets.nile.load_pandas().data
    return frame.assign(year=frame.year.astype(int))


def _sunspots():
    import statsmodels.api as sm

    frame = sm.datasets.sunspots.load_pandas().data
    frame = frame.rename(columns={"YEAR": "year", "SUNACTIVITY": "sunspots"})
    return frame.assign(year=frame.year.astype(int))


# name: (the file's frame, its target, its window (`default_window` of its season), extra CLI
# options, ARIMA's largest p).
SERIES = {
    "gdp": (lambda: _macro()[["quarter", "realgdp"]], "realgdp", 12, [], 3),
    "unemployment": (_macro, "unemp", 12, [], 3),
    "nile": (_nile, "volume", 12, [], 3),
    "sunspots": (_sunspots, "sunspots", 12, [], 9),
    "co2": (_co2, "co2", 53, ["--missing", "ffill"], 3),
}


def arima_mse(values, test, largest_p):
    """One-step MSE on the last `test` values of the ARIMA with the lowest AIC, fitted on the
    values before them: p <= largest_p, q <= 2, d in {0, 1}, a constant (d = 0) or a drift."""
    from statsmodels.tsa.arima.model import ARIMA

    warnings.filterwarnings("ignore")
    best = None
    for d, p, q in itertools.product((0, 1), range(largest_p + 1), range(3)):
        try:
            fitted = ARIMA(values[:-test], order=(p, d, q), trend="c" if d == 0 else "t").fit()
        except Exception:  # noqa: BLE001 - a non-converging order is skipped
            continue
        if best is None or fitted.aic < best[0]:
            best = (fitted.aic, (p, d, q), fitted)
    _, order, fitted = best
    forecasts = fitted.apply(values).predict(start=len(values) - test, end=len(values) - 1)
    return float(np.mean((forecasts - values[-test:]) ** 2)), order


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a new folder for the files and the runs")
    parser.add_argument("--series", nargs="*", default=list(SERIES), choices=list(SERIES))
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    rows = {}
    for name in args.series:
        frame_of, target, window, options, largest_p = SERIES[name]
        frame = frame_of()
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False)
        values = frame[target].ffill().to_numpy(float)
        test = int(round((len(values) - window) * TEST_FRACTION))
        row = {"rows": len(values), "test windows": test}
        for family in FAMILIES:
            run = out / f"{name}_{family}"
            command = [sys.executable, "-m", "keras_rnnkit", "train", "--model", family]
            command += ["--data", str(path), "--target", target, *options, "--quiet"]
            subprocess.run([*command, "--out", str(run)], check=True)
            row[family] = json.loads((run / "metrics.json").read_text())["test"]["mse"]
        row["ARIMA"], row["ARIMA order"] = arima_mse(values, test, largest_p)
        row["persistence"] = float(np.mean((values[-test - 1 : -1] - values[-test:]) ** 2))
        row["best / ARIMA"] = min(row[family] for family in FAMILIES) / row["ARIMA"]
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
