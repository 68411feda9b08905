"""The Python examples of the README and of docs/ run as written."""

import pathlib
import re

import pytest

from keras_rnnkit.models import families

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages about TensorFlow-only features (SavedModel, TFLite, tf.distribute) run on TensorFlow only.
TENSORFLOW_ONLY_PAGES = {"deployment.md", "distribution.md"}
# Blocks that train or search for several seconds: the slow tier.
SLOW_BLOCKS = {
    "tuning.md[0]",
    "deployment.md[3]",
    "training.md[3]",
    "forecasting.md[0]",
    "forecast.md[0]",
}
BLOCKS = [
    pytest.param(
        page,
        index,
        block,
        id=f"{page.name}[{index}]",
        marks=[pytest.mark.tensorflow_only] * (page.name in TENSORFLOW_ONLY_PAGES)
        + [pytest.mark.slow] * (f"{page.name}[{index}]" in SLOW_BLOCKS),
    )
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL))
]


def test_docs_have_python_examples():
    assert {param.values[0].name for param in BLOCKS} >= {"README.md", "training.md"}
    # A renamed or removed block must not leave a stale name here.
    assert SLOW_BLOCKS <= {param.id for param in BLOCKS}


@pytest.mark.parametrize("page,index,block", BLOCKS)
def test_python_block_runs(page, index, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may save files
    # Examples may register a model family: for this test only.
    monkeypatch.setattr(families, "_REGISTRY", dict(families._REGISTRY))
    exec(compile(block, f"{page.name}[python block {index}]", "exec"), {})
