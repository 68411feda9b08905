"""Scaling that lives inside a forecaster, so that a saved model takes and returns raw values.

A network trains best on standardised values, but a user holds raw ones
(sunspot numbers, degrees, prices). These pieces put the standardisation into
the model itself, fitted on the training split only:

- `input_standardization(x_train)`: `(x - mean) / sd` with each feature's
  training mean and standard deviation;
- `output_unscaling(targets)`: the inverse transform, `z * sd + mean`, on the
  model's output;
- `LastObserved(feature_indices)`: the last observed value of the target, to
  which a forecaster of the *change* adds its output;
- `LinearAutoregression`: a least-squares AR(p) of the target, to which a
  forecaster of the *residual* adds its output;
- `ScaledMeanSquaredError(variance)`: the MSE in units of the training targets'
  variance, which is exactly the loss of training on standardised targets.

Both transforms are `keras.layers.Rescaling` layers, whose statistics live in
their config as numbers: every export (SavedModel, TFLite, ONNX) folds them into
its graph as constants. (A `keras.layers.Normalization` given its statistics
holds them as tensors, which tf2onnx turns into extra graph inputs.)
"""

import keras
import numpy as np

from keras_rnnkit.layers.autoregression import LinearAutoregression
from keras_rnnkit.layers.last_observed import LastObserved
from keras_rnnkit.losses import ScaledMeanSquaredError


def _moments(values, owner, name):
    values = np.asarray(values, "float64")
    if values.ndim < 2 or values.shape[0] == 0:
        raise ValueError(
            f"{owner}: `{name}` must be an array of shape (N, ..., features) with N >= 1. "
            f"Received: {name}.shape={values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner}: `{name}` holds NaN or infinite values; clean them first")
    flat = values.reshape(-1, values.shape[-1])
    mean, variance = flat.mean(axis=0), flat.var(axis=0)
    # The model computes in float32: statistics beyond its range would become inf.
    largest = float(np.finfo("float32").max)
    if np.max(np.abs(flat)) > largest or np.max(variance) > largest:
        raise ValueError(
            f"{owner}: `{name}` is too large for float32 (largest magnitude "
            f"{np.max(np.abs(flat)):.3g}, largest variance {np.max(variance):.3g}; float32 ends "
            f"at {largest:.3g}); rescale it first, e.g. divide by a power of ten"
        )
    return mean, variance


def _standard_deviation(variance):
    # A constant feature has nothing to scale: 1 keeps the values as they are.
    return np.sqrt(np.where(variance > 0, variance, 1.0))


def input_standardization(x_train, name="input_standardization"):
    """A layer computing `(x - mean) / sd` with each feature's statistics in `x_train`.

    Args:
        x_train: The training inputs, (N, T, D) (or (N, D)); statistics are taken
            over every axis but the last.
        name: The layer's name.

    Returns:
        A `keras.Sequential` of two `keras.layers.Rescaling`: the first adds
        `-mean`, the second multiplies by `1 / sd`. The statistics are stored in
        their configs (so the saved model carries them); a feature constant in
        `x_train` is only centred.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import input_standardization
    >>> layer = input_standardization(np.array([[[1.0], [3.0]]]))
    >>> keras.ops.convert_to_numpy(layer(np.array([[[1.0], [3.0]]]))).ravel().tolist()
    [-1.0, 1.0]
    """
    mean, variance = _moments(x_train, "input_standardization", "x_train")
    return keras.Sequential(
        [
            keras.layers.Rescaling(1.0, offset=(-mean).tolist(), name=f"{name}_centre"),
            keras.layers.Rescaling(
                (1.0 / _standard_deviation(variance)).tolist(), name=f"{name}_scale"
            ),
        ],
        name=name,
    )


def output_unscaling(targets, name="output_unscaling"):
    """The inverse of standardising `targets`: a layer computing `z * sd + mean`.

    Args:
        targets: The training targets (or the training changes), (N, O) or
            (N, T, O); statistics over every axis but the last.
        name: The layer's name.

    Returns:
        `(layer, variance)`: a `keras.layers.Rescaling(scale=sd, offset=mean)` and
        the per-output variance (for `ScaledMeanSquaredError`); a constant target
        has variance 1.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import output_unscaling
    >>> layer, variance = output_unscaling(np.array([[10.0], [30.0]]))
    >>> unscaled = keras.ops.convert_to_numpy(layer(np.array([[-1.0], [1.0]])))
    >>> unscaled.ravel().tolist(), variance.tolist()
    ([10.0, 30.0], [100.0])
    """
    mean, variance = _moments(targets, "output_unscaling", "targets")
    sd = _standard_deviation(variance)
    layer = keras.layers.Rescaling(sd.tolist(), offset=mean.tolist(), name=name)
    return layer, sd**2


def target_variance(targets):
    """The per-output variance that `output_unscaling` finds in `targets` (1 for a constant
    output): the scale of the `ScaledMeanSquaredError` of a model trained on them."""
    _, variance = _moments(targets, "target_variance", "targets")
    return _standard_deviation(variance) ** 2


def in_raw_units(core, x_train, y_train, *, predict_change=False, target_index=0, ar_order=None):
    r"""Wraps `core` so that it takes and returns raw values; returns `(model, loss)`.

    `core` maps standardised inputs to standardised outputs. The wrapped model
    is

    $$\hat y = b(x) + \mathrm{core}\big((x - m_x) / s_x\big)\, s_r + m_r$$

    with $m_x, s_x$ each input feature's training mean and standard deviation,
    $b$ a base forecast and $m_r, s_r$ the statistics of the training targets'
    part that the base leaves, $r = y - b(x)$:

    - by default no base, $b = 0$: the core forecasts the level;
    - with `predict_change`, the last observed value, $b(x) = x_{T, i}$ with
      $i$ = `target_index` (`LastObserved`): the core forecasts the change, and
      such a model follows a level it never saw while training;
    - with `ar_order` p, a least-squares AR(p) of the target's own past fitted
      on the training split (`LinearAutoregression`): the core forecasts what
      the linear forecast misses, as in hybrid ARIMA-network models.

    `loss` is `ScaledMeanSquaredError` with $s_r^2$, so that training minimises
    exactly the MSE of the standardised values.

    Args:
        core: A `keras.Model` (B, T, D) -> (B, O) or (B, T, O).
        x_train: The training inputs (N, T, D); only their statistics are kept.
        y_train: The training targets (N, O) or (N, T, O).
        predict_change: Forecast the change from the last observed value.
            Needs targets (N, O). Default: False.
        target_index: The input feature that holds each target's own past: an
            integer, or one per output. Default: 0.
        ar_order: Forecast the residual of a least-squares AR of this order
            (at most T), or `None`. Needs targets (N, O); not with
            `predict_change`. Default: None.

    Returns:
        `(model, loss)`: the wrapped, uncompiled `keras.Model` and its loss.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import in_raw_units
    >>> core = keras.Sequential([keras.Input((3, 1)), keras.layers.Flatten(),
    ...                          keras.layers.Dense(1, kernel_initializer="zeros")])
    >>> x = np.array([[[10.0], [20.0], [30.0]], [[20.0], [30.0], [50.0]]])
    >>> y = np.array([[40.0], [60.0]])
    >>> model, loss = in_raw_units(core, x, y, predict_change=True)
    >>> model.predict(x, verbose=0).ravel().tolist()  # the last value + the mean change
    [40.0, 60.0]
    """
    x_train, y_train = np.asarray(x_train, "float64"), np.asarray(y_train, "float64")
    if len(x_train) != len(y_train):
        raise ValueError(
            "in_raw_units: `x_train` and `y_train` must hold the same number of samples. "
            f"Received: {len(x_train)} and {len(y_train)}"
        )
    if predict_change and ar_order is not None:
        raise ValueError(
            "in_raw_units: `predict_change` and `ar_order` are two bases; give one. "
            f"Received: predict_change=True, ar_order={ar_order!r}"
        )
    inputs = keras.Input(tuple(core.input_shape[1:]), name="raw_inputs")
    standardized = core(input_standardization(x_train)(inputs))
    if not predict_change and ar_order is None:
        unscale, variance = output_unscaling(y_train)
        model = keras.Model(inputs, unscale(standardized), name=core.name)
        return model, ScaledMeanSquaredError(variance)
    if y_train.ndim != 2:
        needs = "`predict_change`" if predict_change else "`ar_order`"
        raise ValueError(
            f"in_raw_units: {needs} needs targets of shape (N, O). "
            f"Received: y_train.shape={y_train.shape}"
        )
    indices = [target_index] * y_train.shape[1] if isinstance(target_index, int) else target_index
    if predict_change:
        base, name = LastObserved(list(indices), name="last_observed"), "change_unscaling"
    else:
        base = LinearAutoregression.fit(
            x_train, y_train, ar_order, list(indices), name="autoregression"
        )
        name = "residual_unscaling"
    residuals = y_train - keras.ops.convert_to_numpy(base(x_train.astype("float32")))
    unscale, variance = output_unscaling(residuals, name=name)
    outputs = keras.layers.Add(name="forecast")([base(inputs), unscale(standardized)])
    return keras.Model(inputs, outputs, name=core.name), ScaledMeanSquaredError(variance)
