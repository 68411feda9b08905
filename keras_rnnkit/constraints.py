"""Weight constraints, where Keras keeps its own: `keras_rnnkit.constraints`.

`keras_rnnkit.regularizers.SpectralNormConstraint` is a deprecated alias (it
warns with a `DeprecationWarning`): the same class, registered under the same
name, so saved models load either way.
"""

from keras_rnnkit.regularizers.spectral import SpectralNormConstraint as SpectralNormConstraint
