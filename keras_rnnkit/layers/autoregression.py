"""`LinearAutoregression`: a fixed linear AR(p) forecast of some input features, inside a
forecaster.

A layer of the core, not of the forecasting application, because saved forecasters hold
it: loading one needs only `import keras_rnnkit`.
"""

import keras
import numpy as np

from keras_rnnkit._api import export
from keras_rnnkit.layers.last_observed import checked_feature_indices


def lagged_design(series, order):
    """(N, order + 1): the last `order` values of each window of `series` (N, T), lag 1
    first, then a column of ones for the intercept: the design of a least-squares AR."""
    lags = series[:, ::-1][:, :order]
    return np.concatenate([lags, np.ones((len(lags), 1))], axis=1)


@export
class LinearAutoregression(keras.layers.Layer):
    r"""A fixed linear autoregression of some input features: (B, T, D) -> (B, O).

    For output o, with $i_o$ its input feature,

    $$\hat y_o = c_o + \sum_{k=1}^{p} a_{k,o}\, x_{T+1-k,\, i_o}$$

    (lag 1 is the last time step). A forecaster adds its network's output to
    this, so that the network learns only what the linear forecast misses, as in
    the hybrid ARIMA-network models of Zhang (2003). The coefficients are numbers
    in the config, not weights: training never changes them, and every export
    holds them as constants. `LinearAutoregression.fit` finds them by least
    squares.

    Args:
        coefficients: $a$, a (p, O) nested list: row k - 1 holds lag k.
        intercepts: $c$, O numbers.
        feature_indices: $i_o$, the input feature of each output (O integers).
        **kwargs: Base layer arguments.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import LinearAutoregression
    >>> series = 0.5 ** np.arange(12.0)  # x_t = 0.5 x_{t-1}
    >>> x = np.stack([series[i : i + 3] for i in range(9)])[..., None]
    >>> layer = LinearAutoregression.fit(x, series[3:12, None], order=1)
    >>> np.round(layer.coefficients, 6).tolist(), abs(round(layer.intercepts[0], 6))
    ([[0.5]], 0.0)
    >>> keras.ops.convert_to_numpy(layer(x[:1])).round(6).tolist()  # 0.5 * x_3
    [[0.125]]
    """

    def __init__(self, coefficients, intercepts, feature_indices, **kwargs):
        super().__init__(**kwargs)
        self.feature_indices = checked_feature_indices("LinearAutoregression", feature_indices)
        outputs = len(self.feature_indices)
        array = np.asarray(coefficients, "float64")
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != outputs:
            raise ValueError(
                f"LinearAutoregression: `coefficients` must be a (p, {outputs}) nested list, one "
                f"row per lag and one column per feature index. Received shape {array.shape}"
            )
        if np.shape(intercepts) != (outputs,):
            raise ValueError(
                f"LinearAutoregression: `intercepts` must hold {outputs} numbers, one per output. "
                f"Received: intercepts={intercepts!r}"
            )
        self.coefficients = array.tolist()
        self.intercepts = [float(c) for c in intercepts]
        self.input_spec = keras.layers.InputSpec(min_ndim=3)

    @classmethod
    def fit(cls, x, y, order, feature_indices=0, **kwargs):
        """The least-squares AR(`order`) of windows `x` (N, T, D) for targets `y` (N, O).

        `feature_indices`: the input feature of each output, or one for all.
        """
        x, y = np.asarray(x, "float64"), np.asarray(y, "float64")
        y = y.reshape(len(y), -1)
        if isinstance(feature_indices, int):
            feature_indices = [feature_indices] * y.shape[1]
        if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= x.shape[1]:
            raise ValueError(
                f"LinearAutoregression.fit: `order` must be an integer from 1 to the window "
                f"length {x.shape[1]}. Received: order={order!r}"
            )
        feature_indices = checked_feature_indices("LinearAutoregression.fit", feature_indices)
        coefficients, intercepts = [], []
        for output, feature in enumerate(feature_indices):
            design = lagged_design(x[:, :, feature], order)
            solution, *_ = np.linalg.lstsq(design, y[:, output], rcond=None)
            coefficients.append(solution[:-1])
            intercepts.append(solution[-1])
        return cls(np.stack(coefficients, axis=1).tolist(), intercepts, feature_indices, **kwargs)

    def build(self, input_shape):
        steps, features = input_shape[-2], input_shape[-1]
        if features is not None and max(self.feature_indices) >= features:
            raise ValueError(
                f"LinearAutoregression: `feature_indices` must be below the number of input "
                f"features, {features}. Received: feature_indices={self.feature_indices}"
            )
        if steps is not None and len(self.coefficients) > steps:
            raise ValueError(
                f"LinearAutoregression: {len(self.coefficients)} lags need windows of at least "
                f"as many steps. Received windows of {steps}"
            )

    def call(self, inputs):
        order = len(self.coefficients)
        # (B, p, O): lag 1 first, each output's own feature.
        lags = keras.ops.flip(inputs[:, -order:, :], axis=1)
        lags = keras.ops.take(lags, self.feature_indices, axis=-1)
        coefficients = keras.ops.convert_to_tensor(self.coefficients, dtype=inputs.dtype)
        intercepts = keras.ops.convert_to_tensor(self.intercepts, dtype=inputs.dtype)
        return keras.ops.sum(lags * coefficients, axis=1) + intercepts

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.feature_indices))

    def get_config(self):
        return {
            **super().get_config(),
            "coefficients": self.coefficients,
            "intercepts": self.intercepts,
            "feature_indices": self.feature_indices,
        }
