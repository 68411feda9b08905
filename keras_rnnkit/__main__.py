"""`python -m keras_rnnkit` runs the `rnnkit` command line."""

import sys

from keras_rnnkit.cli import main

sys.exit(main())
