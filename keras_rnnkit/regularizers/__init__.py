"""Regularizers that plug into the cells: weight elimination, soft weight-sharing, Bayesian
weight decay and activity regularizers.

Initializers and constraints live in `keras_rnnkit.initializers` and
`keras_rnnkit.constraints`; their names here are deprecated aliases.
"""

import importlib
import warnings

from keras_rnnkit.regularizers.activity import ActivationRegularizer as ActivationRegularizer
from keras_rnnkit.regularizers.activity import (
    ActivationTemporalRegularizer as ActivationTemporalRegularizer,
)
from keras_rnnkit.regularizers.activity import (
    TemporalActivationRegularizer as TemporalActivationRegularizer,
)
from keras_rnnkit.regularizers.bayesian import BayesianWeightDecay as BayesianWeightDecay
from keras_rnnkit.regularizers.per_weight import per_weight as per_weight
from keras_rnnkit.regularizers.soft_weight_sharing import SoftWeightSharing as SoftWeightSharing
from keras_rnnkit.regularizers.weight_elimination import WeightElimination as WeightElimination

# Deprecated aliases of classes that live where Keras users look for them
# (keras_rnnkit.initializers and keras_rnnkit.constraints): the same classes,
# with a warning. They will be removed in a future release.
_MOVED = {
    "IdentityRecurrent": "keras_rnnkit.initializers",
    "ScaledOrthogonal": "keras_rnnkit.initializers",
    "SpectralNormConstraint": "keras_rnnkit.constraints",
}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"keras_rnnkit.regularizers.{name} is deprecated, use {_MOVED[name]}.{name} "
        "(the same class, moved).",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_MOVED[name]), name)
