"""Small ready-made models of each family for the built-in tasks and the command line."""

import keras

import keras_rnnkit

FAMILIES = ("elman", "jordan", "tdnn")
# The output activation, loss and metric of each kind of problem (see data.TASKS).
PROBLEMS = {
    "regression": (None, "mse", []),
    "classification": ("softmax", "sparse_categorical_crossentropy", ["accuracy"]),
    "binary": ("sigmoid", "binary_crossentropy", ["binary_accuracy"]),
}


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
):
    """A small compiled model of `family`: (B, T, D) -> (B, O), or (B, T, O) per step.

    Elman: `ElmanRNN(units)`; Jordan: `JordanRNN(units, output_units=max(4,
    output_units), context_decay=0.5)`; TDNN: `TDNN(2 * units, context=(-2, -1, 0),
    activation="tanh")`, with `padding="valid"` and flattened for one output
    per sequence (needs a fixed T), causal `"same"` padding for one per step.
    Then a `Dense(output_units)` with the problem's activation and loss (see
    `PROBLEMS`); Adam with `clipnorm` (optimizer-level clipping) and, for the
    recurrent families, per-step `gradient_clip`.

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

    Example:

    >>> from keras_rnnkit.models import build_model
    >>> model = build_model("elman", (8, 8), 10, problem="classification")
    >>> tuple(model.output_shape), model.loss
    ((None, 10), 'sparse_categorical_crossentropy')
    """
    if problem not in PROBLEMS:
        raise ValueError(
            f"build_model: `problem` must be one of {', '.join(PROBLEMS)}. "
            f"Received: problem={problem!r}"
        )
    inputs = keras.Input(tuple(input_shape))
    recurrent = {"gradient_clip": gradient_clip, "return_sequences": sequence_output}
    if family == "elman":
        features = keras_rnnkit.ElmanRNN(units, **recurrent)(inputs)
    elif family == "jordan":
        # The fed-back outputs carry everything Jordan remembers: at least as
        # many as the model's outputs.
        jordan_outputs = max(4, output_units)
        features = keras_rnnkit.JordanRNN(
            units, output_units=jordan_outputs, context_decay=0.5, **recurrent
        )(inputs)
    elif family == "tdnn":
        features = keras_rnnkit.TDNN(
            2 * units,
            context=(-2, -1, 0),
            padding="same" if sequence_output else "valid",
            activation="tanh",
        )(inputs)
        if not sequence_output:
            features = keras.layers.Flatten()(features)
    else:
        raise ValueError(
            f"build_model: `family` must be one of {', '.join(FAMILIES)}. "
            f"Received: family={family!r}"
        )
    activation, loss, metrics = PROBLEMS[problem]
    outputs = keras.layers.Dense(output_units, activation=activation)(features)
    model = keras.Model(inputs, outputs, name=family)
    model.compile(keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), loss, metrics=metrics)
    return model
