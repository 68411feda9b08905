"""Constructor-argument checks shared by every layer and cell.

Every check raises `ValueError` in `__init__`, naming the owner, the argument,
what is allowed and what was received; nothing is silently clamped.
"""

import inspect
import math
import numbers
import os
import warnings

import keras


def _error(owner, message):
    return ValueError(f"{owner}: {message}")


# The most time steps any backend indexes: they count them with 32-bit integers.
LARGEST_STEP_COUNT = 2**31 - 1


def positive_int(owner, name, value):
    """Returns `value` as an int, or raises if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise _error(owner, f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def non_negative_int(owner, name, value):
    """Returns `value` as an int, or raises if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise _error(owner, f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
    return int(value)


def step_count(owner, name, value):
    """Returns `value` as an int in [1, LARGEST_STEP_COUNT], or raises."""
    value = positive_int(owner, name, value)
    if value > LARGEST_STEP_COUNT:
        raise _error(
            owner,
            f"`{name}` must be at most {LARGEST_STEP_COUNT} (the backends count time steps "
            f"with 32-bit integers). Received: {name}={value!r}",
        )
    return value


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


def optional_step_count(owner, name, value):
    """Returns None or `value` as a `step_count`, or raises."""
    return None if value is None else step_count(owner, name, value)


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
        _numbers_where_numbers_belong(owner, name, resolved, identifier)
        return resolved

    return check


def _numbers_where_numbers_belong(owner, name, resolved, identifier):
    """Raises where a Keras object's config holds a non-number for an argument whose
    default is a number (`RandomNormal(stddev="big")`, which Keras takes and fails on
    only when a weight is drawn)."""
    get_config = getattr(resolved, "get_config", None)
    if get_config is None:  # a plain function
        return
    try:
        defaults = inspect.signature(type(resolved).__init__).parameters
    except (TypeError, ValueError):
        return
    for key, value in get_config().items():
        default = getattr(defaults.get(key), "default", None)
        if isinstance(default, numbers.Real) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise _error(
                    owner,
                    f"`{name}`'s `{key}` must be a number, as in {type(resolved).__name__}"
                    f"({key}={default!r}). Received: {name}={identifier!r}",
                )


initializer = _keras_object(keras.initializers, "initializer", "'zeros', 'orthogonal'")
regularizer = _keras_object(keras.regularizers, "regularizer", "'l2'")
constraint = _keras_object(keras.constraints, "constraint", "'non_neg'")


def float_dtype(owner, name, value):
    """Returns `value` if it is None or a dtype policy (its name or a `DTypePolicy`) whose
    variables and computations are floats, or raises."""
    if value is None:
        return value
    try:
        policy = keras.dtype_policies.get(value)
        floats = all(
            keras.backend.is_float_dtype(dtype)
            for dtype in (policy.variable_dtype, policy.compute_dtype)
        )
    except (ValueError, TypeError):
        floats = False
    if not floats:
        raise _error(
            owner,
            f"`{name}` must be a float dtype ('float32', 'float64', 'float16', 'bfloat16'), "
            f"a mixed-precision policy ('mixed_float16', 'mixed_bfloat16') or a "
            f"keras.DTypePolicy of floats. Received: {name}={value!r}",
        )
    return value


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


def _proc_bytes(path, field):
    """A `field:  N kB` line of a /proc file, in bytes, or None (not Linux)."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_memory():
    """The bytes this process can still allocate, or None where nothing is known: the
    least of the memory the system has available (Linux's MemAvailable, elsewhere the
    physical memory) and the room left under the process's address-space and data limits
    (`resource`, as `ulimit -v` sets them)."""
    limits = []
    system = _proc_bytes("/proc/meminfo", "MemAvailable")
    if system is None:
        try:
            system = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # not POSIX
            pass
    if system is not None:
        limits.append(system)
    try:
        import resource
    except ImportError:  # Windows
        return min(limits, default=None)
    for kind, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        if not hasattr(resource, kind):
            continue
        soft, _ = resource.getrlimit(getattr(resource, kind))
        if soft not in (resource.RLIM_INFINITY, -1):
            limits.append(max(soft - (_proc_bytes("/proc/self/status", used) or 0), 0))
    return min(limits, default=None)


def _bytes_of(shape, dtype):
    bits = "".join(c for c in keras.backend.standardize_dtype(dtype) if c.isdigit())
    return math.prod(int(d) for d in shape) * max(int(bits or 32) // 8, 1)


def within_memory(
    owner, what, shapes, dtype, sizes, remedy="smaller sizes or fewer input features", copies=1
):
    """Raises, before anything is allocated, where the tensors `shapes` (`{name: shape}`)
    of `dtype`, `copies` of each, together take more than `available_memory()`; the error
    names `what` they are ("weights", ...), the size arguments `sizes` (`{argument:
    value}`) that made them, and the `remedy`."""
    limit = available_memory()
    needed = {name: copies * _bytes_of(shape, dtype) for name, shape in shapes.items()}
    total = sum(needed.values())
    if limit is None or total <= limit:
        return
    largest = max(needed, key=needed.get)
    given = ", ".join(f"{argument}={value!r}" for argument, value in sizes.items())
    raise _error(
        owner,
        f"its {what} would take {total / 2**30:.3g} GiB (`{largest}` of shape "
        f"{tuple(shapes[largest])} alone {needed[largest] / 2**30:.3g} GiB), more than the "
        f"{limit / 2**30:.3g} GiB of memory this process can still use; choose {remedy}. "
        f"Received: {given}",
    )
