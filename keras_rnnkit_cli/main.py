"""`rnnkit`'s entry point: parse, set the environment, then import the package and run."""

import contextlib
import logging
import os
import signal
import sys
import warnings

from keras_rnnkit_cli.checks import early_errors
from keras_rnnkit_cli.checks import time_column_of
from keras_rnnkit_cli.parser import build_parser


def _quiet_backends():
    """Silences the backends' own logging; must run before anything imports keras.

    TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when its C++ library loads: set
    later, it leaves the oneDNN, CUDA ("failed call to cuInit") and CPU-feature
    lines that say nothing to a user of the command line.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's retracing notices (each model has its own predict function).
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Points file descriptor 2 at /dev/null while the backend's native libraries load.

    TensorFlow 2.21 writes its oneDNN and "Could not find cuda drivers" lines from C++ while it
    is imported, before it reads TF_CPP_MIN_LOG_LEVEL; only the descriptor can stop them.
    Python's own errors are not lost: an exception propagates and is reported afterwards.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _warnings_on_one_line():
    """Prints each warning as one line, `rnnkit: warning: ...`, while the command runs,
    not Python's two (the source file and line, then the code that warned)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"rnnkit: warning: {one_line(message)}", file=sys.stderr)

    shown = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _end_at_once_on_interrupt(command):
    """Run as the program, Ctrl-C ends the process at once, with one line and exit code 130.

    A `KeyboardInterrupt` unwinding through the backend's native code, stopped mid-step,
    can crash the process (SIGSEGV, SIGABRT) instead. Ending at once is as safe as a kill:
    outputs are staged and moved into place whole, so none is left half-written.
    """

    def handler(signum, frame):
        os.write(2, f"rnnkit {command}: interrupted; nothing was written\n".encode())
        try:
            sys.stdout.flush()
        except (OSError, RuntimeError):  # a write of the main thread was interrupted
            pass
        os._exit(130)

    signal.signal(signal.SIGINT, handler)


def main(argv=None):
    """Runs `rnnkit` with `argv` (default: the process's arguments); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        early_errors(args)
        found = time_column_of(args)
        if found is not None and args.time_column is None:
            args.time_column, args.time_column_found = found, True
    except ValueError as error:
        if args.debug:
            raise
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 1
    if not args.debug:
        _quiet_backends()
        if argv is None and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            _end_at_once_on_interrupt(args.command)
    try:
        # Imports keras and its backend: only now, after the environment is set.
        with contextlib.nullcontext() if args.debug else _native_stderr_silenced():
            from keras_rnnkit import cli

        with contextlib.nullcontext() if args.debug else _warnings_on_one_line():
            return cli.COMMANDS[args.command](args)
    except KeyboardInterrupt:
        # Called from Python (the program itself ends at once: `_end_at_once_on_interrupt`).
        if args.debug:
            raise
        # Outputs are staged and moved into place whole: an interrupted run leaves none.
        print(f"rnnkit {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, ImportError) as error:
        if args.debug:
            raise
        print(f"rnnkit: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a library error is still one line
        if args.debug:
            raise
        print(
            f"rnnkit: error: {type(error).__name__}: {one_line(error)} (run again with "
            "--debug for the traceback)",
            file=sys.stderr,
        )
        return 1


# The most characters of an error printed: its start and its end (the cause) are kept.
LONGEST_ERROR = 600


def one_line(error):
    """`error`'s message on one line: lines joined, and a message longer than
    `LONGEST_ERROR` cut in the middle (Keras appends whole configs to its errors).

    >>> one_line(ValueError("a\\n  b"))
    'a b'
    """
    text = " ".join(str(error).split())
    if len(text) <= LONGEST_ERROR:
        return text
    half = LONGEST_ERROR // 2
    return f"{text[:half]} ... {text[-half:]}"
