"""keras_rnnkit.tuning: the search space, its defaults, pins, scopes, models and errors.

Runs on every backend; the searches themselves are in test_tuning_search.py.
"""

import importlib
import pathlib
import re
import sys

import keras
import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

import keras_rnnkit  # noqa: E402
from keras_rnnkit.tuning import HyperElman  # noqa: E402
from keras_rnnkit.tuning import HyperJordan  # noqa: E402
from keras_rnnkit.tuning import HyperTDNN  # noqa: E402
from keras_rnnkit.tuning import RecurrentHyperModel  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECURRENT = {"values": ["elman", "jordan", "narx"]}

# The documented space (docs/tuning.md): name -> (keras-tuner type, default,
# range arguments, the families it is active for; None: all). Written out by
# hand from the issue and the docs, so that a change to the space is a
# deliberate change to this contract.
DOCUMENTED_SPACE = {
    "family": ("Choice", "elman", {"values": ["elman", "jordan", "narx", "tdnn"]}, None),
    "units": ("Choice", 32, {"values": [8, 16, 32, 64, 128]}, None),
    "depth": ("Int", 1, {"min_value": 1, "max_value": 3, "step": 1}, None),
    "activation": ("Choice", "tanh", {"values": ["tanh", "relu"]}, None),
    "layer_norm": ("Boolean", False, {}, None),
    "learning_rate": (
        "Float",
        1e-3,
        {"min_value": 1e-4, "max_value": 1e-2, "sampling": "log"},
        None,
    ),
    "weight_decay": ("Choice", 0.0, {"values": [0.0, 1e-4, 1e-3, 3e-3, 1e-2]}, None),
    "weight_penalty": ("Choice", "l2", {"values": ["l2", "elimination"]}, None),
    "clipnorm": ("Choice", 1.0, {"values": [0.0, 1.0, 10.0]}, None),
    "bidirectional": ("Boolean", False, {}, ("elman", "jordan", "narx")),
    "dropout": (
        "Choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        ("elman", "jordan", "narx"),
    ),
    "recurrent_dropout": (
        "Choice",
        0.0,
        {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        ("elman", "jordan", "narx"),
    ),
    "zoneout": ("Choice", 0.0, {"values": [0.0, 0.1, 0.2, 0.3]}, ("elman", "jordan")),
    "gradient_clip": ("Choice", 0.0, {"values": [0.0, 1.0, 10.0]}, ("elman", "jordan", "narx")),
    "jordan_output_units": ("Choice", 4, {"values": [1, 2, 4, 8, 16]}, ("jordan",)),
    "context_decay": ("Choice", 0.5, {"values": [0.0, 0.25, 0.5, 0.75, 0.9]}, ("jordan",)),
    "narx_output_units": ("Choice", 4, {"values": [1, 2, 4, 8]}, ("narx",)),
    "input_taps": ("Int", 2, {"min_value": 1, "max_value": 4}, ("narx",)),
    "feedback_taps": ("Int", 2, {"min_value": 1, "max_value": 4}, ("narx",)),
    "context_width": ("Int", 3, {"min_value": 2, "max_value": 5}, ("tdnn",)),
    "dilation": ("Int", 1, {"min_value": 1, "max_value": 3}, ("tdnn",)),
    "stride": ("Int", 1, {"min_value": 1, "max_value": 2}, ("tdnn",)),
}
TDNN_ONLY = {"context_width", "dilation", "stride"}
JORDAN_ONLY = {"jordan_output_units", "context_decay"}
NARX_ONLY = {"narx_output_units", "input_taps", "feedback_taps"}
RECURRENT_ONLY = {"bidirectional", "dropout", "recurrent_dropout", "zoneout", "gradient_clip"}


def _space(hypermodel, hp=None):
    hp = hp or keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    return hp, model


def _layers(model, cls):
    found = []
    for layer in model.layers:
        inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
        if isinstance(inner, cls):
            found.append(inner)
    return found


def test_every_hyperparameter_has_its_documented_type_range_default_and_scope():
    hp, _ = _space(RecurrentHyperModel((12, 1), 1))
    declared = {h.name: h for h in hp.space}
    assert sorted(declared) == sorted(DOCUMENTED_SPACE)
    for name, (kind, default, ranges, families) in DOCUMENTED_SPACE.items():
        hyperparameter = declared[name]
        config = hyperparameter.get_config()
        assert type(hyperparameter).__name__ == kind, name
        assert config["default"] == default, name
        for key, value in ranges.items():
            assert config[key] == value, (name, key)
        conditions = [c.get_config() for c in hyperparameter.conditions]
        expected = [] if families is None else [{"name": "family", "values": list(families)}]
        assert conditions == expected, name


def test_the_docs_table_lists_the_same_names_defaults_and_scopes():
    text = (ROOT / "docs" / "tuning.md").read_text()
    text = text.split("## The search space")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", text, re.MULTILINE)
    table = {
        name: (values.strip(), default.strip(), scope.strip())
        for name, values, default, scope in rows
    }
    assert sorted(table) == sorted(DOCUMENTED_SPACE)
    for name, (_, default, _, families) in DOCUMENTED_SPACE.items():
        assert table[name][1] == f"`{default!r}`", name
        assert table[name][2] == ("all" if families is None else ", ".join(families)), name


def test_defaults_build_the_documented_default_model():
    hp, model = _space(RecurrentHyperModel((12, 1), 1))
    elman_scoped = [n for n, spec in DOCUMENTED_SPACE.items() if "elman" in (spec[3] or "elman")]
    assert hp.values == {name: DOCUMENTED_SPACE[name][1] for name in elman_scoped}
    (elman,) = _layers(model, keras_rnnkit.ElmanRNN)
    assert elman.units == 32 and elman.dropout == 0.0 and elman.zoneout == 0.0
    assert elman.gradient_clip is None and not elman.return_sequences
    assert not any(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.optimizer.clipnorm == 1.0
    assert model.output_shape == (None, 1)


@pytest.mark.slow
def test_every_searched_value_reaches_the_recurrent_layers():
    hp = keras_tuner.HyperParameters()
    chosen = {
        "family": "jordan",
        "units": 16,
        "depth": 2,
        "activation": "relu",
        "layer_norm": True,
        "learning_rate": 5e-3,
        "clipnorm": 0.0,
        "bidirectional": True,
        "dropout": 0.2,
        "recurrent_dropout": 0.1,
        "zoneout": 0.1,
        "gradient_clip": 1.0,
        "jordan_output_units": 2,
        "context_decay": 0.25,
    }
    for name, value in chosen.items():
        hp.Fixed(name, value)
    model = RecurrentHyperModel((6, 3), 2, gradient_clip_mode="norm", seed=7).build(hp)
    jordans = _layers(model, keras_rnnkit.JordanRNN)
    assert len(jordans) == 2
    assert [j.return_sequences for j in jordans] == [True, False]
    for jordan in jordans:
        assert jordan.units == 16 and jordan.output_units == 2
        assert jordan.context_decay == pytest.approx(0.25)
        assert jordan.activation is keras.activations.relu and jordan.layer_norm
        assert jordan.dropout == pytest.approx(0.2)
        assert jordan.recurrent_dropout == pytest.approx(0.1)
        assert jordan.zoneout == pytest.approx(0.1)
        assert jordan.gradient_clip == 1.0 and jordan.gradient_clip_mode == "norm"
    assert [j.seed for j in jordans] == [7, 8]
    assert sum(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers) == 2
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-3)
    assert model.optimizer.clipnorm is None  # clipnorm 0.0 means no clipping
    # Every option at once still trains (dropout, zoneout and clipping in both directions).
    x = np.random.default_rng(0).normal(size=(8, 6, 3)).astype("float32")
    history = model.fit(x, x[:, -1, :2], epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "penalty, regularizer",
    [("l2", keras.regularizers.L2), ("elimination", keras_rnnkit.regularizers.WeightElimination)],
)
def test_the_weight_penalty_regularizes_every_kernel_with_the_searched_strength(
    penalty, regularizer
):
    hp = keras_tuner.HyperParameters()
    for name, value in {"family": "elman", "weight_decay": 1e-3, "weight_penalty": penalty}.items():
        hp.Fixed(name, value)
    model = RecurrentHyperModel((6, 3), 2).build(hp)
    elman = _layers(model, keras_rnnkit.ElmanRNN)[0]
    dense = model.layers[-1]
    for owner, name in (
        (elman.cell, "kernel"),
        (elman.cell, "recurrent_kernel"),
        (dense, "kernel"),
    ):
        attribute = "recurrent_regularizer" if name == "recurrent_kernel" else "kernel_regularizer"
        found = getattr(owner, attribute)
        assert isinstance(found, regularizer), (name, found)
        assert float(found.get_config()["l2" if penalty == "l2" else "strength"]) == pytest.approx(
            1e-3
        )


def test_tdnn_window_width_dilation_and_stride():
    hp = keras_tuner.HyperParameters()
    for name, value in {"family": "tdnn", "context_width": 3, "dilation": 2, "stride": 2}.items():
        hp.Fixed(name, value)
    hp.Fixed("depth", 2)
    model = RecurrentHyperModel((12, 2), 1).build(hp)
    tdnns = _layers(model, keras_rnnkit.TDNN)
    assert [t.context for t in tdnns] == [(-4, -2, 0)] * 2
    assert [t.strides for t in tdnns] == [2, 2]
    # 12 steps, stride 2 twice: 6, then 3 steps of 32 units, flattened.
    assert model.get_layer(index=-2).output.shape[-1] == 3 * 32
    assert model.output_shape == (None, 1)


def test_tdnn_with_any_length_averages_over_time():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("family", "tdnn")
    model = RecurrentHyperModel((None, 2), 3).build(hp)
    assert any(isinstance(layer, keras.layers.GlobalAveragePooling1D) for layer in model.layers)
    out = model.predict(np.zeros((2, 9, 2), "float32"), verbose=0)
    assert out.shape == (2, 3)


@pytest.mark.parametrize("family", ["elman", "jordan", "narx", "tdnn"])
def test_many_to_many_keeps_the_time_axis_and_tdnn_keeps_stride_one(family):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("family", family)
    hp.Fixed("depth", 2)
    model = RecurrentHyperModel((7, 2), 4, return_sequences=True).build(hp)
    assert model.output_shape == (None, 7, 4)
    assert "stride" not in hp.values
    assert "stride" not in {h.name for h in hp.space}
    assert model.predict(np.zeros((3, 7, 2), "float32"), verbose=0).shape == (3, 7, 4)


def test_classification_head_is_a_softmax_over_the_classes():
    hypermodel = RecurrentHyperModel(
        (5, 2),
        3,
        output_activation="softmax",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    _, model = _space(hypermodel)
    x = np.random.default_rng(1).normal(size=(6, 5, 2)).astype("float32")
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=-1), np.ones(6), rtol=1e-5)
    history = model.fit(x, np.array([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
    assert {"loss", "accuracy"} <= set(history.history)


def test_conditional_scopes_show_only_the_trials_family():
    values = {}
    for family in ("elman", "jordan", "narx", "tdnn"):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("family", family)
        RecurrentHyperModel((6, 1), 1).build(hp)
        values[family] = set(hp.values)
        # Every family's hyperparameters are declared (the tuner sees the whole
        # space), but only the active ones have values.
        assert {h.name for h in hp.space} == set(DOCUMENTED_SPACE)
    assert JORDAN_ONLY <= values["jordan"] and not TDNN_ONLY & values["jordan"]
    assert RECURRENT_ONLY <= values["jordan"]
    assert TDNN_ONLY <= values["tdnn"] and not (JORDAN_ONLY | RECURRENT_ONLY) & values["tdnn"]
    assert not (JORDAN_ONLY | TDNN_ONLY | NARX_ONLY) & values["elman"]
    assert NARX_ONLY <= values["narx"] and not (JORDAN_ONLY | TDNN_ONLY) & values["narx"]
    # Zoneout would stop a delay line's slots from shifting: not searched for NARX.
    assert RECURRENT_ONLY - {"zoneout"} <= values["narx"] and "zoneout" not in values["narx"]


def test_hp_fixed_pins_override_the_search():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("family", "jordan")
    hp.Fixed("units", 8)
    hp.Fixed("context_decay", 0.2)  # a family-specific value, pinned at the top level
    hp.Fixed("learning_rate", 0.02)  # outside the searched range: a pin is a pin
    model = RecurrentHyperModel((6, 1), 1).build(hp)
    (jordan,) = _layers(model, keras_rnnkit.JordanRNN)
    assert (jordan.units, jordan.context_decay) == (8, 0.2)
    assert hp.values["context_decay"] == 0.2
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)


def test_constructor_fixed_pins_values():
    hypermodel = RecurrentHyperModel((6, 1), 1, fixed={"family": "tdnn", "context_width": 5})
    hp, model = _space(hypermodel)
    assert hp.values["family"] == "tdnn" and hp.values["context_width"] == 5
    fixed = {h.name: type(h).__name__ for h in hp.space}
    assert fixed["context_width"] == "Fixed" and fixed["family"] == "Fixed"
    assert _layers(model, keras_rnnkit.TDNN)[0].context == (-4, -3, -2, -1, 0)


@pytest.mark.parametrize(
    "cls,family,layer",
    [
        (HyperElman, "elman", keras_rnnkit.ElmanRNN),
        (HyperJordan, "jordan", keras_rnnkit.JordanRNN),
        (HyperTDNN, "tdnn", keras_rnnkit.TDNN),
    ],
)
def test_per_family_hypermodels_fix_the_family_and_share_the_space(cls, family, layer):
    hypermodel = cls((6, 2), 1)
    assert isinstance(hypermodel, RecurrentHyperModel)
    assert cls.build is RecurrentHyperModel.build  # the same building code
    hp, model = _space(hypermodel)
    assert hp.values["family"] == family
    assert _layers(model, layer)
    # Only the scopes of this family are declared, so the tuner never builds another.
    scoped = {h.name for h in hp.space if h.conditions}
    assert all(hp.is_active(h) for h in hp.space), scoped


def test_families_restrict_the_family_choice():
    hp, _ = _space(RecurrentHyperModel((6, 1), 1, families=("tdnn", "jordan")))
    family = next(h for h in hp.space if h.name == "family")
    assert family.values == ["tdnn", "jordan"] and family.default == "tdnn"
    assert "bidirectional" in {h.name for h in hp.space}
    assert "context_width" in hp.values


BAD_ARGUMENTS = [
    (
        dict(input_shape=(12,), output_units=1),
        "RecurrentHyperModel: `input_shape` must be (time, features): time a positive integer "
        "or None, features a positive integer. Received: input_shape=(12,)",
    ),
    (dict(input_shape=(12, 0), output_units=1), "Received: input_shape=(12, 0)"),
    (dict(input_shape=(None, None), output_units=1), "Received: input_shape=(None, None)"),
    (dict(input_shape=12, output_units=1), "Received: input_shape=12"),
    (
        dict(input_shape=(12, 1), output_units=0),
        "RecurrentHyperModel: `output_units` must be a positive integer. Received: output_units=0",
    ),
    (dict(input_shape=(12, 1), output_units=2.0), "Received: output_units=2.0"),
    (
        dict(input_shape=(12, 1), output_units=1, families=("elman", "gru")),
        "RecurrentHyperModel: unknown family 'gru' in `families`; the families are 'elman', "
        "'jordan', 'narx', 'tdnn'. Received: families=('elman', 'gru')",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, families=()),
        "RecurrentHyperModel: `families` must be a non-empty sequence of distinct families "
        "among 'elman', 'jordan', 'narx', 'tdnn'. Received: families=()",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, fixed={"unit": 3}),
        "RecurrentHyperModel: `fixed` names unknown hyperparameter(s) unit",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, output_activation="nope"),
        "RecurrentHyperModel: `output_activation` must be the name of a Keras activation",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, return_sequences="yes"),
        "RecurrentHyperModel: `return_sequences` must be True or False. "
        "Received: return_sequences='yes'",
    ),
    (
        dict(input_shape=(12, 2), output_units=1, series_target=2),
        "RecurrentHyperModel: `series_target` must index one of the 2 input features of a "
        "many-to-one model. Received: series_target=2",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, series_target=-1),
        "RecurrentHyperModel: `series_target` must be a non-negative integer",
    ),
    (
        dict(input_shape=(12, 1), output_units=1, fixed={"forecast": "change"}),
        "RecurrentHyperModel: `fixed` names unknown hyperparameter(s) forecast",
    ),
]


@pytest.mark.parametrize(
    "kwargs,message", BAD_ARGUMENTS, ids=[m.split(". ")[0][:50] for _, m in BAD_ARGUMENTS]
)
def test_bad_arguments_raise_clear_value_errors(kwargs, message):
    with pytest.raises(ValueError) as info:
        RecurrentHyperModel(**kwargs)
    assert message in str(info.value)


def test_per_family_hypermodels_name_themselves_in_errors():
    with pytest.raises(ValueError, match=r"^HyperTDNN: `output_units` must be a positive"):
        HyperTDNN((5, 1), -1)
    with pytest.raises(TypeError, match="HyperJordan searches only the 'jordan' family"):
        HyperJordan((5, 1), 1, families=("elman",))


def test_a_pinned_family_outside_families_is_an_error():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("family", "tdnn")
    with pytest.raises(ValueError, match=r"HyperElman: the hyperparameter `family` must be one of"):
        HyperElman((5, 1), 1).build(hp)


def test_fit_fails_the_trial_on_a_non_finite_loss():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units", 8)
    hp.Fixed("learning_rate", 1e30)  # Adam's first step overflows the next loss
    hypermodel = HyperElman((6, 1), 1)
    model = hypermodel.build(hp)
    x, y = np.ones((16, 6, 1), "float32"), np.ones((16, 1), "float32")
    with pytest.raises(
        keras_tuner.errors.FailedTrialError,
        match=r"HyperElman: the training loss became (nan|inf) at epoch 0, batch 1",
    ):
        hypermodel.fit(hp, model, x, y, epochs=3, batch_size=8, verbose=0)
    # Training stopped at that batch (not after three epochs).
    assert int(model.optimizer.iterations) == 2


def test_without_keras_tuner_the_import_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_tuner", None)  # makes `import keras_tuner` fail
    monkeypatch.delitem(sys.modules, "keras_rnnkit.tuning._dependency")
    with pytest.raises(ImportError, match=r"pip install keras-tuner \(the \[tuner\] extra"):
        importlib.import_module("keras_rnnkit.tuning._dependency")


@pytest.mark.parametrize("forecast", ["level", "change", "residual"])
def test_a_series_forecast_is_searched_and_built_as_build_model_builds_it(forecast):
    """With `series_target`, the searched `forecast` is `build_model`'s `predict_change` /
    `ar_order` (the window's order) of that feature: the same model, the same outputs."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6, 2)).astype("float32")
    y = (x[:, -1, 1:] + 0.1 * rng.normal(size=(40, 1))).astype("float32")
    hypermodel = RecurrentHyperModel(
        (6, 2), 1, families=("elman",), training_data=(x, y), series_target=1
    )
    hp = keras_tuner.HyperParameters()
    hp.Fixed("forecast", forecast)
    keras.utils.set_random_seed(1)
    searched = hypermodel.build(hp)
    assert hp.values["forecast"] == forecast
    keras.utils.set_random_seed(1)
    built = keras_rnnkit.models.build_model(
        "elman",
        (6, 2),
        1,
        units=32,
        learning_rate=1e-3,
        clipnorm=1.0,
        training_data=(x, y),
        predict_change=forecast == "change",
        ar_order=6 if forecast == "residual" else None,
        target_index=1,
    )
    built.set_weights(searched.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(searched(x)), keras.ops.convert_to_numpy(built(x)), rtol=1e-5
    )


def test_without_a_series_target_no_forecast_is_searched():
    hp = keras_tuner.HyperParameters()
    RecurrentHyperModel((6, 1), 1).build(hp)
    assert "forecast" not in hp.values
    hp = keras_tuner.HyperParameters()
    RecurrentHyperModel((6, 1), 1, series_target=0).build(hp)
    assert hp.values["forecast"] == "level"
