"""`LastObserved`: the last time step's value of some input features, inside a forecaster.

A layer of the core, not of the forecasting application, because saved forecasters hold
it: loading one needs only `import keras_rnnkit`.
"""

import keras

from keras_rnnkit._api import export


def checked_feature_indices(owner, value):
    """`feature_indices` (a non-empty list or tuple of non-negative ints) as a list, or raises."""
    indices = list(value) if isinstance(value, (list, tuple)) else None
    if not indices or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
    ):
        raise ValueError(
            f"{owner}: `feature_indices` must be a non-empty list of non-negative integers. "
            f"Received: feature_indices={value!r}"
        )
    return indices


@export
class LastObserved(keras.layers.Layer):
    r"""The last time step's value of some input features: (B, T, D) -> (B, len(indices)).

    A forecaster of the change adds its output to this, so that it predicts
    $\hat y = x_{T, i} + \Delta$ and follows a level it never saw in training.

    Args:
        feature_indices: The input features to take (the forecast targets, in
            the order of the outputs).
        **kwargs: Base layer arguments.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import LastObserved
    >>> x = np.arange(12.0).reshape(1, 4, 3)
    >>> keras.ops.convert_to_numpy(LastObserved([2, 0])(x)).tolist()
    [[11.0, 9.0]]
    """

    def __init__(self, feature_indices, **kwargs):
        super().__init__(**kwargs)
        self.feature_indices = checked_feature_indices("LastObserved", feature_indices)
        self.input_spec = keras.layers.InputSpec(min_ndim=3)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is not None and max(self.feature_indices) >= features:
            raise ValueError(
                f"LastObserved: `feature_indices` must be below the number of input "
                f"features, {features}. Received: feature_indices={self.feature_indices}"
            )

    def call(self, inputs):
        return keras.ops.take(inputs[:, -1, :], self.feature_indices, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.feature_indices))

    def get_config(self):
        return {**super().get_config(), "feature_indices": self.feature_indices}
