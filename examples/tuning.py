"""Hyperparameter search over the Elman, Jordan, NARX and TDNN families with keras-tuner.

Tunes a one-step-ahead forecaster of the yearly sunspot series (or any built-in
task of `keras_rnnkit.data`, `--task`): the family, units, depth, dropout,
clipping, learning rate and each family's own options (see docs/tuning.md).
Trials are ranked by the validation loss; the best model is scored once on the
test split. Prints keras-tuner's results summary, the best values, the test
score and the wall time. The search state is kept in `--directory`: run the
same command again to resume an interrupted search (`--overwrite` restarts).

Run: `python examples/tuning.py` (for the sunspots: 4 trials of up to 300
epochs, stopped on a plateau, the first the demo's validated configuration,
each scored by an ensemble of 5, which is refitted; other tasks 12 trials of 20 epochs; minutes on
2 CPU cores), or with `--smoke` in seconds.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_rnnkit.data.tasks import TASKS  # noqa: E402
from keras_rnnkit.tuning import FAMILIES  # noqa: E402
from keras_rnnkit.tuning import TUNERS  # noqa: E402
from keras_rnnkit.tuning import run_search  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="sunspots")
    parser.add_argument("--tuner", choices=TUNERS, default="random")
    parser.add_argument(
        "--family", choices=FAMILIES, action="append", help="search only these (repeatable)"
    )
    parser.add_argument("--max-trials", type=int, default=None, help="default: the task's")
    parser.add_argument("--epochs", type=int, default=None, help="default: the task's")
    parser.add_argument("--window", type=int, default=None, help="the task's sequence length")
    parser.add_argument("--directory", default="rnnkit-tuning")
    parser.add_argument("--overwrite", action="store_true", help="start afresh")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, in seconds")
    args = parser.parse_args(argv)

    result = run_search(
        args.task,
        families=tuple(args.family or FAMILIES),
        tuner=args.tuner,
        max_trials=2 if args.smoke else args.max_trials,
        epochs=1 if args.smoke else args.epochs,
        members=2 if args.smoke else None,
        window=args.window,
        samples=64 if args.smoke else None,
        directory=args.directory,
        project_name=f"{args.task}-{args.tuner}" + ("-smoke" if args.smoke else ""),
        overwrite=args.overwrite or args.smoke,
        seed=args.seed,
    )
    result.tuner.results_summary(3)
    print("\nbest:", ", ".join(f"{k}={v}" for k, v in result.best_hyperparameters.items()))
    print("test:", ", ".join(f"{k}={v:.4f}" for k, v in result.test_scores.items()))
    trials = result.tuner.oracle.trials.values()
    failed = sum(t.status == "FAILED" for t in trials)
    print(f"{len(trials)} trials ({failed} failed), wall time {result.wall_time_s:.1f} s")
    return result


if __name__ == "__main__":
    main()
