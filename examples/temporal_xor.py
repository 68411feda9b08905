"""Elman's temporal XOR: the next bit is predictable only at every third step.

Elman (1990, "Finding structure in time") fed a network one bit at a time
from a stream of triples (a, b, a XOR b), a and b random, and trained it to
predict the next bit. Only the XOR bit can be predicted, so a network that
has learnt the rule errs on the two random bits of each triple (squared error
0.25 when it predicts 0.5) and on the XOR bit hardly at all: his Fig. 3 shows
the error over 12 consecutive inputs dipping at every third one. His network
had 1 input, 2 hidden units with their 2 context units, and 1 output.

This script trains an `ElmanRNN` (2 units by default, as Elman's) with
`return_sequences=True` and a sigmoid `Dense` head on sequences of
`keras_rnnkit.data.temporal_xor`, then prints the test error by the predicted
bit's place in its triple and saves a plot of the error over the first 12
steps (`--out`).

Run: `python examples/temporal_xor.py` (about a minute on 2 CPU cores), or
with `--smoke` to check that it runs, in seconds.
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_rnnkit  # noqa: E402
from keras_rnnkit.data import load_task  # noqa: E402

# The place of the predicted bit (target at step t is the bit at t + 1) in its triple.
PLACES = ("first", "second", "xor")
PLOTTED_STEPS = 12  # as Elman's Fig. 3: 12 consecutive inputs


def build(length, units, learning_rate):
    """Bits (B, T, 1) -> probability that each next bit is 1, (B, T, 1)."""
    model = keras.Sequential(
        [
            keras.Input((length, 1)),
            keras_rnnkit.ElmanRNN(units, return_sequences=True, name="elman"),
            keras.layers.Dense(1, activation="sigmoid", name="next_bit"),
        ],
        name="temporal_xor",
    )
    model.compile(keras.optimizers.Adam(learning_rate), "binary_crossentropy")
    return model


def errors_by_step(model, x, y):
    """Squared error and error rate of the next-bit prediction at each step, averaged: (T,)."""
    probabilities = model.predict(x, verbose=0)[..., 0]
    targets = y[..., 0]
    squared = np.mean((probabilities - targets) ** 2, axis=0)
    wrong = np.mean((probabilities > 0.5) != (targets > 0.5), axis=0)
    return squared, wrong


def by_place(per_step):
    """Averages a per-step array over the steps whose predicted bit has each place."""
    place = (np.arange(1, len(per_step) + 1)) % 3  # place of the bit at step t + 1
    return {name: float(per_step[place == index].mean()) for index, name in enumerate(PLACES)}


def plot(squared, title, path):
    """Saves the squared error over the first steps, XOR bits marked, as Elman's Fig. 3."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(1, min(PLOTTED_STEPS, len(squared)) + 1)
    figure, axis = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    axis.plot(steps, squared[: len(steps)], color="tab:blue", marker="o", label="test error")
    xor = steps[(steps % 3) == 2]  # the target at step t is bit t + 1; bits 3, 6, ... are XORs
    axis.plot(xor, squared[xor - 1], "o", color="tab:red", label="predicted bit is the XOR")
    axis.axhline(0.25, color="grey", linestyle="--", label="predicting 0.5 (chance)")
    axis.set_xticks(steps)
    axis.set_xlabel("input step t (the target is bit t + 1)")
    axis.set_ylabel("mean squared error of the next bit")
    # Head room for the legend above the curve, which peaks near 0.25 once trained.
    axis.set_ylim(0, max(0.42, 1.4 * float(np.max(squared[: len(steps)]))))
    axis.set_title(title)
    axis.legend(fontsize="small", loc="upper center", ncol=3)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=30, help="bits per sequence, multiple of 3")
    parser.add_argument("--units", type=int, default=2, help="hidden units (Elman's: 2)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--out", default="temporal_xor_output", help="folder for the plot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, in seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.length, args.epochs = 12, 1

    keras.utils.set_random_seed(args.seed)
    task = load_task("xor", window=args.length, seed=args.seed)
    model = build(args.length, args.units, args.learning_rate)
    start = time.perf_counter()
    model.fit(
        task["x_train"],
        task["y_train"],
        validation_data=(task["x_val"], task["y_val"]),
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    squared, wrong = errors_by_step(model, task["x_test"], task["y_test"])
    mse, error_rate = by_place(squared), by_place(wrong)

    print(
        f"temporal XOR, {len(task['x_train'])} training sequences of {args.length} bits, "
        f"ElmanRNN({args.units}), {args.epochs} epochs in {seconds:.1f} s"
    )
    print(f"{'predicted bit':14s} {'squared error':>13s} {'error rate':>10s}")
    for place in PLACES:
        print(f"{place:14s} {mse[place]:13.3f} {error_rate[place]:10.3f}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = plot(
        squared,
        f"Temporal XOR: next-bit test error of an ElmanRNN with {args.units} units",
        out / "temporal_xor_error.png",
    )
    print(f"error over the first {PLOTTED_STEPS} steps: {path}")
    return {
        "mse_by_place": mse,
        "error_rate_by_place": error_rate,
        "mse_by_step": squared.tolist(),
        "seconds": seconds,
        "settings": {
            "length": args.length,
            "units": args.units,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "batch_size": 32,
        },
    }


if __name__ == "__main__":
    main()
