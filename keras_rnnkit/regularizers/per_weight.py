"""`per_weight`: one instance of a regularizer that has variables for each weight it penalises."""

import keras


def per_weight(regularizer):
    """A fresh copy of a regularizer that is a layer (it has variables); any other as it is.

    A regularizer with variables (`SoftWeightSharing`, `BayesianWeightDecay`) is
    tracked by the layer it regularizes, and Keras saves an instance used by two
    weights once but loads it as two. So each weight gets its own: call this
    once per weight (`kernel_regularizer=per_weight(r), recurrent_regularizer=
    per_weight(r)`). Stateless regularizers (`keras.regularizers.L2`,
    `WeightElimination`) are shared as they are.

    Example:

    >>> import keras
    >>> from keras_rnnkit.regularizers import SoftWeightSharing, per_weight
    >>> prior = SoftWeightSharing(strength=0.01)
    >>> copy = per_weight(prior)
    >>> copy is prior, copy.get_config()["strength"]
    (False, 0.01)
    >>> decay = keras.regularizers.L2(0.01)
    >>> per_weight(decay) is decay
    True
    """
    if not isinstance(regularizer, keras.layers.Layer):
        return regularizer
    config = regularizer.get_config()
    config.pop("name", None)
    return type(regularizer).from_config(config)
