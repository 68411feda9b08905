r"""Soft weight-sharing (Nowlan & Hinton 1992): a learned mixture-of-Gaussians prior on weights.

Nowlan & Hinton's sunspot network was trained with the negative log of a
mixture prior added to the squared error,

$$\Omega(w) = -\lambda \sum_i \log \sum_{j=1}^{M} \pi_j\,
  \mathcal N(w_i \mid \mu_j, \sigma_j^2), \qquad
  \pi_j = \frac{e^{\gamma_j}}{\sum_k e^{\gamma_k}}, \quad \sigma_j = e^{s_j},$$

and the means $\mu_j$, log standard deviations $s_j$ and logits $\gamma_j$
are learned together with the weights. Weights gather into a few clusters
(one of them, usually, at zero): the network is simpler than its weight count
says, without choosing in advance which weights to tie or remove.
"""

import math

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


@export
class SoftWeightSharing(keras.layers.Layer, keras.regularizers.Regularizer):
    r"""The negative log of a learned mixture prior, $-\lambda \sum_i \log p(w_i)$.

    $p(w) = \sum_j \pi_j \mathcal N(w \mid \mu_j, \sigma_j^2)$, as in the module's docstring.

    A weight regularizer (`kernel_regularizer=`, `recurrent_regularizer=`, ...)
    whose mixture is learned with the weights: it is also a Keras layer, so the
    layer it regularizes tracks its variables, the optimizer trains them, and
    they are saved and loaded with the model. Give **each weight its own
    instance** (Keras would load one instance shared by two weights as two;
    `keras_rnnkit.models.build_model` makes one per weight): a prior per weight
    matrix, where Nowlan & Hinton used one for the whole network.

    The mixture starts with its means evenly spaced over
    $[-\text{spread}, \text{spread}]$ (with `zero_component`, the first mean is
    0 and stays 0, and the others are spaced so; one other starts at
    `spread`), every $\sigma_j$ = `initial_sd` and equal proportions. A
    component whose $\sigma_j$ shrank to nothing would make the penalty
    unbounded below, so $\sigma_j$ is floored at `min_sd`.

    Args:
        strength: Non-negative float $\lambda$. With the mean squared error
            over N targets as the loss, the posterior's mode is at
            $\lambda = 2\sigma^2 / N$ for a noise variance $\sigma^2$ (in the
            loss's units); choose it by validation. Default: `1e-3`.
        components: Positive int $M$. Default: `3`.
        spread: Positive float, the half width of the initial means. Default: `1.0`.
        initial_sd: Positive float, every $\sigma_j$ at the start. Default: `0.25`.
        min_sd: Positive float, the floor of every $\sigma_j$. Default: `0.01`.
        zero_component: Whether the first component's mean is fixed at 0
            (as in Nowlan & Hinton's experiments). Default: `True`.
        **kwargs: Base layer arguments (`name`, ...). Its variables are float32.

    Call arguments:
        w: A weight tensor of any shape.

    Returns:
        The penalty, a float32 scalar.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.regularizers import SoftWeightSharing
    >>> prior = SoftWeightSharing(strength=1.0, components=1, initial_sd=1.0)
    >>> # One standard normal: (w^2 + log 2 pi) / 2 per weight.
    >>> round(float(prior(np.array([0.0, 2.0]))), 4)  # 4 / 2 + log(2 pi)
    3.8379
    >>> [v.name for v in prior.weights]
    ['means', 'log_sds', 'logits']
    """

    def __init__(
        self,
        strength=1e-3,
        components=3,
        spread=1.0,
        initial_sd=0.25,
        min_sd=0.01,
        zero_component=True,
        **kwargs,
    ):
        kwargs.pop("dtype", None)
        super().__init__(dtype="float32", **kwargs)
        owner = type(self).__name__
        self.strength = arguments.non_negative_float(owner, "strength", strength)
        self.components = arguments.positive_int(owner, "components", components)
        self.spread = arguments.positive_float(owner, "spread", spread)
        self.initial_sd = arguments.positive_float(owner, "initial_sd", initial_sd)
        self.min_sd = arguments.positive_float(owner, "min_sd", min_sd)
        self.zero_component = arguments.boolean(owner, "zero_component", zero_component)
        free = self.components - 1 if self.zero_component else self.components
        if free > 1:
            means = np.linspace(-self.spread, self.spread, free)
        else:
            means = np.full((free,), self.spread if self.zero_component else 0.0)
        self.means = self.add_weight(
            shape=(free,), initializer=keras.initializers.Constant(means), name="means"
        )
        self.log_sds = self.add_weight(
            shape=(self.components,),
            initializer=keras.initializers.Constant(math.log(self.initial_sd)),
            name="log_sds",
        )
        self.logits = self.add_weight(shape=(self.components,), initializer="zeros", name="logits")
        self.built = True

    def mixture(self):
        """`(means, sds, proportions)`, each of shape (M,), as the penalty uses them."""
        means = self.means
        if self.zero_component:
            means = keras.ops.concatenate([keras.ops.zeros((1,), "float32"), means])
        sds = keras.ops.maximum(keras.ops.exp(self.log_sds), self.min_sd)
        return means, sds, keras.ops.exp(self._log_proportions())

    def _log_proportions(self):
        # log softmax, written out: Keras warns of a softmax over one component.
        return self.logits - keras.ops.logsumexp(self.logits)

    def call(self, w):
        w = keras.ops.reshape(keras.ops.cast(w, "float32"), (-1, 1))
        means, sds, _ = self.mixture()
        log_densities = (
            -0.5 * keras.ops.square((w - means) / sds)
            - keras.ops.log(sds)
            - 0.5 * math.log(2.0 * math.pi)
        )
        log_prior = keras.ops.logsumexp(log_densities + self._log_proportions(), axis=1)
        return -self.strength * keras.ops.sum(log_prior)

    def compute_output_shape(self, input_shape):
        return ()

    def get_config(self):
        return {
            **super().get_config(),
            "strength": self.strength,
            "components": self.components,
            "spread": self.spread,
            "initial_sd": self.initial_sd,
            "min_sd": self.min_sd,
            "zero_component": self.zero_component,
        }
