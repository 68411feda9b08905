"""Initializers of recurrent kernels, where Keras keeps its own: `keras_rnnkit.initializers`.

Their names in `keras_rnnkit.regularizers` are deprecated aliases (they warn
with a `DeprecationWarning`): the same classes, registered under the same
names, so saved models load either way.
"""

from keras_rnnkit.regularizers.initializers import IdentityRecurrent as IdentityRecurrent
from keras_rnnkit.regularizers.initializers import ScaledOrthogonal as ScaledOrthogonal
