"""Keras's names where ours differed without need (issue 14, point 8).

Each old name still works as a deprecated alias: it warns with a
`DeprecationWarning` naming the new one, gives the same result as the new
name, and is never stored in a config; configs saved under the old name load.
"""

import inspect
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


def _saved_under_the_old_name(model, tmp_path, new, old):
    """A .keras file of `model` as written before `old` was renamed `new`.

    Saved now, then the key renamed in the last layer's config in the archive.
    """
    path, old_path = tmp_path / "new.keras", tmp_path / "old.keras"
    model.save(path)
    with zipfile.ZipFile(path) as saved, zipfile.ZipFile(old_path, "w") as rewritten:
        for item in saved.infolist():
            data = saved.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][-1]["config"]
                layer[old] = layer.pop(new)
                data = json.dumps(config).encode()
            rewritten.writestr(item, data)
    return old_path


# TDNN: `stride` -> `strides` (keras.layers.Conv1D's name).


def test_tdnn_stride_is_a_deprecated_alias_of_strides(rng):
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    new = keras_rnnkit.TDNN(4, (-1, 0, 1), padding="valid", strides=2)
    new.build(x.shape)
    with pytest.warns(DeprecationWarning, match="`stride` is deprecated, use `strides`") as w:
        old = keras_rnnkit.TDNN(4, (-1, 0, 1), padding="valid", stride=2)
    assert w[0].filename == __file__  # points at the user's call
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
    x = rng.normal(size=(2, 8, 3)).astype("float32")
    model = keras.Sequential([keras.Input((8, 3)), keras_rnnkit.TDNN(4, (-1, 0), strides=2)])
    loaded = keras.saving.load_model(
        _saved_under_the_old_name(model, tmp_path, "strides", "stride")
    )
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


# The fused-path switch: one name on both recurrent layers, `use_fused`
# (ElmanRNN's was `use_cudnn`, Keras's name for LSTM and GRU, but most of
# these kernels are not cuDNN's).


@pytest.mark.parametrize("value", ["auto", False, True])
def test_elman_use_cudnn_is_a_deprecated_alias_of_use_fused(value, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    new = keras_rnnkit.ElmanRNN(4, return_sequences=True, use_fused=value)
    new.build(x.shape)
    with pytest.warns(DeprecationWarning, match="`use_cudnn` is deprecated, use `use_fused`") as w:
        old = keras_rnnkit.ElmanRNN(4, return_sequences=True, use_cudnn=value)
    assert w[0].filename == __file__  # points at the user's call
    _same_weights(old, new, x.shape)
    assert old.use_fused is value
    np.testing.assert_array_equal(to_numpy(old(x)), to_numpy(new(x)))
    assert old.get_config() == {**new.get_config(), "name": old.name}
    assert "use_fused" in old.get_config() and "use_cudnn" not in old.get_config()


def test_elman_use_cudnn_and_use_fused_together_are_refused():
    with pytest.raises(ValueError, match="pass only `use_fused`"):
        keras_rnnkit.ElmanRNN(4, use_cudnn=False, use_fused=True)


def test_elman_config_saved_with_use_cudnn_loads():
    config = keras_rnnkit.ElmanRNN(4, use_fused=False).get_config()
    config["use_cudnn"] = config.pop("use_fused")
    layer = keras_rnnkit.ElmanRNN.from_config(config)  # warnings are errors here: none
    assert layer.use_fused is False and "use_cudnn" not in layer.get_config()


def test_elman_keras_file_saved_with_use_cudnn_loads(tmp_path, rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), keras_rnnkit.ElmanRNN(4, use_fused=False)])
    path = _saved_under_the_old_name(model, tmp_path, "use_fused", "use_cudnn")
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].use_fused is False
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6)


def test_both_recurrent_layers_name_the_switch_use_fused():
    for cls in (keras_rnnkit.ElmanRNN, keras_rnnkit.JordanRNN):
        parameters = inspect.signature(cls).parameters
        assert parameters["use_fused"].default == "auto"
        assert "use_cudnn" not in parameters
