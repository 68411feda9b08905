"""Trains an Elman, a Jordan and a TDNN model on the yearly sunspot series.

One-step-ahead forecasting on the classic split (train 1700–1920, test
1921–1955 and 1956–1979), scored by the average relative variance
ARV = MSE / variance; a linear autoregressive model of order 9, fitted by
least squares, is the baseline printed beside them. `rnnkit demo` does the
same and also saves the models, metrics and plots; this script shows the few
lines it takes.

Run: `python examples/sunspots.py` (about a minute on 2 CPU cores), or
`python examples/sunspots.py --epochs 2` for a smoke run.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_rnnkit.data import sunspot_windows  # noqa: E402
from keras_rnnkit.forecasting import FAMILIES  # noqa: E402
from keras_rnnkit.forecasting import ar_baseline  # noqa: E402
from keras_rnnkit.forecasting import arv  # noqa: E402
from keras_rnnkit.forecasting import build_forecaster  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--window", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    task = sunspot_windows(window=args.window)
    print(f"backend: {keras.backend.backend()}, {len(task['x_train'])} training windows")
    print(f"{'model':8s} {'ARV 1921-1955':>14s} {'ARV 1956-1979':>14s} {'seconds':>8s}")
    baseline = ar_baseline(task)
    print(f"{'AR(9)':8s} {baseline['1921-1955']:14.3f} {baseline['1956-1979']:14.3f}")
    results = {}
    for family in FAMILIES:
        model = build_forecaster(family, args.window)
        start = time.perf_counter()
        model.fit(task["x_train"], task["y_train"], epochs=args.epochs, batch_size=32, verbose=0)
        seconds = time.perf_counter() - start
        results[family] = arv(model, task)
        print(
            f"{family:8s} {results[family]['1921-1955']:14.3f} "
            f"{results[family]['1956-1979']:14.3f} {seconds:8.1f}"
        )
    return results


if __name__ == "__main__":
    main()
