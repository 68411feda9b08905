"""Constructor-argument checks of the regularizers, constraints and initializers.

The same message form as `keras_rnnkit.layers.arguments`: the owner, the
argument, what is allowed and what was received; nothing is silently clamped.
"""

import math
import numbers


def _real(value):
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
    )


def non_negative_float(owner, name, value):
    """Returns `value` as a float >= 0, or raises."""
    if not _real(value) or float(value) < 0.0:
        raise ValueError(
            f"{owner}: `{name}` must be a non-negative number. Received: {name}={value!r}"
        )
    return float(value)


def positive_float(owner, name, value):
    """Returns `value` as a finite float > 0, or raises."""
    if not _real(value) or float(value) <= 0.0:
        raise ValueError(f"{owner}: `{name}` must be a positive number. Received: {name}={value!r}")
    return float(value)


def optional_seed(owner, name, value):
    """Returns None or `value` as an int, or raises."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{owner}: `{name}` must be None or an integer. Received: {name}={value!r}"
        )
    return int(value)


def square_shape(owner, shape):
    """Returns `shape` as a tuple if it is (H, H), or raises."""
    shape = tuple(shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{owner}: the recurrent kernel to initialize must be square, (H, H). "
            f"Received: shape={shape}"
        )
    return shape
