"""Packaging: no backend in the base install, one line when none is installed, links that work
off the repository."""

import configparser
import pathlib
import re
import subprocess
import sys

import pytest

from tests.blocked_imports import BLOCK

ROOT = pathlib.Path(__file__).resolve().parent.parent
BACKENDS = ["tensorflow", "jax", "torch"]

_BLOCK = BLOCK + "import keras_rnnkit\n"


def _setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _requirements(text):
    return [re.split(r"[<>=!\[; ]", line.strip())[0] for line in text.strip().splitlines()]


def test_base_install_needs_no_backend():
    required = _requirements(_setup_cfg()["options"]["install_requires"])
    assert sorted(required) == ["keras", "numpy"]


def test_each_backend_is_an_extra_and_dev_has_the_default_one():
    extras = _setup_cfg()["options.extras_require"]
    assert _requirements(extras["tensorflow"]) == ["tensorflow"]
    assert _requirements(extras["tensorflow-cpu"]) == ["tensorflow-cpu"]
    assert _requirements(extras["jax"]) == ["jax", "jaxlib"]
    assert _requirements(extras["torch"]) == ["torch"]
    assert "tensorflow" in _requirements(extras["dev"])
    assert set(_requirements(extras["docs"])) <= set(_requirements(extras["dev"]))


def _import_without_backends(monkeypatch, backend):
    if backend is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", backend)
    completed = subprocess.run(
        [sys.executable, "-c", _BLOCK.format(blocked=BACKENDS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: keras_rnnkit: ")
    return last


def test_import_without_the_default_backend_names_every_extra_in_one_line(monkeypatch):
    last = _import_without_backends(monkeypatch, None)
    assert "is not installed: pip install tensorflow (or tensorflow-cpu)" in last
    assert "or pip install jax / torch and set KERAS_BACKEND=jax / torch." in last


@pytest.mark.parametrize("backend", BACKENDS)
def test_import_without_the_chosen_backend_names_its_extra_in_one_line(backend, monkeypatch):
    last = _import_without_backends(monkeypatch, backend)
    # The backend's own package: a command that needs no package index for keras-rnnkit.
    assert f"is not installed: pip install {backend}" in last and last.endswith(".")
    if backend == "torch":
        assert "--index-url https://download.pytorch.org/whl/cpu" in last


def test_license_is_the_apache_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert _setup_cfg()["metadata"]["license_expression"] == "Apache-2.0"


def test_readme_links_work_off_the_repository():
    # README.md is the long description on PyPI, where relative links break.
    targets = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert targets
    assert [t for t in targets if not t.startswith(("https://", "#"))] == []


def test_the_package_holds_no_test_setup():
    # The wheel ships keras_rnnkit/ whole: pytest's conftest files live outside it.
    assert sorted((ROOT / "keras_rnnkit").rglob("conftest.py")) == []
