"""What each `rnnkit` command does: a thin layer over the package.

The options and help live in `keras_rnnkit_cli` (which imports no backend); its `main`
imports this module only once the line is parsed and the backends' logging quieted.
`COMMANDS` maps each command's name to the function that runs it with the parsed options.
"""

import contextlib
import io
import json
import math
import pathlib
import sys
import time
import warnings
import zipfile

import numpy as np

from keras_rnnkit import _arguments
from keras_rnnkit import _atomic
from keras_rnnkit.data import TASKS
from keras_rnnkit.models import FAMILIES
from keras_rnnkit.models import get_family


def _checked_family(args, recurrent_only=False):
    """The `Family` of `--model`, from the registry; a one-line error naming the choices."""
    family = get_family(args.model, owner=f"rnnkit {args.command} --model")
    if recurrent_only and not family.recurrent:
        raise ValueError(
            f"rnnkit {args.command} --model {args.model}: the family has no recurrent state "
            "whose gradient could be followed through time"
        )
    return family


def _demo(args):
    import dataclasses

    import keras

    from keras_rnnkit._progress import EpochProgress
    from keras_rnnkit.data import sunspot_windows
    from keras_rnnkit.forecasting import sunspots

    _atomic.refuse_existing(args.out, args.overwrite)
    task = sunspot_windows(window=12)
    periods = list(sunspots.TEST_PERIODS)
    print(
        f"Sunspots: trained on 1700-1920 (targets 1712-1920), one year ahead, test "
        f"{sunspots.ARV_DEFINITION}; backend {keras.backend.backend()}"
    )
    table = sunspots.baselines(task)
    metrics = {
        "arv_definition": sunspots.ARV_DEFINITION,
        "variance": task["variance"],
        "seed": args.seed,
        "baselines": table,
        "models": {},
    }
    rows = [_demo_row(name, "-", "-", scores, periods) for name, scores in table.items()]
    histories, forecasts = {}, {}
    both_periods = np.concatenate([task["x_test"], task["x_test_late"]])
    start = time.perf_counter()
    with _atomic.new_output_folder(args.out, args.overwrite) as staging:
        for family in FAMILIES:
            settings = sunspots.SETTINGS[family]
            if args.epochs is not None:
                settings = dataclasses.replace(settings, epochs=args.epochs)
            if args.smoke:
                settings = dataclasses.replace(settings, epochs=2, members=2)
            passes = sunspots.passes_per_fit_epoch(settings, settings.epochs)
            progress = EpochProgress(
                f"training {family} ({settings.members} members)", settings.epochs, passes
            )
            began = time.perf_counter()
            model, members, history = sunspots.train_forecaster(
                family, task, settings, seed=args.seed, callbacks=[] if args.quiet else [progress]
            )
            seconds = time.perf_counter() - began
            scores = sunspots.period_scores(model, task)
            each = [sunspots.period_scores(member, task) for member in members]
            spread = sunspots.mean_and_sd(each)
            losses = np.asarray(history.history["loss"]) / settings.members
            histories[family] = (passes * np.arange(1, len(losses) + 1), losses)
            # Weights left after pruning (not zero), without the priors' own variables.
            counts = [sunspots.parameter_count(member) for member in members]
            metrics["models"][family] = {
                "settings": dataclasses.asdict(settings),
                "parameters_per_member": counts,
                "seconds": seconds,
                "arv": scores,
                "members_arv": each,
                "members_mean_sd": spread,
            }
            model.save(staging / f"{family}.keras")
            rows.append(_demo_row(family, _count_range(counts), f"{seconds:.0f}", scores, periods))
            rows.append(
                _demo_row(
                    f"  {settings.members} members",
                    "",
                    "",
                    {p: f"{spread[p]['mean']:.3f} ± {spread[p]['sd']:.3f}" for p in periods},
                    periods,
                )
            )
            # One predict call over both periods: one trace, not one per length.
            forecasts[family] = model.predict(both_periods, verbose=0)[:, 0]
        metrics["seconds"] = time.perf_counter() - start
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
        plotted = _plots(staging, histories, forecasts, task)
    header = _demo_row("model", "params", "seconds", {p: f"ARV {p}" for p in periods}, periods)
    print("\n".join([header, *rows]))
    print(
        f"Each family: the average of its members (row 1) and the members' mean ± sd (row 2); "
        f"{metrics['seconds']:.0f} s in all."
    )
    written = "Models (they take and return sunspot numbers), metrics.json"
    print(f"{written}{' and plots' if plotted else ''} written to {args.out}/")
    return 0


def _count_range(counts):
    """`"89"`, or `"41-44"` when the members kept different numbers of weights."""
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def _demo_row(name, parameters, seconds, scores, periods):
    cells = [
        f"{scores[p]:>14.3f}" if isinstance(scores[p], float) else f"{scores[p]:>14s}"
        for p in periods
    ]
    return f"{name:14s} {parameters:>7s} {seconds:>8s} " + " ".join(cells)


def _csv_options(args):
    """`{option: value}` of the CSV options given, for `load_file`; raises where they are
    given with a built-in `--task` or an NPZ file.

    The CSV options default to None, so that one given with --task or an NPZ
    file is refused rather than ignored.
    """
    from keras_rnnkit.data.tasks import TEXT_SUFFIXES

    flags = {
        "--target": "target",
        "--time-column": "time_column",
        "--features": "features",
        "--missing": "missing",
        "--delimiter": "delimiter",
        "--horizon": "horizon",
        "--season": "season",
    }
    csv_options = {k: getattr(args, k) for k in flags.values() if getattr(args, k) is not None}
    if csv_options and pathlib.Path(args.data or "").suffix.lower() not in TEXT_SUFFIXES:
        given = ", ".join(flag for flag, key in flags.items() if key in csv_options)
        source = f"--task {args.task}" if args.data is None else f"--data {args.data}"
        raise ValueError(f"{given} apply to --data FILE.csv (.tsv, .txt) only, not to {source}")
    if args.features is not None:
        csv_options["features"] = [name.strip() for name in args.features.split(",")]
    if args.delimiter == "\\t":
        csv_options["delimiter"] = "\t"  # a tab is hard to type on a command line
    return csv_options


def _load_task(args):
    """The task of `--task` or `--data`: (arrays, its name, problem, sequence_output)."""
    from keras_rnnkit.data import load_file
    from keras_rnnkit.data import load_task

    # The numbers and the file are checked before the library loads (keras_rnnkit_cli.checks).
    csv_options = _csv_options(args)
    if args.data is not None:
        csv_options.pop("target", None)
        task = load_file(args.data, target=args.target, window=args.window, **csv_options)
        if getattr(args, "time_column_found", False) and not args.quiet:
            print(
                f"time column: {args.time_column} (the first column; --time-column names another)"
            )
        if task.get("season") and not args.quiet:
            how = "given" if task["season_source"] == "given" else "from the time column"
            print(f"season: {task['season']} rows ({how}); window: {task['x_train'].shape[1]} rows")
        for key, verb in (("rows_dropped", "dropped"), ("rows_filled", "filled")):
            if task.get(key):
                # Not silent: the user learns how much of the file was changed.
                print(
                    f"rnnkit: note: {verb} {task[key]} rows of {args.data} with an empty, "
                    f"nan or non-numeric cell (--missing {args.missing})",
                    file=sys.stderr,
                )
        if "rows" in task:
            _warn_of_outliers(task, args.data)
        return task, str(args.data), "regression", task["y_train"].ndim == 3
    info = TASKS[args.task]
    task = load_task(args.task, args.window, seed=args.seed)
    return task, args.task, info.problem, info.sequence_output


def _warn_of_outliers(task, data):
    """Warns, naming their lines, of training values far outside their column's spread:
    the inputs are scaled by the training rows' mean and standard deviation, which one
    such value sets."""
    from keras_rnnkit.data.csv_files import OUTLIER_DEVIATIONS
    from keras_rnnkit.data.csv_files import outliers

    names = list(dict.fromkeys([*task["feature_names"], task["target"]]))
    found = outliers(task["rows"], names, task["split_rows"]["val"])
    if not found:
        return
    shown = "; ".join(
        f"line {line}, {name!r} = {value:.6g} ({deviations:.3g} robust sd from the median)"
        for line, name, value, deviations in found[:5]
    )
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    print(
        f"rnnkit: warning: {data}: {len(found)} value(s) of the training rows lie more than "
        f"{OUTLIER_DEVIATIONS:g} robust standard deviations from their column's median: "
        f"{shown}{more}. One such value sets the scale of the model's inputs and can ruin "
        "its training; correct it, or leave the row out",
        file=sys.stderr,
    )


def _forecast_kinds(args, feature):
    """What the model may forecast, as `--predict` asks: "residual", "change" and/or "level",
    the default first. `feature`: the input feature of the forecast series, or None."""
    if args.predict in ("change", "residual") and feature is None:
        raise ValueError(
            f"--predict {args.predict} needs a forecast of a series that is among the inputs "
            "(a CSV whose --target is one of its --features, or --task sunspots)"
        )
    if args.predict == "auto":
        return ["residual", "change", "level"] if feature is not None else ["level"]
    return [args.predict]


# Tried on rolling-origin folds once what to forecast is chosen: stronger weight decays.
WEIGHT_DECAYS = (1e-3, 1e-2)


def _settings(kind, weight_decay, units, default_units):
    """One candidate of the choice, with its name."""
    name = kind
    if weight_decay:
        name += f", weight decay {weight_decay:g}"
    if units != default_units:
        name += f", {units} units"
    return {"name": name, "kind": kind, "weight_decay": weight_decay, "units": units}


def _choose_settings(args, task, build, kinds, forecast):
    """The settings to train with, and the record of the choice for metrics.json (None
    where there was none).

    Where the model is a `forecast` of a series (with `train`), they are chosen
    on rolling-origin folds of the training samples
    (`keras_rnnkit.forecasting.selection`): first what to forecast, then, for that,
    the weight decay (0 or `WEIGHT_DECAYS`) and the size (`--units` or twice as many).
    """
    from keras_rnnkit.forecasting.selection import fold_scores

    settings = _settings(kinds[0], 0.0, args.units, args.units)
    if args.folds == 0 or args.command != "train" or not forecast:
        return settings, None
    options = dict(folds=args.folds, patience=args.patience, epochs=args.epochs)
    options.update(batch_size=args.batch_size, verbose=0)
    if not args.quiet:
        print(
            f"choosing the settings on {args.folds} rolling-origin folds of the training rows "
            "(mean MSE on the folds' blocks):",
            flush=True,
        )
        options["on_score"] = lambda name, mse: print(f"  {name}: {mse:.4g}", flush=True)
    x, y = task["x_train"], task["y_train"]
    kinds = {name: _settings(name, 0.0, args.units, args.units) for name in kinds}
    scores = fold_scores(build, kinds, x, y, **options)
    kind = min(scores, key=scores.get)
    others = [_settings(kind, decay, args.units, args.units) for decay in WEIGHT_DECAYS]
    others = {other["name"]: other for other in others}
    twice = _settings(kind, 0.0, 2 * args.units, args.units)
    others[twice["name"]] = twice
    scores.update(fold_scores(build, others, x, y, **options))
    settings = {**kinds, **others}[min(scores, key=scores.get)]
    if not args.quiet:
        print(f"  chosen: {settings['name']}")
    return settings, {"folds": args.folds, "mean_fold_mse": scores, "chosen": settings["name"]}


def _fit(args, callbacks_for=lambda task: [], loaded=None):
    """Loads the task, builds the model and trains it: (model, history, task, facts).

    `callbacks_for(task)` gives the training callbacks, which may use the task's
    arrays; `loaded`, a task already loaded (as `_load_task` returns it), is trained on
    in place of `--task` or `--data`. A regression model carries its own scaling, fitted
    on the training split. A forecaster of a series forecasts the residual of a linear AR, the
    change from the last value or the level, as `--predict` says; with `auto`, the
    choice and its other settings are made on rolling-origin folds of the training
    samples (`_choose_settings`). `--members` models of those settings are then
    trained side by side, stopping early on the validation samples, and averaged.
    """
    import keras

    from keras_rnnkit._progress import fit_verbosity
    from keras_rnnkit.data.tasks import output_units
    from keras_rnnkit.forecasting import average
    from keras_rnnkit.forecasting import fit_members
    from keras_rnnkit.forecasting import series_feature
    from keras_rnnkit.models import build_model

    _checked_family(args, recurrent_only=args.command == "gradients")
    _atomic.refuse_existing(args.out, args.overwrite)
    task, source, problem, sequence_output = loaded or _load_task(args)
    outputs = output_units(task, problem)
    # The input feature of the series a forecast continues (None: not such a forecast).
    feature = series_feature(task) if problem == "regression" and not sequence_output else None
    kinds = _forecast_kinds(args, feature)
    start = time.perf_counter()

    def build(settings, x_train, y_train, name=args.model):
        return build_model(
            args.model,
            task["x_train"].shape[1:],
            outputs,
            problem=problem,
            sequence_output=sequence_output,
            units=settings["units"],
            weight_decay=settings["weight_decay"],
            gradient_clip=args.clip,
            clipnorm=args.clipnorm,
            learning_rate=args.learning_rate,
            training_data=(x_train, y_train),
            predict_change=settings["kind"] == "change",
            ar_order=task["x_train"].shape[1] if settings["kind"] == "residual" else None,
            target_index=feature or 0,
            name=name,
        )

    keras.utils.set_random_seed(args.seed)
    settings, choice = _choose_settings(args, task, build, kinds, forecast=feature is not None)
    keras.utils.set_random_seed(args.seed)
    # One member for `gradients`: its monitor follows one model's states.
    count = 1 if args.command == "gradients" else args.members
    names = [args.model] if count == 1 else [f"{args.model}_{i + 1}" for i in range(count)]
    members = [build(settings, task["x_train"], task["y_train"], name) for name in names]
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )
    history = fit_members(
        members,
        task["x_train"],
        task["y_train"],
        validation_data=(task["x_val"], task["y_val"]),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=fit_verbosity(args.quiet),
        # Stops at the first NaN loss; _diverged then refuses the model.
        callbacks=[keras.callbacks.TerminateOnNaN(), stopping, *callbacks_for(task)],
    )
    _diverged(history, args)
    model = members[0] if count == 1 else average(members, name=args.model)
    facts = {"model": args.model, "data": source, "problem": problem}
    facts["inputs"] = _model_inputs(args, task)
    if problem == "regression":
        validation = float(np.mean((model.predict(task["x_val"], verbose=0) - task["y_val"]) ** 2))
        if not math.isfinite(validation):
            raise ValueError(
                f"training gave a model whose validation MSE is not finite ({validation}); "
                "nothing was written. Try a lower --learning-rate or --clip"
            )
        facts.update(validation_mse=validation, forecast=settings["kind"])
    if choice is not None:
        facts["choice"] = choice
    facts.update(training=_stopping_facts(history, stopping, count))
    facts.update(parameters=model.count_params(), seconds=time.perf_counter() - start)
    return model, history, task, facts


def _stopping_facts(history, stopping, members):
    """How training went, for metrics.json: the epochs run, the best one (whose weights
    were kept) and its validation loss, and the number of members averaged."""
    losses = history.history.get("val_loss", [])
    best = int(np.argmin(losses)) if losses else None
    return {
        "members": members,
        "epochs_run": len(history.history.get("loss", [])),
        "best_epoch": None if best is None else best + 1,
        "best_val_loss": None if best is None else float(losses[best]),
        "stopped_early": bool(stopping.stopped_epoch),
    }


def _model_inputs(args, task):
    """What feeds the saved model, as metrics.json records it: the input shape and, for
    a CSV file, the columns of each window in order, the target and its horizon."""
    inputs = {"shape": [None, *(int(n) for n in task["x_train"].shape[1:])]}
    if "feature_names" not in task:
        return inputs
    return {
        **inputs,
        "window": int(task["x_train"].shape[1]),
        "features": list(task["feature_names"]),
        "target": task["target"],
        "horizon": int(task["horizon"]),
        "season": task.get("season"),
        "time_column": args.time_column,
        "raw_values": True,
        "steps": int(task.get("steps", 1)),
        "meaning": (
            f"each sample is {task['x_train'].shape[1]} consecutive rows of the features, "
            f"in this order, as raw values; the output is the target {task['horizon']} "
            "row(s) after the last of them, in the target's own units"
            if task.get("steps", 1) == 1
            else f"each sample is {task['x_train'].shape[1]} consecutive rows of the features, "
            f"in this order, as raw values; the outputs are the target in the {task['steps']} "
            "rows after the last of them, in the target's own units"
        ),
    }


def _diverged(history, args):
    """Raises if the training loss became NaN or infinite: such a model is not written."""
    losses = history.history.get("loss", [])
    bad = [i for i, loss in enumerate(losses) if not math.isfinite(loss)]
    if bad:
        raise ValueError(
            f"training diverged: the loss became {losses[bad[0]]} in epoch "
            f"{bad[0] + 1}; nothing was written. Try a lower --learning-rate (it was "
            f"{args.learning_rate}) or --clip"
        )


def _baselines(task, problem):
    """`{name: test score}` of the baselines that use no model: see `regression_baselines`."""
    from keras_rnnkit.forecasting import regression_baselines

    train, test = task["y_train"], task["y_test"]
    if problem == "regression":
        return {f"MSE of {name}": value for name, value in regression_baselines(task).items()}
    if problem == "classification":
        majority = np.bincount(train.ravel()).argmax()
        return {"accuracy of the majority class": float(np.mean(test == majority))}
    majority = (train.mean(axis=tuple(range(train.ndim - 1))) >= 0.5).astype(test.dtype)
    return {"accuracy of the majority bit": float(np.mean(test == majority))}


def _against_baselines_on_validation(task, metrics):
    """The chosen model's validation MSE beside the baselines' (`regression_baselines` on the
    validation split), and a one-line warning where a baseline does better; None where the
    task is not a regression."""
    from keras_rnnkit.forecasting import regression_baselines

    if metrics["problem"] != "regression":
        return None
    mse = metrics["validation_mse"]
    baselines = regression_baselines(task, split="val")
    best = min(baselines, key=baselines.get)
    record = {"model": mse, "baselines": baselines, "beats_every_baseline": mse < baselines[best]}
    if not record["beats_every_baseline"]:
        record["warning"] = (
            f"the {metrics['model']} model is no better than {best} on the validation rows "
            f"(MSE {mse:.4g} against {baselines[best]:.4g}); prefer {best}, or try "
            "another --model, --window or --units"
        )
    return record


def _residual_diagnostics(folder, model, task):
    """The one-step test residuals' autocorrelation and Ljung-Box test, for metrics.json, and
    (with matplotlib) residuals.png and response.png in `folder`: `(record, written)`.

    The residuals of the first output: the next row (a direct forecaster's first), or with
    `--horizon` k the row k ahead. The record's `warning` names the lags from k on whose
    autocorrelation lies outside the +-1.96/sqrt(n) band (structure the model missed).
    """
    from keras_rnnkit.forecasting import ljung_box
    from keras_rnnkit.forecasting import plot_residuals
    from keras_rnnkit.forecasting import plot_response
    from keras_rnnkit.forecasting import residual_autocorrelation

    splits = ("train", "val", "test")
    forecasts = {s: model.predict(task[f"x_{s}"], verbose=0)[:, 0] for s in splits}
    truth = {s: task[f"y_{s}"][:, 0] for s in splits}
    residuals = truth["test"] - forecasts["test"]
    if len(residuals) < 4:
        return {"n": len(residuals), "warning": None}, " (too few test rows for plots)"
    lags = min(20, len(residuals) - 1)
    autocorrelation = residual_autocorrelation(residuals, lags)
    test = ljung_box(residuals, min(10, lags))
    # k-step errors of overlapping windows are correlated up to lag k - 1 by construction.
    horizon = int(task["horizon"])
    outside = [int(lag) for lag in autocorrelation.outside if lag >= horizon]
    ahead = "one-step" if horizon == 1 else f"{horizon}-step"
    record = {
        "n": int(autocorrelation.n),
        "bound": float(autocorrelation.bound),
        "autocorrelation": [float(v) for v in autocorrelation.values],
        "lags_outside_bound": outside,
        "ljung_box": {"lags": test.lags, "statistic": test.statistic, "p_value": test.p_value},
        "warning": None,
    }
    if outside:
        first = outside[0]
        record["warning"] = (
            f"the {ahead} test residuals are autocorrelated at lag(s) "
            f"{', '.join(map(str, outside))} (lag {first}: "
            f"{autocorrelation.values[first - 1]:.2f}, outside +-{autocorrelation.bound:.2f}; "
            f"Ljung-Box p = {test.p_value:.3g}): the model leaves structure in the series; "
        )
    advice = "try another --window or --model"
    times = np.concatenate([task[f"time_{s}"] for s in splits]) if "time_train" in task else None
    if times is None:
        times = np.arange(1, sum(len(truth[s]) for s in splits) + 1)
    try:
        plot_residuals(
            folder / "residuals.png",
            residuals,
            max_lag=lags,
            title=f"{ahead.capitalize()} test residuals of {task['target']}",
        )
        plot_response(
            folder / "response.png",
            times,
            np.concatenate([truth[s] for s in splits]),
            np.concatenate([forecasts[s] for s in splits]),
            [s for s in splits for _ in truth[s]],
            target_name=task["target"],
        )
    except ImportError:
        written = " (plots skipped: pip install matplotlib)"
    else:
        written, advice = ", residuals.png, response.png", f"see residuals.png, or {advice}"
    if record["warning"]:
        record["warning"] += advice
    return record, written


def _series_forecaster(args, fitted):
    """`fitted`, what `_fit` returns, with its model made a `SeriesForecaster` of the CSV file's
    rows after its end, and its facts given the strategy, intervals and multi-step test
    scores (as `forecast_beyond_the_data`).

    With `--steps` S > 1 a direct model of S outputs is trained too, on the same rows
    (`direct_task`); `--strategy auto` keeps the one whose forecasts of the S rows after
    each validation row have the lower MAE. The intervals are calibrated on the forecasts
    from every validation and test row (`conformal_intervals`).
    """
    from keras_rnnkit.data.csv_files import direct_task
    from keras_rnnkit.forecasting import future

    model, history, task, metrics = fitted
    steps = args.steps or 1
    recursive = task["target_feature_index"] is not None
    if args.strategy == "recursive" and not recursive:
        raise ValueError(
            f"--strategy recursive feeds the forecasts of {task['target']!r} back, but it is "
            "not among the --features; add it, or use --strategy direct"
        )
    candidates = {}
    if recursive and args.strategy != "direct":
        series = future.series_of(task, strategy="recursive", steps=1)
        candidates["recursive"] = (series, fitted)
    if (steps > 1 and args.strategy != "recursive") or not candidates:
        if steps > 1:
            if not args.quiet:
                print(f"training the direct forecaster of {steps} rows", flush=True)
            loaded = (direct_task(task, steps), metrics["data"], "regression", False)
            direct = _fit(args, loaded=loaded)
        else:  # one step, without its target among the inputs: direct
            direct = fitted
        candidates["direct"] = (future.series_of(task, strategy="direct", steps=steps), direct)
    for series, _ in candidates.values():
        series["time_column"] = args.time_column
    choice = {}
    for name, (series, (candidate, *_)) in candidates.items():
        forecasts, truth, _ = future.held_out_forecasts(
            candidate, task, series, steps, start="val", end="test"
        )
        choice[name] = future.mean_absolute_error(forecasts, truth)[0]
    strategy = min(choice, key=choice.get)
    if len(choice) > 1 and not args.quiet:
        scores = ", ".join(f"{name} {mae:.4g}" for name, mae in choice.items())
        print(
            f"strategy, by the MAE of the next {steps} rows from each validation row: "
            f"{scores}; chosen: {strategy}"
        )
    series, (chosen, chosen_history, chosen_task, chosen_metrics) = candidates[strategy]
    season = task.get("season")
    calibrated = future.calibration_steps(task, strategy, steps)
    forecasts, truth, origins = future.held_out_forecasts(chosen, task, series, calibrated)
    series["intervals"] = future.conformal_intervals(forecasts, truth)
    # A forecast from a row reads only the rows before it: the test rows' are among these.
    in_test = origins >= task["split_rows"]["test"]
    forecasts, truth, origins = forecasts[in_test, :steps], truth[in_test, :steps], origins[in_test]
    test = {"model": future.mean_absolute_error(forecasts, truth)}
    for name, naive in future.naive_forecasts(task, origins, steps, season).items():
        test[name] = future.mean_absolute_error(naive, truth)
    record = {
        "strategy": strategy,
        "steps": steps,
        "validation_mae": choice,
        "calibrated_steps": calibrated,
        "test_mae": {name: {"mean": mean, "per_step": per} for name, (mean, per) in test.items()},
    }
    chosen_metrics["forecast_beyond_the_data"] = record
    forecaster = future.as_series_forecaster(chosen, series)
    return forecaster, chosen_history, chosen_task, chosen_metrics


def _train(args):
    from keras_rnnkit.data.csv_files import direct_task

    loaded = _load_task(args)
    task = loaded[0]
    needs_direct = (args.steps or 1) > 1 and args.strategy != "recursive"
    if needs_direct and "rows" in task and task["horizon"] == 1:
        # A direct forecaster trains second: its rows are checked before the first trains.
        direct_task(task, args.steps)
    fitted = _fit(args, loaded=loaded)
    if "rows" in fitted[2] and fitted[2]["horizon"] == 1:
        # The forecaster kept may be the direct one, with its own history, task and facts.
        fitted = _series_forecaster(args, fitted)
    model, history, task, metrics = fitted
    test = model.evaluate(task["x_test"], task["y_test"], verbose=0, return_dict=True)
    baselines = _baselines(task, metrics["problem"])
    # A regression model's `loss` is on standardised values; its `mse` is in the data's units.
    metrics.update(history=history.history, test=test, test_baselines=baselines)
    validation = _against_baselines_on_validation(task, metrics)
    if validation is not None:
        metrics["validation_against_baselines"] = validation
    plotted = ""
    with _atomic.new_output_folder(args.out, args.overwrite) as staging:
        model.save(staging / "model.keras")
        if "rows" in task:
            metrics["test_residuals"], plotted = _residual_diagnostics(staging, model, task)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
    scores = ", ".join(f"{name} {value:.4g}" for name, value in test.items())
    against = "; ".join(f"{name}: {value:.4g}" for name, value in baselines.items())
    forecast = f" (forecasts the {metrics['forecast']})" if "forecast" in metrics else ""
    training = metrics["training"]
    print(
        f"{args.model} on {metrics['data']}{forecast}: {metrics['parameters']} parameters, "
        f"{training['members']} member(s), best epoch {training['best_epoch']} of "
        f"{training['epochs_run']}, {metrics['seconds']:.1f} s, test {scores}\n"
        f"baselines on the test split: {against}\n"
        f"model (takes and returns raw values), metrics{plotted} in {args.out}/"
    )
    if "test_residuals" in metrics and metrics["test_residuals"]["warning"]:
        print(f"rnnkit: warning: {metrics['test_residuals']['warning']}", file=sys.stderr)
    if "forecast_beyond_the_data" in metrics:
        record = metrics["forecast_beyond_the_data"]
        scores = "; ".join(f"{name} {v['mean']:.4g}" for name, v in record["test_mae"].items())
        print(
            f"{record['strategy']} forecasts of the next {record['steps']} row(s) from each "
            f"test row, MAE: {scores}\n"
            f"forecast the rows after the file's end: rnnkit forecast {args.out}/model.keras "
            f"--data {args.data} --steps {record['steps']}"
        )
    if validation is not None and "warning" in validation:
        print(f"rnnkit: warning: {validation['warning']}", file=sys.stderr)
    return 0


def _forecast(args):
    from keras_rnnkit.data.tasks import TEXT_SUFFIXES
    from keras_rnnkit.forecasting import forecast

    model = _loaded_model(args.model)
    delimiter = args.delimiter
    if delimiter is None:  # an empty --delimiter is refused, as train refuses it
        delimiter = TEXT_SUFFIXES.get(pathlib.Path(args.data).suffix.lower(), ",")
    delimiter = "\t" if delimiter == "\\t" else delimiter
    result = forecast(
        model,
        args.data,
        args.steps,
        future=args.future,
        missing=args.missing,
        delimiter=delimiter,
    )
    if args.out is None:
        print(result)
        return 0
    # As for the other commands' outputs, missing folders above it are created.
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(args.out, overwrite=args.overwrite)
    print(f"{args.steps} {result.strategy} forecast(s) of {result.target} written to {args.out}")
    return 0


def _backtest(args):
    """Trains each family on the rows before the first origin (or, with --refit, before
    each), forecasts --steps rows from every origin and scores them beside the baselines."""
    import copy

    from keras_rnnkit.data.csv_files import first_rows_task
    from keras_rnnkit.forecasting import backtest
    from keras_rnnkit.forecasting import future

    families = list(dict.fromkeys(args.model or FAMILIES))
    for name in families:
        get_family(name, owner="rnnkit backtest --model")
    _atomic.refuse_existing(args.out, args.overwrite)
    task, source, _, _ = _load_task(args)
    table, steps, season = task["rows"], args.steps or 1, task.get("season")
    target, features = table.column(task["target"]), table.columns(task["feature_names"])
    window = task["x_train"].shape[1]
    if args.origins > len(target):  # rolling_origins would lay them all out first (GiB)
        raise ValueError(
            f"--origins {args.origins}: more origins than the {len(target)} rows of {source}; "
            "use fewer origins"
        )
    origins = backtest.rolling_origins(
        len(target),
        steps,
        args.origins,
        stride=args.stride,
        first=window + 1,
        owner="rnnkit backtest",
    )
    truth = target[origins[:, None] + np.arange(steps)]
    forecasts, fits = {}, {}
    for family in families:
        family_args = copy.copy(args)
        family_args.model, family_args.quiet = family, True
        rows = np.empty((len(origins), steps))
        trained_at = origins if args.refit else origins[:1]
        if not args.quiet:
            how = f"{len(trained_at)} fits" if args.refit else "one fit"
            print(f"backtesting {family} ({how})", flush=True)
        for i, origin in enumerate(trained_at):
            loaded = (first_rows_task(task, int(origin)), source, "regression", False)
            model, _, _, facts = _series_forecaster(family_args, _fit(family_args, loaded=loaded))
            series = model.series
            choice = facts["forecast_beyond_the_data"]
            fits.setdefault(family, []).append(
                {
                    "trained_on_rows": int(origin),
                    "forecast": facts.get("forecast"),
                    "strategy": series["strategy"],
                    "validation_mae": choice["validation_mae"],
                }
            )
            scored = origins[i : i + 1] if args.refit else origins
            index = series["features"].index(series["target"])
            rows[i : i + len(scored)] = future.multi_step_forecasts(
                model,
                features,
                scored,
                steps,
                window=window,
                strategy=series["strategy"],
                target_index=index if series["strategy"] == "recursive" else None,
            )
        forecasts[family] = rows
    forecasts.update(future.naive_forecasts(task, origins, steps, season))
    forecasts[f"AR({window})"] = backtest.autoregressive_forecasts(
        target, origins, steps, window, refit=args.refit
    )
    scale = backtest.naive_scale(target[: origins[0]], season)
    scores = {name: backtest.scores(values, truth, scale) for name, values in forecasts.items()}
    if table.times is None:
        times = list(range(1, len(target) + 1))
    else:  # years as 1995, not 1995.0
        times = [int(t) if isinstance(t, float) and t.is_integer() else t for t in table.times]
    record = {
        "data": source,
        "target": task["target"],
        "steps": steps,
        "origins": [times[o] for o in origins],
        "refit": args.refit,
        "mase_scale": {"value": scale, "season": season},
        "scores": scores,
        "fits": fits,
    }
    with _atomic.new_output_folder(args.out, args.overwrite) as staging:
        (staging / "backtest.json").write_text(json.dumps(record, indent=2, default=str))
        lines = [",".join(["origin", "step", "time", task["target"], *forecasts])]
        for i, origin in enumerate(origins):
            for h in range(steps):
                cells = [times[origin], h + 1, times[origin + h], truth[i, h]]
                cells += [f"{values[i, h]:.10g}" for values in forecasts.values()]
                lines.append(",".join(map(str, cells)))
        (staging / "forecasts.csv").write_text("\n".join(lines) + "\n")
        try:
            backtest.plot_backtest(
                staging / "backtest.png",
                times,
                target,
                origins,
                forecasts,
                target_name=task["target"],
            )
            plotted = " and backtest.png"
        except ImportError:
            plotted = " (plot skipped: install matplotlib: pip install matplotlib)"
    print(
        f"{steps}-step forecasts of {task['target']} from {len(origins)} origins "
        f"({times[origins[0]]} .. {times[origins[-1]]}), "
        f"{'refitted at each' if args.refit else 'trained once before the first'}:"
    )
    print(f"{'forecaster':24s} {'MAE':>10s} {'RMSE':>10s} {'MASE':>8s}")
    for name, score in sorted(scores.items(), key=lambda item: item[1]["MAE"]):
        print(f"{name:24s} {score['MAE']:10.4g} {score['RMSE']:10.4g} {score['MASE']:8.3f}")
    print(f"backtest.json, forecasts.csv{plotted} written to {args.out}/")
    return 0


def _loaded_model(path):
    """The model saved at `path`, or a one-line error saying why it cannot be loaded."""
    import keras

    path = pathlib.Path(path)
    _unpacked_within_memory(path)
    try:
        return keras.saving.load_model(path)
    except Exception as error:
        # A broken or crafted file fails anywhere in Keras's loader, with any
        # type (BadZipFile, KeyError, TypeError, ...); --debug shows which. Keras's
        # deserializer wraps the cause in "could not be deserialized" messages, one per
        # enclosing layer, each ending "Exception encountered: <the inner error>".
        text = str(error).strip()
        reason = text.rsplit("Exception encountered: ", 1)[-1].strip()
        reason = reason.splitlines()[0] if reason else ""
        # Keras may append the file's whole config: one line, not pages.
        reason = reason if len(reason) <= 300 else reason[:300] + " ..."
        raise ValueError(
            f"{path}: not a Keras model file that can be loaded ({type(error).__name__}: {reason})"
        ) from error


def _unpacked_within_memory(path):
    """Raises where the entries of the `.keras` archive at `path` would, unpacked, take
    more memory than this process can still use (as a zip bomb's do): Keras reads
    `config.json` whole and decodes it (twice its size) and each other entry at most once.
    The sizes are those the archive declares, which Python's zipfile reads no further than."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {entry.filename: entry.file_size for entry in archive.infolist()}
    except (zipfile.BadZipFile, OSError):
        return  # Keras's loader says what is wrong with it
    needed = sum(sizes.values()) + sizes.get("config.json", 0)
    limit = _arguments.available_memory()
    if limit is None or needed <= limit:
        return
    largest = max(sizes, key=sizes.get)
    raise ValueError(
        f"{path}: not a Keras model file that can be loaded here: its entries would take "
        f"{needed / 2**30:.3g} GiB once unpacked (`{largest}` alone {sizes[largest] / 2**30:.3g} "
        f"GiB), more than the {limit / 2**30:.3g} GiB of memory this process can still use"
    )


def _gradients(args):
    from keras_rnnkit.training import GradientFlowMonitor
    from keras_rnnkit.training import GradientFlowWarning

    monitors = []

    def monitor_on_validation_samples(task):
        # The probe batch: validation samples, which training never updates on.
        probe = task["x_val"][: args.probe], task["y_val"][: args.probe]
        monitors.append(GradientFlowMonitor(*probe))
        return monitors

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GradientFlowWarning)
        _, _, _, facts = _fit(args, callbacks_for=monitor_on_validation_samples)
    for message in dict.fromkeys(
        str(w.message) for w in caught if w.category is GradientFlowWarning
    ):
        print(f"warning: {message}")
    (monitor,) = monitors
    norms = {name: rows.tolist() for name, rows in monitor.state_gradient_norms.items()}
    with _atomic.new_output_folder(args.out, args.overwrite) as staging:
        try:
            monitor.plot(staging / "gradient_flow.png")
            written = "Plot gradient_flow.png and gradient_norms.json"
        except ImportError:  # no matplotlib: the norms are still worth having
            print("(plot skipped: install matplotlib: pip install matplotlib)")
            written = "gradient_norms.json"
        record = {**facts, "state_gradient_norms": norms}
        (staging / "gradient_norms.json").write_text(json.dumps(record, indent=2))
    for name, rows in norms.items():
        last_epoch = np.asarray(rows[-1])
        print(
            f"{name}, after {len(rows)} epochs: |dL/dstate| at the first step "
            f"{last_epoch[0]:.3g}, at the last step {last_epoch[-1]:.3g}, largest "
            f"{last_epoch.max():.3g} (step {last_epoch.argmax() + 1} of {len(last_epoch)})"
        )
    print(f"{written} written to {args.out}/")
    return 0


def _plots(folder, histories, forecasts, task):
    """Writes learning_curves.png and forecasts.png; returns False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(plots skipped: install matplotlib: pip install matplotlib)")
        return False
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for family, (epochs, losses) in histories.items():
        axis.plot(epochs, losses, label=family)
    axis.set(
        yscale="log",
        xlabel="epoch (pass over the training years)",
        ylabel="training loss (MSE / variance of the targets)",
        title="Sunspot forecasters: learning curves (mean of the members)",
    )
    axis.legend(title="family")
    figure.savefig(folder / "learning_curves.png", dpi=100)
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(10, 4.5), constrained_layout=True)
    years = np.concatenate([task["years_test"], task["years_test_late"]])
    truth = np.concatenate([task["y_test"][:, 0], task["y_test_late"][:, 0]])
    axis.plot(years, truth, "k-", linewidth=2.5, label="observed")
    for family, forecast in forecasts.items():
        axis.plot(years, forecast, marker=".", label=f"{family} (average of members)")
    axis.axvline(task["years_test_late"][0] - 0.5, color="grey", linestyle=":")
    axis.set(
        xlabel="year",
        ylabel="yearly mean sunspot number (Wolf)",
        title="One-year-ahead forecasts, test periods 1921-1955 and 1956-1979",
    )
    axis.legend()
    figure.savefig(folder / "forecasts.png", dpi=100)
    plt.close(figure)
    return True


def _tune(args):
    from keras_rnnkit._progress import fit_verbosity

    # Imports keras-tuner, for this command only (the [tuner] extra).
    from keras_rnnkit.tuning import run_search

    for name in args.model or ():
        get_family(name, owner="rnnkit tune --model")
    data = project_name = None
    args.task = args.task if args.data is not None else args.task or "sunspots"
    if args.data is not None:
        data, _, _, _ = _load_task(args)
        name = pathlib.Path(args.data).stem + (f"-{args.target}" if args.target else "")
        project_name = f"{name}-{args.tuner}"
    else:
        _csv_options(args)  # refuses the CSV options with --task, naming them
    result = run_search(
        args.task,
        data=data,
        project_name=project_name,
        families=tuple(args.model or FAMILIES),
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        patience=args.patience,
        members=args.members,
        window=args.window if data is None else None,
        directory=args.directory,
        overwrite=args.overwrite,
        seed=args.seed,
        verbose=fit_verbosity(args.quiet),
        folds="auto" if args.folds is None else args.folds,
    )
    if not args.quiet:
        result.tuner.results_summary(3)
    best = ", ".join(f"{k}={v}" for k, v in result.best_hyperparameters.items())
    scores = ", ".join(f"{k} {v:.4g}" for k, v in result.test_scores.items())
    print(
        f"best: {best}\ntest {scores}; search {result.wall_time_s:.1f} s; "
        f"tuner state in {args.directory}/ (run again to resume)"
    )
    if data is not None:
        baselines = _baselines(data, "regression")
        print(
            "baselines on the test split: "
            + "; ".join(f"{k}: {v:.4g}" for k, v in baselines.items())
        )
    elif args.task == "sunspots":
        from keras_rnnkit.data import sunspot_windows
        from keras_rnnkit.forecasting import sunspots

        window = TASKS["sunspots"].default_window if args.window is None else args.window
        arv = sunspots.period_scores(result.model, sunspot_windows(window=window))
        print("test " + ", ".join(f"ARV {period} {value:.3f}" for period, value in arv.items()))
    print(f"best model (takes and returns raw values) saved to {result.model_path}")
    if data is not None and "rows" in data and data["horizon"] == 1:
        print(
            f"forecast the rows after the file's end: rnnkit forecast {result.model_path} "
            f"--data {args.data} --steps {data.get('season') or 12}"
        )
    return 0


def _export(args):
    from keras_rnnkit import export

    # The path and the options are checked before the library loads (keras_rnnkit_cli.checks).
    model_path = pathlib.Path(args.model)
    model = _loaded_model(model_path)
    # --quiet: without Keras's own lines ("Saved artifact at ...", the signatures).
    chatter = contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext()
    with chatter:
        written = _export_as(export, model, args)
    print(f"{model_path} exported as {args.format} to {written}")
    return 0


def _export_as(export, model, args):
    if args.format == "savedmodel":
        return export.export_saved_model(
            model, args.out, streaming=args.streaming, overwrite=args.overwrite
        )
    if args.format == "tflite":
        return export.export_tflite(
            model,
            args.out,
            batch_size=1 if args.batch_size is None else args.batch_size,
            time_steps=args.time_steps,
            streaming=args.streaming,
            overwrite=args.overwrite,
        )
    return export.export_onnx(model, args.out, overwrite=args.overwrite)


# What each command does, by its name on the command line (keras_rnnkit_cli.parser).
COMMANDS = {
    "demo": _demo,
    "train": _train,
    "gradients": _gradients,
    "tune": _tune,
    "forecast": _forecast,
    "backtest": _backtest,
    "export": _export,
}
