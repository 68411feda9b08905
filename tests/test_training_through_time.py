"""Per-step gradient clipping and truncated BPTT, against hand-written BPTT in NumPy."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import gradients
from tests.autodiff import layer_gradients
from tests.autodiff import to_numpy

B, T, D, H = 3, 8, 2, 4
TOL = dict(rtol=1e-4, atol=1e-5)


def _elman(rng, recurrent_scale=1.5, **kwargs):
    layer = keras_rnnkit.ElmanRNN(H, return_sequences=True, **kwargs)
    layer.build((B, T, D))
    weights = [
        rng.normal(size=(D, H)),
        rng.normal(scale=recurrent_scale / np.sqrt(H), size=(H, H)),
        rng.normal(scale=0.1, size=(H,)),
    ]
    weights = [w.astype("float32") for w in weights]
    layer.set_weights(weights)
    return layer, weights


@pytest.mark.parametrize("mode", ["value", "norm"])
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_per_step_clip_equals_hand_written_bptt(mode, activation, rng):
    clip = 0.3
    layer, weights = _elman(rng, activation=activation, gradient_clip=clip, gradient_clip_mode=mode)
    x = rng.normal(size=(B, T, D)).astype("float32")
    loss_weights = rng.normal(size=(B, T, H)).astype("float32")
    _, d_x, d_weights = layer_gradients(layer, x, weights, loss_weights)
    *expected, expected_x, into_state = reference.elman_bptt(
        *[w.astype(float) for w in [x, *weights]], loss_weights, activation, clip, mode
    )
    # The clip must bind somewhere, or this test would prove nothing.
    *_, unclipped = reference.elman_bptt(
        *[w.astype(float) for w in [x, *weights]], loss_weights, activation
    )
    assert max(np.abs(u).max() for u in unclipped[1:]) > 2 * clip
    np.testing.assert_allclose(d_x, expected_x, **TOL)
    for got, want in zip(d_weights, expected, strict=True):
        np.testing.assert_allclose(got, want, **TOL)
    # The reference's own invariant, before it is trusted as a reference.
    for back in into_state:
        bound = np.abs(back) if mode == "value" else np.linalg.norm(back, axis=-1)
        assert bound.max() <= clip * (1 + 1e-9)


# The switches that keep a layer on its step loop (see tests/test_fused_paths.py
# for the fused recurrences).
STEP_LOOP = {"ElmanRNN": {"use_fused": False}, "JordanRNN": {"use_fused": False}}
LAYERS = {
    "ElmanRNN": lambda **kw: keras_rnnkit.ElmanRNN(H, return_sequences=True, **kw),
    "JordanRNN": lambda **kw: keras_rnnkit.JordanRNN(
        H, 3, context_decay=0.5, return_sequences=True, **kw
    ),
    "RNN(TDNNCell)": lambda **kw: keras.layers.RNN(
        keras_rnnkit.TDNNCell(H, (-2, -1, 0), activation="tanh", **kw), return_sequences=True
    ),
}


def _randomize(layer, rng, scale=1.5):
    layer.build((B, None, D))
    layer.set_weights(
        [rng.normal(scale=scale, size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def _state_gradient(layer, x, states, loss_weights):
    """d loss / d initial states: the gradient flowing into the carried state."""

    def loss(*initial):
        outputs = layer(x, initial_state=list(initial))
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(loss_weights))

    return gradients(loss, states)[1]


@pytest.mark.parametrize("mode", ["value", "norm"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_state_gradient_never_exceeds_the_clip(name, mode, rng):
    """At every split point t, the gradient flowing into h_t is within the clip.

    Splitting the sequence at t and feeding the state in as `initial_state`
    exposes exactly the gradient that step t+1 sends back into the state.
    """
    clip = 0.25
    clipped = _randomize(LAYERS[name](gradient_clip=clip, gradient_clip_mode=mode), rng)
    plain = LAYERS[name]()
    plain.build((B, None, D))
    plain.set_weights(clipped.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    loss_weights = rng.normal(size=(B, T, clipped.cell.output_size)).astype("float32")
    largest_unclipped = 0.0
    for t in range(1, T):
        _, *states = _as_list(plain_with_state(plain, x[:, :t]))
        for layer, is_clipped in ((clipped, True), (plain, False)):
            grads = _state_gradient(layer, x[:, t:], states, loss_weights[:, t:])
            for g in grads:
                size = np.abs(g) if mode == "value" else np.linalg.norm(g, axis=-1)
                if is_clipped:
                    assert size.max() <= clip * (1 + 1e-5), (t, size.max())
                else:
                    largest_unclipped = max(largest_unclipped, size.max())
    assert largest_unclipped > 2 * clip  # the clip did bind


def _as_list(outputs):
    return [to_numpy(o) for o in outputs]


def plain_with_state(layer, x):
    """Runs `layer` (with its own weights) and returns (outputs, *states)."""
    config = layer.get_config()
    config["return_state"] = True
    twin = type(layer).from_config(config)
    twin.build((B, None, D))
    twin.set_weights(layer.get_weights())
    return twin(x)


@pytest.mark.parametrize("name", list(LAYERS))
def test_huge_clip_equals_no_clip_and_forward_is_unchanged(name, rng):
    clipped = _randomize(LAYERS[name](gradient_clip=1e30, gradient_clip_mode="norm"), rng)
    small = LAYERS[name](gradient_clip=1e-3)
    # The step loop, in which the clip acts (ElmanRNN and JordanRNN would
    # otherwise take their fused recurrences, equal only to rounding:
    # tests/test_fused_paths.py).
    plain = LAYERS[name](**STEP_LOOP.get(name, {}))
    for layer in (small, plain):
        layer.build((B, None, D))
        layer.set_weights(clipped.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    loss_weights = rng.normal(size=(B, T, clipped.cell.output_size)).astype("float32")
    for layer in (clipped, small):
        np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(plain(x)))
    weights = clipped.get_weights()
    _, gx_huge, gw_huge = layer_gradients(clipped, x, weights, loss_weights)
    _, gx_plain, gw_plain = layer_gradients(plain, x, weights, loss_weights)
    np.testing.assert_allclose(gx_huge, gx_plain, rtol=1e-6, atol=1e-7)
    for a, b in zip(gw_huge, gw_plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k", [1, 3, 4])
def test_truncated_bptt_equals_hand_written_bptt(k, rng):
    layer, weights = _elman(rng, truncate_gradient=k)
    x = rng.normal(size=(B, T, D)).astype("float32")
    loss_weights = rng.normal(size=(B, T, H)).astype("float32")
    _, d_x, d_weights = layer_gradients(layer, x, weights, loss_weights)
    *expected, expected_x, _ = reference.elman_bptt(
        *[w.astype(float) for w in [x, *weights]], loss_weights, truncate=k
    )
    np.testing.assert_allclose(d_x, expected_x, **TOL)
    for got, want in zip(d_weights, expected, strict=True):
        np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("name", ["ElmanRNN", "JordanRNN"])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_gradient_older_than_k_steps_is_zero(name, go_backwards, masked, rng):
    k = 3
    make = LAYERS[name]
    layer = _randomize(make(truncate_gradient=k, go_backwards=go_backwards), rng, scale=0.7)
    # The step loop, as in the truncated layer: the comparison is exact.
    plain = make(go_backwards=go_backwards, **STEP_LOOP.get(name, {}))
    plain.build((B, None, D))
    plain.set_weights(layer.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = np.ones((B, T), bool)
    if masked:
        mask[0, -2:] = False  # right padding must not move the chunk edges

    def last_output(layer):
        def loss(x):
            outputs = layer(x, mask=keras.ops.convert_to_tensor(mask))
            return keras.ops.sum(outputs[:, -1])

        return loss

    np.testing.assert_array_equal(to_numpy(layer(x, mask=mask)), to_numpy(plain(x, mask=mask)))
    grad = gradients(last_output(layer), [x])[1][0]
    full = gradients(last_output(plain), [x])[1][0]
    for sample in range(B):
        per_step = np.abs(grad[sample]).sum(axis=-1)
        per_step_full = np.abs(full[sample]).sum(axis=-1)
        real_steps = mask[sample]
        if go_backwards:  # compare in processing order
            per_step, per_step_full, real_steps = (
                a[::-1] for a in (per_step, per_step_full, real_steps)
            )
        # The last output comes from the last real step processed; chunk edges
        # sit at multiples of k in processing order, whatever the mask.
        last = int(np.flatnonzero(real_steps)[-1])
        chunk_start = (last // k) * k
        np.testing.assert_array_equal(per_step[:chunk_start], 0.0)
        # Without truncation the real ones among them do get a gradient.
        assert np.all(per_step_full[:chunk_start][real_steps[:chunk_start]] > 0)
        np.testing.assert_allclose(per_step[chunk_start:], per_step_full[chunk_start:], rtol=1e-5)


def test_clipping_rescues_a_configuration_that_explodes_to_nan():
    """Zero input kernel, recurrent gain 3: the state stays exactly 0 going forward,
    where tanh is linear, so the gradient flowing back grows like 3^T and
    overflows float32 at T = 100 (3^100 ~ 5e47). Per-step clipping bounds it."""
    rng = np.random.default_rng(0)
    steps = 100
    x = rng.normal(size=(32, steps, 2)).astype("float32")
    y = x[:, -5:, :1].mean(axis=1)
    losses = {}
    for clip in (None, 1.0):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((steps, 2)),
                keras_rnnkit.ElmanRNN(
                    8,
                    kernel_initializer="zeros",
                    recurrent_initializer=keras.initializers.Orthogonal(3.0),
                    gradient_clip=clip,
                    gradient_clip_mode="norm",
                ),
                keras.layers.Dense(1),
            ]
        )
        model.compile(keras.optimizers.SGD(0.003), "mse")
        losses[clip] = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"]
    assert np.isnan(losses[None][-1])
    assert np.all(np.isfinite(losses[1.0]))
    # It learns, if noisily: SGD on clipped gradients of a gain-3 recurrence oscillates
    # from epoch to epoch, so the best later epoch is compared with the first.
    assert min(losses[1.0][1:]) < 0.8 * losses[1.0][0]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name", list(LAYERS))
def test_clip_and_truncation_give_the_same_gradients_under_xla(name, rng):
    import tensorflow as tf

    options = dict(gradient_clip=0.2, gradient_clip_mode="norm")
    layer = LAYERS[name](**options)
    if name != "RNN(TDNNCell)":  # truncation is an option of our layers' loop
        layer = LAYERS[name](truncate_gradient=3, **options)
    layer = _randomize(layer, rng)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))

    def weight_gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        return tape.gradient(loss, layer.trainable_variables)

    eager = weight_gradients(x)
    for compiled in (
        tf.function(weight_gradients),
        tf.function(weight_gradients, jit_compile=True),
    ):
        for got, want in zip(compiled(x), eager, strict=True):
            # XLA fuses and reorders float32 sums: agree to 1e-4 of the scale.
            scale = np.abs(want.numpy()).max()
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.slow
def test_every_training_option_in_bidirectional_with_masking_saves_and_loads(rng, tmp_path):
    options = dict(
        gradient_clip=0.5,
        gradient_clip_mode="norm",
        truncate_gradient=2,
        zoneout=0.1,
        layer_norm=True,
        dropout=0.1,
        recurrent_dropout=0.1,
        seed=4,
    )
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[0, 5:] = 0.0  # right padding, masked below
    model = keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.Masking(0.0),
            keras.layers.Bidirectional(keras_rnnkit.ElmanRNN(H, return_sequences=True, **options)),
            keras_rnnkit.JordanRNN(H, 2, context_decay=0.3, **options),
        ]
    )
    model.compile("adam", "mse")
    history = model.fit(x, np.zeros((B, 2), "float32"), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # At inference the padded sample equals its unpadded self.
    np.testing.assert_allclose(
        to_numpy(model(x[:1])), to_numpy(model(x[:1, :5])), rtol=1e-5, atol=1e-5
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    backward = loaded.layers[1].backward_layer
    assert backward.truncate_gradient == 2 and backward.cell.gradient_clip == 0.5
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))
