"""`python benchmarks/run.py`: one process per backend, results gathered here.

Each backend runs in its own `python -m benchmarks.suite.worker` with `KERAS_BACKEND`
set, so that every framework gets a fresh process and the same CPUs.
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from benchmarks.suite import repeats
from benchmarks.suite import report
from benchmarks.suite.settings import BACKENDS
from benchmarks.suite.settings import DEFAULT_LENGTHS
from benchmarks.suite.settings import DEFAULT_SIZES
from benchmarks.suite.settings import GROUPS
from benchmarks.suite.settings import SMOKE
from benchmarks.suite.settings import Settings
from benchmarks.suite.settings import parse_size

# The module each backend needs (looked up, not imported).
# The checkout's root, the folder that holds benchmarks/.
CHECKOUT = pathlib.Path(__file__).resolve().parent.parent.parent
_BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def build_parser(prog="benchmarks/run.py"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Time ElmanRNN, JordanRNN, TDNN and TDNNCell against SimpleRNN, a naive Jordan "
            "cell, Conv1D, a gather-and-matmul TDNN and PyTorch's nn.RNN, one process per "
            "Keras backend. Writes results.json, results.md and time_vs_length.png to --out."
        ),
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated, from tensorflow,jax,torch (default: those installed)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=list(DEFAULT_SIZES),
        metavar="SIZE",
        help="presets (small, medium, long, gpu, tiny) or BxTxDxH (default: %(default)s)",
    )
    parser.add_argument(
        "--lengths",
        nargs="*",
        type=int,
        default=list(DEFAULT_LENGTHS),
        metavar="T",
        help="sequence lengths of the time-against-length sweep at B=32, D=16, H=128; "
        "none to skip it (default: %(default)s)",
    )
    parser.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help="comma-separated, from elman,jordan,masked,tdnn,stream (default: all)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="default: %(default)s")
    parser.add_argument(
        "--repeats", type=int, default=None, help="default: 20, 10 from T = 1000 on"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes and 3 repetitions: checks that it runs (for CI), measures nothing",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="whole runs, each backend in a fresh process every time; with more than one, "
        "results.md leads with each ratio's median and range over the runs (default: 1)",
    )
    parser.add_argument("--out", default="rnnkit-bench", help="new output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser


def _choose_backends(text):
    if text is None:
        chosen = [b for b in BACKENDS if importlib.util.find_spec(_BACKEND_MODULES[b])]
        skipped = sorted(set(BACKENDS) - set(chosen))
        if skipped:
            print(f"(not installed, skipped: {', '.join(skipped)})", file=sys.stderr)
        return chosen
    chosen = [b.strip() for b in text.split(",") if b.strip()]
    for backend in chosen:
        if backend not in BACKENDS:
            raise ValueError(
                f"`--backends` must name backends from {', '.join(BACKENDS)}. Received: {backend!r}"
            )
        if importlib.util.find_spec(_BACKEND_MODULES[backend]) is None:
            raise ValueError(
                f"the {backend} backend is not installed (pip install 'keras-rnnkit[{backend}]')"
            )
    return chosen


def settings_from_args(args):
    groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(
            f"`--groups` must be from {', '.join(GROUPS)}. Received: {', '.join(unknown)}"
        )
    if args.smoke:
        return Settings(**{**SMOKE.__dict__, "groups": groups})
    for name in ("warmup", "repeats"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "warmup" else 2):
            raise ValueError(f"`--{name}` is too small. Received: {name}={value}")
    if any(t < 2 for t in args.lengths):
        raise ValueError(f"`--lengths` must be at least 2. Received: {args.lengths}")
    return Settings(
        sizes=tuple(parse_size(s) for s in args.sizes),
        lengths=tuple(args.lengths),
        groups=groups,
        warmup=args.warmup,
        repeats=args.repeats,
    )


def run_backend(backend, settings, folder):
    """Runs one backend's worker process; returns its results (a dict)."""
    settings_file = folder / f"settings-{backend}.json"
    result_file = folder / f"result-{backend}.json"
    settings_file.write_text(json.dumps(settings.to_json()))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "benchmarks.suite.worker",
        "--settings",
        str(settings_file),
        "--result",
        str(result_file),
    ]
    start = time.perf_counter()
    # From the checkout's root, `-m` finds this folder's package (benchmarks.suite) and
    # the same keras_rnnkit as this process: the checkout's, or else the installed one.
    completed = subprocess.run(command, env=env, cwd=CHECKOUT)
    if completed.returncode != 0:
        raise RuntimeError(
            f"the {backend} benchmark process failed (exit code {completed.returncode}); "
            "its output is above"
        )
    result = json.loads(result_file.read_text())
    result["meta"]["wall_s"] = time.perf_counter() - start
    return result


def gather(results, settings, argv):
    """The whole run: each backend's results, plus the cross-process comparisons."""
    data = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": list(argv),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "settings": settings.to_json(),
            "peak_memory": (
                "peak resident set size of the backend's process while building, training and "
                "predicting one model (Linux VmHWM, reset per model through "
                "/proc/self/clear_refs); increase_mb subtracts the resident size at the start"
            ),
            "flops": (
                "matrix products only; a training step counts 3x the forward products "
                "(forward, gradient of the inputs and states, gradient of the weights)"
            ),
            "matmul_rate": (
                "GFLOP/s of a NumPy float32 product at the recurrent shape (B, H) x (H, H), "
                "median of 200 in the same process"
            ),
        },
        "backends": results,
    }
    data["cross_process"] = _versus_torch_nn_rnn(results)
    return data


def _versus_torch_nn_rnn(results):
    """ElmanRNN on each backend against nn.RNN timed by the torch process of this run."""
    torch_records = {r["id"]: r for r in results.get("torch", {}).get("records", [])}
    comparisons = []
    for backend, result in results.items():
        if backend == "torch":
            continue
        for record in result["records"]:
            if record["model"] != "ElmanRNN" or record["variant"] not in ("", "jit"):
                continue
            reference = torch_records.get(f"nn.RNN/{record['phase']}/{record['size_label']}")
            if reference is None:
                continue
            comparisons.append(
                {
                    "label": f"{backend} vs torch process",
                    "backend": backend,
                    "ours": record["id"],
                    "alternative": reference["id"],
                    "phase": record["phase"],
                    "size_label": record["size_label"],
                    "ratio": record["median_ms"] / reference["median_ms"],
                    "target": None,
                    "met": None,
                    "same_process": False,
                }
            )
    return comparisons


def main(argv=None, prog="benchmarks/run.py"):
    """Runs the benchmark; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog).parse_args(argv)
    # After parsing, so that --help imports no framework: this imports keras (and its
    # default backend) in this process too; the timed work runs only in the children.
    from keras_rnnkit import _atomic

    try:
        settings = settings_from_args(args)
        backends = _choose_backends(args.backends)
        if not backends:
            raise ValueError("no backend to benchmark: install tensorflow, jax or torch")
        if args.runs < 1:
            raise ValueError(f"`--runs` must be at least 1. Received: runs={args.runs}")
        with _atomic.new_output_folder(args.out, args.overwrite) as staging:
            runs = []
            with tempfile.TemporaryDirectory() as scratch:
                # Run after run, each backend in turn: a slow spell of the machine then
                # touches every backend alike, not one of them.
                for index in range(args.runs):
                    results = {}
                    for backend in backends:
                        print(f"== {backend}, run {index + 1}", file=sys.stderr, flush=True)
                        results[backend] = run_backend(backend, settings, pathlib.Path(scratch))
                    runs.append(results)
            data = gather(runs[0], settings, argv)
            if args.runs > 1:
                data["repeated"] = {"runs": args.runs, "ratios": repeats.summarize(runs)}
                data["runs"] = runs
            report.write(staging, data)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    print(pathlib.Path(args.out, "results.md").read_text())
    print(f"results.json, results.md and the plot are in {args.out}/")
    return 0
