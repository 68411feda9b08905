"""Training through time: per-step gradient clipping, truncated BPTT, monitors."""

from keras_rnnkit.training.clipping import clip_gradient as clip_gradient
