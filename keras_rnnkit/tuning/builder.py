"""Builds and compiles the model of one trial from its hyperparameter values.

Plain Keras and keras_rnnkit layers only (no keras-tuner here), so a model can
also be rebuilt from a trial's values without the tuner.
"""

from keras_rnnkit import models


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
    series_target=None,
):
    """A compiled model of `values["family"]`: `depth` layers, then a `Dense` head.

    A translation of the trial's values into `keras_rnnkit.models.build_model`,
    the one model builder: the family's entry in the registry
    (`keras_rnnkit.models.families`) turns its values into the layer's options.

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
        series_target: With `values["forecast"]` (`"level"`, `"change"` or
            `"residual"`, see `space.FORECAST`), the index of the forecast
            series among the input features. Default: None.

    Returns:
        A compiled `keras.Model` (Adam with the trial's learning rate and clipnorm).
    """
    if training_data is not None and (loss != "mse" or output_activation is not None):
        raise ValueError(
            "build_model: `training_data` applies to regression (loss='mse', no output "
            f"activation). Received: loss={loss!r}, output_activation={output_activation!r}"
        )
    forecast = values.get("forecast", "level")
    entry = models.get_family(values["family"], owner="build_model")
    units, options = entry.layer_from_values(values)
    return models.build_model(
        entry.name,
        input_shape,
        output_units,
        sequence_output=return_sequences,
        units=units,
        depth=values["depth"],
        layer_options=options,
        bidirectional=values.get("bidirectional", False),
        gradient_clip=values.get("gradient_clip") or None,
        gradient_clip_mode=gradient_clip_mode,
        clipnorm=values["clipnorm"] or None,
        learning_rate=values["learning_rate"],
        # .get: values recorded by a search before weight decay was searched.
        weight_decay=values.get("weight_decay", 0.0),
        weight_penalty=values.get("weight_penalty", "l2"),
        head=(output_activation, loss, metrics),
        training_data=training_data,
        predict_change=forecast == "change",
        ar_order=input_shape[0] if forecast == "residual" else None,
        target_index=series_target or 0,
        seed=seed,
    )
