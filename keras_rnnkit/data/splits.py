"""Train / validation / test splits of sample arrays, by fractions, and rolling-origin folds."""

import numpy as np

from keras_rnnkit import _arguments as arguments

# The default fractions of the built-in tasks and of users' files; the rest trains.
VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.2


def _check_fractions(owner, validation_fraction, test_fraction):
    for name, value, low_open in (
        ("validation_fraction", validation_fraction, False),
        ("test_fraction", test_fraction, True),
    ):
        bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
        if bad_type or not (0 < value < 1 if low_open else 0 <= value < 1):
            interval = "(0, 1)" if low_open else "[0, 1)"
            raise ValueError(
                f"{owner}: `{name}` must be a number in {interval}. Received: {name}={value!r}"
            )
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"{owner}: `validation_fraction + test_fraction` must be below 1, to leave "
            f"samples to train on. Received: {validation_fraction} + {test_fraction}"
        )


def _counts(owner, samples, validation_fraction, test_fraction):
    test = int(round(samples * test_fraction))
    validation = int(round(samples * validation_fraction))
    train = samples - validation - test
    if test == 0 or train <= 0 or (validation_fraction > 0 and validation == 0):
        raise ValueError(
            f"{owner}: {samples} samples are too few for validation_fraction="
            f"{validation_fraction} and test_fraction={test_fraction}"
        )
    return train, validation


def _take(x, y, indices_by_split):
    return {
        f"{array}_{split}": values[indices]
        for split, indices in zip(("train", "val", "test"), indices_by_split)
        for array, values in (("x", x), ("y", y))
    }


def chronological_split(owner, x, y, validation_fraction=0.1, test_fraction=0.2):
    """Splits samples in time order: train first, then validation, then test.

    For windows of one series, where shuffling would let the model see the
    future of its own test windows.

    Example:

    >>> import numpy as np
    >>> parts = chronological_split("demo", np.arange(10), np.arange(10), 0.1, 0.2)
    >>> parts["x_train"].tolist(), parts["x_val"].tolist(), parts["x_test"].tolist()
    ([0, 1, 2, 3, 4, 5, 6], [7], [8, 9])
    """
    _check_fractions(owner, validation_fraction, test_fraction)
    train, validation = _counts(owner, len(x), validation_fraction, test_fraction)
    order = np.arange(len(x))
    return _take(x, y, np.split(order, [train, train + validation]))


def split_fractions(owner, x, y, validation_fraction, test_fraction, seed, stratify=False):
    """Shuffles samples with `seed` and splits them; `stratify` keeps class proportions.

    With `stratify`, `y` holds integer labels and each class is split on its
    own, so every split holds each class in (nearly) the same proportion.

    Example:

    >>> import numpy as np
    >>> y = np.repeat([0, 1], 10)
    >>> parts = split_fractions("demo", y, y, 0.2, 0.2, seed=0, stratify=True)
    >>> [np.bincount(parts[f"y_{s}"]).tolist() for s in ("train", "val", "test")]
    [[6, 6], [2, 2], [2, 2]]
    """
    _check_fractions(owner, validation_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == label) for label in np.unique(y)] if stratify else [None]
    splits = ([], [], [])
    for group in groups:
        indices = rng.permutation(len(x)) if group is None else rng.permutation(group)
        train, validation = _counts(owner, len(indices), validation_fraction, test_fraction)
        for split, part in zip(splits, np.split(indices, [train, train + validation])):
            split.append(part)
    return _take(x, y, [rng.permutation(np.concatenate(parts)) for parts in splits])


def rolling_origin_splits(samples, block, folds):
    """`[(train_end, validation_end), ...]`: K folds over `samples` in time order.

    Fold k trains on samples `[0, train_end)` and validates on
    `[train_end, validation_end)`, a block of `block` samples; the last fold's
    block ends at the last sample.

    Example:

    >>> from keras_rnnkit.data.splits import rolling_origin_splits
    >>> rolling_origin_splits(209, block=20, folds=3)  # sunspots: 1861-80, 1881-1900, 1901-20
    [(149, 169), (169, 189), (189, 209)]
    """
    folds = arguments.positive_int("rolling_origin_splits", "folds", folds)
    if block < 1 or samples - folds * block < 1:
        raise ValueError(
            f"rolling_origin_splits: {samples} samples are too few for {folds} validation "
            f"blocks of {block} samples and something to train on before them"
        )
    return [(samples - k * block, samples - (k - 1) * block) for k in range(folds, 0, -1)]
