"""Nothing is lost: refuse to replace what exists, and move a finished export into place."""

import contextlib
import pathlib

from keras_rnnkit import _atomic


def check_target(owner, path, overwrite):
    """Returns `path` as a `pathlib.Path`; refuses one that exists unless `overwrite`.

    A result that a killed earlier export left aside is first put back (see
    `keras_rnnkit._atomic.recover`), so it counts as existing.
    """
    if not isinstance(overwrite, bool):
        raise ValueError(
            f"{owner}: `overwrite` must be True or False. Received: overwrite={overwrite!r}"
        )
    path = pathlib.Path(path)
    _atomic.recover(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{owner}: `path` already exists and would be replaced; pass overwrite=True "
            f"to replace it, or choose another path. Received: path={str(path)!r}"
        )
    return path


@contextlib.contextmanager
def staged(owner, path, overwrite):
    """Yields a temporary path beside `path`; moves it into place on success.

    The export is written into a hidden staging folder in the same directory
    and renamed into place (`keras_rnnkit._atomic.replacing`). If the body
    raises, `path` is left exactly as it was; an existing `path` (with
    `overwrite=True`) is only moved aside once the new artefact is complete,
    and deleted once the new one is in place.
    """
    path = check_target(owner, path, overwrite)
    with _atomic.replacing(path) as new:
        yield new
        if not (new.exists() or new.is_symlink()):
            raise RuntimeError(f"{owner}: the export wrote nothing at {str(new)!r}")
