"""A weight larger than the memory this process may use is refused before it is made,
naming the layer the user built and its size arguments: when a layer is built, and when
a saved file that declares absurd sizes is loaded."""

import json
import zipfile

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit import _arguments

GIB = 2**30


@pytest.fixture
def one_gib(monkeypatch):
    """This process may use 1 GiB (as under `ulimit -v`), whatever the machine has."""
    monkeypatch.setattr(_arguments, "memory_limit", lambda: GIB)


def test_the_memory_limit_is_the_machines_or_less():
    limit = _arguments.memory_limit()
    assert limit is None or 0 < limit


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda: keras_rnnkit.JordanRNN(4, output_units=10**8), "output_units=100000000"),
        (lambda: keras_rnnkit.ElmanRNN(20_000), "units=20000"),
        (lambda: keras_rnnkit.NARX(10**8, output_units=1), "units=100000000"),
        (lambda: keras_rnnkit.TDNN(10**8, context=(-1, 0)), "units=100000000"),
    ],
    ids=["JordanRNN", "ElmanRNN", "NARX", "TDNN"],
)
def test_a_weight_beyond_memory_is_refused_when_the_layer_is_built(one_gib, make, named):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(
        ValueError,
        match=rf"{name}: the weight `\w+` of shape .* GiB, more "
        rf"than the 1 GiB of memory .*Received: .*{named}",
    ):
        layer(np.zeros((1, 3, 2), "float32"))


def test_a_saved_file_that_declares_absurd_sizes_is_refused_in_one_error(one_gib, tmp_path):
    model = keras.Sequential([keras.Input((3, 2)), keras_rnnkit.JordanRNN(4, output_units=2)])
    path = tmp_path / "model.keras"
    model.save(path)
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(crafted, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][-1]["config"]
                layer["output_units"] = 10**8
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.raises(ValueError, match=r"JordanRNN: the weight `\w+` of shape .*output_units=10"):
        keras.saving.load_model(crafted)
