"""The fused Jordan recurrence equals the generic step loop, and is taken when it should be.

The fused recurrence (`keras_rnnkit.backend.fused_jordan.run`, chosen by
`use_fused`): scans with a hand-written backward pass on JAX and TensorFlow,
one `torch.autograd.Function` on torch; compared with `use_fused=False`, and
with the NumPy reference written from the equations. `use_fused=True` forces
it (where the configuration allows); `"auto"` takes it on torch, and on
TensorFlow only under XLA. A spy proves which path ran.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import fused_jordan
from tests import reference
from tests.autodiff import gradients
from tests.autodiff import to_numpy
from tests.fused_equality import assert_same
from tests.fused_equality import layer_pair
from tests.fused_equality import masks

B, T, D, H, O = 3, 7, 4, 6, 2  # noqa: E741 (O: the output size, as in the docs)
# What `use_fused="auto"` does in an eager call: fused only on torch (measured, see fused_jordan).
AUTO_FUSES_EAGERLY = keras.backend.backend() == "torch"


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of the fused recurrence (at trace time inside compiled functions)."""
    calls = []
    run = fused_jordan.run

    def spy(*args, **kwargs):
        calls.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(fused_jordan, "run", spy)
    return calls


def _jordan(use_fused, **options):
    return keras_rnnkit.JordanRNN(H, output_units=O, use_fused=use_fused, **options)


FUSED_OPTIONS = {
    "last-output": {},
    "sequences": {"return_sequences": True},
    "state": {"return_sequences": True, "return_state": True},
    "decay": {"return_sequences": True, "return_state": True, "context_decay": 0.6},
    "backwards": {"return_sequences": True, "go_backwards": True, "context_decay": 0.3},
    "relu-no-bias": {"activation": "relu", "use_bias": False, "return_sequences": True},
    "tanh-output": {"output_activation": "tanh", "return_state": True, "context_decay": 0.5},
    "sigmoid-output": {"output_activation": "sigmoid", "return_sequences": True},
    "input-dropout": {"return_sequences": True, "dropout": 0.3, "seed": 3},
    # Recurrent dropout acts only while training: at inference it is fused too.
    "recurrent-dropout-inference": {"return_sequences": True, "recurrent_dropout": 0.3},
}


@pytest.mark.parametrize("name", list(FUSED_OPTIONS))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_fused_recurrence_equals_step_loop(name, training, fused_calls, rng):
    options = FUSED_OPTIONS[name]
    if training and options.get("recurrent_dropout"):
        pytest.skip("recurrent dropout while training is not fused (see the step-loop test)")
    switch = "auto" if options.get("recurrent_dropout") else True
    if switch == "auto" and not AUTO_FUSES_EAGERLY:
        pytest.skip("use_fused='auto' runs the step loop here (eagerly)")
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: _jordan(switch, **options), lambda: _jordan(False, **options), x.shape
    )
    assert_same(fast, generic, x, training=training)
    assert fused_calls, "the fused recurrence was not taken"


def test_fused_recurrence_equals_the_reference_equations(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    c0 = rng.normal(size=(B, O)).astype("float32")
    layer = _jordan(
        True,
        output_activation="tanh",
        context_decay=0.4,
        return_sequences=True,
        return_state=True,
    )
    layer.build(x.shape)
    for weight in layer.weights:  # non-zero biases, so that every weight matters
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    outputs, context = layer(x, initial_state=[c0])
    want_outputs, want_contexts = reference.jordan(
        x.astype("float64"),
        *[to_numpy(w).astype("float64") for w in layer.weights],
        output_activation="tanh",
        context_decay=0.4,
        c0=c0,
    )
    np.testing.assert_allclose(to_numpy(outputs), want_outputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), want_contexts[:, -1], rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 1


def test_gradient_of_the_initial_context_equals_step_loop(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    c0 = rng.normal(size=(B, O)).astype("float32")
    weights = rng.normal(size=(B, O)).astype("float32")
    fast, generic = layer_pair(
        lambda: _jordan(True, return_state=True, context_decay=0.5),
        lambda: _jordan(False, return_state=True, context_decay=0.5),
        x.shape,
    )

    def loss(layer):
        def value(x_tensor, c0_tensor):
            outputs, context = layer(x_tensor, initial_state=[c0_tensor])
            return keras.ops.sum((outputs + 2.0 * context) * keras.ops.convert_to_tensor(weights))

        return value

    got = gradients(loss(fast), [x, c0])
    want = gradients(loss(generic), [x, c0])
    for g, w in zip([got[0], *got[1]], [want[0], *want[1]], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    assert fused_calls


# Configurations the fused recurrence cannot run: the layer takes the step loop.
STEP_LOOP_OPTIONS = {
    "use_fused=False": ({"use_fused": False}, {}),
    "sigmoid": ({"activation": "sigmoid"}, {}),
    "softmax-output": ({"output_activation": "softmax"}, {}),
    "recurrent-dropout-training": ({"recurrent_dropout": 0.3}, {"training": True}),
    "zoneout": ({"zoneout": 0.2}, {}),
    "layer-norm": ({"layer_norm": True}, {}),
    "gradient-clip": ({"gradient_clip": 1.0}, {}),
    "truncate": ({"truncate_gradient": 2}, {}),
    "unroll": ({"unroll": True}, {}),
    "teacher-forcing": ({}, {"training": True, "targets": np.zeros((B, T, O), "float32")}),
}


@pytest.mark.parametrize("name", list(STEP_LOOP_OPTIONS))
def test_unsupported_configurations_take_the_step_loop(name, fused_calls, rng):
    options, call_kwargs = STEP_LOOP_OPTIONS[name]
    options = {"use_fused": "auto", **options}
    layer = keras_rnnkit.JordanRNN(H, output_units=O, return_sequences=True, **options)
    outputs = layer(rng.normal(size=(B, T, D)).astype("float32"), **call_kwargs)
    assert tuple(outputs.shape) == (B, T, O)
    assert not fused_calls


def test_targets_outside_training_are_ignored_and_fused(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = _jordan(True, return_sequences=True)
    free = to_numpy(layer(x))
    with_targets = to_numpy(layer(x, targets=np.ones((B, T, O), "float32"), training=False))
    np.testing.assert_array_equal(with_targets, free)
    assert len(fused_calls) == 2


def test_auto_takes_the_fused_recurrence_where_it_is_faster(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = _jordan("auto")
    layer(x)
    assert bool(fused_calls) == AUTO_FUSES_EAGERLY
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.function(lambda t: layer(t), jit_compile=True)(x)  # under XLA: fused
        assert len(fused_calls) == 1
        tf.function(lambda t: layer(t))(x)  # a graph without XLA: the step loop
        assert len(fused_calls) == 1


@pytest.mark.parametrize(
    "options, message",
    [
        ({"activation": "sigmoid"}, "the activation is not tanh or relu"),
        ({"output_activation": "relu"}, "the output activation is not linear, tanh or sigmoid"),
        ({"zoneout": 0.1}, "zoneout acts inside the step"),
        ({"recurrent_dropout": 0.1}, "recurrent dropout acts inside the step"),
    ],
    ids=["sigmoid", "relu-output", "zoneout", "recurrent-dropout"],
)
def test_use_fused_true_with_an_unsupported_configuration_raises(options, message):
    with pytest.raises(ValueError, match=f"JordanRNN: `use_fused=True` needs .*{message}"):
        _jordan(True, **options)


def test_use_fused_true_with_teacher_forcing_raises_in_the_call(rng):
    layer = _jordan(True, return_sequences=True)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer(x)  # nothing in the way: fused
    with pytest.raises(ValueError, match="use_fused=True.*teacher forcing"):
        layer(x, targets=np.zeros((B, T, O), "float32"), training=True)


# Masks, applied step by step (see `masks`).
MASKS = masks(T)
MASKED_OPTIONS = {
    "last-output": {"context_decay": 0.5},
    "sequences-state": {"return_sequences": True, "return_state": True, "context_decay": 0.5},
    "no-decay-tanh": {"return_sequences": True, "output_activation": "tanh"},
    "zeros": {"return_sequences": True, "zero_output_for_mask": True, "context_decay": 0.3},
    "zeros-last-output": {"zero_output_for_mask": True, "return_state": True},
    "backwards": {"return_sequences": True, "go_backwards": True, "context_decay": 0.5},
}


@pytest.mark.parametrize("options_name", list(MASKED_OPTIONS))
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_masked_fused_recurrence_equals_step_loop(
    mask_name, options_name, training, fused_calls, rng
):
    options = MASKED_OPTIONS[options_name]
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: _jordan(True, **options), lambda: _jordan(False, **options), x.shape
    )
    mask = keras.ops.convert_to_tensor(MASKS[mask_name])
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls, "the fused recurrence was not taken"


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_masked_fused_recurrence_matches_the_numpy_reference(mask_name, fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    c0 = rng.normal(size=(B, O)).astype("float32")
    mask = MASKS[mask_name]
    layer = _jordan(True, context_decay=0.4, return_sequences=True, return_state=True)
    layer.build(x.shape)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    outputs, context = layer(x, initial_state=[c0], mask=keras.ops.convert_to_tensor(mask))
    ys, contexts = reference.jordan(
        x.astype("float64"),
        *[to_numpy(w).astype("float64") for w in layer.weights],
        context_decay=0.4,
        c0=c0,
        mask=mask,
    )
    # Keras's rule: a masked step repeats the last unmasked step's output, zeros before it.
    held, want = np.zeros((B, O)), np.zeros_like(ys)
    for t in range(T):
        held = np.where(mask[:, t, None], ys[:, t], held)
        want[:, t] = held
    np.testing.assert_allclose(to_numpy(outputs), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), contexts[:, -1], rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 1


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_use_fused_must_be_auto_true_or_false(value):
    with pytest.raises(ValueError, match=r"`use_fused` must be one of 'auto', True, False"):
        _jordan(value)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_fused_round_trips_through_config(value):
    layer = _jordan(value)
    assert layer.get_config()["use_fused"] == value
    assert keras_rnnkit.JordanRNN.from_config(layer.get_config()).use_fused == value


def _fit(use_fused, x, y, stateful=False, jit_compile="auto"):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((T, D), batch_size=B) if stateful else keras.Input((None, D))
    model = keras.Sequential(
        [
            inputs,
            _jordan(use_fused, return_sequences=True, context_decay=0.5, stateful=stateful),
            _jordan(use_fused, go_backwards=True, output_activation="tanh", stateful=stateful),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"], model.get_weights()


@pytest.mark.parametrize(
    "stateful, jit_compile",
    [
        (False, "auto"),
        # A stateful layer writes the new context into its variable in place
        # before the backward pass that needs c_0 (see torch_rnn.jordan).
        (True, "auto"),
        pytest.param(False, True, marks=pytest.mark.tensorflow_only),
    ],
    ids=["default", "stateful", "jit"],
)
def test_training_in_fit_equals_step_loop(stateful, jit_compile, fused_calls, rng):
    x = rng.normal(size=(2 * B, T, D)).astype("float32")
    y = rng.normal(size=(2 * B, 1)).astype("float32")
    loss, weights = _fit(True, x, y, stateful, jit_compile)
    assert fused_calls
    calls = len(fused_calls)
    want_loss, want_weights = _fit(False, x, y, stateful, jit_compile)
    assert len(fused_calls) == calls
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_stateful_chunks_equal_one_call(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    options = {"return_sequences": True, "context_decay": 0.5}
    stateful, whole = layer_pair(
        lambda: _jordan(True, stateful=True, **options),
        lambda: _jordan(False, **options),
        x.shape,
    )
    chunks = np.concatenate([to_numpy(stateful(x[:, :3])), to_numpy(stateful(x[:, 3:]))], axis=1)
    np.testing.assert_allclose(chunks, to_numpy(whole(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


def test_bidirectional_runs_both_directions_fused(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras.layers.Bidirectional(_jordan(True, return_sequences=True)),
        lambda: keras.layers.Bidirectional(_jordan(False, return_sequences=True)),
        x.shape,
    )
    np.testing.assert_allclose(to_numpy(fast(x)), to_numpy(generic(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


def test_mixed_precision(fused_calls, rng):
    # float16 matrix products are not implemented on the CPU by every backend.
    keras.config.set_dtype_policy("mixed_bfloat16")
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: _jordan(True, return_sequences=True),
        lambda: _jordan(False, return_sequences=True),
        x.shape,
    )
    got, want = fast(x), generic(x)
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa: agreement to a few units of 2^-8.
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(got, "float32")),
        to_numpy(keras.ops.cast(want, "float32")),
        atol=0.05,
    )
    assert fused_calls
