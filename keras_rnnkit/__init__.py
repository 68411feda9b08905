"""keras_rnnkit: Elman, Jordan and time-delay recurrent layers for Keras 3.

`import keras_rnnkit` loads the core only: the layers, their backend code, the
regularizers, initializers, constraints, losses and training tools, everything a
saved model may hold. The applications built on it (`data`, `forecasting`,
`models`, `tuning`, `export`, `cli`) load when first used, as
`keras_rnnkit.data` or `import keras_rnnkit.tuning`.
"""

import importlib as _importlib

# First: with no backend installed, one line naming the extra to install (see the module).
from keras_rnnkit import _backend_check as _backend_check
from keras_rnnkit import constraints as constraints
from keras_rnnkit import initializers as initializers
from keras_rnnkit import losses as losses
from keras_rnnkit import regularizers as regularizers
from keras_rnnkit import training as training
from keras_rnnkit.layers import TDNN as TDNN
from keras_rnnkit.layers import ElmanCell as ElmanCell
from keras_rnnkit.layers import ElmanRNN as ElmanRNN
from keras_rnnkit.layers import JordanCell as JordanCell
from keras_rnnkit.layers import JordanRNN as JordanRNN
from keras_rnnkit.layers import TDNNCell as TDNNCell

__version__ = "0.1.0"

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
