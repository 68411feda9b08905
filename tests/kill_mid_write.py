"""Runs a script, SIGKILLed halfway through its Nth write to a file named NAME.

Usage: python tests/kill_mid_write.py NAME N SCRIPT [ARGS...]

A write to NAME itself, or to a staging file of it (`.NAME.rnnkit-staging-*`,
see `keras_rnnkit._atomic`), counts; the Nth such write puts half its data on
disk and the process kills itself, as a kill during a write would leave it.
Both Python's `open` and TensorFlow's `tf.io.gfile.GFile` (which keras-tuner
uses on the TensorFlow backend) are watched.
"""

import builtins
import os
import runpy
import signal
import sys


def _watching(opener, name, nth, writes):
    class TornOnNthWrite:
        def __init__(self, handle):
            self._handle = handle

        def write(self, data):
            writes.append(name)
            if len(writes) == nth:
                self._handle.write(data[: len(data) // 2])
                self._handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return self._handle.write(data)

        def __getattr__(self, attribute):
            return getattr(self._handle, attribute)

        def __enter__(self):
            self._handle.__enter__()
            return self

        def __exit__(self, *exc_info):
            return self._handle.__exit__(*exc_info)

    def ours(path):
        base = os.path.basename(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else ""
        return base == name or base.startswith(f".{name}.rnnkit-staging-")

    def opened(file, mode="r", *args, **kwargs):
        handle = opener(file, mode, *args, **kwargs)
        return TornOnNthWrite(handle) if ours(file) and mode[0] in "wxa" else handle

    return opened


def main():
    name, nth, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    writes = []
    builtins.open = _watching(builtins.open, name, nth, writes)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import tensorflow as tf

        tf.io.gfile.GFile = _watching(tf.io.gfile.GFile, name, nth, writes)
    sys.argv = sys.argv[3:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
