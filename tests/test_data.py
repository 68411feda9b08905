"""The built-in tasks: shapes, splits, seeding, and the definitions they implement."""

import numpy as np
import pytest

from keras_rnnkit.data import TASKS
from keras_rnnkit.data import adding_problem
from keras_rnnkit.data import digit_sequences
from keras_rnnkit.data import load_sunspots
from keras_rnnkit.data import load_task
from keras_rnnkit.data import sunspot_windows
from keras_rnnkit.data.splits import chronological_split
from keras_rnnkit.data.splits import split_fractions
from keras_rnnkit.data.tasks import load_npz


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
    assert len(task["x_test_late"]) == 1979 - 1956 + 1
    # Raw sunspot numbers: the model scales them itself.
    first_test = list(years).index(1921)
    activity = activity.astype("float32")
    np.testing.assert_array_equal(task["x_test"][0, :, 0], activity[first_test - 12 : first_test])
    np.testing.assert_array_equal(task["y_test"][0, 0], activity[first_test])
    assert task["years_train"][[0, -1]].tolist() == [1712, 1920]
    assert task["years_test_late"][[0, -1]].tolist() == [1956, 1979]
    for split in ("train", "test", "test_late"):
        for row, year in zip(task[f"x_{split}"], task[f"years_{split}"]):
            at = list(years).index(year)
            np.testing.assert_array_equal(row[:, 0], activity[at - 12 : at])


def test_sunspot_arv_denominator_is_the_variance_of_1700_to_1979():
    # Weigend, Huberman & Rumelhart (1990) divide by the variance of the whole
    # series 1700-1979; computed here by hand from the CSV's rows.
    years, activity = load_sunspots()
    values = [a for y, a in zip(years, activity) if 1700 <= y <= 1979]
    mean = sum(values) / len(values)
    by_hand = sum((v - mean) ** 2 for v in values) / len(values)
    assert len(values) == 280
    assert sunspot_windows()["variance"] == pytest.approx(by_hand, rel=1e-12)


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


def test_sunspot_validation_years_are_the_last_training_years():
    full = sunspot_windows(window=12)
    held = sunspot_windows(window=12, validation_years=20)
    assert len(full["x_val"]) == 0
    # Targets 1712..1900 train, 1901..1920 validate; tests and variance unchanged.
    assert len(held["x_train"]) == 1900 - 1712 + 1 and len(held["x_val"]) == 20
    np.testing.assert_array_equal(np.concatenate([held["y_train"], held["y_val"]]), full["y_train"])
    np.testing.assert_array_equal(held["x_test"], full["x_test"])
    assert held["variance"] == full["variance"]
    with pytest.raises(ValueError, match="`validation_years` must be an integer in"):
        sunspot_windows(validation_years=-1)


def _rows(array):
    return {row.tobytes() for row in array.reshape(len(array), -1)}


@pytest.mark.parametrize("name", sorted(set(TASKS) - {"plans"}))
def test_every_task_splits_into_disjoint_seeded_parts(name):
    info = TASKS[name]
    task = load_task(name, seed=0)
    arrays = sorted(f"{a}_{s}" for s in ("train", "val", "test") for a in "xy")
    # A forecast of a series also says which input feature is that series.
    extra = ["target_feature_index"] if name == "sunspots" else []
    assert sorted(task) == sorted(arrays + extra)
    sizes = {split: len(task[f"x_{split}"]) for split in ("train", "val", "test")}
    assert all(len(task[f"y_{split}"]) == n > 0 for split, n in sizes.items())
    assert task["x_train"].ndim == 3 and task["x_train"].dtype == np.float32
    labels = task["y_train"]
    if info.problem == "classification":
        assert labels.dtype.kind == "i" and labels.ndim == (2 if info.sequence_output else 1)
    else:
        assert labels.dtype == np.float32
        assert labels.ndim == (3 if info.sequence_output else 2)
    if info.default_window is not None:
        # The copy task's window is the symbols to remember: then as many blanks and answers.
        steps = 3 * info.default_window if name == "copy" else info.default_window
        assert task["x_train"].shape[1] == steps
    # 10% validation, 20% test of the samples (+-1 per class when stratified);
    # sunspots split by years instead (test_sunspots_split_years_and_windows).
    total = sum(sizes.values())
    assert (
        name == "sunspots"
        or abs(sizes["val"] - 0.1 * total) <= 10
        and abs(sizes["test"] - 0.2 * total) <= 10
    )
    # No sample is in two splits. Discrete tasks (bits, symbols) draw equal
    # sequences by chance (there are only 8^5 copy inputs), so not for them.
    if name not in {"copy", "xor"}:
        train, val, test = (_rows(task[f"x_{split}"]) for split in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
    again = load_task(name, seed=0)
    np.testing.assert_array_equal(again["x_test"], task["x_test"])
    if name != "sunspots":  # the real series has one split; synthetic ones are seeded draws
        other = load_task(name, seed=1)
        assert not np.array_equal(other["x_test"], task["x_test"])


def test_load_task_window_and_errors():
    assert load_task("adding", window=7)["x_val"].shape[1] == 7
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        load_task("nope")
    with pytest.raises(ValueError, match="fixed sequence length"):
        load_task("digits", window=5)


def test_digit_sequences_are_the_images_row_by_row():
    from sklearn.datasets import load_digits

    digits = load_digits()
    task = digit_sequences(validation_fraction=0.1, test_fraction=0.2, seed=0)
    total = sum(len(task[f"y_{s}"]) for s in ("train", "val", "test"))
    assert total == len(digits.target) == 1797
    assert task["x_train"].shape[1:] == (8, 8) and task["y_train"].dtype == np.int32
    # Each sequence is an image scaled to [0, 1], rows as steps, with its own label.
    images = {image.tobytes(): label for image, label in zip(digits.images / 16.0, digits.target)}
    for x, y in zip(task["x_test"][:50], task["y_test"][:50]):
        assert images[x.astype("float64").tobytes()] == y
    # Stratified: each digit's share of the test set is its share of the data (+-1 sample).
    expected = np.bincount(digits.target) * 0.2
    assert np.all(np.abs(np.bincount(task["y_test"], minlength=10) - expected) <= 1)


@pytest.mark.parametrize(
    "validation, test, message",
    [
        (0.5, 0.5, "must be below 1"),
        (-0.1, 0.2, "`validation_fraction` must be"),
        (0.1, 0.0, "`test_fraction` must be"),
        (0.1, True, "`test_fraction` must be"),
    ],
)
def test_split_fractions_are_checked(validation, test, message):
    with pytest.raises(ValueError, match=message):
        split_fractions("owner", np.arange(10), np.arange(10), validation, test, seed=0)


def test_chronological_split_keeps_time_order_and_refuses_too_few_samples():
    parts = chronological_split("owner", np.arange(20), np.arange(20), 0.1, 0.2)
    joined = np.concatenate([parts["x_train"], parts["x_val"], parts["x_test"]])
    np.testing.assert_array_equal(joined, np.arange(20))
    with pytest.raises(ValueError, match="too few"):
        chronological_split("owner", np.arange(3), np.arange(3), 0.1, 0.2)


def test_npz_files_keep_their_own_splits_and_cut_the_missing_ones(tmp_path):
    x = np.arange(40 * 3, dtype="float32").reshape(40, 3, 1)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=np.arange(40.0), x_test=x[:5], y_test=np.zeros(5))
    task = load_npz(path)
    np.testing.assert_array_equal(task["x_test"], x[:5])
    # The validation split is the last 10% of x in file order.
    np.testing.assert_array_equal(task["x_val"], x[36:])
    np.testing.assert_array_equal(task["y_train"][:, 0], np.arange(36.0))
    np.savez(path, x=x, y=np.arange(40.0), x_val=x[:5])
    with pytest.raises(ValueError, match="'x_val' and 'y_val' go together"):
        load_npz(path)


def _npz_arrays(case):
    """Arrays x, y (and a test split) of an NPZ file with one flaw, named by `case`."""
    arrays = {"x": np.zeros((20, 3, 2)), "y": np.zeros(20)}
    if case == "nan in x":
        arrays["x"][4, 1, 0] = np.nan
    elif case == "inf in y":
        arrays["y"][7] = np.inf
    elif case == "too large for float32":
        arrays["y"][7] = 1e300
    elif case == "complex x":
        arrays["x"] = arrays["x"] + 1j  # a cast to float32 would keep the real part only
    elif case == "strings":
        arrays.update(x_test=np.zeros((2, 3, 2)), y_test=np.array(["a", "b"]))
    return arrays


@pytest.mark.parametrize(
    "case,message",
    [
        (
            "nan in x",
            r"array 'x' has 1 NaN or infinite values as float32, the first at \(4, 1, 0\)",
        ),
        ("inf in y", r"array 'y' has 1 NaN or infinite values as float32, the first at \(7,\)"),
        ("too large for float32", r"array 'y' has 1 NaN or infinite values as float32"),
        ("complex x", r"array 'x' is complex \(complex128\); expected real numbers"),
        ("strings", r"array 'y_test' holds <U1, not numbers"),
    ],
)
def test_npz_files_with_non_finite_or_non_real_arrays_are_refused(tmp_path, case, message):
    path = tmp_path / "data.npz"
    np.savez(path, **_npz_arrays(case))
    with pytest.raises(ValueError, match=message) as caught:
        load_npz(path)
    assert len(str(caught.value).splitlines()) == 1
