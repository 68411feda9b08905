"""Masked ElmanRNN and JordanRNN, timed in checkouts taken in turn: before/after on a noisy machine.

`python benchmarks/interleaved.py CHECKOUT [CHECKOUT ...] --rounds 2` runs one process per
checkout and round, in turn (A, B, A, B, ...), each timing `train_on_batch` and
`predict_on_batch` of the masked models of the suite (`benchmarks.suite.models.build`,
right-padded batches behind `Masking`) with the checkout's own `keras_rnnkit`; then prints
each row's median and range in milliseconds. Taking the checkouts in turn spreads a drift of
the machine's speed over all of them, which whole runs one after the other do not.

A run of one checkout alone (`--worker CHECKOUT`) prints its timings as one JSON line.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = {"small": (64, 100, 32, 128), "medium": (32, 500, 16, 256)}
MODELS = ("ElmanRNN", "JordanRNN")


def _timed(function, *args, warmup=3, repeats=25):
    """The median milliseconds of `function(*args)` over `repeats` calls after `warmup`."""
    for _ in range(warmup):
        function(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def worker(checkout, sizes):
    """Times the masked models with `checkout`'s keras_rnnkit: `{row: median ms}`."""
    sys.path.insert(0, checkout)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: F401
    import numpy as np

    import keras_rnnkit
    from benchmarks.suite import models
    from benchmarks.suite.settings import Size

    if not keras_rnnkit.__file__.startswith(os.path.abspath(checkout)):
        raise SystemExit(f"keras_rnnkit comes from {keras_rnnkit.__file__}, not {checkout}")
    rng = np.random.default_rng(0)
    timings = {}
    for label in sizes:
        batch, steps, features, units = SIZES[label]
        x = rng.normal(size=(batch, steps, features)).astype("float32")
        for row, length in enumerate(steps - 3 * np.arange(batch) % steps):
            x[row, length:] = 0.0  # right padding, masked by the model's Masking layer
        y = rng.normal(size=(batch, 1)).astype("float32")
        for name in MODELS:
            for jit in (False, True):
                model = models.build(
                    name, Size(batch, steps, features, units), jit_compile=jit, masked=True
                )
                key = f"{name} jit={jit} T{steps}"
                timings[f"{key} train"] = _timed(model.train_on_batch, x, y)
                timings[f"{key} predict"] = _timed(model.predict_on_batch, x)
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/interleaved.py", description=__doc__)
    parser.add_argument("checkouts", nargs="*", help="the checkouts to compare, in turn")
    parser.add_argument("--rounds", type=int, default=2, help="default: %(default)s")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["small"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes)))
        return 0
    if not args.checkouts or args.rounds < 1:
        parser.error("give at least one checkout and --rounds >= 1")
    results = {checkout: {} for checkout in args.checkouts}
    for _ in range(args.rounds):
        for checkout in args.checkouts:
            command = [sys.executable, __file__, "--worker", checkout, "--sizes", *args.sizes]
            line = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            for row, value in json.loads(line.strip().splitlines()[-1]).items():
                results[checkout].setdefault(row, []).append(value)
    print("| row | " + " | ".join(args.checkouts) + " |")
    print("|---|" + "---|" * len(args.checkouts))
    for row in results[args.checkouts[0]]:
        cells = [results[c][row] for c in args.checkouts]
        text = [f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})" for v in cells]
        print(f"| {row} | " + " | ".join(text) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
