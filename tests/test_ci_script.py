"""`.ci/run` cleans up after itself (its multi-GB venv is removed on every exit), and
runs both test tiers on every backend."""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A stand-in `python3`: makes the venv folder (with an `activate` that puts a
# failing `python` first on PATH), so the script stops at its first pip call.
FAKE_PYTHON3 = """#!/bin/sh
mkdir -p "$3/bin"
printf 'PATH="%s/bin:$PATH"\\n' "$3" > "$3/bin/activate"
printf '#!/bin/sh\\nexit 3\\n' > "$3/bin/python"
chmod +x "$3/bin/python"
"""


def test_ci_run_removes_its_venv_when_it_fails(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python3").write_text(FAKE_PYTHON3)
    (tools / "python3").chmod(0o755)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "TMPDIR": str(temp)}
    run = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 3, run.stderr
    assert list(temp.iterdir()) == []


# One test per tier and marker; the CI's pytest commands select from it with
# pyproject.toml's settings (its addopts' `-m "not slow"` included).
TIERS = """
import pytest

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_slow_tensorflow_only():
    pass

@pytest.mark.tensorflow_only
def test_tensorflow_only():
    pass

@pytest.mark.application
def test_application():
    pass

@pytest.mark.slow
@pytest.mark.application
def test_slow_application():
    pass

def test_fast():
    pass
"""


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    """The tests of TIERS that a pytest command line (its arguments) selects."""
    folder = tmp_path_factory.mktemp("tiers")
    (folder / "test_tiers.py").write_text(TIERS)
    cache = {}

    def select(*args):
        if args not in cache:
            # Hypothesis's plugin only costs time here (2 s per start).
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest"]
                + ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(folder)]
                + ["--collect-only", "-q", *args, str(folder)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            cache[args] = set(re.findall(r"::(test_\w+)$", run.stdout, re.MULTILINE))
        return cache[args]

    return select


def test_plain_pytest_runs_the_fast_tier_and_a_command_line_marker_replaces_it(selected):
    assert selected() == {"test_fast", "test_tensorflow_only", "test_application"}
    assert selected("-m", "slow") == {
        "test_slow",
        "test_slow_tensorflow_only",
        "test_slow_application",
    }
    assert selected("-m", "not tensorflow_only") == {
        "test_fast",
        "test_slow",
        "test_application",
        "test_slow_application",
    }


def test_ci_runs_both_tiers_on_every_backend_and_the_fast_one_on_the_lowest_keras(selected):
    """Every backend runs the core's tests of both tiers; the applications' run on TensorFlow
    and PyTorch (they are above the layers, the same code on every backend)."""
    script = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"(?:KERAS_BACKEND=(\w+) )?python -m pytest([^)\n]*)", script)
    runs = {}
    for backend, args in commands:
        # pytest-xdist's workers (`-n 2`) change where tests run, not which.
        args = re.sub(r"(^|\s)-n \S+", " ", args)
        runs.setdefault(backend or "tensorflow", []).append(selected(*shlex.split(args)))
    # The README's command, plain `python -m pytest`, comes first.
    assert commands[0] == ("", "")
    core = {"test_fast", "test_slow"}
    applications = {"test_application", "test_slow_application"}
    tensorflow = {"test_tensorflow_only", "test_slow_tensorflow_only"}
    assert set.union(*runs["tensorflow"]) == core | applications | tensorflow
    assert set.union(*runs["jax"]) == core
    # The sdist's run on PyTorch, then the lowest keras: the fast tier only.
    assert runs["torch"] == [core | applications, {"test_fast", "test_application"}]
