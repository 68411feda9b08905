"""The benchmark suite's entry point: `python benchmarks/run.py [--smoke] ...`.

The same as `rnnkit bench`; the machinery lives in `keras_rnnkit.bench` so that
it also works from an installed package. `--help` lists the options.
"""

import pathlib
import sys

# From a checkout without `pip install`: the package beside this folder.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_rnnkit.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="benchmarks/run.py"))
