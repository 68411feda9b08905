"""Builds and compiles the model of one trial from its hyperparameter values.

Plain Keras and keras_rnnkit layers only (no keras-tuner here), so a model can
also be rebuilt from a trial's values without the tuner.
"""

import keras

from keras_rnnkit.layers import TDNN
from keras_rnnkit.layers import ElmanRNN
from keras_rnnkit.layers import JordanRNN
from keras_rnnkit.models.scaling import in_raw_units
from keras_rnnkit.tuning.space import tdnn_context


def _l2(values):
    # .get: values recorded by a search before weight decay was searched.
    decay = values.get("weight_decay", 0.0)
    return keras.regularizers.L2(decay) if decay else None


def _recurrent_layer(values, *, return_sequences, gradient_clip_mode, seed):
    options = dict(
        kernel_regularizer=_l2(values),
        recurrent_regularizer=_l2(values),
        activation=values["activation"],
        dropout=values["dropout"],
        recurrent_dropout=values["recurrent_dropout"],
        zoneout=values["zoneout"],
        gradient_clip=values["gradient_clip"] or None,
        gradient_clip_mode=gradient_clip_mode,
        layer_norm=values["layer_norm"],
        seed=seed,
        return_sequences=return_sequences,
    )
    if values["family"] == "jordan":
        layer = JordanRNN(
            values["units"],
            output_units=values["jordan_output_units"],
            context_decay=values["context_decay"],
            output_kernel_regularizer=_l2(values),
            **options,
        )
    else:
        layer = ElmanRNN(values["units"], **options)
    return keras.layers.Bidirectional(layer) if values["bidirectional"] else layer


def _tdnn_layer(values):
    return TDNN(
        values["units"],
        context=tdnn_context(values["context_width"], values["dilation"]),
        padding="same",
        strides=values.get("stride", 1),
        activation=values["activation"],
        layer_norm=values["layer_norm"],
        kernel_regularizer=_l2(values),
    )


def build_model(
    values,
    *,
    input_shape,
    output_units,
    output_activation=None,
    loss="mse",
    metrics=None,
    return_sequences=False,
    gradient_clip_mode="value",
    seed=None,
    training_data=None,
):
    """A compiled model of `values["family"]`: `depth` layers, then a `Dense` head.

    Many-to-one (`return_sequences=False`): (B, T, D) -> (B, output_units). The
    recurrent families return their last output; a TDNN stack is flattened
    (fixed T) or averaged over time (T = None). Many-to-many: (B, T, D) ->
    (B, T, output_units), every layer returning sequences; a TDNN keeps
    `padding="same"` and `strides=1`, so the length is unchanged.

    Args:
        values: The trial's hyperparameter values (see `space.HYPERPARAMETERS`).
        input_shape: `(T, D)`, T may be None.
        output_units: Size of the output.
        output_activation: Activation of the head (e.g. "softmax"). Default: None.
        loss, metrics: As in `keras.Model.compile`.
        return_sequences: Many-to-many instead of many-to-one. Default: False.
        gradient_clip_mode: `"value"` or `"norm"`, for `gradient_clip`.
        seed: Seed of the dropout masks (layer i gets seed + i). Default: None.
        training_data: `(x_train, y_train)` of a regression task (`loss="mse"`),
            or None. Given, the model takes and returns raw values: it
            standardises its inputs and un-scales its output with the training
            split's statistics, and trains on the MSE of standardised values
            (`keras_rnnkit.forecasting.in_raw_units`); its `mse` metric is in
            the data's units.

    Returns:
        A compiled `keras.Model` (Adam with the trial's learning rate and clipnorm).
    """
    family = values["family"]
    inputs = keras.Input(tuple(input_shape))
    features = inputs
    for index in range(values["depth"]):
        last = index == values["depth"] - 1
        if family == "tdnn":
            layer = _tdnn_layer(values)
        else:
            layer = _recurrent_layer(
                values,
                return_sequences=return_sequences or not last,
                gradient_clip_mode=gradient_clip_mode,
                seed=None if seed is None else seed + index,
            )
        features = layer(features)
    if family == "tdnn" and not return_sequences:
        pool = keras.layers.Flatten() if input_shape[0] else keras.layers.GlobalAveragePooling1D()
        features = pool(features)
    outputs = keras.layers.Dense(
        output_units, activation=output_activation, kernel_regularizer=_l2(values)
    )(features)
    model = keras.Model(inputs, outputs, name=family)
    if training_data is not None:
        if loss != "mse" or output_activation is not None:
            raise ValueError(
                "build_model: `training_data` applies to regression (loss='mse', no output "
                f"activation). Received: loss={loss!r}, output_activation={output_activation!r}"
            )
        model, loss = in_raw_units(model, *training_data)
        metrics = ["mse"]
    optimizer = keras.optimizers.Adam(values["learning_rate"], clipnorm=values["clipnorm"] or None)
    model.compile(optimizer, loss=loss, metrics=metrics)
    # Built now, so that keras-tuner's checkpoints (weights and optimizer
    # state) load back into a rebuilt model without a mismatch warning.
    optimizer.build(model.trainable_variables)
    return model
