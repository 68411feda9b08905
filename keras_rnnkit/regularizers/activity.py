r"""Activation and temporal activation regularization (AR, TAR) of hidden states.

Merity, Keskar & Socher (2017), "Regularizing and Optimizing LSTM Language
Models", penalize large hidden states (AR) and hidden states that change fast
from step to step (TAR). Both are activity regularizers: pass one as the
`activity_regularizer=` of a layer that returns sequences (B, T, H).

"mean" below is the mean over *all* elements of its argument, batch, time and
features alike, as in the authors' code (`h.pow(2).mean()`):

$$\mathrm{AR}(h) = \alpha \frac{1}{BTH} \sum_{b,t,i} h_{b,t,i}^2, \qquad
\mathrm{TAR}(h) = \beta \frac{1}{B(T-1)H} \sum_{b,i} \sum_{t=1}^{T-1}
(h_{b,t,i} - h_{b,t-1,i})^2.$$

Keras divides whatever an `activity_regularizer` returns by the batch size B
before adding it to `layer.losses` (so that its weight relative to the weight
penalties does not change with B); the loss a layer records is therefore the
value above divided by B. Keras also regularizes *every* output of the layer:
with `return_state=True` the states (B, H) are regularized too, which TAR
refuses (it needs a time axis). Masks are not seen: padded steps count.
"""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export


def _at_least_float32(x):
    # A float16 mean of squares overflows easily; float64 stays float64.
    x = keras.ops.convert_to_tensor(x)
    return keras.ops.cast(x, keras.backend.result_type(x.dtype, "float32"))


def _mean_square(x):
    return keras.ops.mean(keras.ops.square(x))


def _mean_square_step(x):
    steps = x[:, 1:] - x[:, :-1]
    # With T = 1 there are no differences; the mean of none is taken as 0, not NaN.
    count = keras.ops.cast(keras.ops.size(steps), x.dtype)
    return keras.ops.divide_no_nan(keras.ops.sum(keras.ops.square(steps)), count)


def _check_rank(owner, x):
    shape = tuple(x.shape)
    if len(shape) < 3:
        raise ValueError(
            f"{owner}: the input must have rank >= 3, (B, T, H), with time on axis 1. "
            "On a recurrent layer set `return_sequences=True` and "
            "`return_state=False` (Keras regularizes every output, states included). "
            f"Received: shape={shape}"
        )


@export
class ActivationRegularizer(keras.regularizers.Regularizer):
    r"""Activation regularization (AR): an L2 penalty on the activations.

    $$\mathrm{AR}(h) = \alpha \cdot \mathrm{mean}(h^2)
    = \alpha \frac{1}{N} \sum_{j} h_j^2,$$

    the mean over all N elements of `h`, of any shape; for outputs (B, T, H),
    N = BTH. Used as an `activity_regularizer`, Keras divides the value by the
    batch size B before adding it to the layer's losses.

    Merity et al. apply AR to the output of the last recurrent layer *after*
    its output dropout; as the `activity_regularizer` of the layer it sees
    the output before any dropout that follows the layer.

    Args:
        alpha: Non-negative float $\alpha$, the weight of the penalty.
            Default: `2.0` (Merity et al.'s value for their LSTM language model).

    Call arguments:
        x: Tensor of any shape, e.g. (B, T, H) hidden states.

    Returns:
        A scalar tensor (float32, or float64 for float64 input).

    Example:

    >>> import numpy as np, keras_rnnkit
    >>> from keras_rnnkit.regularizers import ActivationRegularizer
    >>> ar = ActivationRegularizer(alpha=0.5)
    >>> round(float(ar(np.full((2, 3, 4), 2.0, "float32"))), 4)  # 0.5 * mean(2^2)
    2.0
    >>> layer = keras_rnnkit.ElmanRNN(4, return_sequences=True, activity_regularizer=ar)
    >>> _ = layer(np.ones((2, 5, 3), "float32"))
    >>> len(layer.losses)
    1
    """

    def __init__(self, alpha=2.0):
        self.alpha = arguments.non_negative_float(type(self).__name__, "alpha", alpha)

    def __call__(self, x):
        return self.alpha * _mean_square(_at_least_float32(x))

    def get_config(self):
        return {"alpha": self.alpha}


@export
class TemporalActivationRegularizer(keras.regularizers.Regularizer):
    r"""Temporal activation regularization (TAR): a penalty on the change of state.

    $$\mathrm{TAR}(h) = \beta \cdot \mathrm{mean}\big((h_t - h_{t-1})^2\big)
    = \beta \frac{1}{B(T-1)H} \sum_{b,i} \sum_{t=1}^{T-1}
    (h_{b,t,i} - h_{b,t-1,i})^2,$$

    the mean over all B(T-1)H differences of consecutive steps (time is axis 1;
    further axes count like H). With T = 1 there is no difference and the
    value is 0. Used as an `activity_regularizer`, Keras divides the value by
    the batch size B before adding it to the layer's losses.

    Args:
        beta: Non-negative float $\beta$, the weight of the penalty.
            Default: `1.0` (Merity et al.'s value for their LSTM language model).

    Call arguments:
        x: Tensor (B, T, H) (rank >= 3, time on axis 1). A layer that returns
            only its last output, or also its states, gives rank 2 and raises
            a `ValueError`.

    Returns:
        A scalar tensor (float32, or float64 for float64 input).

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.regularizers import TemporalActivationRegularizer
    >>> tar = TemporalActivationRegularizer(beta=0.5)
    >>> h = np.arange(3, dtype="float32").reshape(1, 3, 1) * np.ones((2, 1, 4), "float32")
    >>> round(float(tar(h)), 4)  # every step changes each unit by 1: 0.5 * mean(1^2)
    0.5
    """

    # The outputs of every step, (B, T, H): a layer must return sequences, not states.
    needs_sequences = True

    def __init__(self, beta=1.0):
        self.beta = arguments.non_negative_float(type(self).__name__, "beta", beta)

    def __call__(self, x):
        x = _at_least_float32(x)
        _check_rank(type(self).__name__, x)
        return self.beta * _mean_square_step(x)

    def get_config(self):
        return {"beta": self.beta}


@export
class ActivationTemporalRegularizer(keras.regularizers.Regularizer):
    r"""AR and TAR together, for the one `activity_regularizer` slot of a layer.

    $$R(h) = \alpha \cdot \mathrm{mean}(h^2)
    + \beta \cdot \mathrm{mean}\big((h_t - h_{t-1})^2\big),$$

    exactly `ActivationRegularizer(alpha)(h) + TemporalActivationRegularizer(beta)(h)`
    (see those classes for the means). A Keras layer takes a single activity
    regularizer, so this is how both penalties of Merity et al. are applied to
    one layer. Used as an `activity_regularizer`, Keras divides the value by
    the batch size B before adding it to the layer's losses.

    Args:
        alpha: Non-negative float $\alpha$, the weight of AR. Default: `2.0`.
        beta: Non-negative float $\beta$, the weight of TAR. Default: `1.0`.

    Call arguments:
        x: Tensor (B, T, H) (rank >= 3, time on axis 1), even when `beta` is 0.

    Returns:
        A scalar tensor (float32, or float64 for float64 input).

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.regularizers import ActivationTemporalRegularizer
    >>> both = ActivationTemporalRegularizer(alpha=0.5, beta=0.5)
    >>> h = np.arange(3, dtype="float32").reshape(1, 3, 1) * np.ones((2, 1, 4), "float32")
    >>> round(float(both(h)), 4)  # 0.5 * mean([0, 1, 4]) + 0.5 * mean([1, 1])
    1.3333
    """

    # The outputs of every step, (B, T, H): a layer must return sequences, not states.
    needs_sequences = True

    def __init__(self, alpha=2.0, beta=1.0):
        owner = type(self).__name__
        self.alpha = arguments.non_negative_float(owner, "alpha", alpha)
        self.beta = arguments.non_negative_float(owner, "beta", beta)

    def __call__(self, x):
        x = _at_least_float32(x)
        _check_rank(type(self).__name__, x)
        return self.alpha * _mean_square(x) + self.beta * _mean_square_step(x)

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta}
