"""One-step-ahead forecasting of the sunspot series with each family, and its baseline.

Shared by `rnnkit demo` and `examples/sunspots.py`.
"""

import keras
import numpy as np

import keras_rnnkit

FAMILIES = ("elman", "jordan", "tdnn")
# The test periods of the classic benchmark, and their keys in `sunspot_windows`.
TEST_PERIODS = {"1921-1955": "test", "1956-1979": "test_late"}


def build_model(
    family,
    input_shape,
    output_units=1,
    *,
    units=8,
    gradient_clip=None,
    clipnorm=1.0,
    learning_rate=0.01,
):
    """A small many-to-one regressor of `family`: (B, T, D) -> (B, output_units), compiled.

    Elman: `ElmanRNN(units)`; Jordan: `JordanRNN(units, output_units=4,
    context_decay=0.5)`; TDNN: `TDNN(2 * units, context=(-2, -1, 0),
    padding="valid", activation="tanh")` flattened (needs a fixed T). Then a
    `Dense(output_units)`; MSE loss, Adam with `clipnorm` (optimizer-level
    clipping) and, for the recurrent families, per-step `gradient_clip`.
    """
    inputs = keras.Input(tuple(input_shape))
    if family == "elman":
        features = keras_rnnkit.ElmanRNN(units, gradient_clip=gradient_clip)(inputs)
    elif family == "jordan":
        features = keras_rnnkit.JordanRNN(
            units, output_units=4, context_decay=0.5, gradient_clip=gradient_clip
        )(inputs)
    elif family == "tdnn":
        hidden = keras_rnnkit.TDNN(
            2 * units, context=(-2, -1, 0), padding="valid", activation="tanh"
        )(inputs)
        features = keras.layers.Flatten()(hidden)
    else:
        raise ValueError(
            f"build_model: `family` must be one of {', '.join(FAMILIES)}. "
            f"Received: family={family!r}"
        )
    outputs = keras.layers.Dense(output_units)(features)
    model = keras.Model(inputs, outputs, name=family)
    model.compile(keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), "mse")
    return model


def build_forecaster(family, window):
    """The demo's forecaster of `family`: (B, window, 1) -> (B, 1), compiled.

    Example:

    >>> from keras_rnnkit.forecasting import build_forecaster
    >>> # Jordan: kernel 1x8, recurrent 4x8, bias 8, output 8x4 and 4; Dense 4 + 1.
    >>> build_forecaster("jordan", 12).count_params()
    89
    """
    return build_model(family, (window, 1))


def ar_baseline(task, order=9):
    """Least-squares linear AR(order) on the same windows: `{period: ARV}`."""

    def design(x):
        lags = x[:, -order:, 0]
        return np.concatenate([lags, np.ones((len(lags), 1))], axis=1)

    coefficients, *_ = np.linalg.lstsq(design(task["x_train"]), task["y_train"], rcond=None)
    return {
        period: float(
            np.mean((design(task[f"x_{key}"]) @ coefficients - task[f"y_{key}"]) ** 2)
            / task["variance"]
        )
        for period, key in TEST_PERIODS.items()
    }


def arv(model, task):
    """`{period: average relative variance}` of `model` on the test periods."""
    return {
        period: float(model.evaluate(task[f"x_{key}"], task[f"y_{key}"], verbose=0))
        / task["variance"]
        for period, key in TEST_PERIODS.items()
    }
