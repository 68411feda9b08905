"""Synthetic sequence tasks from the literature, generated with a seed."""

import numpy as np

from keras_rnnkit.layers import arguments


def adding_problem(samples, length, seed=0):
    """The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015).

    Each input step holds two numbers: a value drawn uniformly from [0, 1],
    and a marker that is 1 at exactly two steps (one in each half of the
    sequence) and 0 elsewhere. The target is the sum of the two marked
    values. Always predicting 1 scores the trivial mean squared error of
    Var(U + V) = 1/6 ~ 0.167; beating it needs memory over the whole sequence.

    Args:
        samples: Positive integer N.
        length: Integer T >= 2.
        seed: Integer seed of the generator.

    Returns:
        `(x, y)`: x (N, T, 2) float32, y (N, 1) float32.

    Example:

    >>> from keras_rnnkit.data import adding_problem
    >>> x, y = adding_problem(4, 10, seed=1)
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    owner = "adding_problem"
    samples = arguments.positive_int(owner, "samples", samples)
    length = arguments.positive_int(owner, "length", length)
    if length < 2:
        raise ValueError(f"{owner}: `length` must be at least 2. Received: length={length}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(samples, length))
    half = length // 2
    first = rng.integers(0, half, size=samples)
    second = rng.integers(half, length, size=samples)
    markers = np.zeros((samples, length))
    rows = np.arange(samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values[rows, first] + values[rows, second])[:, None].astype("float32")
    return x, y
