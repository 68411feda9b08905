"""Replace a file or folder so that a kill at any moment loses nothing.

A new result is written into a staging folder beside its place (one file
system, so every move is a rename), then swapped in: the old result is
renamed aside, the new one renamed into place, and only then is the old one
deleted. A run killed part-way leaves hidden entries of this module's own
naming beside the target::

    .NAME.rnnkit-staging-PID-TOKEN    a new result being written
    .NAME.rnnkit-previous-PID-TOKEN   the old result, moved aside

`recover(path)`, which every replacement runs first, puts an old result back
if a kill left it aside with no new one in place, and removes the other
leftovers: those of dead processes, and those of this process that it no
longer uses (an old result whose deletion failed); never those of another
running process, never anything else. So `path` holds a whole result, old or
new, once `recover` has run, and a leftover is gone after the next replacement.

New folders and files get the permissions the umask allows, as `mkdir` and
`open` give them (not `tempfile`'s owner-only 0o700/0o600).

Example:

>>> import pathlib, tempfile
>>> from keras_rnnkit import _atomic
>>> out = pathlib.Path(tempfile.mkdtemp()) / "result"
>>> with _atomic.replacing(out, folder=True) as staging:
...     _ = (staging / "metrics.json").write_text("{}")
>>> sorted(p.name for p in out.parent.iterdir())
['result']
"""

import contextlib
import os
import pathlib
import re
import secrets
import shutil

_LEFTOVER = re.compile(
    r"\.(?P<name>.+)\.rnnkit-(?P<kind>staging|previous)-(?P<pid>\d+)-[0-9a-f]{8}"
)


def _exists(path):
    return path.exists() or path.is_symlink()


def _remove(path):
    # What cannot be deleted stays a leftover, which the next `recover` removes.
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


# The names of the staging and aside entries this process is using now (each name holds
# a random token): its other entries are leftovers (an old result it could not delete),
# which `recover` removes.
_IN_USE = set()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _name(path, kind):
    return path.parent / f".{path.name}.rnnkit-{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _left_over(entry, pid):
    """Whether the staging or aside `entry` of process `pid` is no longer in use."""
    if pid == os.getpid():
        return entry.name not in _IN_USE
    return not _alive(pid)


def _leftovers(path):
    """`(kind, entry)` for each staging or aside entry of `path` no process uses: one
    left by a dead process, or by this one (an old result it could not delete)."""
    found = []
    for entry in path.parent.iterdir():
        match = _LEFTOVER.fullmatch(entry.name)
        if match and match["name"] == path.name and _left_over(entry, int(match["pid"])):
            found.append((match["kind"], entry))
    return found


def recover(path):
    """Undoes what a killed replacement of `path` left behind.

    An old result moved aside with nothing in its place is renamed back to
    `path`; every other leftover of a dead process (a half-written new result,
    an old one already replaced) is removed.

    Args:
        path: The file or folder that `replacing` replaces.
    """
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        return
    leftovers = _leftovers(path)
    aside = [entry for kind, entry in leftovers if kind == "previous"]
    if aside and not _exists(path):
        newest = max(aside, key=lambda entry: entry.lstat().st_mtime)
        os.replace(newest, path)
        leftovers = [(kind, entry) for kind, entry in leftovers if entry != newest]
    for _, entry in leftovers:
        _remove(entry)


def _swap_into_place(new, path):
    if not _exists(path) or (new.is_file() and path.is_file() and not path.is_symlink()):
        os.replace(new, path)  # one rename: atomic
        return
    # A folder cannot be renamed over a non-empty one: move the old one aside
    # first; `recover` renames it back if a kill comes before the new one is in.
    aside = _name(path, "previous")
    _IN_USE.add(aside.name)
    try:
        os.replace(path, aside)
        try:
            os.replace(new, path)
        except BaseException:
            os.replace(aside, path)
            raise
        # Should this fail part-way, the rest is a leftover that `recover` removes.
        _remove(aside)
    finally:
        _IN_USE.discard(aside.name)


@contextlib.contextmanager
def replacing(path, *, folder=False):
    """Yields where to write the new `path`; moves it into place when the body succeeds.

    Args:
        path: The file or folder to create or replace.
        folder: If True, the yielded path is an empty folder; else it does
            not exist yet and the body creates it (a file or a folder).
            Default: False.

    Yields:
        A `pathlib.Path` named like `path`, inside a staging folder beside it.

    Raises:
        FileNotFoundError: If the body wrote nothing at the yielded path.

    If the body raises (or the process is killed), `path` is left as it was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    staging = _name(path, "staging")
    _IN_USE.add(staging.name)
    try:
        os.mkdir(staging)  # mode 0o777 less the umask
        new = staging / path.name
        if folder:
            new.mkdir()
        yield new
        if not _exists(new):
            raise FileNotFoundError(f"nothing was written at {str(new)!r}")
        _swap_into_place(new, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _IN_USE.discard(staging.name)


def write_text(path, text):
    """Writes `text` to the file `path` by a rename: a kill leaves the old or the new file.

    Args:
        path: The file to create or replace.
        text: A string, written as UTF-8.
    """
    path = pathlib.Path(path)
    recover(path)
    partial = _name(path, "staging")
    _IN_USE.add(partial.name)
    try:
        with open(partial, "x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        _IN_USE.discard(partial.name)


def refuse_existing(out, overwrite):
    """Fails early, before any training, if `out` exists and may not be replaced."""
    recover(out)  # a result a killed run left aside counts as existing
    if pathlib.Path(out).exists() and not overwrite:
        raise FileExistsError(
            f"the output folder {str(out)!r} exists; choose another --out, or pass "
            "--overwrite to replace it"
        )


@contextlib.contextmanager
def new_output_folder(out, overwrite):
    """Yields a staging folder beside `out`, moved into place only when complete.

    A run that fails or is killed part-way leaves `out` as it was (see
    this module); an existing `out` is replaced only with `overwrite`.
    """
    refuse_existing(out, overwrite)
    with replacing(out, folder=True) as staging:
        yield staging
