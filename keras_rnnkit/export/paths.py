"""Nothing is lost: refuse to replace what exists, and move a finished export into place."""

import contextlib
import os
import pathlib
import shutil
import tempfile


def check_target(owner, path, overwrite):
    """Returns `path` as a `pathlib.Path`; refuses one that exists unless `overwrite`."""
    if not isinstance(overwrite, bool):
        raise ValueError(
            f"{owner}: `overwrite` must be True or False. Received: overwrite={overwrite!r}"
        )
    path = pathlib.Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{owner}: `path` already exists and would be replaced; pass overwrite=True "
            f"to replace it, or choose another path. Received: path={str(path)!r}"
        )
    return path


@contextlib.contextmanager
def staged(owner, path, overwrite):
    """Yields a temporary path beside `path`; moves it into place on success.

    The export is written into a hidden folder in the same directory (so the
    final move is a rename on one file system). If the body raises, the
    temporary folder is removed and `path` is left exactly as it was; an
    existing `path` (with `overwrite=True`) is only moved aside once the new
    artefact is complete, and moved back if the swap fails.
    """
    path = check_target(owner, path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(
        tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    )
    try:
        new = staging / path.name
        yield new
        if not (new.exists() or new.is_symlink()):
            raise RuntimeError(f"{owner}: the export wrote nothing at {str(new)!r}")
        _swap_into_place(new, path, staging / "previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(new, path, aside):
    if not (path.exists() or path.is_symlink()):
        os.replace(new, path)
        return
    os.replace(path, aside)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(aside, path)
        raise
