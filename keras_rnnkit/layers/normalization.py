"""Layer normalisation of a pre-activation (Ba et al. 2016): a layer with `layer_norm=True`
calls `add_layer_norm_weights` in `build` and `layer_normalized` on its pre-activation."""

import keras

LAYER_NORM_EPSILON = 1e-3


def add_layer_norm_weights(layer, size):
    """Adds `layer_norm_scale` (ones) and `layer_norm_offset` (zeros) when `layer.layer_norm`."""
    layer.layer_norm_scale = layer.layer_norm_offset = None
    if layer.layer_norm:
        layer.layer_norm_scale = layer.add_weight(
            shape=(size,), name="layer_norm_scale", initializer="ones"
        )
        layer.layer_norm_offset = layer.add_weight(
            shape=(size,), name="layer_norm_offset", initializer="zeros"
        )


def layer_normalized(layer, z):
    r"""$\gamma \odot (z - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$ over the last axis.

    The mean and variance are over the units, $\epsilon = 10^{-3}$; `z` is
    returned unchanged when `layer.layer_norm` is off.
    """
    if not layer.layer_norm:
        return z
    mean = keras.ops.mean(z, axis=-1, keepdims=True)
    variance = keras.ops.var(z, axis=-1, keepdims=True)
    normalized = (z - mean) * keras.ops.rsqrt(variance + LAYER_NORM_EPSILON)
    return normalized * layer.layer_norm_scale + layer.layer_norm_offset
