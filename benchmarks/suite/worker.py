"""One backend's share of a benchmark run: `python -m benchmarks.suite.worker`.

The parent process (`benchmarks.suite.runner`) starts one of these per
backend with `KERAS_BACKEND` set, and reads back the JSON it writes.
"""

import argparse
import json
import os
import platform
import sys

import numpy as np

from benchmarks.suite import measure
from benchmarks.suite import models
from benchmarks.suite import targets
from benchmarks.suite.settings import SWEEP_SIZE
from benchmarks.suite.settings import Settings

# Models whose cost is the recurrence: their GFLOP/s are compared with the
# measured rate of the recurrent matrix product.
RECURRENT = {"ElmanRNN", "SimpleRNN", "nn.RNN", "JordanRNN", "NaiveJordan"}


def record_id(model, variant, phase, size):
    return f"{model}{f'[{variant}]' if variant else ''}/{phase}/{size.label}"


class Run:
    """Collects the records and comparisons of one backend's process."""

    def __init__(self, settings, backend, on_gpu):
        self.settings = settings
        self.backend = backend
        self.on_gpu = on_gpu
        self.records = {}
        self.comparisons = []
        self.matmul = {}

    def add(self, model, variant, phase, size, durations, flops, memory):
        rid = record_id(model, variant, phase, size)
        record = {
            "id": rid,
            "model": model,
            "variant": variant,
            "phase": phase,
            "size": size.as_dict(),
            "size_label": size.label,
            **measure.summary(durations),
            "memory": memory,
            "gflops": None,
            "fraction_of_matmul_rate": None,
        }
        if flops:
            record["gflops"] = flops / (record["median_ms"] / 1e3) / 1e9
            if model in RECURRENT and size.label in self.matmul:
                record["fraction_of_matmul_rate"] = record["gflops"] / self.matmul[size.label]
        self.records[rid] = record
        print(
            f"[{self.backend}] {rid}: {record['median_ms']:.3f} ms "
            f"(IQR {record['iqr_ms']:.3f}, n={record['repeats']})",
            file=sys.stderr,
            flush=True,
        )
        return rid

    def target(self, comparison, record_id):
        """The target of `comparison` (see `targets`) for the phase of `record_id`."""
        return targets.target(self.backend, comparison, targets.phase_of(record_id), self.on_gpu)

    def compare(self, ours, alternative, target=None, label=""):
        a, b = self.records[ours], self.records[alternative]
        ratio = a["median_ms"] / b["median_ms"]
        self.comparisons.append(
            {
                "label": label,
                "ours": ours,
                "alternative": alternative,
                "phase": a["phase"],
                "size_label": a["size_label"],
                "ratio": ratio,
                "target": target,
                "met": None if target is None else ratio <= target,
                "same_process": True,
            }
        )

    def keras_model(
        self, name, size, data, variant="", context=None, jit_compile="auto", masked=False
    ):
        """Times `name` in fit (training step) and predict_on_batch; returns the two ids."""
        x, y = data
        warmup, repeats = self.settings.warmup, self.settings.repeats_for(size)
        with measure.PeakMemory(self.backend) as peak:
            model = models.build(
                name, size, context=context, jit_compile=jit_compile, masked=masked
            )
            train = measure.time_fit(model, x, y, size.batch, warmup, repeats)
            batch = x[: size.batch]
            predict = measure.time_calls(lambda: model.predict_on_batch(batch), warmup, repeats)
        flops = models.forward_flops(name, size, context)
        # A training step: the forward products, and twice as many backward
        # (one for the gradient of the inputs/states, one for the weights').
        return (
            self.add(name, variant, "train", size, train, 3 * flops, peak.result),
            self.add(name, variant, "predict", size, predict, flops, peak.result),
        )


def _data(size, count, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, size.steps, size.features), dtype=np.float32)
    y = rng.standard_normal((count, 1), dtype=np.float32)
    return x, y


def _padded(data, seed=0):
    """The same data, each sequence cut to a length from T/2 to T and padded with zeros."""
    x, y = data
    rng = np.random.default_rng(seed)
    steps = x.shape[1]
    lengths = rng.integers(max(1, steps // 2), steps + 1, size=len(x))
    x = np.where(np.arange(steps)[None, :, None] < lengths[:, None, None], x, 0.0)
    return x.astype(np.float32), y


def _elman_group(run, size, data):
    backend = run.backend
    # On TensorFlow without and with XLA, explicitly (not "auto").
    plain_jit = False if backend == "tensorflow" else "auto"
    elman = run.keras_model("ElmanRNN", size, data, jit_compile=plain_jit)
    simple = run.keras_model("SimpleRNN", size, data, jit_compile=plain_jit)
    for ours, alternative in zip(elman, simple):
        run.compare(ours, alternative, run.target("elman", ours))
    if backend == "tensorflow":
        elman_jit = run.keras_model("ElmanRNN", size, data, variant="jit", jit_compile=True)
        simple_jit = run.keras_model("SimpleRNN", size, data, variant="jit", jit_compile=True)
        for ours, alternative, plain, simple_plain in zip(elman_jit, simple_jit, elman, simple):
            run.compare(ours, alternative, run.target("elman-jit", ours))
            # With XLA it must not be slower than without (SimpleRNN is).
            run.compare(ours, plain, run.target("jit/no-jit", ours), label="jit / no jit")
            run.compare(alternative, simple_plain, label="jit / no jit")
    if backend == "torch":
        from benchmarks.suite.torch_rnn import time_nn_rnn

        warmup, repeats = run.settings.warmup, run.settings.repeats_for(size)
        with measure.PeakMemory(backend) as peak:
            train, predict, _ = time_nn_rnn(size, warmup, repeats)
        flops = models.forward_flops("nn.RNN", size)
        torch_ids = (
            run.add("nn.RNN", "", "train", size, train, 3 * flops, peak.result),
            run.add("nn.RNN", "", "predict", size, predict, flops, peak.result),
        )
        for ours, simple_id, reference in zip(elman, simple, torch_ids):
            run.compare(ours, reference, run.target("elman/nn.RNN", ours))
            run.compare(simple_id, reference)


def _jordan_group(run, size, data):
    ours = run.keras_model("JordanRNN", size, data)
    naive = run.keras_model("NaiveJordan", size, data)
    for a, b in zip(ours, naive):
        run.compare(a, b, run.target("jordan", a))
    if run.backend == "tensorflow":
        ours = run.keras_model("JordanRNN", size, data, variant="jit", jit_compile=True)
        naive = run.keras_model("NaiveJordan", size, data, variant="jit", jit_compile=True)
        for a, b in zip(ours, naive):
            run.compare(a, b, run.target("jordan-jit", a))


def _masked_group(run, size, data):
    """Right-padded batches behind a Masking layer: ElmanRNN and JordanRNN against their
    alternatives. No target: it shows what the fused paths' masks are worth."""
    padded = _padded(data)
    # TensorFlow: without and with XLA (each with its own form of the fused scans).
    tensorflow = run.backend == "tensorflow"
    variants = [("masked", False), ("masked-jit", True)] if tensorflow else [("masked", "auto")]
    for variant, jit in variants:
        for ours, alternative in (("ElmanRNN", "SimpleRNN"), ("JordanRNN", "NaiveJordan")):
            pair = [
                run.keras_model(name, size, padded, variant=variant, jit_compile=jit, masked=True)
                for name in (ours, alternative)
            ]
            for a, b in zip(*pair):
                run.compare(a, b)


def _tdnn_group(run, size, data):
    for kind in run.settings.contexts:
        context = models.CONTEXTS[kind]
        ours = run.keras_model("TDNN", size, data, variant=kind, context=context)
        gather = run.keras_model("GatherTDNN", size, data, variant=kind, context=context)
        for a, b in zip(ours, gather):
            run.compare(a, b)
        if kind != "offsets":  # what Conv1D can express
            conv = run.keras_model("Conv1D", size, data, variant=kind, context=context)
            for a, b in zip(ours, conv):
                run.compare(a, b, run.target("tdnn/conv1d", a))


def _stream_group(run, size):
    """Per-step latency of a stateful RNN(TDNNCell) against recomputing the window."""
    rng = np.random.default_rng(0)
    warmup, repeats = run.settings.warmup, run.settings.stream_repeats
    ids = []
    for name, builder in (("TDNNCell", models.streaming_model), ("TDNN", models.window_model)):
        with measure.PeakMemory(run.backend) as peak:
            model = builder(size)
            x = rng.standard_normal(model.inputs[0].shape, dtype=np.float32)
            durations = measure.time_calls(
                lambda m=model, x=x: m.predict_on_batch(x), warmup, repeats
            )
        variant = "stream" if name == "TDNNCell" else "window"
        ids.append(run.add(name, variant, "step", size, durations, None, peak.result))
    run.compare(*ids, label="streaming step / window recomputed")


def _sweep(run):
    """Training step of ElmanRNN and SimpleRNN against T (the plot's data)."""
    for steps in run.settings.lengths:
        size = SWEEP_SIZE._replace(steps=steps)
        data = _data(size, size.batch * (run.settings.warmup + run.settings.repeats_for(size) + 1))
        run.matmul.setdefault(size.label, measure.matmul_rate(size.batch, size.units, size.units))
        elman = run.keras_model("ElmanRNN", size, data, variant="sweep")
        simple = run.keras_model("SimpleRNN", size, data, variant="sweep")
        run.compare(elman[0], simple[0], run.target("elman", elman[0]))


def _backend_meta(backend):
    import keras

    meta = {
        "backend": backend,
        "keras": keras.__version__,
        "threads": measure.thread_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        meta.update(framework=f"tensorflow {tf.__version__}", device="gpu" if gpus else "cpu")
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        meta.update(
            framework=f"jax {jax.__version__}",
            device=device.platform,
            device_name=getattr(device, "device_kind", ""),
        )
    else:
        import torch

        cuda = torch.cuda.is_available()
        meta.update(
            framework=f"torch {torch.__version__}",
            device="gpu" if cuda else "cpu",
            device_name=torch.cuda.get_device_name(0) if cuda else "",
            torch_threads=torch.get_num_threads(),
        )
    return meta


def run(settings):
    """Runs every case of `settings` on this process's backend; returns the results."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        # "Same thread count": TensorFlow and XLA use every logical CPU by
        # default, PyTorch only the physical cores.
        torch.set_num_threads(measure.thread_count())
    meta = _backend_meta(backend)
    current = Run(settings, backend, on_gpu=meta["device"] == "gpu")
    keras.utils.set_random_seed(0)
    for size in settings.sizes:
        current.matmul[size.label] = measure.matmul_rate(size.batch, size.units, size.units)
        count = size.batch * (settings.warmup + settings.repeats_for(size) + 1)
        data = _data(size, count)
        if "elman" in settings.groups:
            _elman_group(current, size, data)
        if "jordan" in settings.groups:
            _jordan_group(current, size, data)
        if "masked" in settings.groups:
            _masked_group(current, size, data)
        if "tdnn" in settings.groups:
            _tdnn_group(current, size, data)
        if "stream" in settings.groups:
            _stream_group(current, size)
    if settings.lengths:
        _sweep(current)
    return {
        "meta": meta,
        "matmul_gflops": current.matmul,
        "records": list(current.records.values()),
        "comparisons": current.comparisons,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", required=True, help="JSON file of Settings")
    parser.add_argument("--result", required=True, help="where to write the results (JSON)")
    args = parser.parse_args(argv)
    with open(args.settings) as file:
        settings = Settings.from_json(json.load(file))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = run(settings)
    with open(args.result, "w") as file:
        json.dump(result, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
