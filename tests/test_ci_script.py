"""`.ci/run` cleans up after itself: its multi-GB venv is removed on every exit."""

import os
import pathlib
import subprocess

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
