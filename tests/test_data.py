"""The built-in tasks: shapes, splits, seeding, and the definitions they implement."""

import numpy as np
import pytest

from keras_rnnkit.data import adding_problem
from keras_rnnkit.data import load_sunspots
from keras_rnnkit.data import sunspot_windows


def test_adding_problem_follows_its_definition():
    x, y = adding_problem(200, 30, seed=3)
    assert x.shape == (200, 30, 2) and y.shape == (200, 1)
    assert x.dtype == y.dtype == np.float32
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    first = markers[:, :15].argmax(axis=1)
    second = 15 + markers[:, 15:].argmax(axis=1)
    assert np.all(markers[:, :15].sum(axis=1) == 1)  # one mark in each half
    rows = np.arange(200)
    np.testing.assert_allclose(y[:, 0], x[rows, first, 0] + x[rows, second, 0], rtol=1e-6)
    assert np.all((x[..., 0] >= 0) & (x[..., 0] <= 1))
    # The trivial predictor's error is Var(U + V) = 1/6.
    big_x, big_y = adding_problem(20000, 10, seed=0)
    assert abs(np.mean((big_y - 1.0) ** 2) - 1 / 6) < 0.01


def test_adding_problem_is_seeded():
    a = adding_problem(5, 8, seed=1)
    b = adding_problem(5, 8, seed=1)
    c = adding_problem(5, 8, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("length", [0, 1, 2.5])
def test_adding_problem_rejects_bad_lengths(length):
    with pytest.raises(ValueError, match="`length` must be"):
        adding_problem(3, length)


def test_sunspots_split_years_and_windows():
    years, activity = load_sunspots()
    assert len(years) == 309 and years[0] == 1700 and years[-1] == 2008
    task = sunspot_windows(window=12)
    # Targets 1712..1920 train, 1921..1955 test; each input is the 12 years before.
    assert len(task["x_train"]) == 1920 - 1712 + 1
    assert len(task["x_test"]) == 1955 - 1921 + 1
    scaled = activity / task["scale"]
    first_test = list(years).index(1921)
    np.testing.assert_allclose(
        task["x_test"][0, :, 0], scaled[first_test - 12 : first_test], rtol=1e-6
    )
    np.testing.assert_allclose(task["y_test"][0, 0], scaled[first_test], rtol=1e-6)
    assert task["scale"] == activity[: list(years).index(1921)].max()


def test_sunspot_windows_rejects_bad_window():
    with pytest.raises(ValueError, match="`window` must be a positive integer"):
        sunspot_windows(window=0)


def test_temporal_xor_every_third_bit_is_the_xor_of_the_two_before():
    from keras_rnnkit.data import temporal_xor

    x, y = temporal_xor(50, 30, seed=2)
    bits = x[:, :, 0]  # 10 whole triples
    np.testing.assert_array_equal(y[:, :-1, 0], x[:, 1:, 0])  # y is x shifted by one
    np.testing.assert_array_equal(bits[:, 2::3], np.logical_xor(bits[:, 0::3], bits[:, 1::3]))
    assert set(np.unique(bits)) == {0.0, 1.0}
    np.testing.assert_array_equal(temporal_xor(3, 6, seed=5)[0], temporal_xor(3, 6, seed=5)[0])
    with pytest.raises(ValueError, match="multiple of 3"):
        temporal_xor(3, 10)


def test_copy_task_answer_is_the_input_after_the_delay():
    from keras_rnnkit.data import copy_task

    x, y = copy_task(20, length=5, delay=3, symbols=4, seed=1)
    assert x.shape == (20, 13, 5) and y.shape == (20, 13)
    np.testing.assert_array_equal(y[:, :8], 0)  # blank until the answer
    np.testing.assert_array_equal(y[:, 8:] - 1, x[:, :5, :4].argmax(axis=-1))
    np.testing.assert_array_equal(x[:, 5:, :4], 0)  # nothing shown after the symbols
    np.testing.assert_array_equal(x[:, :, 4].argmax(axis=1), 7)  # go, just before the answer


def test_plan_sequences_hold_the_plan_and_differ_by_plan():
    from keras_rnnkit.data import plan_sequences

    x, y = plan_sequences(plans=4, length=10, outputs=3, seed=0)
    np.testing.assert_array_equal(x, np.repeat(np.eye(4)[:, None], 10, axis=1))
    assert len({row.tobytes() for row in y}) == 4  # one sequence per plan


def test_shifted_patterns_hold_their_class_pattern_at_the_offset():
    from keras_rnnkit.data import shifted_patterns

    x, y, offsets = shifted_patterns(300, length=30, classes=3, pattern_length=5, seed=4)
    patterns = np.random.default_rng(4).normal(size=(3, 5, 4))
    # At the offset the sample is its pattern plus noise of std 0.5; elsewhere noise.
    residual = np.stack([x[i, o : o + 5] - patterns[y[i]] for i, o in enumerate(offsets)])
    assert abs(residual.std() - 0.5) < 0.03
    assert set(np.unique(y)) == {0, 1, 2} and offsets.min() >= 0 and offsets.max() <= 25
    with pytest.raises(ValueError, match="`pattern_length` must be at most `length`"):
        shifted_patterns(2, length=4, pattern_length=5)
