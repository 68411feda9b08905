"""The public API is a golden list; every public layer loads by its registered name."""

import types

import keras
import pytest

import keras_rnnkit

PUBLIC_API = ["ElmanCell", "ElmanRNN", "JordanCell", "JordanRNN", "TDNN", "TDNNCell"]
PUBLIC_MODULES = ["backend", "data", "layers", "regularizers", "training"]
LAYER_CLASSES = ["ElmanCell", "ElmanRNN", "JordanCell", "JordanRNN", "TDNN", "TDNNCell"]


def test_public_names_are_the_golden_list():
    public = [n for n in dir(keras_rnnkit) if not n.startswith("_")]
    modules = sorted(n for n in public if isinstance(getattr(keras_rnnkit, n), types.ModuleType))
    assert sorted(set(public) - set(modules)) == sorted(PUBLIC_API)
    assert modules == PUBLIC_MODULES


def test_version_is_a_string():
    assert isinstance(keras_rnnkit.__version__, str) and keras_rnnkit.__version__


@pytest.mark.parametrize("name", LAYER_CLASSES)
def test_registered_under_the_package_name(name):
    cls = getattr(keras_rnnkit, name)
    assert keras.saving.get_registered_name(cls) == f"keras_rnnkit>{name}"
    assert keras.saving.get_registered_object(f"keras_rnnkit>{name}") is cls


def test_nothing_written_into_keras_namespaces():
    for name in LAYER_CLASSES:
        assert not hasattr(keras.layers, name)
