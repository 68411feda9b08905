"""The `rnnkit` command line's options and help texts: argparse only, no framework imported.

`build_parser()` describes every command; `keras_rnnkit.cli` holds what each command does.
`--debug` and `--quiet` are accepted anywhere on the line, before or after the command.
"""

import argparse
import math
import textwrap

from keras_rnnkit_cli import catalog

# The guides, docs/*.md of the source repository (mkdocs.yml's repo_url): pages that exist
# wherever the command runs, where the docs site is built only from a checkout.
DOCS = "https://github.com/keras-rnnkit/keras-rnnkit/blob/main/docs/"


def _model_help(recurrent_only=False):
    """The help of --model: the installed families (see `catalog.families`).

    --model has no fixed choices: a family registered in Python before `main` runs is
    as good as an installed one, so the registry checks the name once the command runs.
    """
    listed = catalog.families()
    built_in = [name for name, source in listed if source == "keras-rnnkit"]
    plugins = [f"{name} (from {source})" for name, source in listed if source != "keras-rnnkit"]
    kind = "a model family with a recurrent state" if recurrent_only else "a model family"
    if not listed:
        return f"{kind}: a name registered with keras_rnnkit.models.register_family"
    names = ", ".join(built_in + plugins)
    return f"{kind}: {names}, or one registered with keras_rnnkit.models.register_family"


# The largest count any option takes (epochs, rows, trials, ...). Far beyond what a run could
# use, it keeps numbers such as 10**20 from reaching the backends, which fail on them part-way
# with a traceback (an OverflowError: beyond a C long).
MAX_COUNT = 2**31 - 1

# The most that the weights of the models one command trains at once may take, with their
# gradients and Adam's two moments (4 float32 numbers per weight); above it the backend runs
# out of memory part-way, with a traceback.
MAX_WEIGHT_BYTES = 4 * 2**30

# The largest --units: a member's recurrent kernel alone (units x units) then takes all of
# MAX_WEIGHT_BYTES (16384: 1 GiB of float32, 4 GiB with its gradient and Adam's moments).
MAX_UNITS = math.isqrt(MAX_WEIGHT_BYTES // 16)

# The most --members: each one is a whole model, built and trained side by side.
MAX_MEMBERS = 100


def _integer_from(lowest, what, highest=MAX_COUNT, why=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lowest:
            raise argparse.ArgumentTypeError(f"must be a {what} integer. Received: {text}")
        if value > highest:
            reason = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(
                f"must be a {what} integer of at most {highest}{reason}. Received: {text}"
            )
        return value

    parse.__doc__ = (
        f"argparse type: a {what} integer of at most {highest}, refused in one line otherwise."
    )
    return parse


_positive_int = _integer_from(1, "positive")
_non_negative_int = _integer_from(0, "non-negative")
_units = _integer_from(
    1,
    "positive",
    MAX_UNITS,
    f"a larger layer's weights, with their gradients and Adam's moments, take over "
    f"{MAX_WEIGHT_BYTES // 2**30} GiB",
)
_members = _integer_from(1, "positive", MAX_MEMBERS, "each member is a whole model")
# The seeds the layers take on every backend (keras_rnnkit._arguments.LARGEST_SEED; not
# imported: the parser loads no backend).
LARGEST_SEED = 2**31 - 1
_seed = _integer_from(0, "non-negative", LARGEST_SEED, "the seeds every backend takes")


def _positive_float(text):
    """argparse type: a finite positive number (NaN, inf, 0 and negatives refused)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number. Received: {text}")
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description on its own and keeps indented lines (the task
    table) as written; never breaks an option such as --time-steps at its hyphen."""

    def _fill_text(self, text, width, indent):
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n  " in paragraph:
                paragraphs.append(textwrap.indent(paragraph, indent))
            else:
                words = " ".join(paragraph.split())
                paragraphs.append(
                    textwrap.fill(
                        words,
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
        return "\n\n".join(paragraphs)

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Version(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib import metadata

        try:
            version = metadata.version("keras-rnnkit")
        except metadata.PackageNotFoundError:
            version = "unknown (keras-rnnkit is not installed, only on the path)"
        print(f"rnnkit (keras-rnnkit) {version}")  # to stdout, as argparse's own "version"
        parser.exit()


def _add_global_options(parser, top_level):
    """--debug and --quiet, on the top-level parser and on every command's.

    On a command's parser they default to SUPPRESS, so that they do not reset
    a value given before the command (argparse parses the two separately).
    """
    default = False if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks on errors, and the backend's own log lines",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=default,
        help="no progress bars or per-epoch and per-trial output",
    )


def _built_in_tasks_help():
    lines = [f"  {name:9s} {description}" for name, description in catalog.tasks().items()]
    return "\n\nBuilt-in tasks (--task; --window sets the sequence length):\n" + "\n".join(lines)


_FILES_HELP = (
    "\n\nFiles (--data, regression): CSV with a header row; --target names the column to "
    "forecast, --features the feature columns (default: all but --time-column, a column of "
    "dates or numbers that orders the rows and must increase; default: the first column when "
    "it holds labels such as 2020-01-31 or 1959Q1, or is named year, date, time, ...). "
    "Each sample is --window consecutive rows (default 12, or two seasons + 1 where that is "
    "longer), its target the --target value --horizon rows after the window's last row "
    "(default 1); split in time order: 70% train, 10% validation, 20% test. "
    "An empty, nan or non-numeric cell is an error naming its line and column, unless "
    "--missing drop (leave such rows out) or ffill (carry the last value forward)."
    "\n\nNPZ files: arrays x (N, T, D) and y (N, O), optionally x_val, y_val, x_test, y_test "
    "(missing splits are cut from the end of x, y); every value finite."
)


def _task_choices():
    """The built-in tasks' names, or None (any name) where the library's list is not found."""
    return tuple(catalog.tasks()) or None


def _add_csv_arguments(parser):
    """The options of a CSV file's columns and windows (`--data FILE.csv`)."""
    parser.add_argument("--target", help="CSV only: the column to forecast")
    # The CSV options default to None, so that giving one with --task or an
    # NPZ file is refused rather than ignored; the help states the real default.
    parser.add_argument(
        "--time-column",
        help="CSV only: the column of dates or numbers that orders the rows (default: the first "
        "column when it holds labels, not numbers, or is named year, date, time, ...)",
    )
    parser.add_argument(
        "--features", help="CSV only: feature columns a,b,c (default: all but --time-column)"
    )
    parser.add_argument(
        "--missing",
        choices=("error", "drop", "ffill"),
        help="CSV only: rows with empty, nan or non-numeric cells (default: error)",
    )
    parser.add_argument(
        "--delimiter", help="CSV only: the field delimiter, one character or \\t (default: ,)"
    )
    parser.add_argument(
        "--horizon", type=int, help="CSV only: forecast this many rows ahead (default: 1)"
    )
    parser.add_argument(
        "--season",
        type=_positive_int,
        help="CSV only: rows per season, for the seasonal-naive baseline and the default "
        "window (default: 12, 4, 52 or 7 where the time column is plainly monthly, "
        "quarterly, weekly or daily; else none)",
    )


def _add_training_arguments(parser, default_out, recurrent_only=False, csv_only=False):
    """The options of the commands that train: the family, the data and the training's.

    `csv_only` (backtest): `--model` may be repeated (default: every built-in family) and
    the data is a CSV file (`--data`, required)."""
    if csv_only:
        parser.add_argument(
            "--model",
            action="append",
            metavar="FAMILY",
            help=_model_help() + " (repeatable; default: the built-in ones)",
        )
        parser.add_argument("--data", required=True, help="a .csv (.tsv, .txt) file")
        parser.set_defaults(task=None)
    else:
        parser.add_argument(
            "--model", required=True, metavar="FAMILY", help=_model_help(recurrent_only)
        )
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--task", choices=_task_choices(), help="a built-in task")
        source.add_argument("--data", help="a .csv (.tsv, .txt) or .npz file")
    _add_csv_arguments(parser)
    parser.add_argument(
        "--predict",
        choices=("auto", "residual", "change", "level"),
        default="auto",
        help="a forecast of a series: what a linear AR of the window misses (residual), the "
        "change from the last value, the level, or auto: the one of the three with the lowest "
        "MSE on rolling-origin folds of the training rows (default: %(default)s)",
    )
    parser.add_argument(
        "--folds",
        type=_non_negative_int,
        default=3,
        help="train, a forecast of a series: rolling-origin folds of the training rows on "
        "which --predict auto, the weight decay and the size are chosen; 0: no choice, the "
        "residual of the AR with --units and no weight decay (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="time steps per sample (default: the task's own; for a file 12, or two "
        "seasons + 1 where that is longer: 25 for months; 53 for weeks)",
    )
    parser.add_argument(
        "--units", type=_units, default=8, help=f"default: %(default)s; at most {MAX_UNITS}"
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=50, help="at most (default: %(default)s)"
    )
    parser.add_argument(
        "--patience",
        type=_positive_int,
        default=10,
        help="stop after this many epochs without a lower validation loss, and keep the "
        "weights of the best epoch (default: %(default)s)",
    )
    parser.add_argument(
        "--members",
        type=_members,
        default=3,
        help="independently initialised models trained side by side and averaged "
        f"(default: %(default)s; at most {MAX_MEMBERS})",
    )
    parser.add_argument("--batch-size", type=_positive_int, default=32, help="default: %(default)s")
    parser.add_argument(
        "--learning-rate", type=_positive_float, default=0.01, help="default: %(default)s"
    )
    parser.add_argument(
        "--clip", type=_positive_float, default=None, help="per-step gradient clip inside BPTT"
    )
    parser.add_argument(
        "--clipnorm",
        type=_positive_float,
        default=1.0,
        help="optimizer clipnorm (default: %(default)s)",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="default: %(default)s")
    parser.add_argument(
        "--out", default=default_out, help="new output folder (default: %(default)s)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def _add_steps_arguments(parser):
    """--steps and --strategy: forecasts of several rows after the end of the data."""
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="CSV only: forecast this many rows after the data's end: besides the one-step "
        "model (fed its own forecasts: recursive), train one with STEPS outputs (direct); "
        "--strategy says which is kept. The intervals that rnnkit forecast gives are "
        "calibrated for max(STEPS, 2 seasons, or 12) rows (default: 1)",
    )
    parser.add_argument(
        "--strategy",
        choices=("auto", "recursive", "direct"),
        default="auto",
        help="CSV, with --steps: the forecaster kept: auto, the one with the lower MAE over "
        "the STEPS rows after each validation row (default: %(default)s)",
    )


def build_parser():
    """The `rnnkit` argument parser: every command, its options and help."""
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Elman, Jordan and TDNN networks for Keras 3.",
        epilog=f"Documentation: the guides in {DOCS} (from a checkout, mkdocs build builds them "
        "as a site: pip install -e '.[docs]')",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    _add_global_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_command(name, **kwargs):
        command = commands.add_parser(name, formatter_class=_HelpFormatter, **kwargs)
        _add_global_options(command, top_level=False)
        return command

    demo = add_command(
        "demo",
        help="train the built-in families on the sunspot series and compare",
        description=(
            "Train an Elman, a Jordan, a NARX and a TDNN forecaster on the yearly sunspot series "
            "(train 1700-1920, test 1921-1955 and 1956-1979) and print their test ARV beside "
            "the linear AR(12) and AR(9) models and persistence. Writes the models, "
            f"metrics.json and (with matplotlib) plots to --out. See {DOCS}forecasting.md."
        ),
    )
    demo.add_argument(
        "--out", default="rnnkit-demo", help="new output folder (default: %(default)s)"
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="passes over the training years per member (default: each family's tuned "
        "setting; a full-batch family makes one update per pass)",
    )
    demo.add_argument("--seed", type=_seed, default=0, help="default: %(default)s")
    demo.add_argument(
        "--smoke", action="store_true", help="2 epochs and 2 members: check that it runs"
    )
    demo.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    train = add_command(
        "train",
        help="train one family on a built-in task or your own CSV/NPZ file",
        description=(
            "Train an Elman, Jordan, NARX or TDNN model on a built-in task (--task) or a file "
            "(--data), with the task's validation split, and report its test score beside a "
            "baseline. Writes model.keras and metrics.json to --out."
            + _built_in_tasks_help()
            + _FILES_HELP
        ),
    )
    _add_training_arguments(train, default_out="rnnkit-train")
    _add_steps_arguments(train)

    backtest = add_command(
        "backtest",
        help="score forecasts of several rows from many origins (rolling origin) on a CSV file",
        description=(
            "Backtest families on your CSV file: from each of --origins rows near its end "
            "(--stride apart, the last leaving --steps rows), forecast the next --steps rows "
            "with what was known before it, as rnnkit train and rnnkit forecast do. Each family "
            "trains once on the rows before the first origin, or with --refit before every "
            "origin. Prints MAE, RMSE and MASE (scaled by the in-sample MAE of the one-step "
            "seasonal naive forecast) per family beside persistence, seasonal naive and a "
            "least-squares AR of the window's order; writes backtest.json, the forecasts "
            "(forecasts.csv) and, with matplotlib, backtest.png to --out. "
            f"See {DOCS}forecast.md." + _FILES_HELP.split("\n\nNPZ")[0]
        ),
    )
    _add_training_arguments(backtest, default_out="rnnkit-backtest", csv_only=True)
    _add_steps_arguments(backtest)
    backtest.add_argument(
        "--origins", type=_positive_int, default=12, help="forecast origins (default: %(default)s)"
    )
    backtest.add_argument(
        "--stride",
        type=_positive_int,
        default=1,
        help="rows between origins (default: %(default)s)",
    )
    backtest.add_argument(
        "--refit", action="store_true", help="train again before every origin (N times the cost)"
    )

    gradients = add_command(
        "gradients",
        help="plot how the loss gradient flows back through time while training",
        description=(
            "Train an Elman or Jordan model like `rnnkit train`, recording after each epoch the "
            "norm of the loss gradient with respect to the recurrent state at every time step "
            "(keras_rnnkit.training.GradientFlowMonitor, on validation samples). Writes "
            "gradient_norms.json and (with matplotlib) gradient_flow.png to --out, and warns "
            f"when the gradient vanishes or explodes. See {DOCS}training.md."
            + _built_in_tasks_help()
            + _FILES_HELP
        ),
    )
    _add_training_arguments(gradients, default_out="rnnkit-gradients", recurrent_only=True)
    gradients.add_argument(
        "--probe",
        type=_positive_int,
        default=64,
        help="validation samples probed (default: %(default)s)",
    )

    tune = add_command(
        "tune",
        help="search families and hyperparameters with keras-tuner",
        description=(
            "Tune Elman, Jordan and TDNN models on a built-in task (--task) or your own file "
            "(--data) with keras-tuner (keras_rnnkit.tuning; needs the [tuner] extra): trials "
            "train on the training split, are ranked by validation loss (a series: on "
            "rolling-origin folds of the training and validation rows), and the best is "
            "trained again and scored on the test split. A CSV file's best model is saved as "
            "rnnkit train saves it (rnnkit forecast takes it). "
            "Run again with the same --directory to resume an interrupted search; "
            f"--overwrite deletes the earlier trials and starts afresh. See {DOCS}tuning.md."
            + _built_in_tasks_help()
            + _FILES_HELP
        ),
    )
    source = tune.add_mutually_exclusive_group()
    source.add_argument(
        "--task", choices=_task_choices(), help="a built-in task (default: sunspots)"
    )
    source.add_argument("--data", help="a .csv (.tsv, .txt) or .npz file")
    _add_csv_arguments(tune)
    tune.add_argument(
        "--model",
        action="append",
        metavar="FAMILY",
        help=_model_help() + " (repeatable; default: the built-in ones)",
    )
    tune.add_argument(
        "--tuner",
        default="random",
        choices=("random", "bayesian", "hyperband"),
        help="default: %(default)s",
    )
    tune.add_argument(
        "--max-trials",
        type=_positive_int,
        default=None,
        help="default: 4 for sunspots or a CSV file, else 12",
    )
    tune.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="per trial at most (default: 300 for sunspots, 100 for a CSV file, else 20)",
    )
    tune.add_argument(
        "--patience",
        type=_non_negative_int,
        default=None,
        help="epochs without a better validation loss before a trial stops; 0 trains "
        "every trial for --epochs (default: 30 for sunspots, 10 for a CSV file, else 0)",
    )
    tune.add_argument(
        "--members",
        type=_positive_int,
        default=None,
        help="models averaged per fold of a trial and in the saved best model, with rolling "
        "folds (default: 5 for sunspots, 3 for a CSV file, else 1)",
    )
    tune.add_argument(
        "--window",
        type=_positive_int,
        default=None,
        help="time steps per sample (default: the task's own; for a file 12, or two "
        "seasons + 1 where that is longer)",
    )
    tune.add_argument(
        "--directory", default="rnnkit-tuning", help="the tuner's state (default: %(default)s)"
    )
    tune.add_argument(
        "--overwrite", action="store_true", help="delete earlier trials and start afresh"
    )
    tune.add_argument(
        "--folds",
        type=_positive_int,
        default=None,
        help="rolling-origin validation folds (default: 3 for sunspots or a CSV file with "
        "random or bayesian search, else the task's one validation split)",
    )
    tune.add_argument("--seed", type=_seed, default=0, help="default: %(default)s")

    forecast = add_command(
        "forecast",
        help="forecast the rows after the end of a series with a model from rnnkit train",
        description=(
            "Forecast the next --steps rows of a series with a model saved by rnnkit train "
            "--data FILE.csv: the model remembers its target, feature and time columns, its "
            "window and its strategy, so only the history is needed (a CSV file with those "
            "columns; its last rows are the model's window). Prints (or writes to --out) the "
            "time column continued at the series' own step, the forecasts under the target's "
            "name, and the bounds of the 80% and 95% intervals (split conformal, calibrated "
            "on the rows the model did not train on). A recursive model that also takes other "
            "columns needs their next values: --future FILE.csv. "
            f"See {DOCS}forecast.md."
        ),
    )
    forecast.add_argument("model", help="a .keras file saved by rnnkit train --data FILE.csv")
    forecast.add_argument(
        "--data", required=True, help="the history: a CSV file with the model's columns"
    )
    forecast.add_argument(
        "--steps", type=_positive_int, required=True, help="rows to forecast after the history"
    )
    forecast.add_argument(
        "--future",
        help="a CSV file with the other feature columns' values in the rows after the history",
    )
    forecast.add_argument(
        "--missing",
        choices=("error", "drop", "ffill"),
        default="error",
        help="rows with empty, nan or non-numeric cells (default: %(default)s)",
    )
    forecast.add_argument(
        "--delimiter",
        help="the field delimiter, one character or \\t (default: , or a tab for .tsv)",
    )
    forecast.add_argument("--out", help="write the forecast to this CSV file (default: print it)")
    forecast.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    export = add_command(
        "export",
        help="export a saved .keras model as a SavedModel, TFLite or ONNX file",
        description=(
            "Export a model saved as .keras (for example by rnnkit train) with "
            "keras_rnnkit.export: a TensorFlow SavedModel (signature serve; with --streaming "
            "also step and initial_state), a TFLite file with built-in operators only (fixed "
            "--batch-size; a while loop, or unrolled for --time-steps; or with --streaming "
            "the single-step model), or an ONNX file (dynamic batch and time). Needs the "
            "TensorFlow backend; TFLite and ONNX need the [export] extra. Writes atomically "
            f"and refuses an existing --out without --overwrite. See {DOCS}deployment.md."
        ),
    )
    export.add_argument("model", help="a .keras file")
    export.add_argument("--format", required=True, choices=("savedmodel", "tflite", "onnx"))
    export.add_argument("--out", required=True, help="the SavedModel folder or file to create")
    export.add_argument(
        "--streaming",
        action="store_true",
        help="savedmodel: add the one-step signatures; tflite: the one-step model",
    )
    export.add_argument("--batch-size", type=_positive_int, default=None, help="tflite: default 1")
    export.add_argument(
        "--time-steps", type=_positive_int, default=None, help="tflite: unroll for T"
    )
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser
