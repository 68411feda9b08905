"""One harness, every layer: the checks any Keras layer must pass.

Symbolic and eager calls, output shapes, weights and losses, serialization
(layer config and `.keras` files), a training step and mixed precision. Public
`keras.*` API only, so it runs on every backend.
"""

import inspect

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.layers.config import constructor_arguments
from keras_rnnkit.layers.config import serialize_argument as serialize
from tests.autodiff import to_numpy

D = 3
# name -> (factory, number of weights, output feature size)
LAYERS = {
    "ElmanRNN": (lambda **kw: keras_rnnkit.ElmanRNN(4, return_sequences=True, **kw), 3, 4),
    "JordanRNN": (
        lambda **kw: keras_rnnkit.JordanRNN(4, 2, context_decay=0.5, return_sequences=True, **kw),
        5,
        2,
    ),
    "NARX": (
        lambda **kw: keras_rnnkit.NARX(4, 2, input_delays=(0, 2), return_sequences=True, **kw),
        5,
        2,
    ),
    "TDNN": (lambda **kw: keras_rnnkit.TDNN(4, (-2, 0, 1), **kw), 2, 4),
    "TDNN-valid-stride": (
        lambda **kw: keras_rnnkit.TDNN(4, (-1, 0, 1), padding="valid", strides=2, **kw),
        2,
        4,
    ),
    "RNN(ElmanCell)": (
        lambda **kw: keras.layers.RNN(keras_rnnkit.ElmanCell(4, **kw), return_sequences=True),
        3,
        4,
    ),
    "RNN(JordanCell)": (
        lambda **kw: keras.layers.RNN(keras_rnnkit.JordanCell(4, 2, **kw), return_sequences=True),
        5,
        2,
    ),
    "RNN(NarxCell)": (
        lambda **kw: keras.layers.RNN(keras_rnnkit.NarxCell(4, 2, **kw), return_sequences=True),
        5,
        2,
    ),
    "RNN(TDNNCell)": (
        lambda **kw: keras.layers.RNN(
            keras_rnnkit.TDNNCell(4, (-2, -1, 0), **kw), return_sequences=True
        ),
        2,
        4,
    ),
}

CASES = pytest.mark.parametrize("name", list(LAYERS))


def _inputs(batch=2, steps=6):
    return np.random.default_rng(0).normal(size=(batch, steps, D)).astype("float32")


@CASES
def test_eager_and_symbolic_calls_agree_on_shapes(name):
    factory, _, features = LAYERS[name]
    layer = factory()
    x = _inputs()
    eager = layer(x)
    symbolic = layer(keras.Input((None, D)))
    assert tuple(eager.shape) == tuple(layer.compute_output_shape(x.shape))
    assert tuple(symbolic.shape)[2:] == (features,)
    assert tuple(symbolic.shape)[0] is None and tuple(symbolic.shape)[1] is None


@CASES
def test_weights_and_regularization_losses(name):
    factory, n_weights, _ = LAYERS[name]
    layer = factory(kernel_regularizer="l2", bias_regularizer="l1", bias_initializer="ones")
    layer(_inputs())
    assert len(layer.weights) == n_weights
    assert len(layer.trainable_weights) == n_weights
    assert len(layer.non_trainable_weights) == 0
    # One loss per regularized weight; each is the penalty of that weight.
    assert len(layer.losses) == 2
    assert all(float(to_numpy(loss)) > 0 for loss in layer.losses)


@CASES
def test_config_round_trip_gives_the_same_layer(name):
    factory, _, _ = LAYERS[name]
    layer = factory()
    x = _inputs()
    expected = to_numpy(layer(x))
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    if not clone.built:  # `serialize` records the build shape, so usually built
        clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(to_numpy(clone(x)), expected)


@CASES
def test_keras_file_round_trip_needs_no_custom_objects(name, tmp_path):
    factory, _, _ = LAYERS[name]
    model = keras.Sequential([keras.Input((None, D)), factory(), keras.layers.Dense(1)])
    x = _inputs()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@CASES
def test_one_training_step_changes_every_weight(name):
    factory, _, _ = LAYERS[name]
    layer = factory(bias_initializer="ones")
    model = keras.Sequential([keras.Input((None, D)), layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = _inputs(batch=4)
    y = np.ones(tuple(model(x).shape), "float32")
    before = [w.copy() for w in layer.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for old, new in zip(before, layer.get_weights()):
        assert not np.array_equal(old, new)


@CASES
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(name, policy):
    if policy == "mixed_float16" and keras.backend.backend() != "tensorflow":
        # float16 matrix products are not implemented on the CPU by every
        # backend; bfloat16 is, and exercises the same casting paths.
        policy = "mixed_bfloat16"
    factory, _, _ = LAYERS[name]
    keras.config.set_dtype_policy(policy)
    layer = factory()
    outputs = layer(_inputs())
    compute_dtype = policy.split("_")[1]
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    assert np.all(np.isfinite(to_numpy(keras.ops.cast(outputs, "float32"))))


# A non-default value for every constructor argument, chosen by its name.
def _non_default(argument):
    if argument in ("units", "output_units"):
        return 7
    if argument == "context":
        return [-3, -1, 0]
    if argument == "input_delays":
        return [0, 3]
    if argument == "feedback_delays":
        return [2, 4]
    if argument.endswith("activation"):
        return "sigmoid"
    if argument.endswith("initializer"):
        return {"class_name": "RandomNormal", "config": {"stddev": 0.3, "seed": 5}}
    if argument.endswith("regularizer"):
        return {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}}
    if argument.endswith("constraint"):
        return {"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": 0}}
    return {
        "use_bias": False,
        "dropout": 0.25,
        "recurrent_dropout": 0.125,
        "seed": 11,
        "context_decay": 0.5,
        "gradient_clip": 2.5,
        "gradient_clip_mode": "norm",
        "truncate_gradient": 4,
        "zoneout": 0.2,
        "layer_norm": True,
        "padding": "valid",
        "strides": 3,
        "return_sequences": True,
        "return_state": True,
        "go_backwards": True,
        "stateful": True,
        "unroll": True,
        "zero_output_for_mask": True,
        "use_fused": False,
    }[argument]


CLASSES = [
    keras_rnnkit.ElmanCell,
    keras_rnnkit.ElmanRNN,
    keras_rnnkit.JordanCell,
    keras_rnnkit.JordanRNN,
    keras_rnnkit.NarxCell,
    keras_rnnkit.NARX,
    keras_rnnkit.TDNN,
    keras_rnnkit.TDNNCell,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_constructor_argument_survives_get_config(cls):
    parameters = inspect.signature(cls).parameters
    arguments = [p.name for p in parameters.values() if p.kind is not p.VAR_KEYWORD]
    assert set(constructor_arguments(cls.cell_class if hasattr(cls, "cell_class") else cls)) <= set(
        arguments
    )
    kwargs = {a: _non_default(a) for a in arguments}
    if cls is keras_rnnkit.TDNNCell:
        kwargs["context"] = [-3, -1, 0]
    layer = cls(**kwargs)
    config = layer.get_config()
    default = cls(
        **{a: kwargs[a] for a in arguments if parameters[a].default is inspect.Parameter.empty}
    ).get_config()
    for argument in arguments:
        assert argument in config, f"{cls.__name__}.get_config() lacks `{argument}`"
        if parameters[argument].default is inspect.Parameter.empty:
            assert config[argument] == serialize(kwargs[argument])
            continue
        assert config[argument] != default[argument], (
            f"{cls.__name__}: `{argument}` was not kept by get_config()"
        )
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_signature_is_written_out_and_documented(cls):
    # What help(), IDEs and inspect.signature show: the real arguments, no
    # stray `self`, each named in the docstring's Args.
    parameters = list(inspect.signature(cls).parameters.values())
    assert parameters[0].name != "self"
    assert [p.kind for p in parameters[-1:]] == [inspect.Parameter.VAR_KEYWORD]
    assert "*args" not in str(inspect.signature(cls.__init__))
    documented = cls.__doc__.split("Args:")[1].split("Call arguments:")[0].split("Example")[0]
    for p in parameters[:-1]:
        assert p.name in documented, f"{cls.__name__}'s docstring Args lack `{p.name}`"


RECURRENT_LAYERS = [c for c in CLASSES if hasattr(c, "cell_class")]


@pytest.mark.parametrize("cls", RECURRENT_LAYERS, ids=lambda c: c.__name__)
def test_layer_signature_is_its_cells_plus_the_loops(cls):
    # The layers' signatures are written out by hand; this keeps them from
    # drifting from their cells: the cell's arguments (same order, kinds and
    # defaults), then the loop's, keyword-only, then **kwargs.
    cell = [
        p
        for p in inspect.signature(cls.cell_class).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    ]
    loop = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in cls.loop_defaults().items()
    ]
    rest = [inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)]
    assert list(inspect.signature(cls).parameters.values()) == cell + loop + rest
