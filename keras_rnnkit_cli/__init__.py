"""The `rnnkit` command line, kept apart from `keras_rnnkit`: it imports no backend until needed.

`import keras_rnnkit` imports keras, and keras imports its backend (TensorFlow by default: seconds,
and C++ log lines). This package parses the line, answers `--help` and `--version`, quiets the
backends' logging, and only then imports `keras_rnnkit.cli`, which runs the command.

Example: the parser alone, as `rnnkit train --model elman --task adding` reads it:

>>> from keras_rnnkit_cli import build_parser
>>> args = build_parser().parse_args(["train", "--model", "elman", "--task", "adding"])
>>> args.command, args.model, args.task, args.epochs, args.quiet
('train', 'elman', 'adding', 50, False)

`main(["train", ...])` runs it, as `rnnkit train ...` does on a shell.
"""

from keras_rnnkit_cli.main import main as main
from keras_rnnkit_cli.parser import build_parser as build_parser
