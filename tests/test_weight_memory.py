"""Sizes are bounded by memory, not by constants: weights (and a TDNNCell's state) that
would take more memory than this process can still use are refused before anything is
allocated, naming the class the user constructed and its size arguments: in the
constructor, when the layer is built for its inputs, and when a saved file that declares
absurd sizes is loaded (tested in a subprocess under a real memory limit)."""

import json
import os
import re
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit import _arguments
from keras_rnnkit import layers

GIB = 2**30


@pytest.fixture
def one_gib(monkeypatch):
    """This process can still use 1 GiB (as under `ulimit -v`), whatever the machine has."""
    monkeypatch.setattr(_arguments, "available_memory", lambda: GIB)


def test_the_available_memory_is_positive_and_at_most_the_machines():
    available = _arguments.available_memory()
    assert available is None or 0 < available <= os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES"
    )


# Each needs over 1 GiB of weights for one input feature.
ABSURD = [
    (lambda: keras_rnnkit.JordanRNN(4, output_units=10**8), "output_units=100000000"),
    (lambda: keras_rnnkit.JordanCell(4, output_units=10**8), "output_units=100000000"),
    (lambda: keras_rnnkit.ElmanRNN(20_000), "units=20000"),
    (lambda: keras_rnnkit.ElmanCell(20_000), "units=20000"),
    (lambda: keras_rnnkit.NARX(10**8, output_units=1), "units=100000000"),
    (lambda: keras_rnnkit.TDNN(10**8, context=(-1, 0)), "units=100000000"),
    (lambda: keras_rnnkit.TDNNCell(10**8, context=(-1, 0)), "units=100000000"),
    (lambda: layers.KerasCell(keras.layers.LSTMCell(20_000)), "units=20000"),
    (lambda: layers.KerasCell(keras.layers.GRUCell(20_000)), "units=20000"),
    (lambda: layers.KerasCell(keras.layers.SimpleRNNCell(20_000)), "units=20000"),
]


@pytest.mark.parametrize(
    "make, named",
    ABSURD,
    ids=[
        "JordanRNN", "JordanCell", "ElmanRNN", "ElmanCell", "NARX", "TDNN", "TDNNCell",
        "KerasCell(LSTMCell)", "KerasCell(GRUCell)", "KerasCell(SimpleRNNCell)",
    ],
)  # fmt: skip
def test_weights_beyond_memory_are_refused_by_the_constructor(one_gib, make, named, request):
    name = re.escape(request.node.callspec.id)
    with pytest.raises(
        ValueError,
        match=rf"^{name}: its weights would take [\d.]+ GiB \(`\w+` of shape .* alone [\d.]+ "
        rf"GiB\), more than the 1 GiB of memory this process can still use; choose smaller "
        rf"sizes or fewer input features\. Received: .*{named}",
    ):
        make()


@pytest.mark.parametrize(
    "layer, name",
    [
        (lambda: keras_rnnkit.ElmanRNN(1000), "ElmanRNN"),
        (lambda: layers.Recurrent(layers.KerasCell(keras.layers.SimpleRNNCell(1000))),
         r"KerasCell\(SimpleRNNCell\)"),
    ],
    ids=["ElmanRNN", "KerasCell"],
)  # fmt: skip
def test_weights_that_outgrow_memory_with_the_inputs_are_refused_when_built(one_gib, layer, name):
    layer = layer()  # 4 MB for one feature
    inputs = keras.Input((3, 300_000))  # a kernel of 1.2 GB
    with pytest.raises(
        ValueError, match=rf"^{name}: its weights .*`kernel` of shape \(300000, 1000\)"
    ):
        layer(inputs)


def test_a_tdnn_cell_whose_state_outgrows_memory_is_refused(one_gib):
    # One sample's pending sums alone: 2 * 10**9 floats.
    with pytest.raises(
        ValueError, match=r"^TDNNCell: its state would take .*context=\(-1000000000, 0\)"
    ):
        keras_rnnkit.TDNNCell(2, context=(-(10**9), 0))
    # 10 MB a sample fits; a batch of 100 with the step's copies does not.
    cell = keras_rnnkit.TDNNCell(2, context=(-(10**6 + 250_000), 0))
    with pytest.raises(ValueError, match=r"TDNNCell: its states would take .*batch_size=100"):
        keras.layers.RNN(cell)(np.zeros((100, 2, 1), "float32"))


@pytest.mark.parametrize("delays", ["feedback_delays", "input_delays"])
def test_a_narx_whose_delay_line_outgrows_memory_is_refused(one_gib, delays):
    # Loaded, such a file failed at its first call with a MemoryError.
    with pytest.raises(
        ValueError, match=rf"^NARX: its state would take .*{delays}=\(1, 1000000000\)"
    ):
        keras_rnnkit.NARX(2, output_units=1, **{delays: (1, 10**9)})


def test_a_window_longer_than_the_sequence_reads_zeros_beyond_it():
    """Offsets of T or more reach only the zero padding: the layer pads no more than T a
    side, so a window of 2**31 - 1 steps runs on a short sequence in little memory."""
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    far = keras_rnnkit.TDNN(4, context=(-(2**31 - 1), 0, 10**9), activation=None)
    near = keras_rnnkit.TDNN(4, context=(0,), activation=None)
    far.build(x.shape)
    near.build(x.shape)
    near.set_weights([far.get_weights()[0][1:2], far.get_weights()[1]])
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, (far(x), near(x))), atol=1e-6)


def test_a_tdnn_cells_step_does_not_grow_with_its_delay():
    # A delay of 10**5 steps: once a loop of 10**5 slices per step, now a few operations.
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    cell = keras_rnnkit.TDNNCell(2, context=(-(10**5), -2, 0))
    streamed = keras.layers.RNN(cell, return_sequences=True)(x)
    whole = keras_rnnkit.TDNN(2, context=(-(10**5), -2, 0), padding="causal")
    whole.build(x.shape)
    whole.set_weights(cell.get_weights())
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, (streamed, whole(x))), atol=1e-5)


def _crafted(tmp_path, layer, change):
    """A `.keras` file of `Sequential([Input((3, 2)), layer])` whose layer config
    `change(config)` rewrote, as an attacker would."""
    model = keras.Sequential([keras.Input((3, 2)), layer])
    path = tmp_path / "model.keras"
    model.save(path)
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(crafted, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config["config"]["layers"][-1]["config"])
                data = json.dumps(config).encode()
            target.writestr(item, data)
    return crafted


def _set(**values):
    return lambda config: config.update(values)


def _cell_context(context):
    return lambda config: config["cell"]["config"].update(context=context)


CRAFTED = {
    "JordanRNN output_units=10**8": (
        lambda: keras_rnnkit.JordanRNN(4, output_units=2),
        _set(output_units=10**8),
        r"JordanRNN: its weights would take .*output_units=100000000",
    ),
    "ElmanRNN units=10**5": (
        lambda: keras_rnnkit.ElmanRNN(4),
        _set(units=10**5),
        r"ElmanRNN: its weights would take .*units=100000",
    ),
    "TDNNCell context=(-10**9, 0)": (
        lambda: keras.layers.RNN(keras_rnnkit.TDNNCell(4, context=(-1, 0))),
        _cell_context([-(10**9), 0]),
        r"TDNNCell: its state would take .*context=\(-1000000000, 0\)",
    ),
    "Recurrent(KerasCell(SimpleRNNCell(10**6)))": (
        lambda: layers.Recurrent(layers.KerasCell(keras.layers.SimpleRNNCell(4))),
        lambda config: config["cell"]["config"]["cell"]["config"].update(units=10**6),
        r"KerasCell\(SimpleRNNCell\): its weights would take .*units=1000000",
    ),
    # Valid, and small: a window longer than any sequence costs no memory.
    "TDNN context=(-10**9, 0)": (
        lambda: keras_rnnkit.TDNN(4, context=(-1, 0)),
        _set(context=[-(10**9), 0]),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_saved_file_that_declares_absurd_sizes_is_refused_in_one_error(one_gib, tmp_path, case):
    make, change, error = CRAFTED[case]
    crafted = _crafted(tmp_path, make(), change)
    if error is None:
        keras.saving.load_model(crafted)
        return
    # A cell inside Keras's RNN: Keras wraps its error in a TypeError that repeats it.
    with pytest.raises((ValueError, TypeError), match=error):
        keras.saving.load_model(crafted)


# Loads a file under a real limit: 2 GiB more address space than the process has once
# Keras is imported (RLIMIT_AS, as `ulimit -v`; with 1 GiB, JAX's runtime itself once
# failed to map memory and crashed); prints the error on one line (or "loaded") and how
# much the resident memory grew while loading.
CHILD = """
import resource, sys
import keras, keras_rnnkit

def vm_size():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))

resource.setrlimit(resource.RLIMIT_AS, (vm_size() + 2**31, resource.RLIM_INFINITY))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    keras.saving.load_model(sys.argv[1])
    print("loaded")
except (ValueError, TypeError) as error:
    print(" ".join(str(error).split()))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"grown {grown * 1024}")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets RLIMIT_AS")
@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_loading_a_crafted_file_under_a_memory_limit_refuses_it_in_under_1_gib(tmp_path, case):
    make, change, error = CRAFTED[case]
    crafted = _crafted(tmp_path, make(), change)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(crafted)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert child.returncode == 0, child.stderr[-3000:]
    message, grown = child.stdout.strip().splitlines()[-2:]
    if error is None:
        assert message == "loaded"
    else:
        assert re.search(error, message), message
    assert int(grown.split()[1]) < GIB, grown
