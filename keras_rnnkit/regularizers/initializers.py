"""Initializers of square recurrent kernels: scaled identity (IRNN), scaled orthogonal."""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


def _square_shape(owner, shape):
    """Returns `shape` as a tuple if it is (H, H), or raises."""
    shape = tuple(shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{owner}: the recurrent kernel to initialize must be square, (H, H). "
            f"Received: shape={shape}"
        )
    return shape


@export
class IdentityRecurrent(keras.initializers.Initializer):
    r"""The scaled identity $U = g I$, for identity-recurrent ReLU networks (IRNN).

    Le, Jaitly & Hinton (2015), "A Simple Way to Initialize Recurrent Networks
    of Rectified Linear Units": with a ReLU activation, a zero bias and
    $U = I$, an Elman network starts by copying its state forward
    ($h_t = \mathrm{relu}(x_t W + h_{t-1})$), so gradients neither vanish nor
    explode at first; a gain $g < 1$ makes the state decay instead. Pass it as
    the `recurrent_initializer` of a cell whose activation is `"relu"`.

    Unlike `keras.initializers.Identity`, which returns a rectangular
    "identity" for any 2-D shape, only square shapes (H, H) are accepted: a
    non-square recurrent kernel is a mistake, not something to pad.

    Args:
        gain: Positive float $g$. Default: `1.0`.

    Call arguments:
        shape: (H, H).
        dtype: Float dtype; `None` means `keras.config.floatx()`.

    Returns:
        $g I$, (H, H).

    Example:

    >>> import numpy as np, keras_rnnkit
    >>> from keras_rnnkit.initializers import IdentityRecurrent
    >>> np.asarray(IdentityRecurrent(gain=0.5)((2, 2))).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    >>> irnn = keras_rnnkit.ElmanRNN(
    ...     8, activation="relu", recurrent_initializer=IdentityRecurrent()
    ... )
    """

    def __init__(self, gain=1.0):
        self.gain = arguments.positive_float(type(self).__name__, "gain", gain)

    def __call__(self, shape, dtype=None):
        size, _ = _square_shape(type(self).__name__, shape)
        dtype = keras.backend.standardize_dtype(dtype)
        return keras.ops.multiply(
            keras.ops.eye(size, dtype=dtype), keras.ops.cast(self.gain, dtype)
        )

    def get_config(self):
        return {"gain": self.gain}


@export
class ScaledOrthogonal(keras.initializers.Initializer):
    r"""A random orthogonal matrix scaled to a given spectral radius.

    $$U = r Q, \qquad Q^\top Q = I,$$

    with $Q$ drawn uniformly (Haar) from the orthogonal matrices of size H,
    by `keras.initializers.Orthogonal`. Every eigenvalue of an orthogonal matrix
    has modulus 1, so every eigenvalue of $U$ has modulus $r$ and the spectral
    radius (largest $|\lambda|$) is exactly $r$; so is the spectral norm, and
    $U^\top U = r^2 I$. $r < 1$ gives a contracting recurrence at the start,
    $r > 1$ an expanding one (as used to set up echo-state-like dynamics).

    Args:
        spectral_radius: Positive float $r$. Default: `1.0`.
        seed: Integer or `None`. With an integer, every call returns the same
            matrix for the same shape and dtype. Default: `None` (a seed drawn
            once, when the initializer is created).

    Call arguments:
        shape: (H, H); only square shapes are accepted.
        dtype: Float dtype; `None` means `keras.config.floatx()`.

    Returns:
        $r Q$, (H, H).

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.initializers import ScaledOrthogonal
    >>> u = np.asarray(ScaledOrthogonal(spectral_radius=0.9, seed=1)((4, 4)))
    >>> np.abs(np.linalg.eigvals(u)).round(4).tolist()
    [0.9, 0.9, 0.9, 0.9]
    """

    def __init__(self, spectral_radius=1.0, seed=None):
        owner = type(self).__name__
        self.spectral_radius = arguments.positive_float(owner, "spectral_radius", spectral_radius)
        self.seed = arguments.optional_seed(owner, "seed", seed)
        self._orthogonal = keras.initializers.Orthogonal(gain=self.spectral_radius, seed=self.seed)

    def __call__(self, shape, dtype=None):
        shape = _square_shape(type(self).__name__, shape)
        return self._orthogonal(shape, dtype=keras.backend.standardize_dtype(dtype))

    def get_config(self):
        return {"spectral_radius": self.spectral_radius, "seed": self.seed}
