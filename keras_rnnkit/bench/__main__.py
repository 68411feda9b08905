"""`python -m keras_rnnkit.bench` runs the benchmark (the same as `rnnkit bench`)."""

import sys

from keras_rnnkit.bench import main

sys.exit(main(prog="python -m keras_rnnkit.bench"))
