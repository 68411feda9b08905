"""Several independently initialised models trained side by side, and their average.

Small recurrent forecasters vary a lot from one initialisation to the next;
the average of a few is steadier and usually better than each. On a CPU a fit
of such a small model is mostly per-step overhead, so `fit_members` trains K of
them in one `fit`: one multi-output model whose loss is the *sum* of the
members' own losses. Each member's gradient is then exactly the gradient of
its own loss (the members share no weight), and Adam's per-variable update and
`clipnorm` act on each member as they would alone: the same as K separate fits
that see the batches in the same order.
"""

import keras


def _fresh_optimizer(model):
    """A new optimizer configured as `model`'s (its state, slots and step count not copied)."""
    return keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))


def stacked(members):
    """The model `fit_members` trains: one input, the members' outputs, each its own loss.

    Compiled with a fresh optimizer configured as the first member's. Train it
    on `[y] * len(members)` (and validate on `[y_val] * len(members)`).
    """
    first = members[0]
    inputs = keras.Input(tuple(first.input_shape[1:]))
    stack = keras.Model(inputs, [member(inputs) for member in members], name="members")
    optimizer = _fresh_optimizer(first)
    stack.compile(optimizer, loss=[member.loss for member in members])
    return stack


def fit_members(members, x, y, **fit_options):
    """Trains compiled `members` side by side, each on its own loss; returns the `History`.

    Args:
        members: Compiled `keras.Model`s with the same input shape and one
            output each; each keeps its own loss (from its `compile`), and the
            first one's optimizer configuration is used for all.
        x, y: The training inputs and targets, as for `Model.fit`.
        **fit_options: Passed to `Model.fit` (`epochs`, `batch_size`,
            `callbacks`, `verbose`, `validation_data` as `(x_val, y_val)`, ...).

    Returns:
        The `History` of the fit; its `loss` (and `val_loss`) is the sum of the
        members' losses.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import fit_members
    >>> def member():
    ...     model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    ...     model.compile("adam", "mse")
    ...     return model
    >>> members = [member(), member()]
    >>> x, y = np.random.rand(8, 2), np.random.rand(8, 1)
    >>> history = fit_members(members, x, y, epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    if not members:
        raise ValueError("fit_members: `members` must hold at least one compiled model")
    if len(members) == 1:
        return members[0].fit(x, y, **fit_options)
    if fit_options.get("validation_data") is not None:
        # Each member is scored on the same validation targets; `val_loss` is their sum.
        x_val, y_val, *weights = fit_options["validation_data"]
        fit_options["validation_data"] = (x_val, [y_val] * len(members), *weights)
    return stacked(members).fit(x, [y] * len(members), **fit_options)


def average(members, name="ensemble"):
    """One model whose output is the mean of the members' outputs, compiled like the first
    (its loss, its metrics and a fresh optimizer of the same configuration).

    The members are nested inside it, so it saves and loads as one `.keras`
    file and takes the same inputs as each member.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import average
    >>> members = [keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]) for _ in range(2)]
    >>> for value, member in enumerate(members):
    ...     member.set_weights([np.zeros((1, 1)), np.full((1,), float(value))])
    >>> average(members).predict(np.zeros((1, 1)), verbose=0).tolist()
    [[0.5]]
    """
    if not members:
        raise ValueError("average: `members` must hold at least one model")
    first = members[0]
    inputs = keras.Input(tuple(first.input_shape[1:]))
    outputs = [member(inputs) for member in members]
    mean = keras.layers.Average(name="mean")(outputs) if len(outputs) > 1 else outputs[0]
    model = keras.Model(inputs, mean, name=name)
    if getattr(first, "optimizer", None) is not None and getattr(first, "loss", None):
        metrics = (first.get_compile_config() or {}).get("metrics")
        model.compile(_fresh_optimizer(first), loss=first.loss, metrics=metrics)
        # Built now, the optimizer is saved with the slots that loading builds: a
        # model saved before any training then loads without a mismatch warning.
        model.optimizer.build(model.trainable_variables)
    return model
