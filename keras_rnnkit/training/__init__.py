"""Training through time: per-step gradient clipping, truncated BPTT, monitors, and the
small-data tools: Bayesian regularisation and pruning by saliency."""

from keras_rnnkit.layers.clipping import clip_gradient as clip_gradient
from keras_rnnkit.training.bayesian import BayesianRegularization as BayesianRegularization
from keras_rnnkit.training.chunking import ResetStatesEvery as ResetStatesEvery
from keras_rnnkit.training.chunking import SequenceChunks as SequenceChunks
from keras_rnnkit.training.chunking import chunk_sequences as chunk_sequences
from keras_rnnkit.training.chunking import reset_recurrent_states as reset_recurrent_states
from keras_rnnkit.training.levenberg_marquardt import levenberg_marquardt as levenberg_marquardt
from keras_rnnkit.training.monitor import GradientFlowMonitor as GradientFlowMonitor
from keras_rnnkit.training.monitor import GradientFlowWarning as GradientFlowWarning
from keras_rnnkit.training.pruning import PruningMask as PruningMask
from keras_rnnkit.training.pruning import keep_pruned as keep_pruned
from keras_rnnkit.training.pruning import prunable_weights as prunable_weights
from keras_rnnkit.training.pruning import prune_least_salient as prune_least_salient
from keras_rnnkit.training.pruning import saliencies as saliencies
