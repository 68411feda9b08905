"""The package's structure: no import cycles between its parts, and a core apart from the
applications. Read from the source (every import, also those inside functions)."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_rnnkit"
# The core: the layers and what they are made of. Nothing in it may import an application
# (training, tuning, export, data, forecasting, models, the CLI).
CORE = {"layers", "backend", "_arguments", "_api"}


def _modules():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("keras_rnnkit", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _in_package(name):
    return name.split(".")[0] == "keras_rnnkit"  # not keras_rnnkit_cli, the light CLI


def _imports(path, modules):
    """The package's modules that `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if _in_package(alias.name)}
        elif isinstance(node, ast.ImportFrom) and _in_package(node.module or ""):
            # `from keras_rnnkit import arguments` imports the module `arguments`; `from
            # keras_rnnkit.layers import ElmanRNN` imports `layers` (its __init__).
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in modules]
            found |= set(submodules) if len(submodules) == len(names) else {node.module}
    return found


def _part(module):
    """The part of the package a module belongs to: `layers`, `tuning`, `cli`, ..."""
    return module.split(".")[1] if "." in module else "<root>"


def _graph():
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        if module == "keras_rnnkit":
            continue  # the public API: it re-exports the parts, and no part may import it
        for imported in _imports(path, modules):
            graph.setdefault(_part(module), set()).add(_part(imported))
    for part in graph:
        graph[part].discard(part)
    return graph


def _cycle(graph):
    """One cycle of `graph` as a list of parts, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt] if nxt in stack else [node, nxt]
            if nxt not in state:
                found = visit(nxt, [*stack, nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_the_reader_finds_the_imports_it_must():
    # The test reads real edges: the layers use the backend, the CLI uses tuning.
    graph = _graph()
    assert "backend" in graph["layers"] and "tuning" in graph["cli"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_part_of_the_package_imports_the_package_itself():
    graph = _graph()
    assert [part for part, imported in graph.items() if "<root>" in imported] == []


def test_the_parts_of_the_package_have_no_import_cycle():
    assert _cycle(_graph()) is None


@pytest.mark.parametrize("part", sorted(CORE))
def test_the_core_imports_no_application_code(part):
    assert _graph().get(part, set()) <= CORE
