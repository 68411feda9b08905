"""Forecasts the yearly sunspot numbers with an Elman, a Jordan, a NARX and a TDNN ensemble.

One year ahead on the classic split (train 1700–1920, test 1921–1955 and
1956–1979), scored by the average relative variance ARV = MSE / variance of
the whole series 1700–1979 (Weigend, Huberman & Rumelhart 1990), beside
least-squares AR(12), AR(9) and persistence. Each family is the average of a
few members trained side by side with the settings the demo uses
(`keras_rnnkit.forecasting.sunspots.SETTINGS`, chosen on the training years
only); the models take and return sunspot numbers. `rnnkit demo` does the
same and also saves the models, metrics and plots; this script shows the few
lines it takes.

Run: `python examples/sunspots.py` (about 3 minutes on 2 CPU cores), or
`python examples/sunspots.py --epochs 2 --members 2` for a smoke run.
"""

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_rnnkit.data import sunspot_windows  # noqa: E402
from keras_rnnkit.forecasting import sunspots  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the demo's")
    parser.add_argument("--members", type=int, default=None, help="default: the demo's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    task = sunspot_windows(window=12)  # raw sunspot numbers; targets 1712-1920 train
    print(f"backend: {keras.backend.backend()}, {len(task['x_train'])} training windows")
    print(f"{'model':12s} {'ARV 1921-1955':>14s} {'ARV 1956-1979':>14s} {'seconds':>8s}")
    for name, scores in sunspots.baselines(task).items():
        print(f"{name:12s} {scores['1921-1955']:14.3f} {scores['1956-1979']:14.3f}")
    results = {}
    for family, settings in sunspots.SETTINGS.items():
        changes = {"epochs": args.epochs, "members": args.members}
        settings = dataclasses.replace(
            settings, **{k: v for k, v in changes.items() if v is not None}
        )
        start = time.perf_counter()
        model, _, _ = sunspots.train_forecaster(family, task, settings, seed=args.seed)
        seconds = time.perf_counter() - start
        results[family] = sunspots.period_scores(model, task)
        print(
            f"{family:12s} {results[family]['1921-1955']:14.3f} "
            f"{results[family]['1956-1979']:14.3f} {seconds:8.1f}"
        )
    return results


if __name__ == "__main__":
    main()
