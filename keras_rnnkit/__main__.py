"""`python -m keras_rnnkit` runs the `rnnkit` command line (see `keras_rnnkit_cli`)."""

import sys

from keras_rnnkit_cli import main

sys.exit(main())
