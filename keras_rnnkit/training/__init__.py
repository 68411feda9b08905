"""Training through time: per-step gradient clipping, truncated BPTT, monitors."""

from keras_rnnkit.layers.clipping import clip_gradient as clip_gradient
from keras_rnnkit.training.chunking import ResetStatesEvery as ResetStatesEvery
from keras_rnnkit.training.chunking import SequenceChunks as SequenceChunks
from keras_rnnkit.training.chunking import chunk_sequences as chunk_sequences
from keras_rnnkit.training.chunking import reset_recurrent_states as reset_recurrent_states
from keras_rnnkit.training.monitor import GradientFlowMonitor as GradientFlowMonitor
from keras_rnnkit.training.monitor import GradientFlowWarning as GradientFlowWarning
