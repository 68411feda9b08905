"""Trains an Elman, a Jordan and a TDNN model on the yearly sunspot series.

One-step-ahead forecasting on the classic split (train 1700–1920, test
1921–1955), scored by the average relative variance ARV = MSE / variance; a
linear autoregressive model of order 9, fitted by least squares, is the
baseline printed beside them.

Run: `python examples/sunspots.py` (about a minute on 2 CPU cores), or
`python examples/sunspots.py --epochs 2` for a smoke run.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_rnnkit  # noqa: E402
from keras_rnnkit.data import sunspot_windows  # noqa: E402


def build(family, window):
    """A small forecaster of the given family: (B, window, 1) -> (B, 1)."""
    inputs = keras.Input((window, 1))
    if family == "elman":
        features = keras_rnnkit.ElmanRNN(8)(inputs)
    elif family == "jordan":
        features = keras_rnnkit.JordanRNN(8, output_units=4, context_decay=0.5)(inputs)
    else:
        hidden = keras_rnnkit.TDNN(16, context=(-2, -1, 0), padding="valid", activation="tanh")(
            inputs
        )
        features = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(1)(features)
    model = keras.Model(inputs, outputs, name=family)
    # Optimizer-level clipping: a cheap guard against the occasional exploding
    # gradient of recurrent nets.
    model.compile(keras.optimizers.Adam(0.01, clipnorm=1.0), "mse")
    return model


def ar_baseline(task, order=9):
    """ARV of a least-squares linear AR(order) model on the same windows."""

    def design(x):
        lags = x[:, -order:, 0]
        return np.concatenate([lags, np.ones((len(lags), 1))], axis=1)

    coefficients, *_ = np.linalg.lstsq(design(task["x_train"]), task["y_train"], rcond=None)
    error = design(task["x_test"]) @ coefficients - task["y_test"]
    return float(np.mean(error**2) / task["variance"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--window", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    task = sunspot_windows(window=args.window)
    print(
        f"backend: {keras.backend.backend()}, train {len(task['x_train'])} windows, "
        f"test {len(task['x_test'])} (1921-1955)"
    )
    print(f"{'model':8s} {'test ARV':>9s} {'seconds':>8s}")
    print(f"{'AR(9)':8s} {ar_baseline(task):9.3f} {'-':>8s}")
    results = {}
    for family in ("elman", "jordan", "tdnn"):
        model = build(family, args.window)
        start = time.perf_counter()
        model.fit(task["x_train"], task["y_train"], epochs=args.epochs, batch_size=32, verbose=0)
        seconds = time.perf_counter() - start
        mse = model.evaluate(task["x_test"], task["y_test"], verbose=0)
        results[family] = mse / task["variance"]
        print(f"{family:8s} {results[family]:9.3f} {seconds:8.1f}")
    return results


if __name__ == "__main__":
    main()
