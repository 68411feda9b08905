"""The benchmark suite's entry point: `python benchmarks/run.py [--smoke] ...` from a checkout.

The machinery is the package `benchmarks.suite`, beside this file; `--help` lists the options.
"""

import pathlib
import sys

# The checkout's root, so that `benchmarks.suite` imports (as the other scripts here do).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.suite import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="benchmarks/run.py"))
