"""Losses that saved models of keras_rnnkit hold: `ScaledMeanSquaredError`.

In the core, so that loading a saved forecaster needs only `import keras_rnnkit`.
"""

import keras
import numpy as np

from keras_rnnkit._api import export


@export
class ScaledMeanSquaredError(keras.losses.Loss):
    r"""Mean squared error divided by a per-output variance: $\mathrm{mean}((y - \hat y)^2 / s^2)$.

    With $s^2$ the training targets' variance, and a model that un-scales its
    output as $\hat y = z s + m$, this is exactly the MSE of $z$ against the
    standardised targets: the model trains as if on standardised values while
    it takes and returns raw ones. For a forecaster of the change, $s^2$ is the
    variance of the training changes.

    Args:
        variance: A positive number, or one per output.
        name, reduction, dtype: As for `keras.losses.Loss`.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.forecasting import ScaledMeanSquaredError
    >>> float(ScaledMeanSquaredError(4.0)(np.array([[2.0]]), np.array([[0.0]])))
    1.0
    """

    def __init__(
        self,
        variance,
        name="scaled_mean_squared_error",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        values = np.atleast_1d(np.asarray(variance, "float64"))
        if values.ndim != 1 or not np.all(np.isfinite(values)) or not np.all(values > 0):
            raise ValueError(
                "ScaledMeanSquaredError: `variance` must be a positive number or a list of "
                f"them. Received: variance={variance!r}"
            )
        self.variance = values.tolist()

    def call(self, y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        variance = keras.ops.cast(self.variance, y_pred.dtype)
        return keras.ops.mean(keras.ops.square(y_true - y_pred) / variance, axis=-1)

    def get_config(self):
        return {**super().get_config(), "variance": self.variance}
