"""Handwritten digits read row by row: a many-to-one classification task."""

from keras_rnnkit.data.splits import split_fractions


def digit_sequences(validation_fraction=0.2, test_fraction=0.2, seed=0):
    """scikit-learn's 8×8 handwritten digits as 8-step sequences of 8 pixels.

    The 1,797 images of `sklearn.datasets.load_digits` (the UCI "Optical
    Recognition of Handwritten Digits" test set, shipped inside scikit-learn;
    install it with `pip install scikit-learn`) are read top to
    bottom, one pixel row per time step, pixel values scaled from [0, 16] to
    [0, 1]. The label is the digit: classify the whole sequence (many-to-one).
    The samples are shuffled with `seed`, then split, stratified by class, so
    that every split holds each digit in the same proportion.

    Args:
        validation_fraction: Fraction of samples in the validation set, in [0, 1).
        test_fraction: Fraction of samples in the test set, in (0, 1).
        seed: Integer seed of the shuffle.

    Returns:
        A dict with `x_train` (N, 8, 8) float32, `y_train` (N,) int32 labels in
        [0, 9], and `x_val`, `y_val`, `x_test`, `y_test` alike.

    Example:

    >>> from keras_rnnkit.data import digit_sequences
    >>> task = digit_sequences(seed=0)
    >>> task["x_train"].shape, task["x_val"].shape, task["x_test"].shape
    ((1079, 8, 8), (359, 8, 8), (359, 8, 8))
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "digit_sequences reads scikit-learn's bundled digits; install it with "
            "pip install scikit-learn (the [datasets] extra of keras-rnnkit)"
        ) from None
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    y = digits.target.astype("int32")
    return split_fractions(
        "digit_sequences", x, y, validation_fraction, test_fraction, seed, stratify=True
    )
