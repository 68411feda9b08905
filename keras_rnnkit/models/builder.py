"""`build_model`: a small compiled model of each family, for the built-in tasks and the CLI."""

import keras

from keras_rnnkit.models.families import get_family
from keras_rnnkit.models.scaling import in_raw_units
from keras_rnnkit.models.scaling import input_standardization
from keras_rnnkit.regularizers import BayesianWeightDecay
from keras_rnnkit.regularizers import SoftWeightSharing
from keras_rnnkit.regularizers import WeightElimination
from keras_rnnkit.regularizers import per_weight

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
    "soft_sharing": lambda strength: SoftWeightSharing(strength),
    "bayesian": lambda strength: BayesianWeightDecay(strength),
}
# Present even at strength 0: the evidence sets its strength as the model trains.
_ALWAYS_PRESENT = ("bayesian",)


def _weight_penalty(weight_decay, weight_penalty):
    if weight_penalty not in WEIGHT_PENALTIES:
        raise ValueError(
            f"build_model: `weight_penalty` must be one of {', '.join(WEIGHT_PENALTIES)}. "
            f"Received: weight_penalty={weight_penalty!r}"
        )
    if not weight_decay and weight_penalty not in _ALWAYS_PRESENT:
        return None
    return WEIGHT_PENALTIES[weight_penalty](weight_decay)


def _features(entry, inputs, *, depth, units, options, sequence_output, bidirectional, loop):
    """`depth` layers of the family `entry`, reduced to one vector per sequence if asked."""
    features = inputs
    for index in range(depth):
        last = index == depth - 1
        return_sequences = sequence_output or not last
        seed = None if loop["seed"] is None else loop["seed"] + index
        extra = {}
        if entry.recurrent:
            extra = {key: loop[key] for key in ("gradient_clip", "gradient_clip_mode")}
        layer = entry.make_layer(
            units,
            return_sequences=return_sequences,
            regularizer=loop["regularizer"],
            seed=seed,
            **extra,
            **options,
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer)
        features = layer(features)
    if not entry.recurrent and not sequence_output:
        # No state to return its last value: a fixed T is flattened, any T averaged.
        fixed = inputs.shape[1] is not None
        pool = keras.layers.Flatten() if fixed else keras.layers.GlobalAveragePooling1D()
        features = pool(features)
    return features


def build_model(
    family,
    input_shape,
    output_units=1,
    *,
    problem="regression",
    sequence_output=False,
    units=8,
    depth=1,
    layer_options=None,
    bidirectional=False,
    gradient_clip=None,
    gradient_clip_mode="value",
    clipnorm=1.0,
    learning_rate=0.01,
    weight_decay=0.0,
    weight_penalty="l2",
    linear_skip=False,
    head=None,
    training_data=None,
    predict_change=False,
    ar_order=None,
    target_index=0,
    seed=None,
    name=None,
):
    """A compiled model of `family`: (B, T, D) -> (B, O), or (B, T, O) per step.

    The one model builder: the demo, `rnnkit train`, tuning
    (`keras_rnnkit.tuning.build_model` translates a trial's values) and any
    registered family (`keras_rnnkit.models.register_family`) go through it.
    `depth` layers of the family (each but the last returning sequences), then
    a `Dense(output_units)` with the problem's activation and loss (see
    `PROBLEMS`), trained with Adam and `clipnorm` (optimizer-level clipping);
    a recurrent family also clips its gradient at each step inside BPTT with
    `gradient_clip`. A family without a recurrent state (TDNN) gives one output
    per sequence by flattening its output (fixed T) or averaging it over time.

    The layer is the family's small model unless `layer_options` says
    otherwise: Elman `ElmanRNN(units)`; Jordan `JordanRNN(units,
    output_units=max(4, output_units), context_decay=0.5)`; NARX `NARX(units,
    output_units=max(4, output_units), input_delays=(0, 1), feedback_delays=(1,
    2))`, closed loop; TDNN `TDNN(2 *
    units, context=(-2, -1, 0), activation="tanh")`, `padding="valid"` for one
    output per sequence and causal `"same"` for one per step.

    With `training_data=(x_train, y_train)` the model carries its own scaling,
    fitted on those arrays only: its inputs are standardised inside it, and a
    regression model un-scales its output too (see
    `keras_rnnkit.forecasting.in_raw_units`), so that it takes and returns raw
    values while it trains on standardised ones.

    Args:
        family: The name of a registered family: `"elman"`, `"jordan"`,
            `"narx"`, `"tdnn"` or one of `registered_families()`.
        input_shape: `(T, D)`; T may be None.
        output_units: O, outputs per prediction (classes for classification).
        problem: `"regression"`, `"classification"` (integer labels) or `"binary"`.
        sequence_output: One prediction per step (many-to-many) instead of
            one per sequence (many-to-one).
        units: Units H of each layer (the family's small model may scale it:
            TDNN takes 2H unless `layer_options` is given).
        depth: Number of stacked layers. Default: 1.
        layer_options: The family layer's other constructor arguments, a dict,
            in place of the small model's (then `units` is taken as is).
            Default: None (the small model).
        bidirectional: Wrap each layer of a recurrent family in
            `keras.layers.Bidirectional`. Default: False.
        gradient_clip: Per-step gradient clip inside BPTT, or `None`.
        gradient_clip_mode: `"value"` or `"norm"`, for `gradient_clip`.
        clipnorm: Adam's gradient-norm clip, or `None`.
        learning_rate: Adam's learning rate.
        weight_decay: The strength of the weight penalty on every kernel (the
            family layer's and the head's; not the biases). Default: 0.
        weight_penalty: `"l2"` (weight decay, `keras.regularizers.L2`),
            `"elimination"` (`keras_rnnkit.regularizers.WeightElimination`
            with scale 1, which suits standardised inputs), `"soft_sharing"`
            (`keras_rnnkit.regularizers.SoftWeightSharing`, a learned mixture
            prior per weight matrix) or `"bayesian"`
            (`keras_rnnkit.regularizers.BayesianWeightDecay`, its strength
            starting at `weight_decay`, 0 included, and set from the evidence
            by `keras_rnnkit.training.BayesianRegularization` while training).
            Default: `"l2"`.
        linear_skip: Add a linear function of the whole (standardised) input
            window to the output (with the same weight decay): an AR(T) model beside
            the network, so that the network only learns what is nonlinear
            and the forecast can follow values outside the training range.
            Needs one output per sequence and a fixed T. Default: False.
        head: `(output activation, loss, metrics)` in place of the problem's
            (see `PROBLEMS`). Default: None.
        training_data: `(x_train, y_train)`, the training split, or `None`
            (no scaling inside the model).
        predict_change: Regression only: forecast the change from the last
            observed value of input feature `target_index` (see
            `in_raw_units`). Default: False.
        ar_order: Regression only: forecast the residual of a least-squares
            AR of this order on the target's own past, fitted on
            `training_data` (see `in_raw_units`), or None. Default: None.
        target_index: The input feature holding the target's own past, for
            `predict_change` and `ar_order`.
        seed: Seed of the dropout masks (layer i gets seed + i), or None.
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
    entry = get_family(family, owner="build_model")
    if problem not in PROBLEMS:
        raise ValueError(
            f"build_model: `problem` must be one of {', '.join(PROBLEMS)}. "
            f"Received: problem={problem!r}"
        )
    if (predict_change or ar_order is not None) and (
        problem != "regression" or training_data is None
    ):
        raise ValueError(
            "build_model: `predict_change` and `ar_order` need problem='regression' and "
            f"`training_data`. Received: problem={problem!r}, "
            f"training_data={'given' if training_data else None}"
        )
    if linear_skip and (sequence_output or input_shape[0] is None):
        raise ValueError(
            "build_model: `linear_skip` needs one output per sequence and a fixed number "
            f"of steps. Received: sequence_output={sequence_output}, "
            f"input_shape={tuple(input_shape)}"
        )
    if bidirectional and not entry.recurrent:
        raise ValueError(
            f"build_model: `bidirectional` applies to a recurrent family; {family!r} has no "
            "recurrent state. Received: bidirectional=True"
        )
    activation, loss, metrics = PROBLEMS[problem] if head is None else head
    if layer_options is None:
        units, layer_options = entry.small_model(units, output_units, sequence_output)
    inputs = keras.Input(tuple(input_shape))
    scaled = inputs
    if training_data is not None and problem != "regression":
        scaled = input_standardization(training_data[0])(inputs)
    regularizer = _weight_penalty(weight_decay, weight_penalty)
    features = _features(
        entry,
        scaled,
        depth=depth,
        units=units,
        options=dict(layer_options),
        sequence_output=sequence_output,
        bidirectional=bidirectional,
        loop={
            "regularizer": regularizer,
            "seed": seed,
            "gradient_clip": gradient_clip,
            "gradient_clip_mode": gradient_clip_mode,
        },
    )
    outputs = keras.layers.Dense(
        output_units, activation=activation, kernel_regularizer=per_weight(regularizer)
    )(features)
    if linear_skip:
        linear = keras.layers.Dense(
            output_units,
            use_bias=False,
            kernel_regularizer=per_weight(regularizer),
            name="linear_skip",
        )(keras.layers.Flatten()(scaled))
        outputs = keras.layers.Add()([outputs, linear])
    model = keras.Model(inputs, outputs, name=name or family)
    if training_data is not None and problem == "regression":
        model, loss = in_raw_units(
            model,
            *training_data,
            predict_change=predict_change,
            ar_order=ar_order,
            target_index=target_index,
        )
        metrics = ["mse"]
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)
    model.compile(optimizer, loss, metrics=metrics)
    # Built now, so that a checkpoint (weights and optimizer state, as keras-tuner
    # keeps them) loads back into a rebuilt model without a mismatch warning.
    optimizer.build(model.trainable_variables)
    return model
