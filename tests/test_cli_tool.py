"""`rnnkit` as a command-line tool: --version, global options anywhere, no backend for --help,
no backend log lines, and help texts that match the options."""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
from importlib import metadata

import keras
import pytest

import keras_rnnkit
import keras_rnnkit_cli
from keras_rnnkit import cli as commands
from keras_rnnkit import models
from keras_rnnkit import tuning
from keras_rnnkit.data import TASKS
from keras_rnnkit_cli import catalog
from keras_rnnkit_cli.parser import DOCS
from tests.blocked_imports import BLOCK

ROOT = pathlib.Path(__file__).resolve().parent.parent
FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")

# The command line in a process where the frameworks cannot be imported.
_WITHOUT_FRAMEWORKS = (
    BLOCK
    + """
import keras_rnnkit_cli
try:
    code = keras_rnnkit_cli.main({argv!r})
except SystemExit as exit_:
    code = exit_.code
sys.stdout.flush()
sys.exit(code)
"""
)


def _commands():
    parser = keras_rnnkit_cli.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, subparsers.choices


def _run_without(blocked, argv, env=None):
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_FRAMEWORKS.format(blocked=blocked, argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_:
        keras_rnnkit_cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"rnnkit (keras-rnnkit) {metadata.version('keras-rnnkit')}\n"
    assert metadata.version("keras-rnnkit") == keras_rnnkit.__version__


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "--quiet", "demo", "--smoke"],
        ["demo", "--debug", "--quiet", "--smoke"],
        ["--quiet", "demo", "--smoke", "--debug"],
        ["demo", "--smoke", "--quiet", "--debug"],
    ],
)
def test_global_options_are_accepted_before_or_after_the_command(argv):
    args = keras_rnnkit_cli.build_parser().parse_args(argv)
    assert (args.command, args.debug, args.quiet, args.smoke) == ("demo", True, True, True)


def test_global_options_default_to_off_for_every_command():
    parser, subcommands = _commands()
    for name in subcommands:
        required = {
            "train": ["--model", "elman", "--task", "adding"],
            "gradients": ["--model", "elman", "--task", "adding"],
            "export": ["m.keras", "--format", "onnx", "--out", "o"],
            "forecast": ["m.keras", "--data", "h.csv", "--steps", "2"],
            "backtest": ["--data", "s.csv"],
        }.get(name, [])
        args = parser.parse_args([name, *required])
        assert (args.debug, args.quiet) == (False, False), name


def test_help_and_version_import_no_framework_and_work_without_one():
    # Neither keras nor any backend importable, and no KERAS_BACKEND: as in a fresh venv with
    # only the wheel and none of the backend extras.
    env = {"KERAS_BACKEND": ""}
    for argv in (["--help"], ["--version"], ["train", "--help"], ["tune", "--help"]):
        completed = _run_without(FRAMEWORKS, argv, env)
        assert completed.returncode == 0, completed.stderr
        assert completed.stderr == ""
        assert "usage: rnnkit" in completed.stdout or "rnnkit (keras-rnnkit)" in completed.stdout
    code = (
        "import sys, keras_rnnkit_cli\n"
        "try:\n    keras_rnnkit_cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_a_command_without_a_backend_fails_in_one_line():
    completed = _run_without(
        ["tensorflow", "jax", "torch"],
        ["train", "--model", "elman", "--task", "adding", "--out", "never-written"],
        {"KERAS_BACKEND": "jax"},
    )
    assert completed.returncode == 1
    assert completed.stderr == (
        "rnnkit: error: keras_rnnkit: KERAS_BACKEND=jax but jax is not installed: "
        "pip install jax.\n"
    )


def test_python_dash_m_keras_rnnkit_is_as_quiet_as_the_rnnkit_script():
    """`python -m keras_rnnkit --help` prints the help and nothing else: the package does
    not load the core (and the backend's log lines) before handing over to the command line."""
    completed = subprocess.run(
        [sys.executable, "-m", "keras_rnnkit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert completed.returncode == 0
    assert completed.stderr == ""
    assert completed.stdout.startswith("usage: rnnkit")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--data", "no-such.csv", "--target", "y"], "no-such.csv: no such file"),
        (["train", "--task", "adding", "--window", "2"], "--window must be at least 3"),
        (["gradients", "--task", "adding", "--horizon", "0"], "--horizon must be at least 1"),
        (
            ["train", "--task", "adding", "--units", "16384", "--members", "2"],
            "--members 2 and --units 16384: the models' weights would need about 8.0 GiB",
        ),
        (["export", "no-such.keras", "--format", "onnx"], "expected a saved model file"),
        (
            ["train", "--data", "{tsv}"],
            "--target COLUMN names the column to forecast; the columns are day, sales",
        ),
        (
            ["train", "--data", "{tsv}", "--target", "Sales"],
            "no column 'Sales'; the columns are day, sales",
        ),
    ],
)
def test_argument_and_file_errors_come_before_any_framework_loads(argv, message, tmp_path):
    """Keras and every backend blocked: the error still arrives, in one line, so the
    user never waits for a backend to learn of a typo."""
    tsv = tmp_path / "sales.tsv"
    tsv.write_text("day\tsales\n2020-01-01\t3.5\n")
    argv = [arg.replace("{tsv}", str(tsv)) for arg in argv]
    if argv[0] != "export":
        argv = [*argv[:1], "--model", "elman", *argv[1:]]
    completed = _run_without(FRAMEWORKS, [*argv, "--out", str(tmp_path / "o")])
    assert completed.returncode == 1
    assert completed.stderr.startswith("rnnkit: error: ") and message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_training_command_prints_no_backend_log_lines(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--model", "elman", "--task", "adding", "--window", "5"]
    argv += ["--epochs", "1", "--quiet", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    completed = subprocess.run(
        [sys.executable, "-m", "keras_rnnkit_cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    # TensorFlow's C++ lines look like "I0000 00:00:... port.cc:153] ..." or start "WARNING:".
    assert completed.stderr == ""
    assert "elman on adding" in completed.stdout
    assert (out / "model.keras").is_file()


def _documented_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))


def test_help_texts_name_only_options_that_exist_and_show_every_option():
    parser, subcommands = _commands()
    global_options = {"--debug", "--quiet", "--help"}
    for name, command in subcommands.items():
        accepted = {s for action in command._actions for s in action.option_strings}
        text = command.format_help()
        mentioned = _documented_options(text)
        # Every option the help speaks of is accepted by this command...
        assert mentioned <= accepted | global_options, (name, mentioned - accepted)
        # ... and every option it accepts is in its help.
        assert {s for s in accepted if s.startswith("--")} <= mentioned, name
        for action in command._actions:
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                shown = "{" + ",".join(action.choices) + "}"
                assert shown in text, (name, action.dest)
    assert _documented_options(parser.format_help()) == {
        "--help",
        "--version",
        "--debug",
        "--quiet",
    }


def test_help_points_at_pages_of_the_repository():
    repo_url = re.search(r"^repo_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert DOCS == repo_url.group(1) + "/blob/main/docs/"
    parser, subcommands = _commands()
    texts = [parser.format_help(), *(c.format_help() for c in subcommands.values())]
    pages = set()
    for text in texts:
        # Not the docs site: it is built from a checkout, not published.
        assert "github.io" not in text
        pages |= set(re.findall(re.escape(DOCS) + r"([a-z]+)\.md", text.replace("\n", "")))
    assert pages  # the help does point at the guides
    for page in pages:
        assert (ROOT / "docs" / f"{page}.md").is_file(), page


def test_the_help_lists_the_librarys_own_tasks_and_families():
    # The command line reads them as data (tasks.json, the entry points), not as code.
    assert catalog.tasks() == {name: info.description for name, info in TASKS.items()}
    assert [name for name, _ in catalog.families()][: len(models.FAMILIES)] == list(models.FAMILIES)
    assert (
        models.registered_families()[: len(models.FAMILIES)] == models.FAMILIES == tuning.FAMILIES
    )
    _, subcommands = _commands()
    for name in ("train", "gradients", "tune"):
        (model,) = [a for a in subcommands[name]._actions if a.dest == "model"]
        assert model.choices is None, name  # the registry checks the name when it runs
        assert "elman, jordan, narx, tdnn" in model.help, name
    for name in ("train", "gradients", "tune"):
        (task,) = [a for a in subcommands[name]._actions if a.dest == "task"]
        assert tuple(task.choices) == tuple(TASKS), name
    for family in models.FAMILIES:
        layers = models.build_model(family, (5, 1), 1).layers
        recurrent = any(isinstance(layer, keras.layers.RNN) for layer in layers)
        assert recurrent == models.get_family(family).recurrent, family
    assert set(commands.COMMANDS) == set(_commands()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--model", "nope", "--task", "adding"],
            "rnnkit: error: rnnkit train --model: `family` must be one of elman, jordan, narx, "
            "tdnn",
        ),
        (
            ["gradients", "--model", "tdnn", "--task", "adding"],
            "rnnkit: error: rnnkit gradients --model tdnn: the family has no recurrent state",
        ),
        (
            ["tune", "--model", "nope"],
            "rnnkit: error: rnnkit tune --model: `family` must be one of elman, jordan, narx, tdnn",
        ),
    ],
)
def test_an_unknown_or_unfit_family_is_refused_in_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "never-written"
    flag = "--directory" if argv[0] == "tune" else "--out"
    assert keras_rnnkit_cli.main([*argv, "--quiet", flag, str(out)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(message) and error.count("\n") == 1, error
    assert not out.exists()


def test_gradients_without_matplotlib_writes_the_norms_and_says_the_plot_was_skipped(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    out = tmp_path / "flow"
    argv = ["gradients", "--model", "jordan", "--task", "adding", "--window", "6"]
    argv += ["--epochs", "1", "--quiet", "--probe", "8", "--out", str(out)]
    assert keras_rnnkit_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "(plot skipped: install matplotlib" in printed
    assert f"gradient_norms.json written to {out}/" in printed
    assert "Plot" not in printed
    assert json.loads((out / "gradient_norms.json").read_text())["model"] == "jordan"
    assert not (out / "gradient_flow.png").exists()


@pytest.mark.parametrize(
    "text,extra,expected",
    [
        ("quarter,gdp\n1959Q1,2710.3\n", {}, "quarter"),  # labels, not numbers
        ("Date;v\n2020-01-31;3\n", {"delimiter": ";"}, "Date"),
        ("year,volume\n1871,1120\n", {}, "year"),  # numbers, but named as a time
        ("a,b\n1,2\n", {}, None),  # numbers: a feature
        ("year,volume\n1871,1120\n", {"features": "year,volume"}, None),  # the user's choice
        ("year,volume\n1871,1120\n", {"time_column": "volume"}, "volume"),
    ],
)
def test_the_first_column_is_the_time_when_it_holds_labels_or_is_named_so(
    text, extra, expected, tmp_path
):
    from keras_rnnkit_cli.checks import time_column_of

    path = tmp_path / "series.csv"
    path.write_text(text)
    options = {"time_column": None, "features": None, "delimiter": None, **extra}
    args = argparse.Namespace(command="train", data=str(path), target="v", **options)
    assert time_column_of(args) == expected
