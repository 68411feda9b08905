"""Bad input raises early, naming the layer, the argument, what is allowed and what came."""

import re

import keras
import numpy as np
import pytest

import keras_rnnkit

BAD_CONFIGURATIONS = [
    (
        lambda: keras_rnnkit.ElmanRNN(0),
        "ElmanRNN: `units` must be a positive integer. Received: units=0",
    ),
    (
        lambda: keras_rnnkit.ElmanCell(2.5),
        "`units` must be a positive integer. Received: units=2.5",
    ),
    (lambda: keras_rnnkit.ElmanRNN(True), "Received: units=True"),
    (
        lambda: keras_rnnkit.JordanRNN(4, -1),
        "`output_units` must be a positive integer. Received: output_units=-1",
    ),
    (
        lambda: keras_rnnkit.ElmanRNN(4, dropout=1.5),
        "`dropout` must be in [0, 1). Received: dropout=1.5",
    ),
    (
        lambda: keras_rnnkit.ElmanRNN(4, dropout=1.0),
        "`dropout` must be in [0, 1). Received: dropout=1.0",
    ),
    (
        lambda: keras_rnnkit.ElmanCell(4, recurrent_dropout=-0.1),
        "`recurrent_dropout` must be in [0, 1). Received: recurrent_dropout=-0.1",
    ),
    (
        lambda: keras_rnnkit.JordanRNN(4, 2, recurrent_dropout=2),
        "`recurrent_dropout` must be in [0, 1)",
    ),
    (
        lambda: keras_rnnkit.JordanCell(4, 2, context_decay=1.0),
        "`context_decay` must be in [0, 1). Received: context_decay=1.0",
    ),
    (
        lambda: keras_rnnkit.JordanRNN(4, 2, context_decay=-0.5),
        "JordanRNN: `context_decay` must be in [0, 1)",
    ),
    (
        lambda: keras_rnnkit.ElmanRNN(4, activation="tanhh"),
        "`activation` must be the name of a Keras activation",
    ),
    (
        lambda: keras_rnnkit.JordanRNN(4, 2, output_activation="nope"),
        "Received: output_activation='nope'",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, ()),
        "TDNN: `context` must be a non-empty sequence of integer time offsets",
    ),
    (lambda: keras_rnnkit.TDNN(4, 3), "`context` must be a non-empty sequence"),
    (lambda: keras_rnnkit.TDNN(4, (0, 1.5)), "`context` must be a non-empty sequence of integer"),
    (
        lambda: keras_rnnkit.TDNN(4, (1, 0)),
        "`context` must hold distinct offsets in increasing order. Received: context=(1, 0)",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, (-1, 0, 0)),
        "`context` must hold distinct offsets in increasing order",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, (0,), padding="full"),
        "TDNN: `padding` must be one of 'same', 'valid', 'causal'. Received: padding='full'",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, (-1, 0, 1), padding="causal"),
        "TDNN: `padding='causal'` needs every `context` offset <= 0 (each output sees only past and present inputs); use padding='same' for future context. Received: padding='causal', context=(-1, 0, 1)",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, (0,), strides=0),
        "`strides` must be a positive integer. Received: strides=0",
    ),
    (
        lambda: keras_rnnkit.TDNN(4, (0,), strides=2, stride=3),
        "TDNN: `stride` is the deprecated name of `strides`; pass only `strides`. Received: stride=3, strides=2",
    ),
    (
        lambda: keras_rnnkit.TDNNCell(4, (-1, 0, 1)),
        "TDNNCell: `context` must be causal (every offset <= 0)",
    ),
    (lambda: keras_rnnkit.ElmanRNN(4, use_bias="yes"), "`use_bias` must be True or False"),
    (
        lambda: keras_rnnkit.ElmanRNN(4, return_sequences=1),
        "ElmanRNN: `return_sequences` must be True or False",
    ),
]


@pytest.mark.parametrize(
    "factory,message", BAD_CONFIGURATIONS, ids=[m for _, m in BAD_CONFIGURATIONS]
)
def test_bad_configuration_raises_value_error(factory, message):
    with pytest.raises(ValueError) as error:
        factory()
    assert message in str(error.value)


def test_unknown_argument_is_refused():
    with pytest.raises(
        ValueError, match="Unrecognized keyword arguments passed to ElmanRNN.*unitz"
    ):
        keras_rnnkit.ElmanRNN(4, unitz=3)


LAYERS = [
    lambda: keras_rnnkit.ElmanRNN(3),
    lambda: keras_rnnkit.JordanRNN(3, 2),
    lambda: keras_rnnkit.TDNN(3, (-1, 0)),
]


@pytest.mark.parametrize("factory", LAYERS, ids=["ElmanRNN", "JordanRNN", "TDNN"])
def test_input_of_wrong_rank_names_the_layer(factory):
    layer = factory()
    with pytest.raises(ValueError, match=f"{layer.name}.*expected ndim=3"):
        layer(np.zeros((2, 3), "float32"))


@pytest.mark.parametrize("factory", LAYERS, ids=["ElmanRNN", "JordanRNN", "TDNN"])
def test_feature_size_different_from_the_built_one_names_the_layer(factory):
    layer = factory()
    layer(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match=f"{layer.name}.*axis -1.*value 3.*shape \\(2, 4, 5\\)"):
        layer(np.zeros((2, 4, 5), "float32"))


def test_generate_needs_outputs_shaped_like_inputs():
    layer = keras_rnnkit.JordanRNN(3, output_units=2)
    with pytest.raises(
        ValueError, match=r"JordanRNN.generate: `primer` must have shape \(batch, time, 2\)"
    ):
        layer.generate(np.zeros((1, 4, 3), "float32"), steps=2)


def test_generate_needs_positive_steps():
    layer = keras_rnnkit.JordanRNN(3, output_units=1)
    with pytest.raises(ValueError, match="`steps` must be a positive integer. Received: steps=0"):
        layer.generate(np.zeros((1, 4, 1), "float32"), steps=0)


def test_stateful_needs_a_fixed_batch_size():
    layer = keras_rnnkit.ElmanRNN(3, stateful=True)
    with pytest.raises(ValueError, match="batch size must be static"):
        keras.Sequential([keras.Input((None, 2)), layer])


# Keras's own message ("Could not interpret initializer identifier: junk")
# names neither the layer nor the argument.
JUNK_WEIGHT_OPTIONS = [
    (keras_rnnkit.ElmanRNN, (3,), "ElmanRNN", "kernel_initializer"),
    (keras_rnnkit.ElmanCell, (3,), "ElmanCell", "recurrent_regularizer"),
    (keras_rnnkit.ElmanRNN, (3,), "ElmanRNN", "bias_constraint"),
    (keras_rnnkit.ElmanRNN, (3,), "ElmanRNN", "activity_regularizer"),
    (keras_rnnkit.JordanRNN, (3, 2), "JordanRNN", "output_kernel_initializer"),
    (keras_rnnkit.JordanCell, (3, 2), "JordanCell", "output_bias_regularizer"),
    (keras_rnnkit.JordanRNN, (3, 2), "JordanRNN", "recurrent_constraint"),
    (keras_rnnkit.TDNN, (3, (0,)), "TDNN", "bias_initializer"),
    (keras_rnnkit.TDNN, (3, (0,)), "TDNN", "kernel_regularizer"),
    (keras_rnnkit.TDNN, (3, (0,)), "TDNN", "activity_regularizer"),
    (keras_rnnkit.TDNNCell, (3, (0,)), "TDNNCell", "kernel_constraint"),
]


@pytest.mark.parametrize(
    "cls,args,owner,name",
    JUNK_WEIGHT_OPTIONS,
    ids=[f"{c.__name__}-{n}" for c, _, _, n in JUNK_WEIGHT_OPTIONS],
)
def test_junk_initializer_regularizer_or_constraint_names_layer_and_argument(
    cls, args, owner, name
):
    kind = name.rsplit("_", 1)[1]
    with pytest.raises(
        ValueError,
        match=f"^{owner}: `{name}` must be the name of a Keras {kind} .*Received: {name}='junk'$",
    ):
        cls(*args, **{name: "junk"})


@pytest.mark.parametrize(
    "factory",
    [
        lambda seed: keras_rnnkit.ElmanRNN(3, seed=seed),
        lambda seed: keras_rnnkit.JordanCell(3, 2, seed=seed),
    ],
    ids=["ElmanRNN", "JordanCell"],
)
@pytest.mark.parametrize("seed", [True, 1.5, "7", -1, 2**31, 2**40])
def test_seed_must_be_an_integer_that_every_backend_takes(factory, seed):
    # -1 and 2**40 were accepted on TensorFlow and failed on JAX (uint32), 2**31 on torch.
    with pytest.raises(
        ValueError,
        match=rf"`seed` must be None or an integer in \[0, 2147483647\] \(the seeds every "
        rf"backend takes\). Received: seed={seed!r}",
    ):
        factory(seed)


def test_the_largest_seed_draws_dropout_masks_on_every_backend():
    layer = keras_rnnkit.ElmanRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=2**31 - 1)
    x = np.ones((2, 3, 2), "float32")
    assert tuple(layer(x, training=True).shape) == (2, 3)


X = np.ones((2, 4, 3), "float32")


@pytest.mark.parametrize(
    "shape", [(2, 4, 3), (2, 4, 1), (2, 5, 2), (3, 4, 2), (2, 4)], ids=lambda s: str(s)
)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_teacher_forcing_targets_must_be_shaped_like_the_outputs(shape, training):
    # (B, T, O + 1) used to be accepted: its extra column became the
    # "use own output" channel.
    layer = keras_rnnkit.JordanRNN(3, output_units=2, return_sequences=True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "JordanRNN: `targets` must have shape (batch, time, output_units) = (2, 4, 2), "
            f"like `sequences` (2, 4, 3). Received: targets.shape={shape}"
        ),
    ):
        layer(X, targets=np.zeros(shape, "float32"), training=training)


# A JordanRNN(3, output_units=2) given targets with 3 features, on every way of
# calling it. Symbolic calls (on keras.Input) used to pass: Keras computes their
# output from `compute_output_spec`, which never ran `call`'s checks.
def _symbolic(training):
    def run(layer, x, targets):
        inputs = keras.Input((None, 3)), keras.Input((None, 3))
        kwargs = {} if training is None else {"training": training}
        return layer(inputs[0], targets=inputs[1], **kwargs)

    return run


class TeacherForcedModel(keras.Model):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def call(self, inputs, training=False):
        x, targets = inputs
        return self.layer(x, targets=targets, training=training)


def _fit(layer, x, targets):
    model = TeacherForcedModel(layer)
    model.compile("sgd", "mse")
    model.fit([x, targets], np.zeros((2, 4, 2), "float32"), verbose=0)


def _predict(layer, x, targets):
    TeacherForcedModel(layer).predict([x, targets], verbose=0)


WRONG_TARGET_CALLS = {
    "eager-inference": lambda layer, x, t: layer(x, targets=t, training=False),
    "eager-training": lambda layer, x, t: layer(x, targets=t, training=True),
    "eager-tensors": lambda layer, x, t: layer(
        keras.ops.convert_to_tensor(x), targets=keras.ops.convert_to_tensor(t), training=True
    ),
    "symbolic": _symbolic(None),
    "symbolic-training": _symbolic(True),
    "symbolic-inference": _symbolic(False),
    "symbolic-numpy-targets": lambda layer, x, t: layer(
        keras.Input((4, 3), batch_size=2), targets=t, training=True
    ),
    "fit": _fit,
    "predict": _predict,
}


@pytest.mark.parametrize("call", WRONG_TARGET_CALLS.values(), ids=WRONG_TARGET_CALLS.keys())
def test_targets_with_a_feature_too_many_raise_on_every_path(call):
    layer = keras_rnnkit.JordanRNN(3, output_units=2, return_sequences=True)
    with pytest.raises(
        ValueError,
        match=r"JordanRNN: `targets` must have shape \(batch, time, output_units\) = "
        r"\(\w+, \w+, 2\).*Received: targets.shape=\(\w+, \w+, 3\)",
    ):
        call(layer, X, np.zeros((2, 4, 3), "float32"))


def test_symbolic_targets_of_the_right_shape_are_accepted():
    x, targets = keras.Input((None, 3)), keras.Input((None, 2))
    outputs = keras_rnnkit.JordanRNN(3, output_units=2, return_sequences=True)(x, targets=targets)
    assert tuple(outputs.shape) == (None, None, 2)


def test_symbolic_sampling_probability_is_checked():
    x, targets = keras.Input((None, 3)), keras.Input((None, 2))
    with pytest.raises(ValueError, match=r"JordanRNN: `sampling_probability` must be"):
        keras_rnnkit.JordanRNN(3, output_units=2)(x, targets=targets, sampling_probability=1.5)


@pytest.mark.parametrize("probability", [1.5, -0.5, float("nan"), [0.5], True, None, "0.5"])
def test_sampling_probability_must_be_a_scalar_in_0_1(probability):
    layer = keras_rnnkit.JordanRNN(3, output_units=2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "JordanRNN: `sampling_probability` must be a number or a scalar tensor in [0, 1]. "
            f"Received: sampling_probability={probability!r}"
        ),
    ):
        layer(
            X,
            targets=np.zeros((2, 4, 2), "float32"),
            training=True,
            sampling_probability=probability,
        )


def test_sampling_probability_tensor_of_one_element_is_not_a_scalar():
    layer = keras_rnnkit.JordanRNN(3, output_units=2)
    with pytest.raises(ValueError, match="`sampling_probability` must be a number or a scalar"):
        layer(
            X,
            targets=np.zeros((2, 4, 2), "float32"),
            training=True,
            sampling_probability=np.array([0.5], "float32"),
        )


def test_generate_needs_a_primer_of_at_least_one_step():
    layer = keras_rnnkit.JordanRNN(3, output_units=2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "JordanRNN.generate: `primer` must hold at least one step. "
            "Received: primer.shape=(1, 0, 2)"
        ),
    ):
        layer.generate(np.zeros((1, 0, 2), "float32"), steps=2)


@pytest.mark.parametrize(
    "state,received",
    [
        ([np.zeros((1, 3), "float32")], "initial_state shapes=[(1, 3)]"),
        ([np.zeros((2, 2), "float32")], "initial_state shapes=[(2, 2)]"),
        ([np.zeros((1, 2), "float32")] * 2, "2 tensor(s)"),
    ],
    ids=["units", "batch", "count"],
)
def test_generate_checks_the_initial_state(state, received):
    layer = keras_rnnkit.JordanRNN(3, output_units=2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "JordanRNN.generate: `initial_state` must be a list of 1 tensor(s) of shape (batch, 2)"
        )
        + ".*"
        + re.escape(f"Received: {received}"),
    ):
        layer.generate(np.zeros((1, 2, 2), "float32"), steps=2, initial_state=state)


STATE_LAYERS = {
    "ElmanRNN": (lambda: keras_rnnkit.ElmanRNN(3), 3),
    "JordanRNN": (lambda: keras_rnnkit.JordanRNN(4, 3), 3),
}


@pytest.mark.parametrize("kind", STATE_LAYERS)
@pytest.mark.parametrize(
    "shapes,received",
    [
        ([(2, 3), (2, 3)], "2 tensor(s)"),  # JAX and torch used to accept it
        ([(3,)], "initial_state shapes=[(3,)]"),  # TensorFlow broadcast it
        ([(4, 3)], "initial_state shapes=[(4, 3)]"),
        ([(2, 5)], "initial_state shapes=[(2, 5)]"),
    ],
    ids=["two-states", "rank-1", "batch", "units"],
)
def test_initial_state_is_checked_on_every_backend(kind, shapes, received):
    factory, size = STATE_LAYERS[kind]
    state = [np.zeros(shape, "float32") for shape in shapes]
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{kind}: `initial_state` must be a list of 1 tensor(s) of shape (batch, {size})"
        )
        + ".*"
        + re.escape(f"Received: {received}"),
    ):
        factory()(X, initial_state=state)


@pytest.mark.parametrize("kind", ["ElmanRNN", "JordanRNN"])
def test_symbolic_initial_state_is_checked(kind):
    factory, size = STATE_LAYERS[kind]
    x = keras.Input((4, 3), batch_size=2)
    with pytest.raises(ValueError, match=rf"{kind}: `initial_state` must be a list of 1"):
        factory()(x, initial_state=[keras.Input((size + 1,), batch_size=2)])


@pytest.mark.parametrize(
    "factory",
    [
        lambda: keras_rnnkit.ElmanRNN(3, return_sequences=True),
        lambda: keras_rnnkit.JordanRNN(4, 2, return_sequences=True),
        lambda: keras_rnnkit.TDNN(3, (-1, 0)),
    ],
    ids=["ElmanRNN", "JordanRNN", "TDNN"],
)
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_and_boolean_inputs_are_cast_to_the_compute_dtype(factory, dtype):
    # torch refused int32 inputs ("mat1 and mat2 must have the same dtype"),
    # TensorFlow refused them in TDNN's convolution; SimpleRNN accepts them.
    layer = factory()
    values = np.arange(24).reshape(2, 4, 3) % 2
    expected = keras.ops.convert_to_numpy(layer(values.astype("float32")))
    got = layer(values.astype(dtype))
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "factory,owner,name,weight",
    [
        (
            lambda: keras_rnnkit.ElmanRNN(3, bias_initializer="orthogonal"),
            "ElmanRNN",
            "bias_initializer",
            "bias",
        ),
        (
            lambda: keras_rnnkit.JordanRNN(3, 2, output_bias_initializer="identity"),
            "JordanRNN",
            "output_bias_initializer",
            "output_bias",
        ),
        (
            lambda: keras_rnnkit.TDNN(3, (0,), bias_initializer="orthogonal"),
            "TDNN",
            "bias_initializer",
            "bias",
        ),
    ],
    ids=["ElmanRNN", "JordanRNN", "TDNN"],
)
def test_initializer_that_cannot_make_the_weight_names_layer_and_argument(
    factory, owner, name, weight
):
    # Found by tests/test_fuzz.py: Keras's "The tensor to initialize must be at
    # least two-dimensional" named neither.
    with pytest.raises(
        ValueError,
        match=rf"{owner}: `{name}` cannot initialize `{weight}` of shape \(3,\)|{owner}: `{name}` cannot initialize `{weight}` of shape \(2,\)",
    ):
        factory()(X)


@pytest.mark.parametrize(
    "argument, value, kind, other",
    [
        ("bias_initializer", keras.regularizers.L2(0.1), "initializer", "regularizer"),
        ("kernel_initializer", keras.constraints.NonNeg(), "initializer", "constraint"),
        ("kernel_regularizer", keras.initializers.Zeros(), "regularizer", "initializer"),
        ("recurrent_constraint", keras.regularizers.L1(0.1), "constraint", "regularizer"),
        ("bias_constraint", keras.initializers.Ones(), "constraint", "initializer"),
    ],
)
@pytest.mark.parametrize(
    "layer, required",
    [
        (keras_rnnkit.ElmanRNN, {}),
        (keras_rnnkit.JordanCell, {"output_units": 2}),
        (keras_rnnkit.TDNN, {"context": (-1, 0)}),
    ],
    ids=["ElmanRNN", "JordanCell", "TDNN"],
)
def test_a_keras_object_of_another_kind_is_refused_naming_the_layer_and_argument(
    layer, required, argument, value, kind, other
):
    # A regularizer given as an initializer failed at build, deep in the backend:
    # "L2.__call__() got an unexpected keyword argument 'dtype'".
    if layer is keras_rnnkit.TDNN and argument.startswith("recurrent"):
        pytest.skip("TDNN has no recurrent weights")
    with pytest.raises(
        ValueError,
        match=rf"^{layer.__name__}: `{argument}` must be a Keras {kind}, not a {other} "
        rf"\({type(value).__name__}\)",
    ):
        layer(3, **required, **{argument: value})


@pytest.mark.parametrize("context", [(-(2**40), 0), (0, 2**31)])
@pytest.mark.parametrize("layer", [keras_rnnkit.TDNN, keras_rnnkit.TDNNCell])
def test_tdnn_offsets_beyond_32_bits_are_refused_at_construction(layer, context):
    # (-2**40, 0) failed inside the backend's Pad at the first call.
    context = context if layer is keras_rnnkit.TDNN else (-abs(context[0] or context[1]), 0)
    with pytest.raises(
        ValueError,
        match=rf"^{layer.__name__}: `context` must hold offsets within ±2147483647",
    ):
        layer(2, context=context)


@pytest.mark.parametrize(
    "layer, required",
    [(keras_rnnkit.ElmanRNN, {}), (keras_rnnkit.TDNN, {"context": (-1, 0)})],
    ids=["ElmanRNN", "TDNN"],
)
def test_a_kernel_constraint_on_a_bias_is_refused_at_construction(layer, required):
    # SpectralNormConstraint on a bias failed at the first fit.
    with pytest.raises(
        ValueError,
        match=rf"^{layer.__name__}: `bias_constraint` must suit a bias, a vector; "
        r"SpectralNormConstraint needs a kernel",
    ):
        layer(3, **required, bias_constraint=keras_rnnkit.constraints.SpectralNormConstraint())


@pytest.mark.parametrize(
    "regularizer",
    ["TemporalActivationRegularizer", "ActivationTemporalRegularizer"],
)
@pytest.mark.parametrize(
    "loop", [{}, {"return_sequences": True, "return_state": True}], ids=["last", "states"]
)
def test_a_regularizer_of_every_step_needs_a_layer_that_returns_them(regularizer, loop):
    # It failed at the first fit: the layer's last output has no time axis.
    regularizer = getattr(keras_rnnkit.regularizers, regularizer)()
    with pytest.raises(
        ValueError,
        match=rf"^JordanRNN: `activity_regularizer` {type(regularizer).__name__} needs the "
        r"outputs of every step",
    ):
        keras_rnnkit.JordanRNN(3, output_units=2, activity_regularizer=regularizer, **loop)
    layer = keras_rnnkit.JordanRNN(
        3, output_units=2, activity_regularizer=regularizer, return_sequences=True
    )
    layer(np.zeros((2, 4, 1), "float32"))
    assert len(layer.losses) == 1
