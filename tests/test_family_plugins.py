"""A family from another installed package, through the entry-point group
`keras_rnnkit.families`: `rnnkit train --help` lists it and `rnnkit train --model NAME`
trains it, with no Python glue. The plugin is a tiny package built and installed here (pip,
into a folder of its own that the commands get on their path), as a user would install one.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

PLUGIN_SOURCE = '''
"""A ReLU Elman network, as a family of a separate package."""

from keras_rnnkit.layers import ElmanRNN
from keras_rnnkit.models import Family


def make_relu_elman(units, *, return_sequences, regularizer, seed, **options):
    return ElmanRNN(
        units,
        activation="relu",
        return_sequences=return_sequences,
        kernel_regularizer=regularizer,
        seed=seed,
        **{k: v for k, v in options.items() if k != "activation"},
    )


RELU_ELMAN = Family(
    "relu_elman", make_relu_elman, recurrent=True, description="Elman with ReLU (a plugin)"
)
'''
PLUGIN_SETUP = """
[metadata]
name = rnnkit-relu-elman
version = 0.1

[options]
py_modules = relu_elman_plugin

[options.entry_points]
keras_rnnkit.families =
    relu_elman = relu_elman_plugin:RELU_ELMAN
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder holding the installed plugin (its module and its .dist-info)."""
    source = tmp_path_factory.mktemp("plugin_source")
    (source / "relu_elman_plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    (source / "setup.cfg").write_text(textwrap.dedent(PLUGIN_SETUP))
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    target = tmp_path_factory.mktemp("plugin_installed")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + ["--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert list(target.glob("rnnkit_relu_elman-0.1.dist-info/entry_points.txt"))
    return target


def _rnnkit(plugin_path, *argv):
    path = os.pathsep.join(filter(None, [str(plugin_path), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "keras_rnnkit_cli", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_the_help_lists_the_installed_family_without_importing_it(plugin_path):
    completed = _rnnkit(plugin_path, "train", "--help")
    assert completed.returncode == 0, completed.stderr
    help_text = " ".join(completed.stdout.split())
    assert "elman, jordan, narx, tdnn, relu_elman (from rnnkit-relu-elman)" in help_text


def test_the_registry_registers_the_installed_family_after_the_built_in_ones(plugin_path):
    code = (
        "import json; from keras_rnnkit.models import get_family, registered_families\n"
        "print(json.dumps([registered_families(), get_family('relu_elman').description]))"
    )
    path = os.pathsep.join(filter(None, [str(plugin_path), os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
        check=True,
    )
    names, description = json.loads(completed.stdout.strip().splitlines()[-1])
    assert names == ["elman", "jordan", "narx", "tdnn", "relu_elman"]
    assert description == "Elman with ReLU (a plugin)"


@pytest.mark.slow
def test_rnnkit_train_trains_the_installed_family(plugin_path, tmp_path):
    out = tmp_path / "run"
    completed = _rnnkit(
        plugin_path,
        *("train", "--model", "relu_elman", "--task", "adding", "--window", "5"),
        *("--epochs", "1", "--quiet", "--out", str(out)),
    )
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "relu_elman" and math.isfinite(metrics["test"]["loss"])
    with zipfile.ZipFile(out / "model.keras") as archive:
        config = archive.read("config.json").decode()
    # The plugin's layer: an ElmanRNN with ReLU, which no built-in family makes.
    assert '"class_name": "ElmanRNN"' in config and '"activation": "relu"' in config
