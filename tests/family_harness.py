"""The checks every registered model family must pass, whoever wrote it.

Each check takes a `keras_rnnkit.models.Family` and uses public API only (the registry, the
builder, `keras.*`, `to_streaming`), so that a family defined outside the package, a user's,
gets the same checks as the built-in ones: `tests/test_family_harness.py` runs `CHECKS` on every
registered family, `tests/test_user_family.py` on a NARX family of its own. Each check is
`check(family, folder)`, `folder` a scratch folder.
"""

import keras
import numpy as np

from keras_rnnkit.export import to_streaming
from keras_rnnkit.models import build_model
from tests.autodiff import to_numpy

D = 2


def make_layer(family, units=4, return_sequences=True):
    """The family's small-model layer, as the builder makes it."""
    units, options = family.small_model(units, 1, return_sequences)
    loop = {"gradient_clip": None, "gradient_clip_mode": "value"} if family.recurrent else {}
    return family.make_layer(
        units, return_sequences=return_sequences, regularizer=None, seed=0, **loop, **options
    )


def _inputs(batch=3, steps=6, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, D)).astype("float32")


def check_config_round_trip(family, folder):
    """A layer rebuilt from its config, with the same weights, computes the same."""
    layer = make_layer(family)
    x = _inputs()
    expected = to_numpy(layer(x))
    twin = type(layer).from_config(layer.get_config())
    twin(x)
    twin.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(twin(x)), expected, atol=1e-6)


def check_save_and_load(family, folder):
    """A model of the family saved as .keras loads (no custom_objects) and predicts the same."""
    model = build_model(family.name, (6, D), 1, units=4)
    x = _inputs()
    path = folder / f"{family.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), err_msg=family.name
    )


def check_one_training_step_changes_every_weight(family, folder):
    """The loss gradient reaches every trainable weight of the family's model."""
    keras.utils.set_random_seed(0)
    model = build_model(family.name, (6, D), 1, units=4, learning_rate=0.05, clipnorm=None)
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    x, y = _inputs(batch=8), np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for weight, old in zip(model.trainable_weights, before):
        assert not np.allclose(to_numpy(weight), old), (family.name, weight.path)


def check_masking_equals_unpadded(family, folder):
    """A recurrent family: a right-padded, masked sequence ends as the sequence alone."""
    if not family.recurrent:
        return
    layer = make_layer(family, return_sequences=False)
    x = _inputs(batch=2, steps=6)
    layer(x)
    padded = x.copy()
    padded[0, 4:] = 0.0
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    masked = to_numpy(layer(padded, mask=mask))
    np.testing.assert_allclose(masked[0], to_numpy(layer(x[:1, :4]))[0], atol=1e-5)
    np.testing.assert_allclose(masked[1], to_numpy(layer(x[1:]))[0], atol=1e-5)


def check_streaming_equals_the_whole_sequence(family, folder):
    """A streaming family: `to_streaming`, step by step, gives the whole-sequence outputs."""
    if not family.streaming:
        return
    model = build_model(family.name, (None, D), 1, units=4, sequence_output=True)
    x = _inputs(batch=2, steps=5)
    stream = to_streaming(model, batch_size=2)
    steps = [to_numpy(stream(x[:, t : t + 1]))[:, 0] for t in range(5)]
    np.testing.assert_allclose(np.stack(steps, axis=1), to_numpy(model(x)), atol=1e-5)


CHECKS = (
    check_config_round_trip,
    check_save_and_load,
    check_one_training_step_changes_every_weight,
    check_masking_equals_unpadded,
    check_streaming_equals_the_whole_sequence,
)
