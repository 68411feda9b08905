"""The public API is a golden list; every public layer loads by its registered name."""

import json
import subprocess
import sys

import keras
import pytest

import keras_rnnkit

PUBLIC_API = [
    "ElmanCell",
    "ElmanRNN",
    "JordanCell",
    "JordanRNN",
    "NARX",
    "NarxCell",
    "TDNN",
    "TDNNCell",
]
PUBLIC_MODULES = [
    "backend",
    "constraints",
    "data",
    "forecasting",
    "initializers",
    "layers",
    "losses",
    "models",
    "regularizers",
    "training",
]
# The public names of the namespaces named like Keras's.
NAMESPACES = {
    "constraints": ["SpectralNormConstraint"],
    "initializers": ["IdentityRecurrent", "ScaledOrthogonal"],
}
# Old name -> where the same class lives now; the old names warn.
MOVED = {
    "regularizers.IdentityRecurrent": "initializers",
    "regularizers.ScaledOrthogonal": "initializers",
    "regularizers.SpectralNormConstraint": "constraints",
}
LAYER_CLASSES = PUBLIC_API
# Subpackages that `import keras_rnnkit` leaves alone: they import TensorFlow's
# converters or keras-tuner, which a user of the layers need not install.
OPT_IN_MODULES = {
    "export": [
        "StepProgram",
        "StreamingModel",
        "export_onnx",
        "export_saved_model",
        "export_tflite",
        "to_streaming",
    ],
    "tuning": [
        "FAMILIES",
        "HYPERPARAMETERS",
        "HyperElman",
        "HyperJordan",
        "HyperTDNN",
        "RecurrentHyperModel",
        "SearchResult",
        "TUNERS",
        "build_model",
        "hypermodel_for_task",
        "make_tuner",
        "run_search",
    ],
}


def test_public_names_are_the_golden_list():
    # In a fresh process: other tests import more submodules (cli, forecasting),
    # which then show up as attributes of the package.
    script = (
        "import json, types, keras_rnnkit as k; "
        "names = [n for n in dir(k) if not n.startswith('_')]; "
        "print(json.dumps([n for n in names if not isinstance(getattr(k, n), types.ModuleType)]"
        " + ['/'] + [n for n in names if isinstance(getattr(k, n), types.ModuleType)]))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    names = json.loads(completed.stdout.strip().splitlines()[-1])
    split = names.index("/")
    assert sorted(names[:split]) == sorted(PUBLIC_API)
    assert sorted(names[split + 1 :]) == PUBLIC_MODULES


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


def _fresh_process_json(script):
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_import_leaves_the_opt_in_subpackages_and_keras_tuner_alone():
    loaded = _fresh_process_json(
        "import json, sys, keras_rnnkit; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('keras_tuner', 'keras_rnnkit.export', 'keras_rnnkit.tuning', 'tf2onnx')))))"
    )
    assert loaded == []


@pytest.mark.slow  # a fresh process each (TensorFlow's import); the top level's stays fast
@pytest.mark.parametrize("module", sorted(OPT_IN_MODULES))
def test_opt_in_subpackages_export_their_golden_list(module):
    pytest.importorskip("keras_tuner")
    names = _fresh_process_json(
        f"import json, types, keras_rnnkit.{module} as m; "
        "print(json.dumps([n for n in dir(m) if not n.startswith('_') "
        "and not isinstance(getattr(m, n), types.ModuleType)]))"
    )
    assert sorted(names) == sorted(OPT_IN_MODULES[module])


@pytest.mark.parametrize("module", sorted(NAMESPACES))
def test_namespaces_named_like_keras_hold_their_golden_list(module):
    namespace = getattr(keras_rnnkit, module)
    # (pytest's assertion rewriting may add names starting with "@".)
    names = [n for n in dir(namespace) if n.isidentifier() and not n.startswith("_")]
    assert sorted(names) == NAMESPACES[module]
    for name in names:
        cls = getattr(namespace, name)
        assert keras.saving.get_registered_name(cls) == f"keras_rnnkit>{name}"
        # Keras resolves them by their registered name, as its own.
        keras_module = getattr(keras, module)
        assert type(keras_module.deserialize(keras_module.serialize(cls()))) is cls


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_names_still_give_the_same_class_with_a_warning(old):
    module, name = old.split(".")
    new = getattr(getattr(keras_rnnkit, MOVED[old]), name)
    with pytest.warns(DeprecationWarning, match=f"use keras_rnnkit.{MOVED[old]}.{name}"):
        assert getattr(getattr(keras_rnnkit, module), name) is new
    assert name not in dir(keras_rnnkit.regularizers)
    with pytest.raises(AttributeError):
        keras_rnnkit.regularizers.NoSuchName  # noqa: B018
