r"""Weight decay whose strength is set from the evidence (MacKay 1992; Foresee & Hagan 1997).

Bayesian regularisation trains the weights on

$$F(w) = \beta E_D + \alpha E_W, \qquad E_D = \sum_n e_n^2, \quad E_W = \sum_i w_i^2,$$

and re-estimates the two strengths from the evidence as it goes (see
`keras_rnnkit.training.BayesianRegularization`). With the mean squared error as
the loss, $F / (\beta N)$ is the loss plus $\frac{\alpha}{\beta N} E_W$: this
regularizer is that second term, its strength a variable that the callback
sets.
"""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


@export
class BayesianWeightDecay(keras.layers.Layer, keras.regularizers.Regularizer):
    r"""Weight decay $\lambda \sum_i w_i^2$ whose $\lambda$ a callback sets from the evidence.

    $\lambda = \alpha / (\beta N)$ is a non-trainable variable: it starts at
    `strength`, and `keras_rnnkit.training.BayesianRegularization` moves it to
    MacKay's evidence estimate during training (without that callback it is
    plain L2 weight decay). It is saved with the model. Give each weight its
    own instance (as `keras_rnnkit.models.build_model` does): the callback sets
    every instance of a model to the same $\lambda$, one $\alpha$ for all the
    weights, as MATLAB's `trainbr`.

    Args:
        strength: Non-negative float, the initial $\lambda$. Default: `0.0`
            (Foresee & Hagan start with $\alpha = 0$).
        **kwargs: Base layer arguments (`name`, ...). Its variable is float32.

    Call arguments:
        w: A weight tensor of any shape.

    Returns:
        The penalty, a float32 scalar.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.regularizers import BayesianWeightDecay
    >>> decay = BayesianWeightDecay(strength=0.5)
    >>> float(decay(np.array([1.0, 2.0])))  # 0.5 * (1 + 4)
    2.5
    """

    def __init__(self, strength=0.0, **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(dtype="float32", **kwargs)
        self.initial_strength = arguments.non_negative_float(
            type(self).__name__, "strength", strength
        )
        self.strength = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_strength),
            trainable=False,
            name="strength",
        )
        self.built = True

    def call(self, w):
        w = keras.ops.cast(w, "float32")
        return self.strength * keras.ops.sum(keras.ops.square(w))

    def compute_output_shape(self, input_shape):
        return ()

    def get_config(self):
        return {**super().get_config(), "strength": self.initial_strength}
