"""The `rnnkit` command line: a thin layer over the package.

`rnnkit demo` trains an Elman, a Jordan and a TDNN forecaster on the bundled
yearly sunspot series and prints a table beside the AR(9) baseline; it writes
the trained models (`.keras`), the metrics (JSON) and plots into a new folder.
"""

import argparse
import contextlib
import json
import logging
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np


def _refuse_existing(out, overwrite):
    """Fails early, before any training, if `out` exists and may not be replaced."""
    if pathlib.Path(out).exists() and not overwrite:
        raise FileExistsError(
            f"the output folder {str(out)!r} exists; choose another --out, or pass "
            "--overwrite to replace it"
        )


@contextlib.contextmanager
def _new_output_folder(out, overwrite):
    """Yields a staging folder beside `out`, moved into place only when complete.

    A run that fails part-way leaves `out` as it was; an existing `out` is
    replaced only with `overwrite`.
    """
    out = pathlib.Path(out)
    _refuse_existing(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _demo(args):
    import keras

    from keras_rnnkit.data import sunspot_windows
    from keras_rnnkit.forecasting import FAMILIES
    from keras_rnnkit.forecasting import TEST_PERIODS
    from keras_rnnkit.forecasting import ar_baseline
    from keras_rnnkit.forecasting import arv
    from keras_rnnkit.forecasting import build_forecaster

    _refuse_existing(args.out, args.overwrite)
    epochs = 2 if args.smoke else args.epochs
    keras.utils.set_random_seed(args.seed)
    task = sunspot_windows(window=12)
    periods = list(TEST_PERIODS)
    print(
        f"Sunspots 1700-1920 (train), one step ahead, test ARV = MSE / variance; "
        f"backend {keras.backend.backend()}, {epochs} epochs"
    )
    header = f"{'model':8s} {'params':>7s} {'seconds':>8s} " + " ".join(
        f"{'ARV ' + p:>14s}" for p in periods
    )
    print(header)
    baseline = ar_baseline(task)
    print(f"{'AR(9)':8s} {10:7d} {'-':>8s} " + " ".join(f"{baseline[p]:14.3f}" for p in periods))
    metrics = {"baseline_ar9": baseline, "epochs": epochs, "seed": args.seed, "models": {}}
    histories, forecasts = {}, {}
    both_periods = np.concatenate([task["x_test"], task["x_test_late"]])
    with _new_output_folder(args.out, args.overwrite) as staging:
        for family in FAMILIES:
            model = build_forecaster(family, 12)
            start = time.perf_counter()
            history = model.fit(
                task["x_train"], task["y_train"], epochs=epochs, batch_size=32, verbose=0
            )
            seconds = time.perf_counter() - start
            scores = arv(model, task)
            histories[family] = history.history["loss"]
            metrics["models"][family] = {
                "parameters": model.count_params(),
                "seconds": seconds,
                "arv": scores,
            }
            model.save(staging / f"{family}.keras")
            print(
                f"{family:8s} {model.count_params():7d} {seconds:8.1f} "
                + " ".join(f"{scores[p]:14.3f}" for p in periods)
            )
            # One predict call over both periods: one trace, not one per length.
            forecasts[family] = model.predict(both_periods, verbose=0)[:, 0]
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
        _plots(staging, histories, forecasts, task)
    print(f"Models, metrics.json and plots written to {args.out}/")
    return 0


def _train(args):
    import keras

    from keras_rnnkit.data.tasks import load_file
    from keras_rnnkit.data.tasks import load_task
    from keras_rnnkit.forecasting import build_model

    _refuse_existing(args.out, args.overwrite)
    if args.window < 3:
        raise ValueError(f"--window must be at least 3; received {args.window}")
    keras.utils.set_random_seed(args.seed)
    if args.data is not None:
        task = load_file(args.data, target=args.target, window=args.window)
        source = str(args.data)
    else:
        task = load_task(args.task, args.window, seed=args.seed)
        source = args.task
    model = build_model(
        args.model,
        task["x_train"].shape[1:],
        task["y_train"].shape[-1],
        units=args.units,
        gradient_clip=args.clip,
        clipnorm=args.clipnorm,
        learning_rate=args.learning_rate,
    )
    start = time.perf_counter()
    history = model.fit(
        task["x_train"],
        task["y_train"],
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - start
    test_mse = float(model.evaluate(task["x_test"], task["y_test"], verbose=0))
    metrics = {
        "model": args.model,
        "data": source,
        "parameters": model.count_params(),
        "seconds": seconds,
        "train_mse": history.history["loss"],
        "test_mse": test_mse,
        "test_mse_of_train_mean": float(
            np.mean((task["y_test"] - task["y_train"].mean(axis=0)) ** 2)
        ),
    }
    with _new_output_folder(args.out, args.overwrite) as staging:
        model.save(staging / "model.keras")
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"{args.model} on {source}: {model.count_params()} parameters, {seconds:.1f} s, "
        f"test MSE {test_mse:.4g} (predicting the training mean: "
        f"{metrics['test_mse_of_train_mean']:.4g}); model and metrics in {args.out}/"
    )
    return 0


def _plots(folder, histories, forecasts, task):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(plots skipped: install matplotlib, e.g. pip install 'keras-rnnkit[plot]')")
        return
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for family, losses in histories.items():
        axis.plot(losses, label=family)
    axis.set(yscale="log", xlabel="epoch", ylabel="training MSE", title="Learning curves")
    axis.legend()
    figure.savefig(folder / "learning_curves.png", dpi=100)
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(9, 4), constrained_layout=True)
    years = list(range(1921, 1956)) + list(range(1956, 1980))
    truth = list(task["y_test"][:, 0]) + list(task["y_test_late"][:, 0])
    axis.plot(years, truth, "k-", linewidth=2, label="truth")
    for family, forecast in forecasts.items():
        axis.plot(years, forecast, label=family)
    axis.set(xlabel="year", ylabel="sunspots (scaled)", title="One-step-ahead forecasts")
    axis.legend()
    figure.savefig(folder / "forecasts.png", dpi=100)
    plt.close(figure)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Elman, Jordan and TDNN networks for Keras 3."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the three families on the sunspot series and compare",
        description=(
            "Train an Elman, a Jordan and a TDNN forecaster on the yearly sunspot series "
            "(train 1700-1920, test 1921-1955 and 1956-1979) and print their test ARV beside "
            "a linear AR(9) baseline. Writes the models, metrics.json and plots to --out."
        ),
    )
    demo.add_argument(
        "--out", default="rnnkit-demo", help="new output folder (default: %(default)s)"
    )
    demo.add_argument("--epochs", type=int, default=300, help="default: %(default)s")
    demo.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    demo.add_argument("--smoke", action="store_true", help="2 epochs: check that it runs")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    demo.set_defaults(run=_demo)

    train = commands.add_parser(
        "train",
        help="train one family on a built-in task or your own CSV/NPZ file",
        description=(
            "Train an Elman, Jordan or TDNN regressor (many-to-one: a window of steps to one "
            "target) on a built-in task (--task) or a file (--data). CSV: a header row, every "
            "column a feature; each sample is --window consecutive rows, its target the "
            "--target column of the next row; the last 20%% of samples are the test set. NPZ: "
            "arrays x (N, T, D) and y (N, O), optionally x_test and y_test."
        ),
    )
    train.add_argument("--model", required=True, choices=("elman", "jordan", "tdnn"))
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", choices=("sunspots", "adding"), help="a built-in task")
    source.add_argument("--data", help="a .csv or .npz file")
    train.add_argument("--target", help="CSV only: the column to forecast")
    train.add_argument(
        "--window", type=int, default=12, help="time steps per sample (default: %(default)s)"
    )
    train.add_argument("--units", type=int, default=8, help="default: %(default)s")
    train.add_argument("--epochs", type=int, default=50, help="default: %(default)s")
    train.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    train.add_argument("--learning-rate", type=float, default=0.01, help="default: %(default)s")
    train.add_argument(
        "--clip", type=float, default=None, help="per-step gradient clip inside BPTT"
    )
    train.add_argument(
        "--clipnorm", type=float, default=1.0, help="optimizer clipnorm (default: %(default)s)"
    )
    train.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    train.add_argument("--out", default="rnnkit-train", help="new output folder")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
    return parser


def main(argv=None):
    """Runs `rnnkit`; returns the exit code."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's retracing notices (each model has its own predict function)
    # say nothing useful to a user of the command line.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        if args.debug:
            raise
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
