"""`python -m keras_rnnkit` runs the `rnnkit` command line, as `python -m keras_rnnkit_cli` does.

The command line lives in `keras_rnnkit_cli`, which the library never imports: this module
replaces the process by that program, with the same arguments (and so the same exit code).
"""

import os
import sys

if __name__ == "__main__":
    os.execv(sys.executable, [sys.executable, "-m", "keras_rnnkit_cli", *sys.argv[1:]])
