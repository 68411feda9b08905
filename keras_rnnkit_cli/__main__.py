"""`python -m keras_rnnkit_cli` runs the `rnnkit` command line."""

import sys

from keras_rnnkit_cli import main

sys.exit(main())
