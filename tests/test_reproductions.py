"""benchmarks/reproductions.py: every row runs at smoke size and is recorded seed by seed."""

import json
import math
import subprocess

import pytest

from benchmarks import reproductions


def _checkout_commit():
    """HEAD's short commit, as the stamp records it; None outside a git checkout (the sdist)."""
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


@pytest.mark.slow
def test_smoke_run_records_every_row(tmp_path):
    out = tmp_path / "reproductions.json"
    assert reproductions.main(["--smoke", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    runnable = {name for name, row in reproductions.ROWS.items() if row.example is not None}
    assert set(results) == runnable
    for name, entry in results.items():
        assert entry["smoke"] is True and entry["stamp"]["commit"] == _checkout_commit()
        assert [run["seed"] for run in entry["runs"]] == [0]
        figures = entry["runs"][0]["figures"]
        assert {f.key for f in reproductions.ROWS[name].figures} <= set(figures)
        assert all(math.isfinite(value) for value in figures.values())
        assert entry["runs"][0]["seconds"] > 0
    assert (tmp_path / "plots" / "xor" / "seed0" / "temporal_xor_error.png").exists()


def test_smoke_and_full_runs_never_share_a_file(tmp_path, capsys):
    out = tmp_path / "reproductions.json"
    out.write_text(json.dumps({"jordan": {"smoke": False}}))
    with pytest.raises(SystemExit):
        reproductions.main(["--smoke", "--only", "xor", "--out", str(out)])
    assert "holds rows ['jordan'] run without --smoke" in capsys.readouterr().err


def test_rows_without_a_script_cannot_be_run(capsys):
    with pytest.raises(SystemExit):
        reproductions.main(["--only", "sunspots"])
    assert "invalid choice: 'sunspots'" in capsys.readouterr().err
