"""Zoneout and layer normalisation in the Elman and Jordan cells, against NumPy."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import layer_gradients
from tests.autodiff import to_numpy

B, T, D, H, OUT = 3, 6, 2, 4, 3
TOL = dict(rtol=1e-5, atol=1e-5)


def _layer(kind, rng, **kwargs):
    if kind == "elman":
        layer = keras_rnnkit.ElmanRNN(H, return_sequences=True, **kwargs)
    else:
        layer = keras_rnnkit.JordanRNN(
            H, OUT, context_decay=0.5, return_sequences=True, return_state=False, **kwargs
        )
    layer.build((B, T, D))
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    return layer


def _reference(kind, layer, x, weights=None, **options):
    weights = layer.get_weights() if weights is None else weights
    w = [np.asarray(v, np.float64) for v in weights]
    if layer.cell.layer_norm:
        options["norm"] = (w[-2], w[-1])
        w = w[:-2]
    if kind == "elman":
        return reference.elman(x.astype(float), *w, **options)
    return reference.jordan(x.astype(float), *w, context_decay=0.5, **options)[0]


@pytest.mark.parametrize("kind", ["elman", "jordan"])
def test_layer_norm_matches_reference_forward_and_gradient(kind, rng):
    layer = _layer(kind, rng, layer_norm=True)
    names = [w.path.split("/")[-1] for w in layer.weights]
    assert names[-2:] == ["layer_norm_scale", "layer_norm_offset"]
    x = rng.normal(size=(B, T, D)).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x)), _reference(kind, layer, x), **TOL)

    weights = layer.get_weights()
    loss_weights = rng.normal(size=tuple(layer(x).shape)).astype("float32")
    _, _, grads = layer_gradients(layer, x, weights, loss_weights)

    def loss(*w):
        return float(np.sum(_reference(kind, layer, x, weights=w) * loss_weights))

    expected = reference.numerical_gradient(loss, [w.astype(float) for w in weights])
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("kind", ["elman", "jordan"])
def test_zoneout_at_inference_is_its_expectation(kind, rng):
    layer = _layer(kind, rng, zoneout=0.3)
    x = rng.normal(size=(B, T, D)).astype("float32")
    expected = _reference(kind, layer, x, keep=0.3)
    for training in (False, None):
        np.testing.assert_allclose(to_numpy(layer(x, training=training)), expected, **TOL)


def test_elman_zoneout_while_training_keeps_or_updates_each_unit(rng):
    """Each unit at each step is either its previous value or the fresh update."""
    rate, batch, steps = 0.4, 16, 20
    layer = _layer("elman", rng, zoneout=rate, seed=3)
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    x = rng.normal(size=(batch, steps, D)).astype("float32")
    h = to_numpy(layer(x, training=True)).astype(np.float64)
    previous = np.concatenate([np.zeros((batch, 1, H)), h[:, :-1]], axis=1)
    fresh = np.tanh(x @ kernel + previous @ recurrent + bias)
    kept = np.isclose(h, previous, atol=1e-5)
    updated = np.isclose(h, fresh, atol=1e-5)
    assert np.all(kept | updated)
    # Where both coincide a step tells nothing; elsewhere about `rate` are kept.
    informative = ~(kept & updated)
    assert abs(kept[informative].mean() - rate) < 0.06
    # Seeded: the same seed draws the same masks in a fresh layer.
    twin = _layer("elman", np.random.default_rng(0), zoneout=rate, seed=3)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(to_numpy(twin(x, training=True)), h.astype("float32"))


def test_jordan_zoneout_while_training_acts_on_the_context(rng):
    rate = 0.5
    layer = keras_rnnkit.JordanRNN(H, OUT, zoneout=rate, return_state=True, seed=1)
    layer.build((B, T, D))
    x = rng.normal(size=(64, 1, D)).astype("float32")
    # One step from c_0 = 0: a kept unit stays exactly 0, an updated one is y_1.
    y, context = (to_numpy(t) for t in layer(x, training=True))
    kept = context == 0.0
    np.testing.assert_allclose(context[~kept], y[~kept], **TOL)
    assert abs(kept.mean() - rate) < 0.1


@pytest.mark.slow
def test_zoneout_keeps_masking_and_saves(rng, tmp_path):
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[0, 4:] = 0.0
    model = keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.Masking(0.0),
            keras.layers.Bidirectional(
                keras_rnnkit.ElmanRNN(H, zoneout=0.2, layer_norm=True, return_sequences=True)
            ),
            keras_rnnkit.JordanRNN(H, OUT, zoneout=0.2, layer_norm=True),
        ]
    )
    model.compile("adam", "mse")
    model.fit(x, np.zeros((B, OUT), "float32"), epochs=1, verbose=0)
    alone = model(x[:1, :4])
    np.testing.assert_allclose(to_numpy(model(x[:1])), to_numpy(alone), **TOL)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


def test_plain_rnn_refuses_to_train_with_zoneout():
    layer = keras.layers.RNN(keras_rnnkit.ElmanCell(H, zoneout=0.2))
    x = np.zeros((B, T, D), "float32")
    layer(x)  # inference: the expectation, fine
    with pytest.raises(ValueError, match="ElmanCell: zoneout draws its masks outside"):
        layer(x, training=True)


@pytest.mark.parametrize("value", [-0.1, 1.0, "0.2"])
def test_bad_zoneout(value):
    with pytest.raises(ValueError, match="`zoneout` must be in \\[0, 1\\)"):
        keras_rnnkit.ElmanRNN(H, zoneout=value)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_tdnn_layer_norm_matches_reference_and_its_streaming_cell(padding, rng):
    context = (-2, -1, 0)
    tdnn = keras_rnnkit.TDNN(H, context, padding=padding, activation="tanh", layer_norm=True)
    tdnn.build((B, T, D))
    tdnn.set_weights([rng.normal(size=w.shape).astype("float32") for w in tdnn.weights])
    kernel, bias, scale, offset = (w.astype(float) for w in tdnn.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    # LN between the sum and the activation: the reference's linear TDNN, then LN.
    linear = reference.tdnn(x.astype(float), kernel, bias, context, padding, activation=None)
    expected = np.tanh(reference.layer_norm(linear, scale, offset))
    np.testing.assert_allclose(to_numpy(tdnn(x)), expected, **TOL)
    if padding == "same":
        stream = keras.layers.RNN(
            keras_rnnkit.TDNNCell(H, context, activation="tanh", layer_norm=True),
            return_sequences=True,
        )
        stream.build((B, None, D))
        stream.set_weights(tdnn.get_weights())
        np.testing.assert_allclose(to_numpy(stream(x)), expected, **TOL)
