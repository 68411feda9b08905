"""Constructor-argument checks shared by every layer and cell.

Every check raises `ValueError` in `__init__`, naming the owner, the argument,
what is allowed and what was received; nothing is silently clamped.
"""

import math
import numbers
import os
import warnings

import keras


def _error(owner, message):
    return ValueError(f"{owner}: {message}")


def positive_int(owner, name, value):
    """Returns `value` as an int, or raises if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise _error(owner, f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def rate(owner, name, value):
    """Returns `value` as a float in [0, 1), or raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= float(value) < 1.0
    ):
        raise _error(owner, f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def optional_positive_float(owner, name, value):
    """Returns None or `value` as a finite positive float, or raises."""
    return None if value is None else _number(owner, name, value, "None or a positive", 0.0)


def optional_positive_int(owner, name, value):
    """Returns None or `value` as a positive int, or raises."""
    return None if value is None else positive_int(owner, name, value)


def one_of(owner, name, value, allowed):
    """Returns `value` if it is one of `allowed` (True and False only as themselves)."""
    if not any(a is value if bool in (type(a), type(value)) else a == value for a in allowed):
        choices = ", ".join(repr(a) for a in allowed)
        raise _error(owner, f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return value


def boolean(owner, name, value):
    if not isinstance(value, bool):
        raise _error(owner, f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def activation(owner, name, identifier):
    """Resolves an activation; `None` means linear, as in `keras.layers`."""
    try:
        return keras.activations.get(identifier)
    except (ValueError, TypeError) as error:
        raise _error(
            owner,
            f"`{name}` must be the name of a Keras activation (e.g. 'tanh', "
            f"'relu'), a callable, or None. Received: {name}={identifier!r}",
        ) from error


# The three kinds of Keras object a weight takes, each a callable of its own: one given
# for another (an L2 regularizer as an initializer) would fail deep inside a backend.
_KINDS = {
    "initializer": keras.initializers.Initializer,
    "regularizer": keras.regularizers.Regularizer,
    "constraint": keras.constraints.Constraint,
}


def _keras_object(module, kind, examples):
    """The check of one kind of Keras object: resolves it, or raises."""

    def check(owner, name, identifier):
        try:
            resolved = module.get(identifier)
        except (ValueError, TypeError) as error:
            raise _error(
                owner,
                f"`{name}` must be the name of a Keras {kind} (e.g. {examples}), its "
                f"config dict, an instance or None. Received: {name}={identifier!r}",
            ) from error
        for other, base in _KINDS.items():
            if other != kind and isinstance(resolved, base):
                raise _error(
                    owner,
                    f"`{name}` must be a Keras {kind}, not a {other} "
                    f"({type(resolved).__name__}). Received: {name}={identifier!r}",
                )
        return resolved

    return check


initializer = _keras_object(keras.initializers, "initializer", "'zeros', 'orthogonal'")
regularizer = _keras_object(keras.regularizers, "regularizer", "'l2'")
constraint = _keras_object(keras.constraints, "constraint", "'non_neg'")


def _number(owner, name, value, kind, bound, strict=True):
    """`value` as a finite float above `bound` (or at it, not `strict`), or raises."""
    real = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if (
        not real
        or not math.isfinite(float(value))
        or not (float(value) > bound if strict else float(value) >= bound)
    ):
        raise _error(owner, f"`{name}` must be {kind} number. Received: {name}={value!r}")
    return float(value)


def non_negative_float(owner, name, value):
    """Returns `value` as a finite float >= 0, or raises."""
    return _number(owner, name, value, "a non-negative", 0.0, strict=False)


def positive_float(owner, name, value):
    """Returns `value` as a finite float > 0, or raises."""
    return _number(owner, name, value, "a positive", 0.0)


# The seeds every backend takes: PyTorch's are signed 32-bit, JAX's unsigned.
LARGEST_SEED = 2**31 - 1


def optional_seed(owner, name, value):
    """Returns None or `value` as an int in [0, LARGEST_SEED], or raises."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 0 <= value <= LARGEST_SEED
    ):
        raise _error(
            owner,
            f"`{name}` must be None or an integer in [0, {LARGEST_SEED}] (the seeds every "
            f"backend takes). Received: {name}={value!r}",
        )
    return int(value)


def renamed(owner, kwargs, old, new, value, default, stacklevel=3):
    """`value` of argument `new`, or the one given under its deprecated name `old` (popped
    from `kwargs`; a `DeprecationWarning` at `stacklevel`). Both at once is an error."""
    if old not in kwargs:
        return value
    old_value = kwargs.pop(old)
    if value != default:
        raise _error(
            owner,
            f"`{old}` is the deprecated name of `{new}`; pass only `{new}`. "
            f"Received: {old}={old_value!r}, {new}={value!r}",
        )
    warnings.warn(
        f"{owner}: `{old}` is deprecated, use `{new}` (the same argument, renamed). "
        f"Received: {old}={old_value!r}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return old_value


def memory_limit():
    """The bytes this process may use at most: the least of the machine's physical memory
    and the process's address-space and data limits (`resource`), or None where none is
    known."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX
        pass
    try:
        import resource
    except ImportError:  # Windows
        return min(limits, default=None)
    for kind in (resource.RLIMIT_AS, getattr(resource, "RLIMIT_DATA", None)):
        if kind is not None:
            soft, _ = resource.getrlimit(kind)
            if soft not in (resource.RLIM_INFINITY, -1):
                limits.append(soft)
    return min(limits, default=None)


def weight_within_memory(owner, name, shape, dtype, sizes):
    """Raises, before it is allocated, for a weight of `shape` larger than `memory_limit()`,
    naming the size arguments `sizes` (`{argument: value}`) that made it."""
    limit = memory_limit()
    bits = "".join(c for c in keras.backend.standardize_dtype(dtype) if c.isdigit())
    needed = math.prod(int(d) for d in shape) * max(int(bits or 32) // 8, 1)
    if limit is not None and needed > limit:
        given = ", ".join(f"{argument}={value!r}" for argument, value in sizes.items())
        raise _error(
            owner,
            f"the weight `{name}` of shape {tuple(shape)} would take {needed / 2**30:.3g} GiB, "
            f"more than the {limit / 2**30:.3g} GiB of memory this process may use; choose "
            f"smaller sizes or fewer input features. Received: {given}",
        )
