r"""Weight elimination (Weigend, Rumelhart & Huberman 1990/1991): a penalty that prunes weights.

The sunspot network of Weigend, Huberman & Rumelhart (1990) was trained with
this penalty added to the squared error:

$$\Omega(w) = \lambda \sum_i \frac{w_i^2 / w_0^2}{1 + w_i^2 / w_0^2}.$$

A weight much smaller than the scale $w_0$ costs about $\lambda w_i^2 / w_0^2$
(L2 weight decay, pulling it to zero); one much larger costs about $\lambda$
whatever its size. So the penalty counts the weights that matter instead of
shrinking all of them: small, useless weights are eliminated and large,
useful ones are left alone. The paper adapts $\lambda$ during training; here
it is fixed (choose it by validation, like any weight decay).
"""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


@export
class WeightElimination(keras.regularizers.Regularizer):
    r"""The weight-elimination penalty $\lambda \sum_i (w_i/w_0)^2 / (1 + (w_i/w_0)^2)$.

    Use it wherever Keras takes a weight regularizer (`kernel_regularizer=`,
    `recurrent_regularizer=`, ...). Its gradient,
    $2 \lambda w_i / w_0^2 / (1 + w_i^2/w_0^2)^2$, is largest at
    $|w_i| = w_0 / \sqrt 3$ and falls to zero for large weights.

    Args:
        strength: Non-negative float $\lambda$. Default: `1e-3`.
        scale: Positive float $w_0$, the size above which a weight counts as
            fully "present". Default: `1.0` (the paper's choice for inputs and
            activations of order one).

    Call arguments:
        w: A weight tensor of any shape.

    Returns:
        The penalty, a scalar of `w`'s dtype (at least float32).

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.regularizers import WeightElimination
    >>> penalty = WeightElimination(strength=0.1, scale=1.0)
    >>> round(float(penalty(np.array([0.0, 1.0, 3.0]))), 6)  # 0.1 * (0 + 1/2 + 9/10)
    0.14
    """

    def __init__(self, strength=1e-3, scale=1.0):
        owner = type(self).__name__
        self.strength = arguments.non_negative_float(owner, "strength", strength)
        self.scale = arguments.positive_float(owner, "scale", scale)

    def __call__(self, w):
        w = keras.ops.convert_to_tensor(w)
        # float16 squares of large weights overflow; float64 stays float64.
        w = keras.ops.cast(w, keras.backend.result_type(w.dtype, "float32"))
        ratio = keras.ops.square(w / self.scale)
        return self.strength * keras.ops.sum(ratio / (1.0 + ratio))

    def get_config(self):
        return {"strength": self.strength, "scale": self.scale}
