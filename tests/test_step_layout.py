"""The step layout: what `pack` puts after the features, `unpack` gives back, for every layout."""

import itertools

import keras
import numpy as np
import pytest

from keras_rnnkit.layers.step_layout import StepLayout
from tests.autodiff import to_numpy

B, D = 3, 4

LAYOUTS = [
    StepLayout(teacher=teacher, probe=probe, zoneout=zoneout, mask=mask, truncate=truncate)
    for teacher, probe, zoneout, mask, truncate in itertools.product(
        (0, 2), (0, 5), (0, 5), (None, "previous", "zeros"), (False, True)
    )
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_unpack_gives_back_what_pack_packed(layout, rng):
    sizes = {
        "target": layout.teacher,
        "use_own": 1 if layout.teacher else 0,
        "probe": layout.probe,
        "zoneout": layout.zoneout,
        "keep": 1 if layout.mask else 0,
        "cut": 1 if layout.truncate else 0,
    }
    given = {
        name: rng.normal(size=(B, 1, size)).astype("float32")
        for name, size in sizes.items()
        if size
    }
    features = rng.normal(size=(B, 1, D)).astype("float32")
    packed = layout.pack(features, **given)
    assert packed.shape[-1] == D + sum(sizes.values())
    step = layout.unpack(packed[:, 0])
    np.testing.assert_array_equal(to_numpy(step.features), features[:, 0])
    for name in sizes:
        value = getattr(step, name)
        if name in given:
            np.testing.assert_array_equal(to_numpy(value), given[name][:, 0])
        else:
            assert value is None


def test_pack_refuses_controls_the_layout_does_not_have():
    features = np.zeros((B, 1, D), "float32")
    with pytest.raises(ValueError, match="`probe` does not match"):
        StepLayout().pack(features, probe=np.zeros((B, 1, 2), "float32"))
    with pytest.raises(ValueError, match="`keep` does not match"):
        StepLayout(mask="zeros").pack(features)


def test_the_empty_layout_leaves_the_inputs_alone():
    features = keras.ops.ones((B, 1, D))
    assert StepLayout().empty
    assert StepLayout().pack(features) is features
