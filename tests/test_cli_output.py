"""What `rnnkit` writes where a user reads it: plain progress lines when stdout is not a
terminal (a log, a pipe), and one line, nothing written, when the user presses Ctrl-C."""

import os
import signal
import subprocess
import sys

import keras
import pytest

import keras_rnnkit_cli
from keras_rnnkit import _progress
from keras_rnnkit import cli as commands

# The escape and carriage-return characters a redrawn progress bar writes.
REDRAWS = ("\r", "\x1b")


def _rnnkit(*argv):
    return [sys.executable, "-m", "keras_rnnkit_cli", *argv]


def test_train_writes_plain_epoch_lines_into_a_pipe(tmp_path):
    completed = subprocess.run(
        _rnnkit(
            "train",
            "--model",
            "elman",
            "--task",
            "xor",
            "--epochs",
            "3",
            "--units",
            "4",
            "--out",
            str(tmp_path / "run"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert not any(char in completed.stdout for char in REDRAWS), completed.stdout[:500]
    assert "Epoch 3/3" in completed.stdout


def test_epoch_progress_prints_about_ten_plain_lines_off_a_terminal(capsys):
    progress = _progress.EpochProgress("training elman (2 members)", 45)
    progress.on_train_begin()
    for epoch in range(45):
        progress.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "training elman (2 members)"
    assert lines[-1] == "  epoch 45/45, loss 0.02222"
    assert len(lines) - 1 == 12  # every 4th epoch (45 // 10), and the last
    assert not any(char in "".join(lines) for char in REDRAWS)


def test_epoch_progress_counts_passes_where_each_fit_epoch_makes_several(capsys):
    progress = _progress.EpochProgress("training jordan (5 members)", 2100, passes_per_epoch=10)
    progress.on_train_begin()
    for epoch in range(210):
        progress.on_epoch_end(epoch, {"loss": 0.5})
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [f"  epoch {210 * k}/2100, loss 0.5" for k in range(1, 11)]


def test_fit_verbosity_is_a_bar_on_a_terminal_and_lines_elsewhere(monkeypatch):
    assert _progress.fit_verbosity(quiet=True) == 0
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert _progress.fit_verbosity(quiet=False) == 1
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert _progress.fit_verbosity(quiet=False) == 2


def test_an_interrupted_command_ends_with_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(commands.COMMANDS, "train", interrupted)
    code = keras_rnnkit_cli.main(["train", "--model", "elman", "--task", "xor", "--out", "x"])
    error = capsys.readouterr().err
    assert code == 130
    assert error.splitlines() == ["rnnkit train: interrupted; nothing was written"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_during_training_leaves_no_output_and_one_line(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--task", "xor", "--epochs", "100000", "--units", "4"]
    argv += ["--patience", "100000"]  # it never ends on its own
    # As a terminal's Ctrl-C finds it: a job started in the background (CI, nohup)
    # inherits SIGINT ignored, and Python then keeps ignoring it. The child restores it
    # itself: a `preexec_fn` would fork through Python, which JAX warns against.
    restored = "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    restored += "runpy.run_module('keras_rnnkit_cli', run_name='__main__', alter_sys=True)"
    process = subprocess.Popen(
        [sys.executable, "-c", restored, *argv, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
    )
    try:
        # Interrupted while it trains: after its first epoch line.
        for line in process.stdout:
            if line.startswith("Epoch 2/"):
                break
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert error.strip().splitlines() == ["rnnkit train: interrupted; nothing was written"]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name != "run"]
