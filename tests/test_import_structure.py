"""The package's structure: no import cycles between its parts, and a core apart from the
applications. Read from the source of both packages, `keras_rnnkit` and `keras_rnnkit_cli`
(every import, also those inside functions), and checked in fresh processes."""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("keras_rnnkit", "keras_rnnkit_cli")
# The core: the layers and what they are made of, and what a saved model may hold. Nothing
# in it may import an application (tuning, export, data, forecasting, models, cli) or the
# command-line package.
CORE = {
    "layers",
    "backend",
    "regularizers",
    "initializers",
    "constraints",
    "losses",
    "training",
    "_arguments",
    "_atomic",
    "_api",
    "_backend_check",
    "_model_layers",
    "_series_forecaster",
}
APPLICATIONS = {"data", "forecasting", "models", "tuning", "export", "cli"}


def _modules():
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = (package, *path.relative_to(ROOT / package).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _in_packages(name):
    return name.split(".")[0] in PACKAGES


def _imports(path, modules):
    """The two packages' modules that `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if _in_packages(alias.name)}
        elif isinstance(node, ast.ImportFrom) and _in_packages(node.module or ""):
            # `from keras_rnnkit import arguments` imports the module `arguments`; `from
            # keras_rnnkit.layers import ElmanRNN` imports `layers` (its __init__).
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in modules]
            found |= set(submodules) if len(submodules) == len(names) else {node.module}
    return found


def _part(module):
    """The part a module belongs to: `layers`, `tuning`, `cli`, the root package itself
    (`<root>`), or the whole command-line package (`keras_rnnkit_cli`)."""
    package, _, rest = module.partition(".")
    if package == "keras_rnnkit_cli":
        return package
    return rest.split(".")[0] if rest else "<root>"


def _graph():
    modules = _modules()
    graph = {}
    for module, path in modules.items():
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
    # The test reads real edges: the layers use the backend, the command-line package runs
    # the commands of `keras_rnnkit.cli`, which uses tuning.
    graph = _graph()
    assert "backend" in graph["layers"] and "tuning" in graph["cli"]
    assert "cli" in graph["keras_rnnkit_cli"]
    assert {"layers", "training"} <= graph["<root>"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_part_of_the_package_imports_the_package_itself():
    graph = _graph()
    assert [part for part, imported in graph.items() if "<root>" in imported] == []


def test_the_parts_of_both_packages_have_no_import_cycle():
    assert _cycle(_graph()) is None


def test_the_library_never_imports_the_command_line_package():
    graph = _graph()
    assert [part for part, imported in graph.items() if "keras_rnnkit_cli" in imported] == []


def test_the_command_line_package_imports_only_the_commands_module_and_inside_functions():
    # Argument parsing and help import nothing from the library: its one import of it is
    # `keras_rnnkit.cli`, inside `main`, once a command runs.
    modules = _modules()
    for module, path in modules.items():
        if _part(module) != "keras_rnnkit_cli":
            continue
        library = {m for m in _imports(path, modules) if m.split(".")[0] == "keras_rnnkit"}
        assert library <= {"keras_rnnkit.cli"}, module
        assert not _top_level_imports(path) & library, module


def _top_level_imports(path):
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


@pytest.mark.parametrize("part", sorted(CORE))
def test_the_core_imports_only_the_core(part):
    assert _graph().get(part, set()) <= CORE


def test_the_root_package_imports_only_the_core():
    assert _graph()["<root>"] <= CORE


def _loaded_in_a_fresh_process(statement):
    code = (
        f"import json, sys\n{statement}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{PACKAGES!r})))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import keras_rnnkit", "import keras_rnnkit.layers"])
def test_importing_the_library_loads_the_core_and_nothing_else(statement):
    loaded = _loaded_in_a_fresh_process(statement)
    parts = {_part(module) for module in loaded}
    assert parts <= CORE | {"<root>"}, sorted(parts - CORE - {"<root>"})
    assert "layers" in parts and "keras_rnnkit.layers.elman" in loaded


def test_an_application_loads_when_first_used():
    loaded = _loaded_in_a_fresh_process(
        "import keras_rnnkit\n"
        "assert keras_rnnkit.models.FAMILIES == ('elman', 'jordan', 'narx', 'tdnn')"
    )
    assert "keras_rnnkit.models.families" in loaded
    assert not [module for module in loaded if _part(module) in {"tuning", "export", "cli"}]
