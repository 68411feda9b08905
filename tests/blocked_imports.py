"""Code for `python -c` that makes top-level modules look uninstalled, as in a venv without them.

`BLOCK.format(blocked=[...])` is the code's first lines; what follows runs as if the modules
named were missing (their import raises ModuleNotFoundError).
"""

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""
