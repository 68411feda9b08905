"""keras_rnnkit: Elman, Jordan, NARX and time-delay recurrent layers for Keras 3.

`import keras_rnnkit` loads the core only: the layers, their backend code, the
regularizers, initializers, constraints, losses and training tools, everything a
saved model may hold. The applications built on it (`data`, `forecasting`,
`models`, `tuning`, `export`, `cli`) load when first used, as
`keras_rnnkit.data` or `import keras_rnnkit.tuning`.
"""

import importlib as _importlib
import sys as _sys

__version__ = "0.1.0"


def _run_as_the_command_line():
    """Whether this process is `python -m keras_rnnkit`. Its `__main__` hands over to the
    command line at once, which loads the library after parsing the line and quieting the
    backend's log lines; loading the core here first would print those lines."""
    argv = list(getattr(_sys, "orig_argv", ()))
    return "-m" in argv and argv[argv.index("-m") + 1 :][:1] == [__name__]


if not _run_as_the_command_line():
    # First: with no backend installed, one line naming the extra to install (see the module).
    from keras_rnnkit import _backend_check as _backend_check
    from keras_rnnkit import _series_forecaster as _series_forecaster  # registers it
    from keras_rnnkit import constraints as constraints
    from keras_rnnkit import initializers as initializers
    from keras_rnnkit import losses as losses
    from keras_rnnkit import regularizers as regularizers
    from keras_rnnkit import training as training
    from keras_rnnkit.layers import NARX as NARX
    from keras_rnnkit.layers import TDNN as TDNN
    from keras_rnnkit.layers import ElmanCell as ElmanCell
    from keras_rnnkit.layers import ElmanRNN as ElmanRNN
    from keras_rnnkit.layers import JordanCell as JordanCell
    from keras_rnnkit.layers import JordanRNN as JordanRNN
    from keras_rnnkit.layers import NarxCell as NarxCell
    from keras_rnnkit.layers import TDNNCell as TDNNCell

# The applications, loaded on first use. The first three are listed by `dir()`; `tuning`
# and `export` need optional dependencies (keras-tuner, TensorFlow's converters), so they
# stay out of it, as `cli`, the command line's commands, does.
_APPLICATIONS = ("data", "forecasting", "models")
_OPT_IN = ("tuning", "export", "cli")


def __getattr__(name):
    if name in _APPLICATIONS or name in _OPT_IN:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_APPLICATIONS})
