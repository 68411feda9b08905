"""Hyperparameter search over the recurrent families with keras-tuner.

keras-tuner is imported here only (never by `import keras_rnnkit`); without
it, importing this package says how to install it.

>>> from keras_rnnkit.tuning import RecurrentHyperModel
>>> RecurrentHyperModel((12, 1), 1).families
('elman', 'jordan', 'narx', 'tdnn')
"""

from keras_rnnkit.tuning import _dependency  # noqa: F401  (the ImportError comes first)
from keras_rnnkit.tuning.builder import build_model as build_model
from keras_rnnkit.tuning.hypermodel import HyperElman as HyperElman
from keras_rnnkit.tuning.hypermodel import HyperJordan as HyperJordan
from keras_rnnkit.tuning.hypermodel import HyperTDNN as HyperTDNN
from keras_rnnkit.tuning.hypermodel import RecurrentHyperModel as RecurrentHyperModel
from keras_rnnkit.tuning.search import TUNERS as TUNERS
from keras_rnnkit.tuning.search import SearchResult as SearchResult
from keras_rnnkit.tuning.search import hypermodel_for_task as hypermodel_for_task
from keras_rnnkit.tuning.search import make_tuner as make_tuner
from keras_rnnkit.tuning.search import run_search as run_search
from keras_rnnkit.tuning.space import FAMILIES as FAMILIES
from keras_rnnkit.tuning.space import HYPERPARAMETERS as HYPERPARAMETERS
