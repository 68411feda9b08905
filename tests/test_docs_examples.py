"""The Python examples of the README and of docs/ run as written."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (page, index, block)
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL))
]


def test_docs_have_python_examples():
    assert {page.name for page, _, _ in BLOCKS} >= {"README.md", "training.md"}


@pytest.mark.parametrize("page,index,block", BLOCKS, ids=[f"{p.name}[{i}]" for p, i, _ in BLOCKS])
def test_python_block_runs(page, index, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may save files
    exec(compile(block, f"{page.name}[python block {index}]", "exec"), {})
