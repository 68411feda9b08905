"""Checks of a parsed command line that need neither the library nor a backend.

`main` runs them before the library (and with it keras and its backend, seconds) loads,
so that a mistyped path or number is reported at once, in one line.
"""

import pathlib
import zipfile


def early_errors(args):
    """Raises a one-line `ValueError` for what is wrong with `args` that shows without
    the library: the numbers and files of `train`, `gradients` and `export`."""
    if args.command in ("train", "gradients"):
        _training_errors(args)
    elif args.command == "export":
        _export_errors(args)


def _training_errors(args):
    if args.window is not None and args.window < 3:
        raise ValueError(f"--window must be at least 3; received {args.window}")
    if args.horizon is not None and args.horizon < 1:
        raise ValueError(f"--horizon must be at least 1; received {args.horizon}")
    if args.data is not None and not pathlib.Path(args.data).is_file():
        raise ValueError(f"{args.data}: no such file")


def _export_errors(args):
    model_path = pathlib.Path(args.model)
    if not model_path.is_file() or model_path.suffix != ".keras":
        raise ValueError(f"{model_path}: expected a saved model file (.keras)")
    if args.format != "tflite" and (args.batch_size is not None or args.time_steps is not None):
        raise ValueError("--batch-size and --time-steps apply to --format tflite only")
    if args.format == "onnx" and args.streaming:
        raise ValueError("--streaming applies to --format savedmodel or tflite")
    if not zipfile.is_zipfile(model_path):
        raise ValueError(f"{model_path}: not a Keras model file (a .keras file is a zip archive)")
