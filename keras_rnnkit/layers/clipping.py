"""Per-time-step gradient clipping inside back-propagation through time.

Keras clips on the optimizer (`clipnorm`, `clipvalue`): once per update, on the summed
weight gradients. Clipping inside BPTT (Graves 2013; Mikolov 2012) bounds the gradient
from step t into the state h_{t-1} at every step, so that one exploding stretch of the
sequence cannot dominate the sum; the forward pass is unchanged.
"""

import keras

CLIP_MODES = ("value", "norm")

# Guards the division in norm clipping against an all-zero gradient.
_TINY = 1e-12


def _clipped(upstream, threshold, mode):
    if mode == "value":
        return keras.ops.clip(upstream, -threshold, threshold)
    norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(upstream), axis=-1, keepdims=True))
    scale = keras.ops.minimum(1.0, threshold / keras.ops.maximum(norm, _TINY))
    return upstream * keras.ops.cast(scale, upstream.dtype)


def clip_gradient(x, threshold, mode="value"):
    r"""Identity on `x` whose gradient is clipped on the way back.

    With mode `"value"` each element of the incoming gradient $g$ is clipped to
    $[-c, c]$; with `"norm"`, each sample's gradient (the last axis) is scaled
    to norm at most $c$: $g \cdot \min(1, c / \lVert g \rVert)$.

    Args:
        x: Tensor, (B, ..., H).
        threshold: Positive float $c$.
        mode: `"value"` or `"norm"`.

    Returns:
        `x`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.training import clip_gradient
    >>> y = clip_gradient(np.array([[3.0, -4.0]], "float32"), 1.0, "norm")
    >>> np.asarray(y).tolist()
    [[3.0, -4.0]]
    """

    @keras.ops.custom_gradient
    def identity(value):
        def gradient(*args, upstream=None):
            # TensorFlow and JAX pass the upstream gradient positionally,
            # PyTorch as a keyword (see keras.ops.custom_gradient).
            if upstream is None:
                (upstream,) = args
            return _clipped(upstream, threshold, mode)

        return keras.ops.multiply(value, 1), gradient

    return identity(x)
