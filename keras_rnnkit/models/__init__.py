"""Ready-made models of each family: `build_model`, and the scaling a forecaster carries inside."""

from keras_rnnkit.models.builder import FAMILIES as FAMILIES
from keras_rnnkit.models.builder import PROBLEMS as PROBLEMS
from keras_rnnkit.models.builder import WEIGHT_PENALTIES as WEIGHT_PENALTIES
from keras_rnnkit.models.builder import build_model as build_model
