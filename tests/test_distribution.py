"""Training under the engines' own multi-device strategies gives the one-device losses.

Each test starts its own process with the backend and devices it needs (two
logical CPUs for `tf.distribute.MirroredStrategy`, two XLA host devices for
`keras.distribution.DataParallel`), since devices are fixed when the framework
starts; so they run whatever backend the suite runs on.

The tolerance is derived, not guessed: the distributed run computes the same
sums as the one-device run in another order (two half-batch gradients added
up, instead of one whole-batch gradient), so the two differ only by float32
rounding. Each process also trains the same model in float64 from the same
weights; delta = max |float32 one-device loss - float64 loss| measures the
rounding error of this training. Allowing the distributed run up to three
times that error against the float64 losses, the triangle inequality gives
|distributed - one device| <= 4 delta, plus 4 float32 ulps of the loss in
case delta happens to be tiny. (Measured on 2 CPU cores: delta 2.4e-7 on TensorFlow and
4.8e-7 on JAX, for losses between 0.8 and 3.5; the distributed runs differed from one
device by at most 1.2e-7 and 3.6e-7.)
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Shared by both child processes: a TDNN -> Elman -> Jordan stack, trained
# from given weights with SGD on fixed data, batch 16 (8 per device).
MODEL = """
import keras
import numpy as np
import keras_rnnkit


def build_model(dtype="float32"):
    return keras.Sequential(
        [
            keras.Input((12, 3)),
            keras_rnnkit.TDNN(8, context=(-2, -1, 0), dtype=dtype),
            keras_rnnkit.ElmanRNN(8, return_sequences=True, dtype=dtype),
            keras_rnnkit.JordanRNN(8, output_units=4, dtype=dtype),
            keras.layers.Dense(1, dtype=dtype),
        ]
    )


def losses(model, weights, dtype="float32"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12, 3)).astype(dtype)
    y = x[:, -3:, 0].sum(axis=1, keepdims=True).astype(dtype)
    model.set_weights([w.astype(dtype) for w in weights])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return history.history["loss"] + [float(model.evaluate(x, y, batch_size=16, verbose=0))]


keras.utils.set_random_seed(0)
WEIGHTS = build_model().get_weights()
"""

TENSORFLOW_CHILD = (
    """
import json
import tensorflow as tf

# Two logical CPUs, before TensorFlow starts its runtime.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""
    + MODEL
    + """
single = losses(build_model(), WEIGHTS)
exact = losses(build_model("float64"), WEIGHTS, "float64")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    distributed = losses(build_model(), WEIGHTS)
print(json.dumps(dict(single=single, exact=exact, distributed=distributed,
                      replicas=strategy.num_replicas_in_sync)))
"""
)

JAX_CHILD = (
    """
import json
import jax

# float64 for the reference run; float32 arrays stay float32.
jax.config.update("jax_enable_x64", True)
"""
    + MODEL
    + """
single = losses(build_model(), WEIGHTS)
exact = losses(build_model("float64"), WEIGHTS, "float64")
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
model = build_model()
distributed = losses(model, WEIGHTS)
print(json.dumps(dict(single=single, exact=exact, distributed=distributed,
                      replicas=len(model.weights[0].value.sharding.device_set))))
"""
)


def _run_child(code, backend, extra_env=None):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **(extra_env or {}),
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _check_same_losses(result):
    assert result["replicas"] == 2
    single, exact, distributed = (np.array(result[k]) for k in ("single", "exact", "distributed"))
    # The model trains (the loss falls), so equal losses say something.
    assert exact[-1] < 0.9 * exact[0]
    delta = np.max(np.abs(single - exact))
    tolerance = 4 * delta + 4 * np.finfo(np.float32).eps * np.abs(single)
    np.testing.assert_array_less(np.abs(distributed - single), tolerance)


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpus_gives_the_one_device_losses():
    pytest.importorskip("tensorflow")
    _check_same_losses(_run_child(TENSORFLOW_CHILD, "tensorflow"))


@pytest.mark.slow
def test_jax_data_parallel_on_two_devices_gives_the_one_device_losses():
    pytest.importorskip("jax")
    result = _run_child(JAX_CHILD, "jax", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    _check_same_losses(result)
