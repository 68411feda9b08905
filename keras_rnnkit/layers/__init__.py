"""The recurrent and time-delay layers of keras_rnnkit."""

from keras_rnnkit.layers.autoregression import LinearAutoregression as LinearAutoregression
from keras_rnnkit.layers.elman import ElmanCell as ElmanCell
from keras_rnnkit.layers.elman import ElmanRNN as ElmanRNN
from keras_rnnkit.layers.jordan import JordanCell as JordanCell
from keras_rnnkit.layers.jordan import JordanRNN as JordanRNN
from keras_rnnkit.layers.keras_cells import KerasCell as KerasCell
from keras_rnnkit.layers.last_observed import LastObserved as LastObserved
from keras_rnnkit.layers.narx import NARX as NARX
from keras_rnnkit.layers.narx import NarxCell as NarxCell
from keras_rnnkit.layers.recurrent import Recurrent as Recurrent
from keras_rnnkit.layers.tdnn import TDNN as TDNN
from keras_rnnkit.layers.tdnn import TDNNCell as TDNNCell
