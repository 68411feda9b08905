"""`ElmanRNN` behaves as `keras.layers.SimpleRNN` wherever SimpleRNN's behaviour is documented.

SimpleRNN is the independent reference here: same arguments and weights in, the
same outputs, states, masks and variables out.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests.autodiff import to_numpy

OPTIONS = {
    "default": {},
    "sequences": {"return_sequences": True},
    "state": {"return_sequences": True, "return_state": True},
    "backwards": {"return_sequences": True, "go_backwards": True},
    "unroll": {"return_sequences": True, "unroll": True},
    "relu-no-bias": {"activation": "relu", "use_bias": False},
    "zero-output-for-mask": {"return_sequences": True, "zero_output_for_mask": True},
    "dropout": {"return_sequences": True, "dropout": 0.3, "recurrent_dropout": 0.2, "seed": 3},
}


def _pair(options, shape):
    simple = keras.layers.SimpleRNN(5, **options)
    elman = keras_rnnkit.ElmanRNN(5, **options)
    simple.build(shape)
    elman.build(shape)
    elman.set_weights(simple.get_weights())
    return simple, elman


def _flat(outputs):
    return [to_numpy(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_same_outputs_as_simple_rnn(name, training, rng):
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False  # right padding
    mask[1, :2] = False  # left padding
    simple, elman = _pair(OPTIONS[name], x.shape)
    for got, want in zip(
        _flat(elman(x, mask=mask, training=training)),
        _flat(simple(x, mask=mask, training=training)),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_same_variables_as_simple_rnn():
    simple, elman = _pair({"dropout": 0.1}, (2, 3, 4))
    assert [v.path.split("/")[-1] for v in elman.variables] == [
        v.path.split("/")[-1] for v in simple.variables
    ]
    assert [w.shape for w in elman.weights] == [w.shape for w in simple.weights]


def test_same_stateful_behaviour_as_simple_rnn(rng):
    x = rng.normal(size=(2, 6, 4)).astype("float32")
    simple, elman = _pair({"stateful": True, "return_sequences": True}, x.shape)
    for chunk in (x[:, :2], x[:, 2:5], x[:, 5:]):
        np.testing.assert_allclose(to_numpy(elman(chunk)), to_numpy(simple(chunk)), atol=1e-6)
    simple.reset_state()
    elman.reset_state()
    np.testing.assert_allclose(to_numpy(elman(x)), to_numpy(simple(x)), atol=1e-6)


def test_same_config_keys_as_simple_rnn_plus_ours():
    simple = keras.layers.SimpleRNN(5).get_config()
    elman = keras_rnnkit.ElmanRNN(5).get_config()
    # SimpleRNN's config forgets `seed` (its argument list is copied by hand);
    # the others are ours: per-step clipping, truncated BPTT, zoneout, layer norm,
    # and the choice of the fused recurrence (`use_fused`, as GRU and LSTM have).
    assert set(elman) - set(simple) == {
        "use_fused",
        "seed",
        "gradient_clip",
        "gradient_clip_mode",
        "truncate_gradient",
        "zoneout",
        "layer_norm",
    }
    assert set(simple) - set(elman) == set()
