"""One call from a built-in task to a finished search: what the example and a CLI use."""

import contextlib
import hashlib
import json
import pathlib
import time
from typing import NamedTuple

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit import _atomic
from keras_rnnkit.data.splits import rolling_origin_splits
from keras_rnnkit.data.tasks import TASKS
from keras_rnnkit.data.tasks import load_task
from keras_rnnkit.data.tasks import output_units
from keras_rnnkit.models import PROBLEMS
from keras_rnnkit.tuning import space
from keras_rnnkit.tuning import state
from keras_rnnkit.tuning._dependency import keras_tuner
from keras_rnnkit.tuning.hypermodel import RecurrentHyperModel
from keras_rnnkit.tuning.rolling_origin import CrossValidatedBayesianOptimization
from keras_rnnkit.tuning.rolling_origin import CrossValidatedRandomSearch

TUNERS = ("random", "bayesian", "hyperband")


def make_tuner(
    kind,
    hypermodel,
    *,
    max_trials=10,
    max_epochs=20,
    objective="val_loss",
    directory="rnnkit-tuning",
    project_name="search",
    overwrite=False,
    seed=None,
    folds=None,
    first_values=None,
    members=1,
    **kwargs,
):
    """A keras-tuner tuner of `kind` ("random", "bayesian" or "hyperband") on `hypermodel`.

    `max_trials` bounds RandomSearch and BayesianOptimization; Hyperband sizes
    itself from `max_epochs` (its `factor` is 3). With `folds=K` a random or
    Bayesian search scores each trial by rolling-origin validation over K
    blocks (`keras_rnnkit.tuning.rolling_origin`); Hyperband, which resumes
    trials from checkpoints, does not take `folds`. The tuner's state files
    are replaced by renames, so a search killed at any moment resumes
    (`keras_rnnkit.tuning.state`). `first_values` (a dict of hyperparameter
    values) is the first trial of a random or Bayesian search, e.g. a
    configuration validated before (`FirstTrialValues`). With `folds`,
    `members` > 1 scores each trial by the average of that many models
    trained side by side per fold. Other keyword
    arguments go to the tuner (e.g. `max_consecutive_failed_trials`,
    `hyperparameters`).

    Example:

    >>> import tempfile
    >>> from keras_rnnkit.tuning import HyperElman, make_tuner
    >>> tuner = make_tuner("random", HyperElman((8, 1), 1), max_trials=2,
    ...                    directory=tempfile.mkdtemp())
    >>> type(tuner).__name__
    'RandomSearch'
    """
    common = dict(
        objective=objective,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        **kwargs,
    )
    kind = arguments.one_of("make_tuner", "kind", kind, TUNERS)
    if first_values is not None and kind == "hyperband":
        raise ValueError(
            "make_tuner: `first_values` (a first trial) needs kind 'random' or 'bayesian'; "
            f"Hyperband starts brackets of its own. Received: kind={kind!r}"
        )
    if members != 1 and folds is None:
        raise ValueError(
            "make_tuner: `members` (an ensemble scored per trial) needs rolling-origin `folds`. "
            f"Received: members={members!r}, folds=None"
        )
    tuner = _tuner(kind, hypermodel, max_trials, max_epochs, folds, members, common)
    tuner.oracle.first_values = None if first_values is None else dict(first_values)
    return tuner


def _tuner(kind, hypermodel, max_trials, max_epochs, folds, members, common):
    if folds is not None:
        if kind == "hyperband":
            raise ValueError(
                "make_tuner: `folds` (rolling-origin validation) needs kind 'random' or "
                f"'bayesian'. Received: kind={kind!r}, folds={folds!r}"
            )
        tuner_class = (
            CrossValidatedRandomSearch if kind == "random" else (CrossValidatedBayesianOptimization)
        )
        return tuner_class(
            hypermodel, folds=folds, members=members, max_trials=max_trials, **common
        )
    if kind == "random":
        return state.RandomSearch(hypermodel, max_trials=max_trials, **common)
    if kind == "bayesian":
        return state.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    return state.Hyperband(hypermodel, max_epochs=max_epochs, factor=3, **common)


class SearchResult(NamedTuple):
    """What `run_search` found.

    Attributes:
        tuner: The keras-tuner tuner (`results_summary()`, `get_best_models()`).
        best_hyperparameters: The best trial's values, a dict.
        test_scores: The best model's loss (and accuracy for classification)
            on the task's test split, a dict.
        wall_time_s: Seconds spent in `search`.
        model: The best model (see `run_search`).
        model_path: Where it was saved, a `.keras` file.
    """

    tuner: object
    best_hyperparameters: dict
    test_scores: dict
    wall_time_s: float
    model: object = None
    model_path: pathlib.Path | None = None


def hypermodel_for_task(task, data, *, families=space.FAMILIES, seed=None, fixed=None):
    """The `RecurrentHyperModel` for a built-in task's arrays (see `keras_rnnkit.data.tasks`),
    or, with `task` None, for a user's file (`keras_rnnkit.data.load_file`: regression).

    Regression: linear output, MSE on standardised values, the model taking
    and returning raw ones (scaled with the training split). Classification: softmax over the
    `max(label) + 1` classes, sparse categorical cross-entropy. Binary:
    sigmoid, binary cross-entropy. Tasks with a target per step are
    many-to-many.
    """
    problem, sequence_output = _problem(task, data)
    activation, loss, metrics = PROBLEMS[problem]
    return RecurrentHyperModel(
        data["x_train"].shape[1:],
        output_units(data, problem),
        output_activation=activation,
        loss=loss,
        metrics=metrics,
        families=families,
        return_sequences=sequence_output,
        fixed=fixed,
        seed=seed,
        training_data=(data["x_train"], data["y_train"]) if problem == "regression" else None,
        series_target=_series_target(task, data),
    )


def _series_target(task, data):
    """The input feature of the series a user's file forecasts one window ahead, or None
    (then the search forecasts the level only)."""
    if task is not None or data["y_train"].ndim == 3:
        return None
    return data.get("target_feature_index")


def _problem(task, data):
    """(problem, sequence_output) of a built-in task, or of a user's file (`task` None): a
    regression, with a target per step where its targets are (N, T, O)."""
    if task is not None:
        return TASKS[task].problem, TASKS[task].sequence_output
    return "regression", data["y_train"].ndim == 3


# How a search runs when its caller does not say. A forecast of a series whose
# demo validated a configuration (sunspots: `keras_rnnkit.forecasting.sunspots`)
# starts from that configuration, trains each trial until its validation loss
# stops improving, and refits an ensemble, as the demo's forecasters are.
GENERIC_DEFAULTS = {"max_trials": 12, "epochs": 20, "patience": 0, "members": 1, "fixed": {}}
# A user's series (a CSV file): the sunspots' kind of search on a smaller budget, its size
# being unknown; as `rnnkit train`, 3 members stopped 10 epochs after their best, the
# first trial `rnnkit train`'s model (its --units and --learning-rate; clipnorm 1, no decay).
FILE_FIRST_VALUES = {"units": 8, "learning_rate": 0.01}
# and, for a series among the inputs, what `rnnkit train --folds 0` forecasts.
SERIES_FIRST_FORECAST = "residual"
SERIES_DEFAULTS = {
    "max_trials": 4,
    "epochs": 100,
    "patience": 10,
    "members": 3,
    "fixed": {"depth": 1, "bidirectional": False},
}
# One forward layer, the demo's kind of model: a deep or bidirectional trial costs
# minutes with an ensemble per fold, and 210 training years do not feed one.
SUNSPOT_DEFAULTS = {
    "max_trials": 4,
    "epochs": 300,
    "patience": 30,
    "members": 5,
    "fixed": {"depth": 1, "bidirectional": False},
}


def search_defaults(task, data=None):
    """`{max_trials, epochs, patience, members, fixed}`: how `run_search` searches `task`
    by default (`fixed`: hyperparameters pinned, `RecurrentHyperModel(fixed=...)`); with
    `task` None, a user's file's arrays `data`: a series (a CSV file's) as `SERIES_DEFAULTS`,
    others as the generic tasks.

    Example:

    >>> from keras_rnnkit.tuning.search import search_defaults
    >>> search_defaults("sunspots")["members"], search_defaults("adding")["members"]
    (5, 1)
    """
    if task == "sunspots":
        defaults = SUNSPOT_DEFAULTS
    elif task is None and data is not None and "target_feature_index" in data:
        defaults = SERIES_DEFAULTS
    else:
        defaults = GENERIC_DEFAULTS
    return {**defaults, "fixed": dict(defaults["fixed"])}


def validated_values(task, families=space.FAMILIES):
    """The hyperparameter values of the configuration validated for `task`, or None.

    Sunspots: the demo's best family by its rolling-origin validation
    (`keras_rnnkit.forecasting.sunspots.DEFAULT_FAMILY`) with its
    `SETTINGS`, if that family is among `families`; its fixed epochs, full
    batch and pruning are not hyperparameters: trained in a search's folds it
    stops early as any trial, and refitted as the best it trains as validated.
    Hyperparameters the settings do not name
    keep the search space's defaults (one layer, tanh, no dropout), which are
    those of `keras_rnnkit.models.build_model`'s small model.

    Example:

    >>> from keras_rnnkit.tuning.search import validated_values
    >>> values = validated_values("sunspots")
    >>> values["family"], values["units"], values["weight_penalty"]
    ('jordan', 8, 'elimination')
    """
    if task != "sunspots":
        return None
    from keras_rnnkit.forecasting import sunspots

    family = sunspots.DEFAULT_FAMILY
    if family not in families:
        return None
    settings = sunspots.SETTINGS[family]
    return {
        "family": family,
        "units": settings.units,
        "learning_rate": settings.learning_rate,
        "weight_decay": settings.weight_decay,
        "weight_penalty": settings.weight_penalty,
    }


def run_search(
    task=None,
    *,
    data=None,
    families=space.FAMILIES,
    tuner="random",
    max_trials=None,
    epochs=None,
    patience=None,
    members=None,
    first_values="validated",
    fixed=None,
    window=None,
    samples=None,
    batch_size=32,
    directory="rnnkit-tuning",
    project_name=None,
    overwrite=False,
    seed=0,
    verbose=0,
    folds="auto",
):
    """Tunes a model on a built-in task, or a user's series, and scores the best one on its
    test split.

    Trials train on the task's training split and are ranked by the loss on
    its validation split (`val_loss`); the test split is used once, for the
    best model. The tuner's state lives in `directory/project_name`: run again
    with `overwrite=False` to resume an interrupted search. `max_trials`,
    `epochs`, `patience` and `members` left None take the task's defaults
    (`search_defaults`): for sunspots 4 trials of one forward layer, each trained up to 300 epochs
    and stopped 30 epochs after its best validation loss, the first being the
    demo's validated configuration, each scored by an ensemble of 5 per fold
    and an ensemble of 5 refitted; for the
    other tasks 12 trials of 20 epochs and one model; for a CSV file's series 4 trials of
    one forward layer, up to 100 epochs with a patience of 10, 3 members (`SERIES_DEFAULTS`),
    the first being `rnnkit train`'s model (the first family, `FILE_FIRST_VALUES`).

    Args:
        task: A built-in task of `keras_rnnkit.data.tasks.TASKS`, e.g.
            `"sunspots"` (regression), `"digits"` (classification) or `"xor"`
            (a target per step). Default: None, `"sunspots"` unless `data` is given.
        data: Instead of `task`, a user's file as
            `keras_rnnkit.data.load_file` loads it (a regression; a CSV file's
            series is validated on rolling-origin folds). Default: None.
        families: Families searched. Default: all three.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Default: `"random"`.
        max_trials: Trials of random and Bayesian search.
        epochs: Epochs per trial at most (Hyperband's `max_epochs`).
        patience: Epochs without a better validation loss before a trial
            stops (`keras.callbacks.EarlyStopping`, keeping the best
            weights); 0 trains every trial for `epochs`.
        members: Models averaged (rolling folds only) in each fold of a trial,
            whose score is their average's, and in the refitted best model:
            independently initialised, trained side by side
            (`keras_rnnkit.forecasting.fit_members`) and saved as their average.
        first_values: The first trial's hyperparameter values (a dict),
            `"validated"` for the task's validated configuration
            (`validated_values`; none for a task without one; for `data`,
            `rnnkit train`'s model), or None for none. Default: `"validated"`.
        fixed: Hyperparameters pinned to values (a dict; see
            `RecurrentHyperModel`), or None for the task's (sunspots: one
            forward layer, `depth=1, bidirectional=False`).
        window: The task's sequence length; None for its default.
        samples: Train on the first `samples` training samples only (a quick
            run); None for all. Default: None.
        batch_size: Default: 32.
        directory: Where the tuner keeps its state. Default: `"rnnkit-tuning"`.
        project_name: Default: `f"{task}-{tuner}"` (`"data"` for `data`). A
            search resumed on other arrays than it ran on is refused.
        overwrite: Start afresh instead of resuming. Default: False.
        seed: Seed of Keras, of the task's data, of the tuner and of the
            dropout masks. Default: 0.
        verbose: Passed to `search` (0: quiet, 1: a report per trial and progress bars, 2:
            a report per trial and one line per epoch). Default: 0.
        folds: Rolling-origin validation folds (see `make_tuner`), `None` for
            the task's one validation split, or `"auto"`: 3 for a forecast of
            a series in time order (sunspots), else `None`. Default: `"auto"`.

    The best model is then trained once more and saved as
    `directory/project_name/best_model.keras`: with rolling folds, the best
    trial's configuration on the whole training period (the training and
    validation splits, in time order), `members` of it for as many epochs
    as its folds' best epochs on average (`epochs` without early stopping),
    or, where the best trial is the task's validated configuration (the
    first, with `first_values="validated"`), trained as it was validated
    (sunspots: the demo's epochs and pruning, `train_forecaster`);
    otherwise the best trial's model as the search left it. A regression
    model takes and returns raw values. A CSV file's one-step forecaster
    (`horizon` 1) is saved as `rnnkit train` saves it: a `SeriesForecaster` of
    the file (`keras_rnnkit.forecasting.forecast`), its intervals calibrated on
    the forecasts from rows it did not train on (the test rows after a refit,
    else the validation and test rows).

    Returns:
        A `SearchResult`.

    Raises:
        ValueError: If the `folds` validation blocks leave nothing to train on
            before them, or if `directory/project_name` holds a search of
            other data (checked before the search starts).
        RuntimeError: If no trial completed (each failed); no model is saved.
    """
    owner = "run_search"
    if task is not None and data is not None:
        raise ValueError(
            f"{owner}: give a built-in `task` or a file's `data`, not both. Received: "
            f"task={task!r} and data"
        )
    if data is None:
        task = arguments.one_of(owner, "task", task or "sunspots", tuple(TASKS))
    else:
        _check_data(owner, data)
    arguments.one_of(owner, "tuner", tuner, TUNERS)
    defaults = search_defaults(task, data)
    epochs = arguments.positive_int(owner, "epochs", epochs or defaults["epochs"])
    max_trials = arguments.positive_int(owner, "max_trials", max_trials or defaults["max_trials"])
    members = arguments.positive_int(owner, "members", members or defaults["members"])
    patience = defaults["patience"] if patience is None else patience
    patience = arguments.non_negative_int(owner, "patience", patience)
    validated = None
    if isinstance(first_values, str):
        arguments.one_of(owner, "first_values", first_values, ("validated",))
        validated = validated_values(task, families) if data is None else None
        if tuner == "hyperband":
            first_values = None
        elif data is None:
            first_values = validated
        else:
            first_values = {"family": families[0], **FILE_FIRST_VALUES}
            if _series_target(task, data) is not None:
                first_values["forecast"] = SERIES_FIRST_FORECAST
    if data is None:
        data = load_task(task, window, seed=seed)
    elif window is not None:
        raise ValueError(
            f"{owner}: `window` applies to a built-in `task`; a file's `data` has its windows "
            f"(load_file(window=...)). Received: window={window!r}"
        )
    if samples is not None:
        samples = arguments.positive_int(owner, "samples", samples)
        data = {**data, "x_train": data["x_train"][:samples], "y_train": data["y_train"][:samples]}
    if folds == "auto":
        folds = 3 if "target_feature_index" in data and tuner != "hyperband" else None
    if folds is not None:
        _check_folds(owner, task, data, folds)
    keras.utils.set_random_seed(seed)
    fixed = defaults["fixed"] if fixed is None else dict(fixed)
    hypermodel = hypermodel_for_task(task, data, families=families, seed=seed, fixed=fixed)
    project_name = project_name or f"{task or 'data'}-{tuner}"
    project = pathlib.Path(directory) / project_name
    fingerprint = _fingerprint(data)
    if not overwrite:
        _check_same_data(owner, project, fingerprint)
    search = make_tuner(
        tuner,
        hypermodel,
        max_trials=max_trials,
        max_epochs=epochs,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        folds=folds,
        first_values=first_values,
        members=members if folds is not None else 1,
    )
    # After the tuner: `overwrite` has emptied the project folder.
    project.mkdir(parents=True, exist_ok=True)
    _atomic.write_text(project / DATA_RECORD, json.dumps(fingerprint, indent=2))
    fit_options = {} if tuner == "hyperband" else {"epochs": epochs}
    if patience:
        fit_options["callbacks"] = [
            keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
        ]
    start = time.perf_counter()
    with _failed_trials_told_in_one_line(owner, search, verbose):
        search.search(
            data["x_train"],
            data["y_train"],
            validation_data=(data["x_val"], data["y_val"]),
            batch_size=batch_size,
            verbose=verbose,
            **fit_options,
        )
    wall_time = time.perf_counter() - start
    # keras-tuner pads its best trials with failed ones: without a completed trial
    # there is no best model, and none is written.
    _check_a_trial_completed(owner, search)
    best_hp = search.get_best_hyperparameters(1)[0]
    if folds is None:
        best = search.get_best_models(1)[0]
    elif validated is not None and _is_the_configuration(best_hp, validated):
        best = _refit_as_validated(task, data, members=members, seed=seed)
    else:
        best_trial = search.oracle.get_best_trials(1)[0]
        refit_epochs = epochs
        if patience and "best_epochs" in best_trial.metrics.metrics:
            refit_epochs = max(1, round(best_trial.metrics.get_last_value("best_epochs")))
        best = _refit_on_the_training_period(
            task,
            data,
            best_hp,
            families=families,
            fixed=fixed,
            epochs=refit_epochs,
            batch_size=batch_size,
            seed=seed,
            members=members,
        )
    if "rows" in data and data["horizon"] == 1:
        # A refit trained on the validation rows too: its intervals see only the test rows.
        best = _series_forecaster(best, data, calibrate_from="val" if folds is None else "test")
    scores = best.evaluate(data["x_test"], data["y_test"], verbose=0, return_dict=True)
    path = _save_atomically(best, project / "best_model.keras")
    scores = {k: float(v) for k, v in scores.items()}
    return SearchResult(search, dict(best_hp.values), scores, wall_time, best, path)


def _check_data(owner, data):
    """Raises unless `data` holds the six split arrays that `load_file` gives."""
    if not isinstance(data, dict):
        raise ValueError(
            f"{owner}: `data` must be the dict of arrays that keras_rnnkit.data.load_file "
            f"returns. Received: data of type {type(data).__name__}"
        )
    missing = [
        f"{kind}_{split}"
        for split in ("train", "val", "test")
        for kind in ("x", "y")
        if f"{kind}_{split}" not in data
    ]
    if missing:
        raise ValueError(
            f"{owner}: `data` must hold the arrays x_train, y_train, x_val, y_val, x_test and "
            f"y_test (as keras_rnnkit.data.load_file returns them). Missing: {', '.join(missing)}"
        )


# The record, in a search's project folder, of the arrays it searched on.
DATA_RECORD = "data.json"


def _fingerprint(data):
    """The shapes and a SHA-256 of the six split arrays: what a resumed search must match."""
    digest = hashlib.sha256()
    shapes = {}
    for split in ("train", "val", "test"):
        for kind in ("x", "y"):
            array = np.ascontiguousarray(data[f"{kind}_{split}"])
            shapes[f"{kind}_{split}"] = list(array.shape)
            digest.update(array.tobytes())
    return {"shapes": shapes, "sha256": digest.hexdigest()}


def _check_same_data(owner, project, fingerprint):
    """Raises if the search kept in `project` ran on other arrays: resumed, its trials
    would be ranked with new ones, and its best model replaced by one of other data."""
    record = project / DATA_RECORD
    if not record.is_file():
        return
    try:
        kept = json.loads(record.read_text())
    except (OSError, ValueError):
        kept = None
    if kept != fingerprint:
        raise ValueError(
            f"{owner}: the search in {project} ran on other data (other rows, window or "
            "columns); its trials would be ranked with these. Choose another directory or "
            "project name, or pass overwrite=True (rnnkit tune --overwrite) to delete it"
        )


def _series_forecaster(model, data, calibrate_from):
    """`model` as a `SeriesForecaster` of a CSV file's series, with intervals calibrated on
    the forecasts from the rows of split `calibrate_from` on."""
    from keras_rnnkit.forecasting import future

    strategy = "recursive" if data["target_feature_index"] is not None else "direct"
    series = future.series_of(data, strategy=strategy, steps=1)
    steps = future.calibration_steps(data, strategy, 1)
    forecasts, truth, _ = future.held_out_forecasts(
        model, data, series, steps, start=calibrate_from
    )
    series["intervals"] = future.conformal_intervals(forecasts, truth)
    return future.as_series_forecaster(model, series)


def _check_folds(owner, task, data, folds):
    """Raises before the search if `folds` rolling-origin blocks do not fit the task's
    training and validation samples (each trial would fail)."""
    folds = arguments.positive_int(owner, "folds", folds)
    try:
        rolling_origin_splits(len(data["x_train"]) + len(data["x_val"]), len(data["x_val"]), folds)
    except ValueError as error:
        raise ValueError(
            f"{owner}: `folds` must leave samples of {_named(task)} to train on before its "
            f"validation blocks ({error}). Received: folds={folds}"
        ) from error


# The statuses of a trial that raised: FAILED for keras-tuner's FailedTrialError, INVALID
# for any other error.
_FAILED = (
    keras_tuner.engine.trial.TrialStatus.FAILED,
    keras_tuner.engine.trial.TrialStatus.INVALID,
)


def _last_line(trial):
    """The error a failed trial ended with: the last line of the traceback keras-tuner
    keeps as its message."""
    lines = [line for line in (trial.message or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"status {trial.status}"


@contextlib.contextmanager
def _failed_trials_told_in_one_line(owner, search, verbose):
    """keras-tuner prints each failed trial's traceback, and its error for too many failures
    in a row holds the last one: here each failure is a line (with `verbose`), and that
    error one line too."""
    # keras-tuner's switch of the tracebacks (`keras_tuner.src.config.DEBUG`, default
    # True) has no public name.
    config = getattr(getattr(keras_tuner, "src", None), "config", None)
    debug = getattr(config, "DEBUG", None)
    if config is not None:
        config.DEBUG = False
    try:
        yield
    except RuntimeError as error:
        failed = [t for t in search.oracle.trials.values() if t.status in _FAILED]
        if not str(error).startswith("Number of consecutive failures") or not failed:
            raise
        raise RuntimeError(
            f"{owner}: {len(failed)} trials failed in a row, so the search stopped; the last "
            f"failed with: {_last_line(failed[-1])}"
        ) from None
    finally:
        if config is not None:
            config.DEBUG = debug
        if verbose:
            for trial in search.oracle.trials.values():
                if trial.status in _FAILED:
                    print(f"Trial {trial.trial_id} failed: {_last_line(trial)}")


def _check_a_trial_completed(owner, search):
    """Raises if no trial of `search` completed, with the first failed trial's error."""
    trials = list(search.oracle.trials.values())
    if any(t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in trials):
        return
    if not trials:
        raise RuntimeError(f"{owner}: the search ran no trial, so there is no best model")
    first = trials[0]  # the oracle's trials, in the order it created them
    raise RuntimeError(
        f"{owner}: no trial succeeded ({len(trials)} failed), so there is no best model and "
        f"none was written; the first trial failed with: {_last_line(first)}"
    )


def _is_the_configuration(hyperparameters, values):
    """Whether a trial's `hyperparameters` hold `values` (the others at their defaults)."""
    held = hyperparameters.values
    if any(held.get(name) != value for name, value in values.items()):
        return False
    defaults = {hp.name: hp.default for hp in hyperparameters.space}
    return all(
        value == defaults.get(name, value) for name, value in held.items() if name not in values
    )


def _refit_as_validated(task, data, *, members, seed):
    """The validated configuration of `task` (`validated_values`), trained as its
    validation trained it, on the training and validation splits: `members` of the demo's
    forecaster (`keras_rnnkit.forecasting.sunspots.train_forecaster`, with its fixed
    epochs and pruning), averaged."""
    import dataclasses

    from keras_rnnkit.forecasting import sunspots

    period = _training_period(data)
    family = sunspots.DEFAULT_FAMILY
    settings = dataclasses.replace(sunspots.SETTINGS[family], members=members)
    model, _, _ = sunspots.train_forecaster(family, period, settings, seed=seed)
    return model


def _training_period(data):
    """`data` with its training and validation splits as one training split, in time order."""
    return {
        **data,
        "x_train": np.concatenate([data["x_train"], data["x_val"]]),
        "y_train": np.concatenate([data["y_train"], data["y_val"]]),
    }


def _named(task):
    return "the data" if task is None else f"task {task!r}"


def _refit_on_the_training_period(
    task, data, hyperparameters, *, families, epochs, batch_size, seed, members=1, fixed=None
):
    """The best configuration trained on the training and validation splits, in time order.

    The models come from a hypermodel of their own, made for that period (a
    regression model scales itself with the data its hypermodel holds), so the
    search's hypermodel is left as the search had it. With `members` > 1,
    that many are trained side by side and their average is returned.
    """
    from keras_rnnkit.forecasting.ensemble import average
    from keras_rnnkit.forecasting.ensemble import stacked

    period = _training_period(data)
    hypermodel = hypermodel_for_task(task, period, families=families, seed=seed, fixed=fixed)
    keras.utils.set_random_seed(seed)
    if members == 1:
        model = hypermodel.build(hyperparameters)
        hypermodel.fit(
            hyperparameters,
            model,
            period["x_train"],
            period["y_train"],
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
        )
        return model
    models = [hypermodel.build(hyperparameters) for _ in range(members)]
    for index, model in enumerate(models):
        model.name = f"{model.name}_{index + 1}"  # unique: they are nested in one model
    x, y = period["x_train"], period["y_train"]
    # Side by side (as `fit_members`), through the hypermodel's `fit`: a NaN loss raises.
    hypermodel.fit(
        hyperparameters,
        stacked(models),
        x,
        [y] * members,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    return average(models, name=str(hyperparameters.values["family"]))


def _save_atomically(model, path):
    # Renamed into place, so that a kill mid-write leaves the previous best model whole.
    with _atomic.replacing(path) as new:
        model.save(new)
    return path
