"""keras_rnnkit: Elman, Jordan and time-delay recurrent layers for Keras 3."""

# First: with no backend installed, one line naming the extra to install (see the module).
from keras_rnnkit import _backend_check as _backend_check
from keras_rnnkit import constraints as constraints
from keras_rnnkit import data as data
from keras_rnnkit import forecasting as forecasting
from keras_rnnkit import initializers as initializers
from keras_rnnkit import regularizers as regularizers
from keras_rnnkit import training as training
from keras_rnnkit.layers import TDNN as TDNN
from keras_rnnkit.layers import ElmanCell as ElmanCell
from keras_rnnkit.layers import ElmanRNN as ElmanRNN
from keras_rnnkit.layers import JordanCell as JordanCell
from keras_rnnkit.layers import JordanRNN as JordanRNN
from keras_rnnkit.layers import TDNNCell as TDNNCell

__version__ = "0.1.0"
