"""Things that plug into the cells: weight and activity regularizers, constraints, initializers."""

from keras_rnnkit.regularizers.activity import ActivationRegularizer as ActivationRegularizer
from keras_rnnkit.regularizers.activity import (
    ActivationTemporalRegularizer as ActivationTemporalRegularizer,
)
from keras_rnnkit.regularizers.activity import (
    TemporalActivationRegularizer as TemporalActivationRegularizer,
)
from keras_rnnkit.regularizers.initializers import IdentityRecurrent as IdentityRecurrent
from keras_rnnkit.regularizers.initializers import ScaledOrthogonal as ScaledOrthogonal
from keras_rnnkit.regularizers.spectral import SpectralNormConstraint as SpectralNormConstraint
from keras_rnnkit.regularizers.weight_elimination import WeightElimination as WeightElimination
