"""Every registered family passes the family harness (tests/family_harness.py)."""

import pytest

from keras_rnnkit.models import get_family
from keras_rnnkit.models import registered_families
from tests import family_harness


@pytest.mark.parametrize("check", family_harness.CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", registered_families())
def test_registered_family(name, check, tmp_path):
    check(get_family(name), tmp_path)


def test_the_harness_can_fail():
    # A family whose layer ignores the mask (a mean over all steps) fails the masking check.
    import keras

    from keras_rnnkit.models import Family

    def ignores_the_mask(units, *, return_sequences, regularizer, seed, **loop):
        return (
            keras.layers.Conv1D(units, 1)
            if return_sequences
            else keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=1))
        )

    family = Family("mask_ignorer", ignores_the_mask, recurrent=True)
    with pytest.raises(AssertionError):
        family_harness.check_masking_equals_unpadded(family, None)
