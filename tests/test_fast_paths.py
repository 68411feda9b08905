"""The fused Elman recurrence equals the generic step loop, and is taken when it should be.

The fused recurrence (`keras_rnnkit.backend.fused_elman.run`, chosen by
`use_fused`): PyTorch's RNN kernel on torch, a scan with a hand-written
backward pass on JAX and TensorFlow; compared with `use_fused=False`.
`use_fused=True` forces it (where the configuration allows); `"auto"` takes
it on torch and JAX, and on TensorFlow only under XLA. A spy proves which
path ran. Expected values are the other path's, on
the same backend, with the same weights.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import fused_elman
from tests import reference
from tests.autodiff import to_numpy
from tests.fused_equality import assert_same
from tests.fused_equality import layer_pair
from tests.fused_equality import masks

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


# What `use_fused="auto"` does in an eager call (TensorFlow: no XLA there).
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
    # use_fused=True refuses recurrent dropout (training could not fuse); "auto"
    # fuses it at inference, though not in eager TensorFlow.
    fast_switch = "auto" if options.get("recurrent_dropout") else True
    if fast_switch == "auto" and not AUTO_FUSES_EAGERLY:
        pytest.skip("eager TensorFlow runs the step loop under use_fused='auto'")
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=fast_switch, **options),
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training)
    assert fused_calls, "the fused recurrence was not taken"
    assert all(call[0].shape[1] == T for call in fused_calls)


def test_fused_recurrence_with_initial_state(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, H)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, return_state=True, use_fused=True),
        lambda: keras_rnnkit.ElmanRNN(H, return_state=True, use_fused=False),
        x.shape,
    )
    for got, want in zip(fast(x, initial_state=[h0]), generic(x, initial_state=[h0])):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 1


# Configurations the fused recurrence cannot run: the layer takes the step loop.
STEP_LOOP_OPTIONS = {
    "use_fused=False": ({"use_fused": False}, {}),
    "sigmoid": ({"activation": "sigmoid"}, {}),
    "recurrent-dropout-training": ({"recurrent_dropout": 0.3}, {"training": True}),
    "zoneout": ({"zoneout": 0.2}, {}),
    "layer-norm": ({"layer_norm": True}, {}),
    "gradient-clip": ({"gradient_clip": 1.0}, {}),
    "truncate": ({"truncate_gradient": 2}, {}),
    "unroll": ({"unroll": True}, {}),
}
if ON_TORCH:
    # PyTorch's kernel takes only right-padded masks (as lengths), and only forwards.
    STEP_LOOP_OPTIONS.update(
        {
            "mask-with-a-gap": (
                {},
                {"mask": np.arange(T)[None, :] % np.array([[T], [3], [T]]) != 1},
            ),
            "right-padded-mask-backwards": (
                {"go_backwards": True},
                {"mask": np.arange(T)[None, :] < np.array([[T], [4], [2]])},
            ),
            "mask-with-an-empty-row": (
                {},
                {"mask": np.arange(T)[None, :] < np.array([[T], [0], [2]])},
            ),
        }
    )


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
def test_use_fused_true_with_an_unsupported_configuration_raises(options, message):
    with pytest.raises(ValueError, match=f"ElmanRNN: `use_fused=True` needs .*{message}"):
        keras_rnnkit.ElmanRNN(H, use_fused=True, **options)


@pytest.mark.skipif(not ON_TORCH, reason="the scans of JAX and TensorFlow take any mask")
def test_use_fused_true_with_a_mask_raises_in_the_call_on_torch(rng):
    layer = keras_rnnkit.ElmanRNN(H, use_fused=True)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer(x)  # no mask: fused
    left_padded = np.arange(T)[None, :] >= np.array([[0], [3], [5]])
    with pytest.raises(ValueError, match="use_fused=True.*the mask is not right-padded"):
        layer(x, mask=left_padded)


# Masks the scans of JAX and TensorFlow apply step by step (see `masks`).
STEPS = np.arange(T)[None, :]
MASKS = masks(T)
MASKED_OPTIONS = {
    "last-output": {},
    "sequences-state": {"return_sequences": True, "return_state": True},
    "zeros": {"return_sequences": True, "zero_output_for_mask": True},
    "zeros-last-output": {"zero_output_for_mask": True},
    "backwards": {"return_sequences": True, "return_state": True, "go_backwards": True},
    "relu-dropout": {"activation": "relu", "return_sequences": True, "dropout": 0.3, "seed": 2},
}


@pytest.mark.skipif(ON_TORCH, reason="on torch only right-padded masks fuse (tested below)")
@pytest.mark.parametrize("options_name", list(MASKED_OPTIONS))
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_masked_scan_equals_step_loop(mask_name, options_name, training, fused_calls, rng):
    options = MASKED_OPTIONS[options_name]
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=True, **options),
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=False, **options),
        x.shape,
    )
    mask = keras.ops.convert_to_tensor(MASKS[mask_name])
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls, "the fused recurrence was not taken"


@pytest.mark.skipif(ON_TORCH, reason="on torch only right-padded masks fuse")
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_masked_scan_matches_the_numpy_reference(mask_name, fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, H)).astype("float32")
    mask = MASKS[mask_name]
    layer = keras_rnnkit.ElmanRNN(H, return_sequences=True, return_state=True, use_fused=True)
    outputs, state = layer(x, initial_state=[h0], mask=keras.ops.convert_to_tensor(mask))
    weights = [w.astype(float) for w in layer.get_weights()]
    states = reference.elman(x.astype(float), *weights, h0=h0, mask=mask)
    # Keras's rule: a masked step repeats the last unmasked step's output, zeros before it.
    seen = np.maximum.accumulate(mask, axis=1)[..., None]
    np.testing.assert_allclose(to_numpy(outputs), states * seen, atol=1e-5)
    np.testing.assert_allclose(to_numpy(state), states[:, -1], atol=1e-5)
    assert len(fused_calls) == 1


@pytest.mark.skipif(ON_TORCH, reason="on torch only right-padded masks fuse")
def test_masked_scan_in_a_compiled_fit_equals_step_loop(rng):
    x = rng.normal(size=(8, T, D)).astype("float32")
    x[:4, 5:] = 0.0  # padding, masked by the Masking layer
    y = rng.normal(size=(8, 1)).astype("float32")

    def trained(use_fused):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((T, D)),
                keras.layers.Masking(0.0),
                keras_rnnkit.ElmanRNN(H, use_fused=use_fused),
                keras.layers.Dense(1),
            ]
        )
        jit = keras.backend.backend() != "torch"
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return history.history["loss"], [to_numpy(w) for w in model.get_weights()]

    fast_loss, fast_weights = trained(True)
    loop_loss, loop_weights = trained(False)
    np.testing.assert_allclose(fast_loss, loop_loss, rtol=1e-5)
    for got, want in zip(fast_weights, loop_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_padded_batch_equals_each_sequence_alone(fused_calls, rng):
    lengths = [T, 4, 1]
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = keras.ops.convert_to_tensor(STEPS < np.array(lengths)[:, None])
    layer = keras_rnnkit.ElmanRNN(H, return_state=True, use_fused=True)
    outputs, state = layer(x, mask=mask)
    for row, length in enumerate(lengths):
        alone, alone_state = layer(x[row : row + 1, :length])
        np.testing.assert_allclose(to_numpy(outputs)[row], to_numpy(alone)[0], atol=1e-6)
        np.testing.assert_allclose(to_numpy(state)[row], to_numpy(alone_state)[0], atol=1e-6)
    assert len(fused_calls) == 1 + len(lengths)


@pytest.mark.skipif(not ON_TORCH, reason="only PyTorch's kernel takes masks (as lengths)")
@pytest.mark.parametrize("zero_output_for_mask", [False, True], ids=["repeat", "zeros"])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last-output"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_right_padded_mask_is_fused_as_lengths_on_torch(
    zero_output_for_mask, sequences, training, fused_calls, rng
):
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = keras.ops.convert_to_tensor(np.arange(T)[None, :] < np.array([[4], [T], [1]]))
    options = {
        "return_sequences": sequences,
        "return_state": True,
        "zero_output_for_mask": zero_output_for_mask,
        "dropout": 0.2,
        "seed": 4,
    }
    fast, generic = layer_pair(
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=True, **options),
        lambda: keras_rnnkit.ElmanRNN(H, use_fused=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls


@pytest.mark.skipif(not ON_TORCH, reason="PyTorch's kernel")
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_packed_and_padded_kernels_agree_on_torch(activation, rng):
    """The two ways to run right-padded sequences through PyTorch's kernel:
    packed (taken on a GPU) and over the padded batch (on the CPU)."""
    import torch

    from keras_rnnkit.backend import torch_rnn

    lengths = torch.tensor([T, 4, 1, 6])
    arrays = [
        rng.normal(size=shape).astype("float32")
        for shape in ((4, T, D), (4, H), (D, H), (H, H), (H,))
    ]
    results = []
    for run in (torch_rnn._packed_elman, torch_rnn._padded_elman):
        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        outputs, state = run(*tensors, activation, lengths)
        real = (torch.arange(T)[None, :] < lengths[:, None])[..., None]
        loss = (torch.where(real, outputs, 0.0) * 0.3).sum() + (state * 0.7).sum()
        loss.backward()
        results.append([torch.where(real, outputs, 0.0), state, *(t.grad for t in tensors)])
    for packed, padded in zip(*results, strict=True):
        np.testing.assert_allclose(to_numpy(packed), to_numpy(padded), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_use_fused_must_be_auto_true_or_false(value):
    with pytest.raises(ValueError, match=r"`use_fused` must be one of 'auto', True, False"):
        keras_rnnkit.ElmanRNN(H, use_fused=value)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_fused_round_trips_through_config(value):
    layer = keras_rnnkit.ElmanRNN(H, use_fused=value)
    assert layer.get_config()["use_fused"] == value
    assert keras_rnnkit.ElmanRNN.from_config(layer.get_config()).use_fused == value
    wrapped = keras.layers.Bidirectional(layer)
    assert wrapped.forward_layer.use_fused == value
    assert wrapped.backward_layer.use_fused == value


def _trained_weights(use_fused, x, y, jit_compile="auto"):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((None, D)),
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_fused=use_fused),
            keras_rnnkit.ElmanRNN(H, go_backwards=True, use_fused=use_fused),
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
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, stateful=True, use_fused=True),
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, use_fused=False),
        x.shape,
    )
    chunks = np.concatenate([to_numpy(stateful(x[:, :3])), to_numpy(stateful(x[:, 3:]))], axis=1)
    np.testing.assert_allclose(chunks, to_numpy(whole(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


def test_bidirectional_runs_both_directions_fused(fused_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: keras.layers.Bidirectional(
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_fused=True)
        ),
        lambda: keras.layers.Bidirectional(
            keras_rnnkit.ElmanRNN(H, return_sequences=True, use_fused=False)
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
        lambda: keras_rnnkit.ElmanRNN(H, return_sequences=True, use_fused=False),
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


def _stateful_fit_losses(use_fused, x, y):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((T, D), batch_size=B),
            keras_rnnkit.ElmanRNN(H, stateful=True, use_fused=use_fused),
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


# TensorFlow with a GPU: cuDNN's RNN_TANH / RNN_RELU kernel (CudnnRNNV3). It has
# no CPU kernel, so here the layout of its weights is checked against cuDNN's
# documented equation, and the choice of path with a simulated GPU.
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def _cudnn_equation(params, x, units, activation):
    """cuDNN's RNN mode from its flat canonical buffer: h_t = act(W x_t + R h_{t-1} + b_W + b_R).

    The buffer holds W (H, D) and R (H, H), each row-major, then b_W and b_R
    (cudnnGetRNNLinLayerMatrixParams / ...BiasParams, for one layer).
    """
    inputs = x.shape[-1]
    sizes = [units * inputs, units * units, units, units]
    w, r, b_w, b_r = np.split(params, np.cumsum(sizes)[:-1])
    w, r = w.reshape(units, inputs), r.reshape(units, units)
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))
    h, states = np.zeros((x.shape[0], units)), []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ w.T + h @ r.T + b_w + b_r)
        states.append(h)
    return np.stack(states, axis=1)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
def test_cudnn_parameters_follow_cudnns_canonical_layout(activation, use_bias, rng):
    from keras_rnnkit.backend import tensorflow_rnn

    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(
        H, activation=activation, use_bias=use_bias, return_sequences=True, use_fused=False
    )
    expected = to_numpy(layer(x))
    if use_bias:
        layer.cell.bias.assign(rng.normal(size=(H,)).astype("float32"))
        expected = to_numpy(layer(x))
    params = tensorflow_rnn.cudnn_parameters(
        layer.cell.kernel.value,
        layer.cell.recurrent_kernel.value,
        layer.cell.bias.value if use_bias else None,
    )
    assert params.shape == (H * D + H * H + 2 * H,)
    got = _cudnn_equation(to_numpy(params).astype(float), x.astype(float), H, activation)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.fixture
def simulated_gpu(monkeypatch):
    """TensorFlow sees a GPU; cuDNN's op (no CPU kernel) is replaced by the scan, with a record."""
    import tensorflow as tf

    from keras_rnnkit.backend import tensorflow_rnn

    list_devices = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: ["GPU:0"] if kind == "GPU" else list_devices(kind),
    )
    calls = []

    def cudnn_elman(*args):
        calls.append(args)
        return tensorflow_rnn.elman(*args)

    monkeypatch.setattr(tensorflow_rnn, "cudnn_elman", cudnn_elman)
    return calls


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_no_gpu_means_no_cudnn():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("TensorFlow sees a GPU here")
    assert not fused_elman.uses_tensorflow_cudnn("float32")
    assert keras_rnnkit.ElmanRNN(H).supports_jit


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_with_a_gpu_auto_takes_cudnn_outside_xla(simulated_gpu, fused_calls, rng):
    import tensorflow as tf

    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(H, go_backwards=True)
    assert not layer.supports_jit  # Model.compile then leaves XLA off, as for GRU
    layer(x)
    assert len(simulated_gpu) == 1
    # A mask, bfloat16 or XLA: the scan (cuDNN's op has no XLA kernel).
    layer(x, mask=MASKS["gaps"])
    tf.function(lambda t: layer(t), jit_compile=True)(x)
    assert len(simulated_gpu) == 1 and len(fused_calls) == 3
    bf16 = keras_rnnkit.ElmanRNN(H, dtype="mixed_bfloat16")
    assert bf16.supports_jit
    bf16(x)
    assert len(simulated_gpu) == 1 and len(fused_calls) == 4
    # Configurations cuDNN cannot run, and use_fused=False, keep XLA and the step loop.
    assert keras_rnnkit.ElmanRNN(H, zoneout=0.1).supports_jit
    assert keras_rnnkit.ElmanRNN(H, use_fused=False).supports_jit


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_with_a_gpu_a_compiled_model_leaves_xla_off(simulated_gpu):
    model = keras.Sequential([keras.Input((T, D)), keras_rnnkit.ElmanRNN(H), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is False


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_with_a_gpu_exports_trace_no_cudnn_op(simulated_gpu, fused_calls, tmp_path, rng):
    """A SavedModel written on a GPU machine must serve on a CPU: cuDNN's op has no CPU kernel."""
    import tensorflow as tf

    from keras_rnnkit.export import export_saved_model

    x = rng.normal(size=(B, T, D)).astype("float32")
    model = keras.Sequential([keras.Input((T, D)), keras_rnnkit.ElmanRNN(H), keras.layers.Dense(1)])
    model(x)
    assert len(simulated_gpu) == 1  # a plain call takes cuDNN (simulated)
    export_saved_model(model, tmp_path / "model")
    assert len(simulated_gpu) == 1 and len(fused_calls) == 1  # the export: the step loop
    served = tf.saved_model.load(str(tmp_path / "model"))
    graph = served.signatures["serve"].graph.as_graph_def()
    graph_ops = {node.op for node in graph.node}
    graph_ops |= {node.op for function in graph.library.function for node in function.node_def}
    assert not any(op.startswith("CudnnRNN") for op in graph_ops)
    np.testing.assert_allclose(
        to_numpy(served.serve(x)),
        to_numpy(model.predict_on_batch(x)),
        rtol=1e-5,
        atol=1e-6,
    )
