"""Ready-made models of each family (`build_model`), the family registry, and the scaling a
forecaster carries inside."""

from keras_rnnkit.models.builder import PROBLEMS as PROBLEMS
from keras_rnnkit.models.builder import WEIGHT_PENALTIES as WEIGHT_PENALTIES
from keras_rnnkit.models.builder import build_model as build_model
from keras_rnnkit.models.families import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from keras_rnnkit.models.families import FAMILIES as FAMILIES
from keras_rnnkit.models.families import Family as Family
from keras_rnnkit.models.families import Hyperparameter as Hyperparameter
from keras_rnnkit.models.families import get_family as get_family
from keras_rnnkit.models.families import recurrent_options as recurrent_options
from keras_rnnkit.models.families import register_family as register_family
from keras_rnnkit.models.families import registered_families as registered_families
from keras_rnnkit.models.families import unregister_family as unregister_family
