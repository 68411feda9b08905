"""The API reference (docs/api/*.md, rendered by mkdocstrings) documents every public symbol."""

import importlib
import pathlib
import re
import types

import pytest

from tests.test_public_api import OPT_IN_MODULES
from tests.test_public_api import PUBLIC_API

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Imported by `import keras_rnnkit`; the opt-in ones (export, tuning) come from the golden list,
# so that this test needs neither keras-tuner nor TensorFlow's converters.
MODULES = [
    "constraints",
    "data",
    "forecasting",
    "initializers",
    "models",
    "regularizers",
    "training",
]


def _documented():
    pages = sorted((ROOT / "docs" / "api").glob("*.md"))
    return {name for page in pages for name in re.findall(r"^::: (\S+)$", page.read_text(), re.M)}


def _public(module):
    return [
        f"{module.__name__}.{name}"
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    ]


@pytest.mark.parametrize("module", ["keras_rnnkit", *MODULES, *sorted(OPT_IN_MODULES)])
def test_every_public_symbol_has_an_api_entry(module):
    if module == "keras_rnnkit":
        expected = [f"keras_rnnkit.{name}" for name in PUBLIC_API]
    elif module in OPT_IN_MODULES:
        expected = [f"keras_rnnkit.{module}.{name}" for name in OPT_IN_MODULES[module]]
    else:
        expected = _public(importlib.import_module(f"keras_rnnkit.{module}"))
    assert expected
    assert sorted(set(expected) - _documented()) == []


def test_every_api_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        assert f"api/{page.name}" in nav


def test_pages_the_package_points_at_are_on_the_site():
    # The CLI's help and some docstrings say "see docs/X.md": each must be a page of the site.
    nav = (ROOT / "mkdocs.yml").read_text()
    pointed = {
        page
        for source in (ROOT / "keras_rnnkit").rglob("*.py")
        for page in re.findall(r"docs/(\w+\.md)", source.read_text())
    }
    assert pointed
    assert sorted(page for page in pointed if f": {page}" not in nav) == []
