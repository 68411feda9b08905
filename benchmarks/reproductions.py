"""Runs the classic results of docs/reproductions.md, seed by seed, into one results file.

Each row of that table is a `Reproduction`: an example script of examples/
whose `main(argv)` returns its result dict, the arguments it runs with, and
the figures the row quotes, taken from that dict. This runs each row for seeds
0 .. S-1 in this process, one after the other (with a fresh Keras session
each), and records every seed's figures and wall time, stamped with the
commit and the machine (`benchmarks/stamp.py`).

Run: `python benchmarks/reproductions.py` (every row, 3 seeds); `--only NAME`
runs one row and merges it into the existing file; `--seeds S`; `--smoke`
runs every row at the examples' smoke sizes into a temporary folder.
Writes `benchmarks/results/reproductions.json` and the examples' plots under
`benchmarks/results/plots/NAME/seedS/`; then `python benchmarks/render.py`
rewrites the tables that quote them.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # from a checkout, without `pip install`

from benchmarks.stamp import stamp  # noqa: E402

RESULTS = HERE / "results"
RESULTS_FILE = RESULTS / "reproductions.json"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One measured number a row quotes.

    Attributes:
        key: Its name in the results file.
        label: How the table names it.
        digits: Decimal places shown.
    """

    key: str
    label: str
    digits: int = 3


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A row of docs/reproductions.md: a classic result, and how we measure ours.

    Attributes:
        title: The result, as the table's first column names it.
        published: The published figure (Markdown).
        shortfall: Where ours falls short of it, and why (Markdown).
        example: The script's name in examples/ (without `.py`); `None` for a
            row that has no runner yet (the table says it is not measured).
        argv: The script's arguments for the table's figures (`--seed` added).
        smoke_argv: Its arguments for `--smoke`.
        figures: What the table quotes, in order.
        measure: The result dict of `main(argv)` -> `{figure key: float}`.
        writes_plots: Whether the script takes `--out FOLDER` for its plots.
    """

    title: str
    published: str
    shortfall: str
    example: str | None = None
    argv: tuple = ()
    smoke_argv: tuple = ("--smoke",)
    figures: tuple = ()
    measure: Callable | None = None
    writes_plots: bool = False

    def command(self):
        """The shell command of one seed, as the table shows it."""
        return " ".join(["python", f"examples/{self.example}.py", *self.argv, "--seed", "S"])


def _xor(result):
    mse, rate = result["mse_by_place"], result["error_rate_by_place"]
    return {
        "xor_bit_mse": mse["xor"],
        "random_bit_mse": (mse["first"] + mse["second"]) / 2,
        "xor_bit_error_rate": rate["xor"],
        "random_bit_error_rate": (rate["first"] + rate["second"]) / 2,
    }


def _adding(result):
    figures = {}
    for kind in ("tanh", "irnn"):
        last_epoch = result[kind]["state_gradient_norms"][-1]  # one norm per time step
        figures[f"{kind}_test_mse"] = result[kind]["test_mse"]
        figures[f"{kind}_seconds"] = result[kind]["seconds"]
        figures[f"{kind}_first_step_gradient"] = float(last_epoch[0])
        figures[f"{kind}_last_step_gradient"] = float(last_epoch[-1])
        figures[f"{kind}_smallest_gradient"] = float(last_epoch.min())
        figures[f"{kind}_largest_gradient"] = float(last_epoch.max())
    return figures


def _tdnn(result):
    return {
        "test_accuracy": result["accuracy"],
        "worst_offset_third_accuracy": min(result["accuracy_by_offset"].values()),
        "stream_difference": result["stream_difference"],
    }


ROWS = {
    "xor": Reproduction(
        title="Elman (1990), temporal XOR: predict the next bit",
        published=(
            "Error low only on every third bit, the XOR of the two before; the random bits stay "
            "at chance (Fig. 3: RMS error over 12 consecutive inputs, 1 input, 2 hidden units)"
        ),
        shortfall=(
            "Elman trained on one 3000-bit stream for 600 passes; we train 2,100 sequences of 30 "
            "bits (the state starts at zero in each) for 100 epochs with Adam and cross-entropy. "
            "With Elman's 2 hidden units not every seed finds the rule in that time: see each "
            "seed's XOR-bit error rate."
        ),
        example="temporal_xor",
        figures=(
            Figure("xor_bit_mse", "MSE on XOR bits"),
            Figure("random_bit_mse", "on random bits"),
            Figure("xor_bit_error_rate", "error rate on XOR bits"),
        ),
        measure=_xor,
        writes_plots=True,
    ),
    "jordan": Reproduction(
        title="Jordan (1986), sequence production from a plan",
        published="A network fed back its own outputs produces the sequences it was taught",
        shortfall=(
            "Not Jordan's sequences or network: 4 random sequences of 8 steps × 3 bits, one per "
            "one-hot plan, learnt with teacher forcing (800 epochs). A small task; every seed "
            "reproduces every bit."
        ),
        example="jordan_sequences",
        figures=(Figure("bit_accuracy", "free-running bit accuracy"),),
        measure=lambda result: {"bit_accuracy": result["bit_accuracy"]},
    ),
    "adding": Reproduction(
        title="Le, Jaitly & Hinton (2015), the adding problem",
        published=(
            "IRNN (ReLU, identity recurrent kernel) learns to a test MSE near 0; a tanh RNN "
            "stays at the trivial MSE ≈ 0.167 (Fig. 2, T = 150, 200, 300, 400)"
        ),
        shortfall=(
            "T = 150, the paper's shortest, with 10,000 training sequences, 64 units and 20 "
            "epochs, what 2 CPU cores train in minutes. The tanh network stays at the trivial "
            "MSE, as published; the IRNN learns on some seeds only (each seed's value). Where "
            "it does not, its state gradient still reaches the first step (its plot): not a "
            "vanishing gradient, but training that does not leave the plateau of predicting "
            "the mean within 20 epochs."
        ),
        example="adding_problem",
        argv=("--length", "150"),
        figures=(
            Figure("tanh_test_mse", "tanh test MSE"),
            Figure("irnn_test_mse", "IRNN test MSE"),
        ),
        measure=_adding,
        writes_plots=True,
    ),
    "tdnn": Reproduction(
        title="Waibel et al. (1989) in spirit: TDNN shift invariance",
        published="TDNN: 98.5% on /b/, /d/, /g/ (HMM: 93.7%), wherever the phoneme starts",
        shortfall=(
            "A synthetic task, not speech: 3 random patterns of 6 frames at random offsets in "
            "40 frames of noise, so the accuracies do not compare with the 98.5%. What carries "
            "over is the invariance: the accuracy of the worst third of the offsets is close "
            "to the overall one."
        ),
        example="tdnn_shifted_patterns",
        figures=(
            Figure("test_accuracy", "test accuracy"),
            Figure("worst_offset_third_accuracy", "worst third of offsets"),
        ),
        measure=_tdnn,
    ),
}


def _load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_row(name, seeds, smoke=False, plots=None):
    """Runs row `name` for `seeds`: its results-file entry (figures and seconds per seed)."""
    import keras

    row = ROWS[name]
    main = _load_example(row.example).main
    argv = list(row.smoke_argv if smoke else row.argv)
    runs, settings = [], None
    for seed in seeds:
        arguments = [*argv, "--seed", str(seed)]
        if row.writes_plots:
            arguments += ["--out", str(pathlib.Path(plots) / name / f"seed{seed}")]
        keras.backend.clear_session()  # each seed as in a fresh process: no leftover graphs
        began = time.perf_counter()
        result = main(arguments)
        seconds = time.perf_counter() - began
        figures = {key: float(value) for key, value in row.measure(result).items()}
        runs.append({"seed": seed, "figures": figures, "seconds": seconds})
        settings = result.get("settings", settings)
        print(f"[{name}] seed {seed}: {figures} ({seconds:.0f} s)", flush=True)
    return {
        "command": row.command(),
        "argv": argv,
        "smoke": smoke,
        "settings": settings,
        "runs": runs,
        "stamp": stamp(),
    }


def main(argv=None):
    runnable = [name for name, row in ROWS.items() if row.example is not None]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=runnable, help="a row (repeatable)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..S-1 (default 3)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, into a temp folder")
    parser.add_argument("--out", help=f"results file (default {RESULTS_FILE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (1 if args.smoke else 3)
    if seeds < 1:
        parser.error(f"`--seeds` must be at least 1. Received: --seeds {seeds}")
    if args.out:
        out = pathlib.Path(args.out)
    elif args.smoke:
        out = pathlib.Path(tempfile.mkdtemp(prefix="reproductions_")) / "reproductions.json"
    else:
        out = RESULTS_FILE
    plots = out.parent / "plots"
    results = json.loads(out.read_text()) if out.exists() else {}
    mixed = sorted(name for name, entry in results.items() if entry.get("smoke") != args.smoke)
    if mixed:
        # Smoke sizes and real ones in one file would be quoted side by side.
        parser.error(
            f"{out} holds rows {mixed} run {'without' if args.smoke else 'with'} --smoke; "
            "choose another --out"
        )
    for name in args.only or runnable:
        results[name] = run_row(name, range(seeds), smoke=args.smoke, plots=plots)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")  # after each row: a crash keeps it
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
