"""Many-to-one classification: handwritten digits read row by row, by each family.

Each 8×8 image of scikit-learn's digits becomes a sequence of 8 steps (one
pixel row each); the network reads the rows top to bottom and names the digit
after the last one. The built-in families are trained on the same split, with the
validation set for early stopping, and scored on the test set.

Run: `python examples/digits_classification.py` (about a minute on 2 CPU
cores; needs scikit-learn: `pip install "keras-rnnkit[datasets]"`), or with
`--smoke` to check that it runs, in seconds.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_rnnkit.data import digit_sequences  # noqa: E402
from keras_rnnkit.models import FAMILIES  # noqa: E402
from keras_rnnkit.models import build_model  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=60, help="at most; early stopping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, in seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.units, args.epochs = 4, 1

    task = digit_sequences(validation_fraction=0.1, test_fraction=0.2, seed=args.seed)
    print(
        f"digits as 8 rows of 8 pixels: {len(task['x_train'])} train, {len(task['x_val'])} "
        f"validation, {len(task['x_test'])} test; chance accuracy 0.10"
    )
    print(f"{'model':7s} {'params':>7s} {'epochs':>6s} {'seconds':>8s} {'test accuracy':>14s}")
    accuracies = {}
    for family in FAMILIES:
        keras.utils.set_random_seed(args.seed)
        model = build_model(
            family, (8, 8), 10, problem="classification", units=args.units, learning_rate=3e-3
        )
        # Stop when the validation loss stops improving; keep the best weights.
        stop = keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)
        start = time.perf_counter()
        history = model.fit(
            task["x_train"],
            task["y_train"],
            validation_data=(task["x_val"], task["y_val"]),
            epochs=args.epochs,
            batch_size=32,
            callbacks=[stop],
            verbose=0,
        )
        seconds = time.perf_counter() - start
        scores = model.evaluate(task["x_test"], task["y_test"], verbose=0, return_dict=True)
        accuracies[family] = scores["accuracy"]
        print(
            f"{family:7s} {model.count_params():7d} {len(history.history['loss']):6d} "
            f"{seconds:8.1f} {scores['accuracy']:14.3f}"
        )
    return accuracies


if __name__ == "__main__":
    main()
