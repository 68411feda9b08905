"""Keras's names where ours differed without need (issue 14, point 8).

Each old name still works as a deprecated alias: it warns with a
`DeprecationWarning` naming the new one, gives the same result as the new
name, and is never stored in a config; configs saved under the old name load.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import to_numpy


def _same_weights(layer, like, shape):
    layer.build(shape)
    layer.set_weights(like.get_weights())
    return layer


# TDNN: `stride` -> `strides` (keras.layers.Conv1D's name).


def test_tdnn_stride_is_a_deprecated_alias_of_strides(rng):
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    new = keras_rnnkit.TDNN(4, (-1, 0, 1), padding="valid", strides=2)
    new.build(x.shape)
    with pytest.warns(DeprecationWarning, match="`stride` is deprecated, use `strides`"):
        old = keras_rnnkit.TDNN(4, (-1, 0, 1), padding="valid", stride=2)
    _same_weights(old, new, x.shape)
    assert old.strides == 2
    np.testing.assert_array_equal(to_numpy(old(x)), to_numpy(new(x)))
    assert old.get_config() == {**new.get_config(), "name": old.name}
    assert "strides" in old.get_config() and "stride" not in old.get_config()
    with pytest.warns(DeprecationWarning, match="use `strides`"):
        assert old.stride == 2


def test_tdnn_config_saved_with_stride_loads(rng):
    config = keras_rnnkit.TDNN(4, (-1, 0, 1), strides=3).get_config()
    config["stride"] = config.pop("strides")
    layer = keras_rnnkit.TDNN.from_config(config)  # warnings are errors here: none
    assert layer.strides == 3 and "stride" not in layer.get_config()


def test_tdnn_keras_file_saved_with_stride_loads(tmp_path, rng):
    # A .keras file as it was written before the rename: the layer's config
    # holds `stride`. Made by saving now and renaming the key in the archive.
    x = rng.normal(size=(2, 8, 3)).astype("float32")
    model = keras.Sequential([keras.Input((8, 3)), keras_rnnkit.TDNN(4, (-1, 0), strides=2)])
    path = tmp_path / "new.keras"
    model.save(path)
    old_path = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as new, zipfile.ZipFile(old_path, "w") as old:
        for item in new.infolist():
            data = new.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][-1]["config"]
                layer["stride"] = layer.pop("strides")
                data = json.dumps(config).encode()
            old.writestr(item, data)
    loaded = keras.saving.load_model(old_path)
    assert loaded.layers[-1].strides == 2
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6)


# TDNN: padding="causal", as keras.layers.Conv1D's.

CAUSAL_CONTEXTS = [(-2, -1, 0), (-4, -2, 0), (-4, -2), (-5, -2, 0), (0,)]


@pytest.mark.parametrize("context", CAUSAL_CONTEXTS, ids=str)
def test_tdnn_causal_padding_sees_only_the_past(context, rng):
    x = rng.normal(size=(2, 10, 3)).astype("float32")
    layer = keras_rnnkit.TDNN(4, context, padding="causal", activation="tanh")
    y = to_numpy(layer(x))
    assert y.shape == (2, 10, 4)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    np.testing.assert_allclose(
        y, reference.tdnn(x, kernel, bias, context, "causal", 1, "tanh"), rtol=1e-5, atol=1e-6
    )
    # Changing input step k changes no output before k.
    k = 6
    changed = x.copy()
    changed[:, k] += 1.0
    np.testing.assert_array_equal(to_numpy(layer(changed))[:, :k], y[:, :k])


def test_tdnn_causal_padding_equals_keras_conv1d_causal(rng):
    # Conv1D(kernel_size=K, dilation_rate=d, padding="causal") is the context
    # (-(K-1)d, ..., -d, 0).
    x = rng.normal(size=(2, 11, 3)).astype("float32")
    conv = keras.layers.Conv1D(4, 3, dilation_rate=2, padding="causal", activation="tanh")
    expected = to_numpy(conv(x))
    tdnn = keras_rnnkit.TDNN(4, (-4, -2, 0), padding="causal", activation="tanh")
    _same_weights(tdnn, conv, x.shape)
    np.testing.assert_allclose(to_numpy(tdnn(x)), expected, rtol=1e-5, atol=1e-6)


def test_tdnn_causal_padding_refuses_future_offsets():
    with pytest.raises(ValueError, match="`padding='causal'` needs every `context` offset <= 0"):
        keras_rnnkit.TDNN(4, (-1, 0, 1), padding="causal")
