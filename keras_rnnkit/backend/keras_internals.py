"""The one place where keras_rnnkit reaches into Keras's private modules.

`keras.layers.RNN` prepares one dropout mask per sequence only for cells of Keras's
`DropoutRNNCell` mixin, so our cells inherit it. `backend_rnn` is the backend's loop over
the steps, which `keras.layers.RNN.inner_loop` runs; our layers run it themselves, to hand
each step its controls. Neither has a public name.
"""

from keras.src.backend import rnn as backend_rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["DropoutRNNCell", "backend_rnn"]
