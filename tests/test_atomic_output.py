"""Nothing a user saved is lost: a replacement killed at any step leaves a whole result.

The CLI's output folders (`_atomic.new_output_folder`) and the exporters' files
and folders (`export.paths.staged`) are replaced through `keras_rnnkit._atomic`.
Here a forked child replaces a result and SIGKILLs itself just before or just
after each of its file-system steps (every `os.replace` and `shutil.rmtree`);
the next run's start must then find the old or the new result, whole, and a
clean run must leave nothing else beside it. No backend is involved.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest

from keras_rnnkit import _atomic
from keras_rnnkit.export import paths

OLD = {"a.txt": "old a", "b.txt": "old b"}
NEW = {"a.txt": "new a", "b.txt": "new b", "c.txt": "new c"}


def _write(folder, files):
    for name, text in files.items():
        (folder / name).write_text(text)


def _contents(folder):
    if not folder.is_dir():
        return None
    return {p.name: p.read_text() for p in folder.iterdir()}


def _cli_replace(out):
    with _atomic.new_output_folder(out, overwrite=True) as staging:
        _write(staging, NEW)


def _export_replace(out):
    with paths.staged("test", out, overwrite=True) as new:
        new.mkdir()
        _write(new, NEW)


def _export_replace_file(out):
    with paths.staged("test", out, overwrite=True) as new:
        new.write_text("new")


# JAX warns at every fork that a multithreaded parent may deadlock its child; the
# child here only renames files and never touches JAX, so the warning does not apply.
FORK_IS_SAFE_HERE = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")


def _killed_at(step, when, action, out):
    """Runs `action(out)` in a forked child that SIGKILLs itself at file-system step `step`.

    Returns True if the child was killed, False if it finished (fewer steps).
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            calls = [0]

            def at_step(function):
                def wrapped(*args, **kwargs):
                    if calls[0] == step and when == "before":
                        os.kill(os.getpid(), signal.SIGKILL)
                    result = function(*args, **kwargs)
                    if calls[0] == step and when == "after":
                        os.kill(os.getpid(), signal.SIGKILL)
                    calls[0] += 1
                    return result

                return wrapped

            os.replace = at_step(os.replace)
            shutil.rmtree = at_step(shutil.rmtree)
            action(out)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _kill_at_every_step(tmp_path, action, start_of_next_run, make_old, read, old=OLD, new=NEW):
    """Kills `action` at each step in turn; returns the results seen after each kill."""
    seen = []
    for step in range(50):
        for when in ("before", "after"):
            parent = tmp_path / f"{step}-{when}"
            parent.mkdir()
            out = parent / "result"
            make_old(out)
            if not _killed_at(step, when, action, out):
                assert seen, "the replacement took no step that could be killed"
                return seen
            start_of_next_run(out)
            seen.append(read(out))
            assert seen[-1] in (old, new), (step, when, seen[-1])
            action(out)  # a clean run afterwards
            assert sorted(p.name for p in parent.iterdir()) == ["result"], (step, when)
            assert read(out) == new
    raise AssertionError("the replacement never finished")


def _old_folder(out):
    out.mkdir()
    _write(out, OLD)


@pytest.mark.parametrize(
    "action, start_of_next_run",
    [
        (_cli_replace, lambda out: _atomic.refuse_existing(out, overwrite=True)),
        (_export_replace, lambda out: paths.check_target("test", out, overwrite=True)),
    ],
    ids=["cli_output_folder", "export_folder"],
)
@FORK_IS_SAFE_HERE
def test_a_kill_at_any_step_leaves_the_old_or_the_new_folder(tmp_path, action, start_of_next_run):
    seen = _kill_at_every_step(tmp_path, action, start_of_next_run, _old_folder, _contents)
    assert all(result in (OLD, NEW) for result in seen), seen
    assert OLD in seen and NEW in seen  # kills landed both before and after the swap


@FORK_IS_SAFE_HERE
def test_a_kill_at_any_step_leaves_the_old_or_the_new_file(tmp_path):
    seen = _kill_at_every_step(
        tmp_path,
        _export_replace_file,
        lambda out: paths.check_target("test", out, overwrite=True),
        lambda out: out.write_text("old"),
        lambda out: out.read_text() if out.is_file() else None,
        old="old",
        new="new",
    )
    assert set(seen) <= {"old", "new"}, seen


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_new_folders_honour_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        _cli_replace(tmp_path / "cli")
        _export_replace(tmp_path / "export")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(previous)
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    assert expected == 0o777 & ~umask
    for name in ("cli", "export"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_our_own_leftovers_of_dead_runs_are_swept(tmp_path):
    out = tmp_path / "result"
    _old_folder(out)
    # Another running process (this one knows which of its own entries it uses).
    dead, alive = _dead_pid(), os.getppid()
    ours_dead = [f".result.rnnkit-{kind}-{dead}-0123abcd" for kind in ("staging", "previous")]
    kept = [
        f".result.rnnkit-staging-{alive}-0123abcd",  # a run in progress
        f".other.rnnkit-staging-{dead}-0123abcd",  # another target's
        ".result-notes",
        ".result.backup",
        "result.rnnkit-staging",
    ]
    for name in ours_dead + kept:
        (tmp_path / name).mkdir()
    _atomic.refuse_existing(out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["result", *kept])
    assert _contents(out) == OLD


def test_a_result_left_aside_is_put_back_and_then_refused(tmp_path, capsys):
    out = tmp_path / "result"
    aside = tmp_path / f".result.rnnkit-previous-{_dead_pid()}-0123abcd"
    aside.mkdir()
    _write(aside, OLD)
    with pytest.raises(FileExistsError, match="exists"):
        _atomic.refuse_existing(out, overwrite=False)
    assert _contents(out) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_a_failed_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "result"
    _old_folder(out)
    replace = os.replace

    def fail_to_rename_the_new_one_in(source, target):
        if pathlib.Path(source).parent != tmp_path:  # the new result, from its staging folder
            raise OSError("disk full")
        return replace(source, target)

    monkeypatch.setattr(os, "replace", fail_to_rename_the_new_one_in)
    with pytest.raises(OSError, match="disk full"):
        _cli_replace(out)
    assert _contents(out) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


@pytest.mark.parametrize("action", [_cli_replace, _export_replace], ids=["cli", "export"])
def test_an_old_result_that_could_not_be_deleted_goes_at_the_next_replacement(
    tmp_path, monkeypatch, action
):
    # It used to stay beside the result for as long as this process ran, and for good
    # where it could never be deleted by a later run either.
    out = tmp_path / "result"
    _old_folder(out)
    remove = _atomic._remove
    with monkeypatch.context() as patched:
        patched.setattr(_atomic, "_remove", lambda path: None)  # the deletion fails
        action(out)
    assert _contents(out) == NEW
    (aside,) = [p for p in tmp_path.iterdir() if p.name != "result"]
    assert aside.name.startswith(f".result.rnnkit-previous-{os.getpid()}-")
    assert _atomic._remove is remove
    action(out)  # the next replacement, in the same process
    assert _contents(out) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_a_replacement_in_progress_in_this_process_is_not_swept(tmp_path):
    out = tmp_path / "result"
    _old_folder(out)
    with _atomic.new_output_folder(out, overwrite=True) as staging:
        _write(staging, NEW)
        _atomic.recover(out)  # e.g. another thread's replacement of the same path
        assert _contents(staging) == NEW
    assert _contents(out) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]
