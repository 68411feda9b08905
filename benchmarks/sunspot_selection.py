"""Chooses the sunspot demo's settings on the training years only: rolling-origin validation.

Each candidate (a family and its `ForecasterSettings`) is trained on the
targets up to year a and scored on the next 20 years, for a = 1860, 1880 and
1900; the score is the mean ARV (MSE / variance of 1700-1979, as the demo's)
over the three folds, of the members' average and of the members one by one.
The test years (1921-1979) are never touched. The candidate with the lowest
score per family becomes `keras_rnnkit.forecasting.sunspots.SETTINGS`, and the
table this writes is the ablation table of docs/reproductions.md.

Run: `python benchmarks/sunspot_selection.py` (about 2 minutes per candidate
on 2 CPU cores); `--only LABEL` runs some candidates; `--smoke` runs every
candidate for 2 epochs with 2 members on one fold.
Writes `benchmarks/results/sunspot_selection.json` (merged with earlier runs,
one entry per candidate label) and prints the table.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # from a checkout, without `pip install`

import numpy as np  # noqa: E402

from benchmarks.stamp import stamp  # noqa: E402
from keras_rnnkit.data import sunspot_windows  # noqa: E402
from keras_rnnkit.forecasting import LeastSquaresAR  # noqa: E402
from keras_rnnkit.forecasting import persistence  # noqa: E402
from keras_rnnkit.forecasting import sunspots  # noqa: E402

FOLDS = ((1860, 1880), (1880, 1900), (1900, 1920))
BASE = sunspots.ForecasterSettings(weight_decay=0.0)
# label: (family, settings): weight decay from none to 0.1, forecasting the
# level, the change from the last year at the two decays where it was tried, and
# the level with a linear AR(12) term beside the network (`linear_skip`), and
# weight elimination (Weigend et al.'s penalty) instead of L2.
FULL_BATCH_EPOCHS = 7 * BASE.epochs


def _full_batch(decay, penalty, **changes):
    """`BASE` with a weight penalty, trained full batch for `FULL_BATCH_EPOCHS` updates."""
    return dataclasses.replace(
        BASE,
        weight_decay=decay,
        weight_penalty=penalty,
        batch_size=None,
        epochs=FULL_BATCH_EPOCHS,
        **changes,
    )


DECAYS = {"base": 0.0, "L2 1e-3": 1e-3, "L2 3e-3": 3e-3, "L2 1e-2": 1e-2, "L2 3e-2": 3e-2}
CANDIDATES = {
    **{
        f"{family} {label}": (family, dataclasses.replace(BASE, weight_decay=decay))
        for family in ("elman", "jordan", "tdnn")
        for label, decay in {**DECAYS, "L2 1e-1": 1e-1}.items()
    },
    **{
        f"{family} L2 {decay:.0e}, change".replace("e-0", "e-"): (
            family,
            dataclasses.replace(BASE, weight_decay=decay, predict_change=True),
        )
        for family in ("elman", "jordan", "tdnn")
        for decay in (1e-3, 3e-3)
    },
    # The linear skip at each family's best L2 decay without it.
    **{
        f"{family} {label}, linear skip": (
            family,
            dataclasses.replace(BASE, weight_decay=DECAYS[label], linear_skip=True),
        )
        for family, label in (("elman", "L2 3e-2"), ("jordan", "L2 1e-2"), ("tdnn", "L2 3e-2"))
    },
    **{
        f"{family} elimination {strength:.0e}".replace("e-0", "e-"): (
            family,
            dataclasses.replace(BASE, weight_decay=strength, weight_penalty="elimination"),
        )
        for family in ("elman", "jordan", "tdnn")
        for strength in (1e-2, 3e-2)
    },
    # One step further where the best strength was at the edge of that grid.
    **{
        f"{family} elimination {strength:.0e}".replace("e-0", "e-"): (
            family,
            dataclasses.replace(BASE, weight_decay=strength, weight_penalty="elimination"),
        )
        for family, strength in (("elman", 3e-3), ("jordan", 3e-3), ("tdnn", 1e-1))
    },
    # NARX, a later family: no penalty, and the penalties that were best for the others.
    **{
        f"narx {label}": ("narx", dataclasses.replace(BASE, weight_decay=DECAYS[label]))
        for label in ("base", "L2 1e-2", "L2 3e-2")
    },
    "narx elimination 1e-2": (
        "narx",
        dataclasses.replace(BASE, weight_decay=1e-2, weight_penalty="elimination"),
    ),
    # The literature's regularisers (issue 28): soft weight-sharing (Nowlan & Hinton),
    # Bayesian regularisation (MacKay; the strength from the evidence, starting at 0),
    # OBD pruning of half the kernels' weights after training (Svarer et al.), each
    # family's best setting so far forecasting the residual of an AR(12).
    **{
        f"{family} soft sharing {strength:.0e}".replace("e-0", "e-"): (
            family,
            dataclasses.replace(BASE, weight_decay=strength, weight_penalty="soft_sharing"),
        )
        for family in ("elman", "jordan", "narx", "tdnn")
        for strength in (3e-3,)
    },
    **{
        f"{family} bayesian": (
            family,
            dataclasses.replace(BASE, weight_decay=0.0, weight_penalty="bayesian"),
        )
        for family in ("elman", "jordan", "narx", "tdnn")
    },
    **{
        f"{family} {label}, pruned 50%": (
            family,
            dataclasses.replace(BASE, weight_decay=decay, weight_penalty=penalty, prune=0.5),
        )
        for family, label, decay, penalty in (
            ("elman", "L2 3e-2", 3e-2, "l2"),
            ("jordan", "elimination 1e-2", 1e-2, "elimination"),
            ("narx", "L2 3e-2", 3e-2, "l2"),
            ("tdnn", "L2 3e-2", 3e-2, "l2"),
        )
    },
    **{
        f"{family} L2 {decay:.0e}, AR(12) residual".replace("e-0", "e-"): (
            family,
            dataclasses.replace(BASE, weight_decay=decay, ar_order=12),
        )
        for family, decay in (("elman", 3e-2), ("jordan", 1e-2), ("narx", 3e-2), ("tdnn", 3e-2))
    },
    # Full-batch Adam (issue 28, small-data training): each family's best setting so far,
    # with as many updates as its 300 minibatch epochs (7 minibatches of the training years),
    # and pruned where pruning was tried (its retraining likewise 7 x 50 updates).
    **{
        f"{family} {label}, full batch{', pruned 50%' if prune else ''}": (
            family,
            _full_batch(decay, penalty, prune=prune, prune_epochs=7 * BASE.prune_epochs),
        )
        for family, label, decay, penalty in (
            ("elman", "L2 3e-2", 3e-2, "l2"),
            ("jordan", "elimination 1e-2", 1e-2, "elimination"),
            ("narx", "L2 3e-2", 3e-2, "l2"),
            ("tdnn", "L2 3e-2", 3e-2, "l2"),
        )
        for prune in (0.0, 0.5)
    },
    # Full batch at the neighbouring strengths: the penalty's weight per update changes.
    **{
        f"{family} {label}, full batch": (family, _full_batch(decay, penalty))
        for family, label, decay, penalty in (
            ("elman", "L2 1e-2", 1e-2, "l2"),
            ("jordan", "elimination 3e-3", 3e-3, "elimination"),
            ("jordan", "L2 1e-2", 1e-2, "l2"),
            ("narx", "L2 1e-2", 1e-2, "l2"),
            ("tdnn", "L2 1e-1", 1e-1, "l2"),
            # One step further where the weaker strength was the better.
            ("elman", "L2 3e-3", 3e-3, "l2"),
            ("narx", "L2 3e-3", 3e-3, "l2"),
            ("tdnn", "L2 1e-2", 1e-2, "l2"),
        )
    },
}


def fold_task(task, last_train_year, last_validation_year):
    """The windows whose targets are <= last_train_year, and the next ones as `test`."""
    years = task["years_train"]
    train = years <= last_train_year
    validation = (years > last_train_year) & (years <= last_validation_year)
    return {
        "x_train": task["x_train"][train],
        "y_train": task["y_train"][train],
        "x_test": task["x_train"][validation],
        "y_test": task["y_train"][validation],
        "variance": task["variance"],
    }


def _validation_arv(forecaster, fold):
    predictions = sunspots.forecast(forecaster, fold["x_test"])
    return sunspots.arv(predictions, fold["y_test"], fold["variance"])


def validate(family, settings, folds, seed=0):
    """Mean validation ARV over `folds`: `(average of members, members' mean, seconds)`."""
    task = sunspot_windows(window=12)
    ensemble, members, seconds = [], [], 0.0
    for last_train_year, last_validation_year in folds:
        fold = fold_task(task, last_train_year, last_validation_year)
        began = time.perf_counter()
        model, trained, _ = sunspots.train_forecaster(family, fold, settings, seed=seed)
        seconds += time.perf_counter() - began
        ensemble.append(_validation_arv(model, fold))
        members.append(float(np.mean([_validation_arv(member, fold) for member in trained])))
    return float(np.mean(ensemble)), float(np.mean(members)), seconds


def validate_baselines(folds):
    """`{name: mean validation ARV}` of AR(12), AR(9) and persistence on the same folds."""
    task = sunspot_windows(window=12)
    scores = {"AR(12)": [], "AR(9)": [], "persistence": []}
    for last_train_year, last_validation_year in folds:
        fold = fold_task(task, last_train_year, last_validation_year)
        for order in (12, 9):
            model = LeastSquaresAR(order).fit(fold["x_train"], fold["y_train"])
            scores[f"AR({order})"].append(_validation_arv(model, fold))
        predictions = persistence(fold["x_test"])
        scores["persistence"].append(sunspots.arv(predictions, fold["y_test"], fold["variance"]))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a candidate label (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="2 epochs, 2 members, one fold")
    parser.add_argument("--out", default=str(HERE / "results" / "sunspot_selection.json"))
    args = parser.parse_args(argv)
    labels = args.only or list(CANDIDATES)
    unknown = [label for label in labels if label not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {list(CANDIDATES)}")
    out = pathlib.Path(args.out)
    results = json.loads(out.read_text()) if out.exists() and not args.smoke else {}
    folds = FOLDS[-1:] if args.smoke else FOLDS
    for label in labels:
        family, settings = CANDIDATES[label]
        if args.smoke:
            settings = dataclasses.replace(settings, epochs=2, members=2)
        ensemble, members, seconds = validate(family, settings, folds)
        results[label] = {
            "family": family,
            "settings": dataclasses.asdict(settings),
            "validation_arv_average": ensemble,
            "validation_arv_members": members,
            "folds": [list(fold) for fold in folds],
            "seconds": seconds,
            "stamp": stamp(),
        }
        print(f"{label:28s} average {ensemble:.4f}  members {members:.4f}  ({seconds:.0f} s)")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
    for name, score in validate_baselines(folds).items():
        results[name] = {
            "family": "baseline",
            "settings": None,
            "validation_arv_average": score,
            "validation_arv_members": score,
            "folds": [list(fold) for fold in folds],
            "seconds": 0.0,
            "stamp": stamp(),
        }
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


def table(results):
    """The Markdown ablation table of `results`, best first within each family."""
    lines = [
        "| candidate | validation ARV, average of members | members' mean |",
        "|---|---|---|",
    ]
    for label, entry in sorted(
        results.items(), key=lambda item: (item[1]["family"], item[1]["validation_arv_average"])
    ):
        lines.append(
            f"| {label} | {entry['validation_arv_average']:.3f} "
            f"| {entry['validation_arv_members']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
