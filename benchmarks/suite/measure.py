"""Timing, spread, peak memory and the machine's matrix-product rate."""

import os
import statistics
import time

import numpy as np


def summary(seconds):
    """Median and quartiles of a list of durations in seconds, in milliseconds."""
    ms = sorted(1e3 * float(s) for s in seconds)
    if len(ms) == 1:
        q1 = median = q3 = ms[0]
    else:
        q1, median, q3 = statistics.quantiles(ms, n=4, method="inclusive")
    return {
        "median_ms": median,
        "q1_ms": q1,
        "q3_ms": q3,
        "iqr_ms": q3 - q1,
        "repeats": len(ms),
    }


def step_timer():
    """A Keras callback recording the time of every training step inside `fit`.

    It records the interval between consecutive `on_train_batch_end` calls.
    Keras converts the step's logs to Python numbers before calling it (this
    callback is not `async_safe`), which waits for the step's loss; the loss of
    step k needs the weights updated by step k - 1, so one interval covers
    exactly one whole step (forward, backward, update) in the compiled
    function, also where a backend dispatches asynchronously (JAX, GPUs).
    Timing `fit` as a whole instead would add its set-up to every step.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

        def steps(self, warmup):
            """Step durations after the first `warmup` steps (tracing, compiling)."""
            return list(np.diff(self.ends[warmup:]))

    return StepTimer()


def time_fit(model, x, y, batch_size, warmup, repeats):
    """Durations of `repeats` training steps of `model.fit` after `warmup` steps."""
    # Steps 0..warmup are not timed (step 0 has no start mark): then n + 1
    # batch ends give n intervals.
    steps = warmup + repeats + 1
    timer = step_timer()
    model.fit(
        x[: steps * batch_size],
        y[: steps * batch_size],
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    )
    return timer.steps(warmup)


def time_calls(function, warmup, repeats):
    """Durations of `repeats` calls of `function()` after `warmup` calls.

    `function` must return only when its work is done: `predict_on_batch`
    returns NumPy arrays, which it is.
    """
    for _ in range(warmup):
        function()
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return durations


def matmul_rate(rows, inner, cols, repeats=200):
    """GFLOP/s of the NumPy (BLAS) product (rows, inner) x (inner, cols), median.

    Measured at the recurrent product's shape (B, H) x (H, H): the rate the
    recurrence can reach at best, since each step waits for the previous one.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner), dtype=np.float32)
    b = rng.standard_normal((inner, cols), dtype=np.float32)
    durations = time_calls(lambda: a @ b, warmup=10, repeats=repeats)
    return 2.0 * rows * inner * cols / statistics.median(durations) / 1e9


class PeakMemory:
    """The peak memory of the code run inside `with PeakMemory() as peak:`.

    On Linux, the process's peak resident set size (VmHWM), reset at the start
    by writing 5 to /proc/self/clear_refs: it counts everything the process
    holds (the framework itself included), so `increase_mb` (the peak minus
    the resident size at the start) is the part due to the measured case.
    Elsewhere `peak_rss_mb` is the process's lifetime peak (`ru_maxrss`). On a
    GPU, `device_peak_mb` is the framework's own peak of allocated device
    memory (PyTorch: reset per case; JAX: the process's peak so far).
    """

    def __init__(self, backend=None):
        self.backend = backend
        self.result = {}

    def __enter__(self):
        self._resettable = _reset_peak_rss()
        self._start = _rss_mb("VmRSS")
        if self.backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc_info):
        if self._resettable:
            peak = _rss_mb("VmHWM")
            self.result = {
                "peak_rss_mb": peak,
                "increase_mb": peak - self._start,
                "method": "VmHWM after clear_refs",
            }
        else:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self.result = {"peak_rss_mb": peak, "increase_mb": None, "method": "ru_maxrss"}
        device_peak = _device_peak_mb(self.backend)
        if device_peak is not None:
            self.result["device_peak_mb"] = device_peak
        return False


def _reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _rss_mb(field):
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _device_peak_mb(backend):
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            stats = device.memory_stats() or {}
            if "peak_bytes_in_use" in stats:
                return stats["peak_bytes_in_use"] / 2**20
    return None


def thread_count():
    """The logical CPUs this process may use (what TensorFlow and XLA use by default)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
