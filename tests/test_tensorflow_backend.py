"""The layers on the TensorFlow backend: XLA, tracing, SavedModel export, saving, mixed precision.

These are the properties a TensorFlow user relies on beyond "the forward pass is
right" (tests/test_reference_equations.py covers that on every backend):

- `jit_compile=True` trains exactly like eager and like a plain `tf.function`;
- a graph traced once with `None` batch and time dimensions serves every batch
  size and sequence length, without retracing;
- `model.export` writes a SavedModel that serves without keras or keras_rnnkit
  installed (checked in a fresh interpreter where importing them fails);
- a `.keras` file loads back without `custom_objects`, teacher forcing included;
- mixed precision keeps float32 variables and computes in float16 / bfloat16.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests.autodiff import to_numpy
from tests.serving import serve_without_keras

pytestmark = pytest.mark.tensorflow_only

# Test environments for the other backends need not have TensorFlow at all.
tf = pytest.importorskip("tensorflow")

D = 3  # input features of every model here

# Two layers of each kind, so that sequences flow from one layer into the next
# (the second one's input is a graph tensor, not the model's input).
LAYER_KINDS = ("elman", "jordan", "tdnn", "tdnn_cell")


def _stack(kind):
    if kind == "elman":
        return [keras_rnnkit.ElmanRNN(4, return_sequences=True), keras_rnnkit.ElmanRNN(3)]
    if kind == "jordan":
        return [
            keras_rnnkit.JordanRNN(4, 3, context_decay=0.5, return_sequences=True),
            keras_rnnkit.JordanRNN(4, 2, output_activation="tanh"),
        ]
    if kind == "tdnn":
        # "valid" + stride make the output length a function of the input
        # length, which must stay dynamic when the time dimension is None.
        return [
            keras_rnnkit.TDNN(4, context=(-1, 0, 1), activation="tanh"),
            keras_rnnkit.TDNN(3, context=(-2, 0), padding="valid", strides=2, activation="tanh"),
            keras.layers.GlobalAveragePooling1D(),
        ]
    if kind == "tdnn_cell":
        return [
            keras.layers.RNN(
                keras_rnnkit.TDNNCell(4, context=(-2, -1, 0), activation="tanh"),
                return_sequences=True,
            ),
            keras.layers.RNN(keras_rnnkit.TDNNCell(3, context=(-1, 0), activation="tanh")),
        ]
    raise ValueError(kind)


def _model(kind):
    """(B, None, D) -> (B, 1): a small stack of `kind` layers and a Dense head."""
    inputs = keras.Input((None, D))
    hidden = inputs
    for layer in _stack(kind):
        hidden = layer(hidden)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def _teacher_forced_jordan_model():
    """Two inputs, `x` and the targets fed back while training (teacher forcing)."""
    x = keras.Input((None, D), name="x")
    targets = keras.Input((None, 1), name="targets")
    jordan = keras_rnnkit.JordanRNN(5, 1, context_decay=0.3, return_sequences=True)
    return keras.Model([x, targets], jordan(x, targets=targets))


def _sequences(rng, batch, length, features=D):
    return rng.normal(size=(batch, length, features)).astype("float32")


def _masked_stack_model():
    """Masking -> TDNN -> RNN(TDNNCell) -> ElmanRNN (sequences) -> JordanRNN."""
    inputs = keras.Input((None, D))
    hidden = keras.layers.Masking(0.0)(inputs)
    hidden = keras_rnnkit.TDNN(4, context=(-1, 0, 1), activation="tanh")(hidden)
    hidden = keras.layers.RNN(
        keras_rnnkit.TDNNCell(4, context=(-2, 0), activation="tanh"), return_sequences=True
    )(hidden)
    hidden = keras_rnnkit.ElmanRNN(5, return_sequences=True)(hidden)
    outputs = keras_rnnkit.JordanRNN(4, 2, context_decay=0.5)(hidden)
    return keras.Model(inputs, outputs)


def _bidirectional_model():
    inputs = keras.Input((None, D))
    hidden = keras.layers.Bidirectional(keras_rnnkit.ElmanRNN(4, return_sequences=True))(inputs)
    outputs = keras.layers.Bidirectional(
        keras_rnnkit.JordanRNN(3, 2, context_decay=0.5), merge_mode="sum"
    )(hidden)
    return keras.Model(inputs, outputs)


def _right_padded(rng, batch, length):
    """Sequences with zero right padding on some samples (what Masking hides)."""
    x = _sequences(rng, batch, length)
    x[0, length - 2 :] = 0.0
    x[-1, length // 2 :] = 0.0
    return x


# --------------------------------------------------------------------------
# 1. XLA training equals eager and tf.function training.
# --------------------------------------------------------------------------

TRAINING_MODES = {
    "eager": dict(run_eagerly=True),
    "tf_function": dict(jit_compile=False),
    "xla": dict(jit_compile=True),
}


def _losses_per_mode(build, weights, inputs, targets):
    """Trains one copy of the model per mode from the same weights, same batches."""
    results = {}
    for mode, options in TRAINING_MODES.items():
        model = build()
        model.set_weights(weights)
        # SGD (stateless apart from its iteration count) keeps the comparison
        # about the layers' math, not about optimizer slots.
        model.compile(keras.optimizers.SGD(0.05), "mse", **options)
        # Keras silently falls back to jit_compile=False for models it thinks
        # XLA cannot compile; that would make this test vacuous.
        assert model.jit_compile is (mode == "xla")
        history = model.fit(inputs, targets, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results[mode] = (history.history["loss"], model.get_weights())
    return results


def _assert_modes_agree(results):
    eager_losses, eager_weights = results["eager"]
    assert np.all(np.isfinite(eager_losses))
    # The losses must move, or equal losses would prove nothing about training.
    assert eager_losses[-1] != eager_losses[0]
    for mode in ("tf_function", "xla"):
        losses, weights = results[mode]
        np.testing.assert_allclose(losses, eager_losses, rtol=1e-4, atol=1e-6, err_msg=mode)
        for got, want in zip(weights, eager_weights, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=mode)


# Jordan under XLA stays fast in the teacher-forced test, the TDNN cell in the TDNN layer.
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(kind, marks=pytest.mark.slow if kind in ("jordan", "tdnn_cell") else ())
        for kind in LAYER_KINDS
    ],
)
def test_jit_compile_training_matches_eager_and_tf_function(kind, rng):
    inputs = _sequences(rng, 8, 6)
    targets = rng.normal(size=(8, 1)).astype("float32")
    weights = _model(kind).get_weights()
    _assert_modes_agree(_losses_per_mode(lambda: _model(kind), weights, inputs, targets))


@pytest.mark.slow
def test_jit_compile_masked_training_matches_eager(rng):
    # Masks take other code paths: TDNN zeroes masked steps and derives the
    # output mask, the recurrent layers keep their state at masked steps.
    inputs = _right_padded(rng, 8, 6)
    targets = rng.normal(size=(8, 2)).astype("float32")
    weights = _masked_stack_model().get_weights()
    _assert_modes_agree(_losses_per_mode(_masked_stack_model, weights, inputs, targets))


def test_jit_compile_teacher_forced_jordan_matches_eager(rng):
    # Teacher forcing is a training-only code path (the targets are
    # concatenated to the inputs inside the loop), so it needs its own check.
    series = _sequences(rng, 8, 7, features=1)
    x = np.concatenate([series[:, :-1], _sequences(rng, 8, 6, features=D - 1)], axis=-1)
    targets = series[:, 1:]
    weights = _teacher_forced_jordan_model().get_weights()
    results = _losses_per_mode(_teacher_forced_jordan_model, weights, [x, targets], targets)
    _assert_modes_agree(results)


# --------------------------------------------------------------------------
# 2. One trace serves every batch size and sequence length.
# --------------------------------------------------------------------------

# (batch, length) pairs. Lengths start at 3, the shortest for which the "valid"
# TDNN of _stack("tdnn") still has an output step to average.
SHAPES = [(1, 3), (4, 7), (2, 12), (5, 4)]


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_no_retracing_for_new_batch_sizes_and_lengths(kind, rng):
    model = _model(kind)
    traces = []  # a Python side effect runs once per trace, never per call

    @tf.function(input_signature=[tf.TensorSpec((None, None, D), tf.float32)])
    def serve(x):
        traces.append(x.shape)
        return model(x, training=False)

    for batch, length in SHAPES:
        x = _sequences(rng, batch, length)
        got = serve(tf.constant(x))
        assert tuple(got.shape) == (batch, 1)
        np.testing.assert_allclose(got.numpy(), to_numpy(model(x)), rtol=1e-5, atol=1e-6)
    assert len(traces) == 1
    assert serve.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_reduce_retracing_settles_on_one_general_trace(kind, rng):
    # Without a signature, tf.function traces the first shape, then once more
    # with the dimensions that changed relaxed to None; the layers must accept
    # that relaxed trace for every later shape.
    model = _model(kind)
    traces = []

    @tf.function(reduce_retracing=True)
    def serve(x):
        traces.append(x.shape)
        return model(x, training=False)

    for batch, length in SHAPES:
        x = _sequences(rng, batch, length)
        np.testing.assert_allclose(
            serve(tf.constant(x)).numpy(), to_numpy(model(x)), rtol=1e-5, atol=1e-6
        )
    assert len(traces) <= 2, traces
    assert serve.experimental_get_tracing_count() == len(traces)


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_predict_on_different_lengths(kind, rng):
    model = _model(kind)
    for batch, length in SHAPES:
        x = _sequences(rng, batch, length)
        # batch_size=3 also makes a partial last batch for some shapes.
        got = model.predict(x, batch_size=3, verbose=0)
        assert got.shape == (batch, 1)
        np.testing.assert_allclose(got, to_numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_valid_tdnn_serves_sequences_shorter_than_its_window(rng):
    # With padding="valid" a sequence shorter than the window has no complete
    # window, so no output step: compute_output_shape promises (B, 0, H) for
    # every such length, and one trace with a None time dimension has to serve
    # short and long sequences alike.
    layer = keras_rnnkit.TDNN(4, context=(-4, 0), padding="valid")
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, layer(inputs))
    serve = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec((None, None, D))])
    for length in range(1, 8):
        x = _sequences(rng, 2, length)
        got = serve(tf.constant(x))
        assert tuple(got.shape) == layer.compute_output_shape(x.shape), length
        np.testing.assert_allclose(got.numpy(), to_numpy(model(x)), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# 3. model.export serves without keras or keras_rnnkit.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_masked_stack_model, id="masked_stack"),
        pytest.param(_bidirectional_model, id="bidirectional", marks=pytest.mark.slow),
    ],
)
def test_exported_saved_model_serves_without_keras(build, tmp_path, rng):
    model = build()
    path = tmp_path / "saved_model"
    model.export(str(path), format="tf_saved_model", verbose=False)

    inputs = [_right_padded(rng, batch, length) for batch, length in [(3, 6), (2, 11)]]
    results = serve_without_keras(path, inputs, tmp_path)
    for x, result in zip(inputs, results):
        np.testing.assert_allclose(result["served"], to_numpy(model(x)), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# 4. .keras round trip, teacher forcing included.
# --------------------------------------------------------------------------


def _every_layer_model():
    """Every layer and cell of the package; JordanRNN teacher-forced by input 2."""
    x = keras.Input((None, D), name="x")
    targets = keras.Input((None, 1), name="targets")
    hidden = keras_rnnkit.TDNN(4, context=(-1, 0, 1), activation="tanh")(x)
    hidden = keras.layers.RNN(
        keras_rnnkit.TDNNCell(4, context=(-2, -1, 0), activation="tanh"), return_sequences=True
    )(hidden)
    hidden = keras_rnnkit.ElmanRNN(5, return_sequences=True)(hidden)
    hidden = keras.layers.RNN(keras_rnnkit.ElmanCell(4), return_sequences=True)(hidden)
    hidden = keras.layers.RNN(
        keras_rnnkit.JordanCell(4, 3, context_decay=0.2), return_sequences=True
    )(hidden)
    jordan = keras_rnnkit.JordanRNN(
        6, 1, context_decay=0.3, return_sequences=True, name="teacher_forced"
    )
    return keras.Model([x, targets], jordan(hidden, targets=targets))


def test_keras_file_round_trip_with_teacher_forcing(tmp_path, rng):
    series = _sequences(rng, 6, 9, features=1)
    x = np.concatenate([series[:, :-1], _sequences(rng, 6, 8, features=D - 1)], axis=-1)
    targets = series[:, 1:]
    model = _every_layer_model()
    model.compile(keras.optimizers.Adam(0.01), "mse")
    # Trained, so that the saved weights are not the initializers' draws.
    model.fit([x, targets], targets, batch_size=3, epochs=1, shuffle=False, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: registration suffices

    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    # Inference ignores the targets; training feeds them back. Both must match,
    # and must differ from each other, or the targets were lost on reload.
    inference = to_numpy(model([x, targets], training=False))
    forced = to_numpy(model([x, targets], training=True))
    assert not np.allclose(inference, forced)
    np.testing.assert_array_equal(to_numpy(loaded([x, targets], training=False)), inference)
    np.testing.assert_array_equal(to_numpy(loaded([x, targets], training=True)), forced)


# --------------------------------------------------------------------------
# 5. Mixed precision.
# --------------------------------------------------------------------------

MIXED_LAYERS = {
    "elman": lambda: keras_rnnkit.ElmanRNN(4, return_sequences=True, return_state=True),
    "jordan": lambda: keras_rnnkit.JordanRNN(
        4, 2, context_decay=0.5, return_sequences=True, return_state=True
    ),
    "tdnn": lambda: keras_rnnkit.TDNN(4, context=(-2, 0, 1), padding="valid", strides=2),
    "tdnn_cell": lambda: keras.layers.RNN(
        keras_rnnkit.TDNNCell(4, context=(-2, 0)), return_sequences=True, return_state=True
    ),
    "elman_cell": lambda: keras.layers.RNN(
        keras_rnnkit.ElmanCell(4), return_sequences=True, return_state=True
    ),
    "jordan_cell": lambda: keras.layers.RNN(
        keras_rnnkit.JordanCell(4, 2), return_sequences=True, return_state=True
    ),
}


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def mixed_policy(request):
    keras.config.set_dtype_policy(request.param)
    yield keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


@pytest.mark.parametrize("kind", sorted(MIXED_LAYERS))
def test_mixed_precision_layer_dtypes(kind, mixed_policy, rng):
    layer = MIXED_LAYERS[kind]()
    outputs = layer(_sequences(rng, 2, 7))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    assert layer.weights
    for variable in layer.weights:
        assert _dtype(variable) == "float32", variable.path
    for tensor in outputs:  # the sequences and, for recurrent layers, the state
        assert _dtype(tensor) == mixed_policy.compute_dtype
        assert np.all(np.isfinite(to_numpy(tensor).astype("float32")))


def _one_mixed_training_step(model, inputs, targets):
    """Trains until the weights move (the first step, barring loss-scale overflow)."""
    before = [w.copy() for w in model.get_weights()]
    model.compile(keras.optimizers.Adam(0.01), "mse")
    # Under mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer,
    # whose dynamic scale starts at 2**15: a step whose scaled gradients
    # overflow float16 is skipped and the scale halved. That is by design, so
    # allow a few steps, but every loss must be finite.
    for _ in range(4):
        loss = model.train_on_batch(inputs, targets)
        assert np.isfinite(loss)
        after = model.get_weights()
        if any(not np.array_equal(a, b) for a, b in zip(after, before, strict=True)):
            break
    else:
        pytest.fail("four training steps left every weight unchanged")
    assert all(_dtype(v) == "float32" for v in model.trainable_weights)
    assert all(np.all(np.isfinite(w)) for w in after)


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_mixed_precision_trains_one_step(kind, mixed_policy, rng):
    model = _model(kind)
    assert _dtype(model(_sequences(rng, 1, 5))) == mixed_policy.compute_dtype
    _one_mixed_training_step(model, _sequences(rng, 4, 6), rng.normal(size=(4, 1)))


def test_mixed_precision_teacher_forced_jordan_trains_one_step(mixed_policy, rng):
    # The float32 targets are concatenated to the float16/bfloat16 inputs
    # inside the layer, so their dtypes must be reconciled there.
    model = _teacher_forced_jordan_model()
    targets = _sequences(rng, 4, 6, features=1)
    outputs = model([_sequences(rng, 4, 6), targets], training=True)
    assert _dtype(outputs) == mixed_policy.compute_dtype
    _one_mixed_training_step(model, [_sequences(rng, 4, 6), targets], targets)
