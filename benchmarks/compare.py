"""Compares two repeated benchmark runs: `python benchmarks/compare.py BEFORE AFTER`."""

import pathlib
import sys

# The checkout's root, so that `benchmarks.suite` imports (as run.py does).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.suite.compare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
