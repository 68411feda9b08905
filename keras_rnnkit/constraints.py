"""Weight constraints, where Keras keeps its own: `keras_rnnkit.constraints`.

Formerly in `keras_rnnkit.regularizers` (still found there, with a
`DeprecationWarning`); the same class, registered under the same name, so
saved models load either way.
"""

from keras_rnnkit.regularizers.spectral import SpectralNormConstraint as SpectralNormConstraint
