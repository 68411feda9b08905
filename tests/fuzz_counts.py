"""Counts the outcomes of the constructor fuzz (`tests/test_fuzz.py`) on one backend.

    KERAS_BACKEND=jax python -m tests.fuzz_counts --examples 3400 --seed 20261207

draws `--examples` configurations with the suite's seed, as the slow tier does, and
tallies each one's outcome (`test_fuzz.classify`): "built" and "refused" hold; "crashed",
"unnamed", "accepted", "wrong" and "hung" (over `--timeout` seconds) are faults, each
listed with its configuration. Prints the counts as JSON (and writes them to `--out`).
"""

import argparse
import collections
import json
import os
import pathlib
import signal
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import Phase  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import seed  # noqa: E402
from hypothesis import settings  # noqa: E402

from tests import test_fuzz  # noqa: E402


def _hung(signum, frame):
    raise TimeoutError


def count(examples, suite_seed, timeout):
    """`(counts, faults)` over `examples` configurations drawn with `suite_seed`."""
    counts, faults = collections.Counter(), []
    signal.signal(signal.SIGALRM, _hung)

    @seed(suite_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(configuration=test_fuzz.configurations())
    def run(configuration):
        with tempfile.TemporaryDirectory() as directory:
            signal.alarm(timeout)
            try:
                outcome, detail = test_fuzz.classify(configuration, pathlib.Path(directory))
            except TimeoutError:
                outcome, detail = "hung", f"over {timeout} s"
            finally:
                signal.alarm(0)
        counts[outcome] += 1
        if outcome not in test_fuzz.HELD:
            fault = {"outcome": outcome, "detail": detail, "configuration": repr(configuration)}
            faults.append(fault)
            print(outcome, detail, configuration, file=sys.stderr, flush=True)
        keras.backend.clear_session()

    run()
    return counts, faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=test_fuzz.SLOW_EXAMPLES)
    parser.add_argument("--seed", type=int, default=test_fuzz.SUITE_SEED)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts, faults = count(args.examples, args.seed, args.timeout)
    result = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "seed": args.seed,
        "examples": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "faults": faults,
        "seconds": round(time.perf_counter() - start),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
