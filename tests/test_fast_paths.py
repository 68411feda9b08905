"""The fused Elman recurrence equals the generic step loop, and is taken when it should be.

The fused recurrence (`keras_rnnkit.backend.fused_elman.run`, chosen by
`use_cudnn`): PyTorch's RNN kernel on torch, a scan with a hand-written
backward pass on JAX and TensorFlow; compared with `use_cudnn=False`.
`use_cudnn=True` forces it (where the configuration allows); `"auto"` takes
it on torch and JAX, and on TensorFlow only under XLA. A spy proves which
path ran. Expected values are the other path's, on
the same backend, with the same weights.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import fused_elman
from tests.autodiff import to_numpy
from tests.fused_equality import assert_same
from tests.fused_equality import layer_pair

B, T, D, H = 3, 7, 4, 5


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of the fused recurrence (at trace time inside compiled functions)."""
    calls = []
    run = fused_elman.run

    def spy(*args, **kwargs):
        calls.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(fused_elman, "run", spy)
    return calls


# What `use_cudnn="auto"` does in an eager call (TensorFlow: no XLA there).
AUTO_FUSES_EAGERLY = keras.backend.backend() != "tensorflow"
ON_TORCH = keras.backend.backend() == "torch"


FUSED_OPTIONS = {
    "last-output": {},
    "sequences": {"return_sequences": True},
    "state": {"return_sequences": True, "return_state": True},
    "backwards": {"return_sequences": True, "go_backwards": True},
    "relu-no-bias": {"activation": "relu", "use_bias": False, "return_sequences": True},
    "input-dropout": {"return_sequences": True, "dropout": 0.3, "seed": 3},
    # Recurrent dropout acts only while training: at inference it is fused too.
    "recurrent-dropout-inference": {"return_sequences": True, "recurrent_dropout": 0.3},
}


@pytest.mark.parametrize("name", list(FUSED_OPTIONS))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_fused_recurrence_equals_step_loop(name, training, fused_calls, rng):
    options = FUSED_OPTIONS[name]
    if training and options.get("recurrent_dropout"):
        pytest.skip("recurrent dropout while training is not fused (see the next test)")
    # use_cudnn=True refuses recurrent dropout (training could not fuse); "auto"
    # fuses it at inference, though not in eager TensorFlow.
    fast_switch = "auto" if options.get("recurrent_dropout") else True
    if fast_switch == "auto" and not AUTO_FUSES_EAGERLY:
        pytest.skip("eager TensorFlow runs the step loop under use_cudnn='auto'")
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, use_cudnn=fast_switch, **options),
        lambda: keras_rnnkit.ElmanRNN(H, use_cudnn=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training)
    assert fused_calls, "the fused recurrence was not taken"
    assert all(call[0].shape[1] == T for call in fused_calls)


def test_fused_recurrence_with_initial_state(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, H)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, return_state=True, use_cudnn=True),
        lambda: keras_rnnkit.ElmanRNN(H, return_state=True, use_cudnn=False),
        x.shape,
    )
    for got, want in zip(fast(x, initial_state=[h0]), generic(x, initial_state=[h0])):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 1


# Configurations the fused recurrence cannot run: the layer takes the step loop.
STEP_LOOP_OPTIONS = {
    "use_cudnn=False": ({"use_cudnn": False}, {}),
    "sigmoid": ({"activation": "sigmoid"}, {}),
    "recurrent-dropout-training": ({"recurrent_dropout": 0.3}, {"training": True}),
    "zoneout": ({"zoneout": 0.2}, {}),
    "layer-norm": ({"layer_norm": True}, {}),
    "gradient-clip": ({"gradient_clip": 1.0}, {}),
    "truncate": ({"truncate_gradient": 2}, {}),
    "unroll": ({"unroll": True}, {}),
    # Not right-padded (a gap inside the second row): the step loop on every backend.
    "mask": ({}, {"mask": np.arange(T)[None, :] % np.array([[T], [3], [T]]) != 1}),
    # Right-padded masks are lengths for PyTorch's kernel, but only forwards.
    "right-padded-mask-backwards": (
        {"go_backwards": True},
        {"mask": np.arange(T)[None, :] < np.array([[T], [4], [2]])},
    ),
    "mask-with-an-empty-row": ({}, {"mask": np.arange(T)[None, :] < np.array([[T], [0], [2]])}),
}


@pytest.mark.parametrize("name", list(STEP_LOOP_OPTIONS))
def test_unsupported_configurations_take_the_step_loop(name, fused_calls, rng):
    options, call_kwargs = STEP_LOOP_OPTIONS[name]
    layer = keras_rnnkit.ElmanRNN(H, return_sequences=True, **options)
    outputs = layer(rng.normal(size=(B, T, D)).astype("float32"), **call_kwargs)
    assert tuple(outputs.shape) == (B, T, H)
    assert not fused_calls


def test_unsupported_reason_names_the_obstacle():
    layer = keras_rnnkit.ElmanRNN(H, zoneout=0.1)
    assert layer._fused_unsupported(training=False, mask=None) == "zoneout acts inside the step"
    fusable = keras_rnnkit.ElmanRNN(H)
    if AUTO_FUSES_EAGERLY:
        assert fusable._fused_unsupported(training=True, mask=None) is None
    else:
        reason = "the step loop is faster here (TensorFlow without XLA)"
        assert fusable._fused_unsupported(training=True, mask=None) == reason


def test_auto_takes_the_fused_recurrence_where_it_is_faster(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(H)
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
        ({"zoneout": 0.1}, "zoneout acts inside the step"),
        ({"recurrent_dropout": 0.1}, "recurrent dropout acts inside the step"),
        ({"unroll": True}, "unroll=True"),
    ],
    ids=["sigmoid", "zoneout", "recurrent-dropout", "unroll"],
)
def test_use_cudnn_true_with_an_unsupported_configuration_raises(options, message):
    with pytest.raises(ValueError, match=f"ElmanRNN: `use_cudnn=True` needs .*{message}"):
        keras_rnnkit.ElmanRNN(H, use_cudnn=True, **options)


def test_use_cudnn_true_with_a_mask_raises_in_the_call(rng):
    layer = keras_rnnkit.ElmanRNN(H, use_cudnn=True)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer(x)  # no mask: fused
    left_padded = np.arange(T)[None, :] >= np.array([[0], [3], [5]])
    message = "the mask is not right-padded" if ON_TORCH else "a mask is given"
    with pytest.raises(ValueError, match=f"use_cudnn=True.*{message}"):
        layer(x, mask=left_padded)


@pytest.mark.skipif(not ON_TORCH, reason="only PyTorch's kernel takes masks (as lengths)")
@pytest.mark.parametrize("zero_output_for_mask", [False, True], ids=["repeat", "zeros"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_right_padded_mask_is_fused_as_lengths_on_torch(
    zero_output_for_mask, training, fused_calls, rng
):
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = keras.ops.convert_to_tensor(np.arange(T)[None, :] < np.array([[4], [T], [1]]))
    options = {
        "return_sequences": True,
        "return_state": True,
        "zero_output_for_mask": zero_output_for_mask,
        "dropout": 0.2,
        "seed": 4,
    }
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, use_cudnn=True, **options),
        lambda: keras_rnnkit.ElmanRNN(H, use_cudnn=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls


@pytest.mark.skipif(not ON_TORCH, reason="only PyTorch's kernel takes masks (as lengths)")
def test_right_padded_batch_equals_each_sequence_alone_on_torch(fused_calls, rng):
    lengths = [T, 4, 1]
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = keras.ops.convert_to_tensor(np.arange(T)[None, :] < np.array(lengths)[:, None])
    layer = keras_rnnkit.ElmanRNN(H, return_state=True, use_cudnn=True)
    outputs, state = layer(x, mask=mask)
    for row, length in enumerate(lengths):
        alone, alone_state = layer(x[row : row + 1, :length])
        np.testing.assert_allclose(to_numpy(outputs)[row], to_numpy(alone)[0], atol=1e-6)
        np.testing.assert_allclose(to_numpy(state)[row], to_numpy(alone_state)[0], atol=1e-6)
    assert len(fused_calls) == 1 + len(lengths)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_use_cudnn_must_be_auto_true_or_false(value):
    with pytest.raises(ValueError, match=r"`use_cudnn` must be one of 'auto', True, False"):
        keras_rnnkit.ElmanRNN(H, use_cudnn=value)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_cudnn_round_trips_through_config(value):
    layer = keras_rnnkit.ElmanRNN(H, use_cudnn=value)
    assert layer.get_config()["use_cudnn"] == value
    assert keras_rnnkit.ElmanRNN.from_config(layer.get_config()).use_cudnn == value
    wrapped = keras.layers.Bidirectional(layer)
    assert wrapped.forward_layer.use_cudnn == value
    assert wrapped.backward_layer.use_cudnn == value


def _trained_weights(use_cudnn, x, y, jit_compile="auto"):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((None, D)),
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_cudnn=use_cudnn),
            keras_rnnkit.ElmanRNN(H, go_backwards=True, use_cudnn=use_cudnn),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"], model.get_weights()


@pytest.mark.parametrize(
    "jit_compile",
    ["auto", pytest.param(True, marks=pytest.mark.tensorflow_only)],
    ids=["default", "jit"],
)
def test_training_in_fit_equals_step_loop(jit_compile, fused_calls, rng):
    x = rng.normal(size=(2 * B, T, D)).astype("float32")
    y = rng.normal(size=(2 * B, 1)).astype("float32")
    loss, weights = _trained_weights("auto", x, y, jit_compile)
    # jit_compile="auto" compiles a recurrent model without XLA on TensorFlow.
    assert bool(fused_calls) == (AUTO_FUSES_EAGERLY or jit_compile is True)
    calls = len(fused_calls)
    want_loss, want_weights = _trained_weights(False, x, y, jit_compile)
    assert len(fused_calls) == calls
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_stateful_chunks_equal_one_call(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    stateful, whole = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, stateful=True, use_cudnn=True),
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, use_cudnn=False),
        x.shape,
    )
    chunks = np.concatenate([to_numpy(stateful(x[:, :3])), to_numpy(stateful(x[:, 3:]))], axis=1)
    np.testing.assert_allclose(chunks, to_numpy(whole(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


def test_bidirectional_runs_both_directions_fused(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras.layers.Bidirectional(
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_cudnn=True)
        ),
        lambda: keras.layers.Bidirectional(
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_cudnn=False)
        ),
        x.shape,
    )
    np.testing.assert_allclose(to_numpy(fast(x)), to_numpy(generic(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


def test_mixed_precision(fused_calls, rng):
    # float16 matrix products are not implemented on the CPU by every backend.
    keras.config.set_dtype_policy("mixed_bfloat16")
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True),
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, use_cudnn=False),
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
    # PyTorch's CPU kernel has no bfloat16 path: there the step loop runs.
    assert bool(fused_calls) == (AUTO_FUSES_EAGERLY and keras.backend.backend() != "torch")


def _stateful_fit_losses(use_cudnn, x, y):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((T, D), batch_size=B),
            keras_rnnkit.ElmanRNN(H, stateful=True, use_cudnn=use_cudnn),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    # Each batch starts from the state the previous one left in the layer's variable.
    return model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0).history["loss"]


def test_stateful_training_carries_the_state_through_the_fused_recurrence(fused_calls, rng):
    # Regression: PyTorch's kernel kept h_0 for its backward pass while the
    # layer wrote the new state into h_0's variable in place.
    x = rng.normal(size=(2 * B, T, D)).astype("float32")
    y = rng.normal(size=(2 * B, 1)).astype("float32")
    fused = _stateful_fit_losses(True, x, y)
    assert fused_calls
    np.testing.assert_allclose(fused, _stateful_fit_losses(False, x, y), rtol=1e-5)
