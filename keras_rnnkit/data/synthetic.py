"""Synthetic sequence tasks from the literature, generated with a seed."""

import numpy as np

from keras_rnnkit import _arguments as arguments


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


def temporal_xor(samples, length=30, seed=0):
    """Elman's temporal XOR (Elman 1990, "Finding structure in time").

    A bit stream made of triples (a, b, a XOR b), a and b random. The task is
    to predict the next bit: only every third bit (the XOR) is predictable, so
    a network that learns the rule errs on the random bits only.

    Args:
        samples: Positive integer N.
        length: Steps per sequence T, a multiple of 3.
        seed: Integer seed.

    Returns:
        `(x, y)`: x (N, T, 1) the bits, y (N, T, 1) the next bit (the last
        step's target is the first bit of a new triple, drawn too), float32.

    Example:

    >>> from keras_rnnkit.data.synthetic import temporal_xor
    >>> x, y = temporal_xor(2, 6, seed=0)
    >>> bool((x[:, 2::3] == (x[:, 0::3] != x[:, 1::3])).all())
    True
    """
    owner = "temporal_xor"
    samples = arguments.positive_int(owner, "samples", samples)
    length = arguments.positive_int(owner, "length", length)
    if length % 3:
        raise ValueError(f"{owner}: `length` must be a multiple of 3. Received: length={length}")
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, 2, size=(samples, length // 3 + 1, 2))
    triples = np.concatenate([pairs, pairs[..., :1] ^ pairs[..., 1:]], axis=-1)
    stream = triples.reshape(samples, -1)[:, : length + 1].astype("float32")
    return stream[:, :-1, None], stream[:, 1:, None]


def copy_task(samples, length=10, delay=10, symbols=8, seed=0):
    """A copy (memory) task: reproduce a sequence of symbols after a delay.

    Inputs: `length` random symbols (one-hot over `symbols` channels), then
    `delay` blank steps; channel `symbols` is a go signal on the step before
    the answer starts. Targets (sparse labels): 0 ("blank") until the answer,
    then the symbols, 1-based, over the last `length` steps.

    Args:
        samples: Positive integer N.
        length: Symbols to remember L.
        delay: Blank steps between the symbols and the answer (>= 1).
        symbols: Alphabet size K.
        seed: Integer seed.

    Returns:
        `(x, y)`: x (N, L + delay + L, K + 1) float32, y (N, L + delay + L) int32
        with values in [0, K].

    Example:

    >>> from keras_rnnkit.data.synthetic import copy_task
    >>> x, y = copy_task(3, length=4, delay=2, symbols=5, seed=0)
    >>> x.shape, y.shape, bool((y[:, -4:] - 1 == x[:, :4, :5].argmax(-1)).all())
    ((3, 10, 6), (3, 10), True)
    """
    owner = "copy_task"
    samples = arguments.positive_int(owner, "samples", samples)
    length = arguments.positive_int(owner, "length", length)
    delay = arguments.positive_int(owner, "delay", delay)
    symbols = arguments.positive_int(owner, "symbols", symbols)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, symbols, size=(samples, length))
    steps = 2 * length + delay
    x = np.zeros((samples, steps, symbols + 1), "float32")
    x[np.arange(samples)[:, None], np.arange(length), drawn] = 1.0
    x[:, length + delay - 1, symbols] = 1.0  # go
    y = np.zeros((samples, steps), "int32")
    y[:, length + delay :] = drawn + 1
    return x, y


def plan_sequences(plans=4, length=8, outputs=3, seed=0):
    """Jordan's sequence production (Jordan 1986): a constant plan input selects a sequence.

    Each of `plans` one-hot plan vectors, held constant over time, maps to its
    own fixed random binary sequence of `length` steps and `outputs` bits. A
    Jordan network learns to produce all of them from its own fed-back outputs
    (teacher forcing while training, free-running afterwards).

    Returns:
        `(x, y)`: x (plans, T, plans) the plan at every step, y (plans, T,
        outputs) the sequences, float32.

    Example:

    >>> from keras_rnnkit.data.synthetic import plan_sequences
    >>> x, y = plan_sequences(plans=3, length=5, outputs=2, seed=0)
    >>> x.shape, y.shape, bool((x[:, 0] == x[:, -1]).all())
    ((3, 5, 3), (3, 5, 2), True)
    """
    owner = "plan_sequences"
    plans = arguments.positive_int(owner, "plans", plans)
    length = arguments.positive_int(owner, "length", length)
    outputs = arguments.positive_int(owner, "outputs", outputs)
    rng = np.random.default_rng(seed)
    x = np.repeat(np.eye(plans, dtype="float32")[:, None], length, axis=1)
    y = rng.integers(0, 2, size=(plans, length, outputs)).astype("float32")
    return x, y


def shifted_patterns(samples, length=40, classes=3, pattern_length=6, features=4, seed=0):
    """Frame classification with time-shifted patterns (Waibel et al. 1989's TDNN motive).

    Each class owns one fixed random pattern (pattern_length, features); a
    sample is Gaussian noise (std 0.5) with its class's pattern added at a
    random offset. Recognising the class needs shift invariance.

    Returns:
        `(x, y, offsets)`: x (N, T, features) float32, y (N,) int32 class
        labels, offsets (N,) where each pattern starts.

    Example:

    >>> from keras_rnnkit.data.synthetic import shifted_patterns
    >>> x, y, offsets = shifted_patterns(5, length=20, classes=2, seed=0)
    >>> x.shape, y.shape, bool((offsets <= 20 - 6).all())
    ((5, 20, 4), (5,), True)
    """
    owner = "shifted_patterns"
    samples = arguments.positive_int(owner, "samples", samples)
    length = arguments.positive_int(owner, "length", length)
    classes = arguments.positive_int(owner, "classes", classes)
    pattern_length = arguments.positive_int(owner, "pattern_length", pattern_length)
    features = arguments.positive_int(owner, "features", features)
    if pattern_length > length:
        raise ValueError(
            f"{owner}: `pattern_length` must be at most `length`. Received: "
            f"pattern_length={pattern_length}, length={length}"
        )
    patterns = np.random.default_rng(seed).normal(size=(classes, pattern_length, features))
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, classes, size=samples).astype("int32")
    offsets = rng.integers(0, length - pattern_length + 1, size=samples)
    x = rng.normal(scale=0.5, size=(samples, length, features))
    for i in range(samples):
        x[i, offsets[i] : offsets[i] + pattern_length] += patterns[y[i]]
    return x.astype("float32"), y, offsets
