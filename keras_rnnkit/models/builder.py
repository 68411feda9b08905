"""`build_model`: a small compiled model of each family, for the built-in tasks and the CLI."""

import keras

from keras_rnnkit.layers import TDNN
from keras_rnnkit.layers import ElmanRNN
from keras_rnnkit.layers import JordanRNN
from keras_rnnkit.models.scaling import in_raw_units
from keras_rnnkit.models.scaling import input_standardization
from keras_rnnkit.regularizers import WeightElimination
from keras_rnnkit_cli.catalog import FAMILIES as FAMILIES

# The output activation, loss and metric of each kind of problem (see data.TASKS).
PROBLEMS = {
    "regression": (None, "mse", []),
    "classification": ("softmax", "sparse_categorical_crossentropy", ["accuracy"]),
    "binary": ("sigmoid", "binary_crossentropy", ["binary_accuracy"]),
}


# The weight penalties `build_model` offers, by name: strength -> regularizer.
WEIGHT_PENALTIES = {
    "l2": keras.regularizers.L2,
    "elimination": lambda strength: WeightElimination(strength, scale=1.0),
}


def _weight_penalty(weight_decay, weight_penalty):
    if weight_penalty not in WEIGHT_PENALTIES:
        raise ValueError(
            f"build_model: `weight_penalty` must be one of {', '.join(WEIGHT_PENALTIES)}. "
            f"Received: weight_penalty={weight_penalty!r}"
        )
    return WEIGHT_PENALTIES[weight_penalty](weight_decay) if weight_decay else None


def _features(family, inputs, output_units, sequence_output, units, gradient_clip, regularizer):
    recurrent = {
        "gradient_clip": gradient_clip,
        "return_sequences": sequence_output,
        "kernel_regularizer": regularizer,
        "recurrent_regularizer": regularizer,
    }
    if family == "elman":
        return ElmanRNN(units, **recurrent)(inputs)
    if family == "jordan":
        # The fed-back outputs carry everything Jordan remembers: at least as
        # many as the model's outputs.
        return JordanRNN(
            units,
            output_units=max(4, output_units),
            context_decay=0.5,
            output_kernel_regularizer=regularizer,
            **recurrent,
        )(inputs)
    if family == "tdnn":
        features = TDNN(
            2 * units,
            context=(-2, -1, 0),
            padding="same" if sequence_output else "valid",
            activation="tanh",
            kernel_regularizer=regularizer,
        )(inputs)
        return features if sequence_output else keras.layers.Flatten()(features)
    raise ValueError(
        f"build_model: `family` must be one of {', '.join(FAMILIES)}. Received: family={family!r}"
    )


def build_model(
    family,
    input_shape,
    output_units=1,
    *,
    problem="regression",
    sequence_output=False,
    units=8,
    gradient_clip=None,
    clipnorm=1.0,
    learning_rate=0.01,
    weight_decay=0.0,
    weight_penalty="l2",
    linear_skip=False,
    training_data=None,
    predict_change=False,
    target_index=0,
    name=None,
):
    """A small compiled model of `family`: (B, T, D) -> (B, O), or (B, T, O) per step.

    Elman: `ElmanRNN(units)`; Jordan: `JordanRNN(units, output_units=max(4,
    output_units), context_decay=0.5)`; TDNN: `TDNN(2 * units, context=(-2, -1, 0),
    activation="tanh")`, with `padding="valid"` and flattened for one output
    per sequence (needs a fixed T), causal `"same"` padding for one per step.
    Then a `Dense(output_units)` with the problem's activation and loss (see
    `PROBLEMS`); Adam with `clipnorm` (optimizer-level clipping) and, for the
    recurrent families, per-step `gradient_clip`.

    With `training_data=(x_train, y_train)` the model carries its own scaling,
    fitted on those arrays only: its inputs are standardised inside it, and a
    regression model un-scales its output too (see
    `keras_rnnkit.forecasting.in_raw_units`), so that it takes and returns raw
    values while it trains on standardised ones.

    Args:
        family: `"elman"`, `"jordan"` or `"tdnn"`.
        input_shape: `(T, D)`.
        output_units: O, outputs per prediction (classes for classification).
        problem: `"regression"`, `"classification"` (integer labels) or `"binary"`.
        sequence_output: One prediction per step (many-to-many) instead of
            one per sequence (many-to-one).
        units: Hidden units H of the recurrent layer.
        gradient_clip: Per-step gradient clip inside BPTT, or `None`.
        clipnorm: Adam's gradient-norm clip, or `None`.
        learning_rate: Adam's learning rate.
        weight_decay: The strength of the weight penalty on every kernel (the
            family layer's and the head's; not the biases). Default: 0.
        weight_penalty: `"l2"` (weight decay, `keras.regularizers.L2`) or
            `"elimination"` (`keras_rnnkit.regularizers.WeightElimination`
            with scale 1, which suits standardised inputs). Default: `"l2"`.
        linear_skip: Add a linear function of the whole (standardised) input
            window to the output (with the same weight decay): an AR(T) model beside
            the network, so that the network only learns what is nonlinear
            and the forecast can follow values outside the training range.
            Needs one output per sequence and a fixed T. Default: False.
        training_data: `(x_train, y_train)`, the training split, or `None`
            (no scaling inside the model).
        predict_change: Regression only: forecast the change from the last
            observed value of input feature `target_index` (see
            `in_raw_units`). Default: False.
        target_index: The input feature holding the target's own past, for
            `predict_change`.
        name: The model's name. Default: `family`.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.models import build_model
    >>> model = build_model("elman", (8, 8), 10, problem="classification")
    >>> tuple(model.output_shape), model.loss
    ((None, 10), 'sparse_categorical_crossentropy')
    >>> x, y = 100 + np.random.rand(20, 6, 1), 100 + np.random.rand(20, 1)
    >>> model = build_model("jordan", (6, 1), training_data=(x, y))
    >>> bool(abs(model.predict(x, verbose=0).mean() - 100) < 5)  # raw units out
    True
    """
    if problem not in PROBLEMS:
        raise ValueError(
            f"build_model: `problem` must be one of {', '.join(PROBLEMS)}. "
            f"Received: problem={problem!r}"
        )
    if predict_change and (problem != "regression" or training_data is None):
        raise ValueError(
            "build_model: `predict_change` needs problem='regression' and `training_data`. "
            f"Received: problem={problem!r}, training_data={'given' if training_data else None}"
        )
    if linear_skip and (sequence_output or input_shape[0] is None):
        raise ValueError(
            "build_model: `linear_skip` needs one output per sequence and a fixed number "
            f"of steps. Received: sequence_output={sequence_output}, "
            f"input_shape={tuple(input_shape)}"
        )
    activation, loss, metrics = PROBLEMS[problem]
    inputs = keras.Input(tuple(input_shape))
    scaled = inputs
    if training_data is not None and problem != "regression":
        scaled = input_standardization(training_data[0])(inputs)
    regularizer = _weight_penalty(weight_decay, weight_penalty)
    features = _features(
        family, scaled, output_units, sequence_output, units, gradient_clip, regularizer
    )
    outputs = keras.layers.Dense(
        output_units, activation=activation, kernel_regularizer=regularizer
    )(features)
    if linear_skip:
        linear = keras.layers.Dense(
            output_units, use_bias=False, kernel_regularizer=regularizer, name="linear_skip"
        )(keras.layers.Flatten()(scaled))
        outputs = keras.layers.Add()([outputs, linear])
    model = keras.Model(inputs, outputs, name=name or family)
    if training_data is not None and problem == "regression":
        model, loss = in_raw_units(
            model, *training_data, predict_change=predict_change, target_index=target_index
        )
        metrics = ["mse"]
    model.compile(keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), loss, metrics=metrics)
    return model
