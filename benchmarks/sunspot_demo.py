"""Runs `rnnkit demo` for some seeds and records its metrics: the figures the README quotes.

Each seed is one whole demo (every family's members, their average, the
baselines), run as a user runs it, in a fresh process: `rnnkit demo --seed S`.
Writes `benchmarks/results/sunspot_demo.json`: per seed the demo's own
`metrics.json` and the command's wall time, stamped with the commit and
machine. `python benchmarks/render.py` then rewrites the tables that quote it.

Run: `python benchmarks/sunspot_demo.py` (seed 0, about 3 minutes on 2 CPU
cores) or `--seeds 0 1 2`; `--smoke` runs `rnnkit demo --smoke` into a temp file.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # from a checkout, without `pip install`

from benchmarks.stamp import stamp  # noqa: E402


def run_demo(seed, smoke=False):
    """One `rnnkit demo --seed S` in a fresh process: `(metrics, wall seconds)`."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "demo"
        command = [sys.executable, "-m", "keras_rnnkit", "demo", "--quiet", "--out", str(out)]
        command += ["--seed", str(seed)] + (["--smoke"] if smoke else [])
        began = time.perf_counter()
        subprocess.run(command, check=True, cwd=HERE.parent)
        seconds = time.perf_counter() - began
        return json.loads((out / "metrics.json").read_text()), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    default = HERE / "results" / "sunspot_demo.json"
    out = pathlib.Path(
        args.out or (tempfile.mkdtemp() + "/sunspot_demo.json" if args.smoke else default)
    )
    runs = {}
    for seed in args.seeds:
        metrics, seconds = run_demo(seed, args.smoke)
        runs[str(seed)] = {
            "command": f"rnnkit demo --seed {seed}",
            "wall_s": seconds,
            "metrics": metrics,
        }
        print(f"seed {seed}: {seconds:.0f} s")
    record = {"stamp": stamp(), "smoke": args.smoke, "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(f"written to {out}")
    return record


if __name__ == "__main__":
    main()
