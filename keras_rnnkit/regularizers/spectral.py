"""A weight constraint that bounds the spectral norm (largest singular value)."""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


@export
class SpectralNormConstraint(keras.constraints.Constraint):
    r"""Rescales a kernel whose spectral norm exceeds `max_norm` back onto the bound.

    With $\sigma(U)$ the largest singular value of the kernel $U$, after each
    optimizer update

    $$U \leftarrow U \cdot \frac{c}{\max(\sigma(U), c)},$$

    so a kernel with $\sigma(U) \le c$ is left exactly as it is and a larger one
    is scaled to $\sigma(U) = c$. On a recurrent kernel this bounds how much one
    step can stretch the state, $\lVert h_{t-1} U \rVert \le c \lVert h_{t-1}
    \rVert$, which guards against exploding states and gradients when $c \le 1$.

    $\sigma$ is computed exactly, by a singular value decomposition
    (`keras.ops.svd`), not by power iteration; in float32 the result is the
    bound up to rounding (a relative 1e-6 or so). A kernel of rank > 2, e.g.
    (K, D, H), is treated as the matrix (K*D, H), like
    `keras.layers.SpectralNormalization` does.

    Args:
        max_norm: Positive float $c$, the bound on the spectral norm.
            Default: `1.0`.

    Call arguments:
        w: The kernel, a tensor of rank >= 2, e.g. a recurrent kernel (H, H).

    Returns:
        The constrained kernel, same shape and dtype as `w`.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.constraints import SpectralNormConstraint
    >>> constraint = SpectralNormConstraint(max_norm=0.9)
    >>> w = np.diag([3.0, 1.5]).astype("float32")
    >>> np.asarray(constraint(w)).round(4).tolist()  # divided by 3 / 0.9
    [[0.9, 0.0], [0.0, 0.45]]
    >>> np.asarray(constraint(0.5 * w)).round(4).tolist()  # norm 1.5 > 0.9: scaled too
    [[0.9, 0.0], [0.0, 0.45]]
    >>> np.asarray(constraint(0.2 * w)).round(4).tolist()  # norm 0.6 <= 0.9: unchanged
    [[0.6, 0.0], [0.0, 0.3]]
    """

    # A kernel of rank >= 2: never a bias.
    needs_matrix = True

    def __init__(self, max_norm=1.0):
        self.max_norm = arguments.positive_float(type(self).__name__, "max_norm", max_norm)

    def __call__(self, w):
        w = keras.ops.convert_to_tensor(w)
        shape = tuple(w.shape)
        if len(shape) < 2:
            raise ValueError(
                f"{type(self).__name__}: the constrained weight must have rank >= 2 "
                f"(a kernel). Received: shape={shape}"
            )
        matrix = keras.ops.reshape(w, (-1, shape[-1])) if len(shape) > 2 else w
        # float16 SVDs are missing on some backends and too coarse on all.
        matrix = keras.ops.cast(matrix, keras.backend.result_type(w.dtype, "float32"))
        sigma = keras.ops.max(keras.ops.svd(matrix, compute_uv=False))
        # max_norm / max_norm is exactly 1, so a kernel inside the bound is unchanged.
        scale = self.max_norm / keras.ops.maximum(sigma, self.max_norm)
        return w * keras.ops.cast(scale, w.dtype)

    def get_config(self):
        return {"max_norm": self.max_norm}
