"""The library's tasks and families, read for the help texts without importing the library.

`import keras_rnnkit` imports keras and its backend (seconds); `--help` must not wait for it,
nor fail where no backend is installed. So this module reads what the library declares as
data, never its code:

- the built-in tasks: `keras_rnnkit/data/tasks.json`, found beside the package by
  `importlib.util.find_spec`, which locates a top-level package without running it;
- the model families: the entry-point group `keras_rnnkit.families` of the installed
  packages' metadata, keras_rnnkit's own first, then the plugins'.

The library's own lists (`keras_rnnkit.data.TASKS`, `keras_rnnkit.models.registered_families`)
are what a command checks its arguments against, once it runs.
"""

import importlib.util
import json
import pathlib
import re
from importlib import metadata

FAMILY_GROUP = "keras_rnnkit.families"
_LIBRARY = "keras_rnnkit"


def tasks():
    """`{name: description}` of the built-in tasks, in the library's order ({} if not found)."""
    spec = importlib.util.find_spec(_LIBRARY)
    if spec is None or not spec.submodule_search_locations:
        return {}
    for location in spec.submodule_search_locations:
        path = pathlib.Path(location) / "data" / "tasks.json"
        if path.is_file():
            listed = json.loads(path.read_text(encoding="utf-8"))
            return {name: fields["description"] for name, fields in listed.items()}
    return {}


def families():
    """The installed model families, as `(name, distribution)` pairs: keras_rnnkit's first."""
    entries = metadata.entry_points(group=FAMILY_GROUP)
    pairs = [(entry.name, _distribution(entry)) for entry in entries]
    return sorted(pairs, key=lambda pair: pair[1] != "keras-rnnkit")


def _distribution(entry):
    distribution = getattr(entry, "dist", None)
    name = "" if distribution is None else distribution.name
    return re.sub(r"[-_.]+", "-", name).lower()
