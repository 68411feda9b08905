"""Each regulariser's best validated sunspot forecaster, scored on the test years.

For each weight penalty (L2, weight elimination, soft weight-sharing, Bayesian
regularisation) and for OBD pruning and the AR(12) residual, the candidate of
`benchmarks/results/sunspot_selection.json` with the lowest rolling-origin
validation ARV (chosen on the training years only) is trained on all the
training years (targets 1712-1920) for each seed and scored on 1921-1955 and
1956-1979 (ARV = MSE / variance of 1700-1979), as `rnnkit demo` scores its
families. docs/reproductions.md's table "The regularisers on the sunspots"
is rendered from what this writes.

Run: `python benchmarks/sunspot_regularisers.py --seeds 0 1 2` (about 1
minute per regulariser and seed on 2 CPU cores). Writes
`benchmarks/results/sunspot_regularisers.json`.
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

from benchmarks.stamp import stamp  # noqa: E402
from keras_rnnkit.data import sunspot_windows  # noqa: E402
from keras_rnnkit.forecasting import sunspots  # noqa: E402

# Which candidates each row may choose from, by their settings.
REGULARISERS = {
    "L2 weight decay": lambda s: s["weight_penalty"] == "l2" and _plain(s),
    "weight elimination": lambda s: s["weight_penalty"] == "elimination" and _plain(s),
    "soft weight-sharing": lambda s: s["weight_penalty"] == "soft_sharing" and _plain(s),
    "Bayesian regularisation": lambda s: s["weight_penalty"] == "bayesian" and _plain(s),
    "OBD pruning": lambda s: bool(s.get("prune")),
    "AR(12) residual": lambda s: bool(s.get("ar_order")),
}


def _plain(settings):
    """A candidate that forecasts the level, unpruned, without a linear term."""
    return not (
        settings["predict_change"]
        or settings["linear_skip"]
        or settings.get("ar_order")
        or settings.get("prune")
    )


def best_candidates(selection):
    """`{regulariser: (label, entry)}`: the lowest validation ARV among each one's candidates."""
    chosen = {}
    for name, accepts in REGULARISERS.items():
        entries = [
            (label, entry)
            for label, entry in selection.items()
            if entry["settings"] is not None and accepts(entry["settings"])
        ]
        if entries:
            chosen[name] = min(entries, key=lambda item: item[1]["validation_arv_average"])
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", action="append", choices=list(REGULARISERS))
    parser.add_argument("--out", default=str(HERE / "results" / "sunspot_regularisers.json"))
    args = parser.parse_args(argv)
    selection = json.loads((HERE / "results" / "sunspot_selection.json").read_text())
    out = pathlib.Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    task = sunspot_windows(window=12)
    for name, (label, entry) in best_candidates(selection).items():
        if args.only and name not in args.only:
            continue
        settings = sunspots.ForecasterSettings(**entry["settings"])
        runs = {}
        for seed in args.seeds:
            began = time.perf_counter()
            family = entry["family"]
            model, members, _ = sunspots.train_forecaster(family, task, settings, seed=seed)
            runs[str(seed)] = {
                "arv": sunspots.period_scores(model, task),
                "members_arv": [sunspots.period_scores(m, task) for m in members],
                "parameters_per_member": [sunspots.parameter_count(m) for m in members],
                "seconds": time.perf_counter() - began,
            }
            scores = runs[str(seed)]["arv"]
            print(
                f"{name:24s} {label:36s} seed {seed}: "
                + "  ".join(f"{p} {v:.3f}" for p, v in scores.items())
            )
        results[name] = {
            "candidate": label,
            "family": entry["family"],
            "settings": dataclasses.asdict(settings),
            "validation_arv_average": entry["validation_arv_average"],
            "runs": runs,
            "stamp": stamp(),
        }
        out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
