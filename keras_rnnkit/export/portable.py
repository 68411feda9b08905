"""Exports trace device-independent graphs: no cuDNN op, which only a GPU can run."""

import functools

from keras_rnnkit.backend import engine


def device_independent(export):
    """Decorates an exporter: everything it traces runs on a CPU as on a GPU.

    On TensorFlow with a GPU, `ElmanRNN(use_fused="auto")` runs cuDNN's
    kernel, an op with no CPU kernel; inside an exporter it takes the
    engine's own recurrence instead (the same values), so the file serves
    anywhere.
    """

    @functools.wraps(export)
    def wrapper(*args, **kwargs):
        with engine.portable():
            return export(*args, **kwargs)

    return wrapper
