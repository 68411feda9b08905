"""Real keras-tuner searches on keras_rnnkit.tuning: each tuner, NaN trials, resume, distributed.

Tiny data and a small pinned space (one layer of 8 units) keep each search to
seconds; what takes time is building and tracing a model per trial.
"""

import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from keras_rnnkit.tuning import RecurrentHyperModel  # noqa: E402
from keras_rnnkit.tuning import make_tuner  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
TDNN_ONLY = {"context_width", "dilation", "stride"}
JORDAN_ONLY = {"jordan_output_units", "context_decay"}
NARX_ONLY = {"narx_output_units", "input_taps", "feedback_taps"}
RECURRENT_ONLY = {"bidirectional", "dropout", "recurrent_dropout", "zoneout", "gradient_clip"}
# Small models, so that a trial takes seconds: the search still covers the
# families and all their other hyperparameters.
QUICK = {"depth": 1, "units": 8, "bidirectional": False}


def _data(samples=24, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, steps, 1)).astype("float32")
    return x, x[:, -2:, 0].sum(axis=1, keepdims=True)


def _statuses(tuner):
    return [trial.status for trial in tuner.oracle.trials.values()]


def _check_only_own_family_values(tuner):
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        family = values["family"]
        foreign = {
            "elman": TDNN_ONLY | JORDAN_ONLY | NARX_ONLY,
            "jordan": TDNN_ONLY | NARX_ONLY,
            # Zoneout would stop NARX's delay lines from shifting: never searched for it.
            "narx": TDNN_ONLY | JORDAN_ONLY | {"zoneout"},
            "tdnn": JORDAN_ONLY | RECURRENT_ONLY | NARX_ONLY,
        }[family]
        assert not foreign & set(values), (family, values)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_each_tuner_searches_and_its_best_model_saves_and_loads(kind, tmp_path, capsys):
    x, y = _data()
    x_val, y_val = _data(12, seed=1)
    tuner = make_tuner(
        kind,
        RecurrentHyperModel((6, 1), 1, fixed=QUICK),
        max_trials=3,
        max_epochs=2,
        directory=tmp_path,
        project_name=kind,
        seed=3,
    )
    epochs = {} if kind == "hyperband" else {"epochs": 1}
    tuner.search(x, y, validation_data=(x_val, y_val), verbose=0, **epochs)
    assert len(tuner.oracle.trials) >= 2 and set(_statuses(tuner)) == {"COMPLETED"}
    _check_only_own_family_values(tuner)

    tuner.results_summary(2)
    summary = capsys.readouterr().out
    assert 'Objective(name="val_loss", direction="min")' in summary
    assert "family:" in summary and "learning_rate:" in summary and "Score:" in summary

    best = tuner.get_best_models(1)[0]
    path = tmp_path / "best.keras"
    best.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x_val, verbose=0), best.predict(x_val, verbose=0), rtol=1e-5, atol=1e-6
    )
    # The best trial's score is its validation loss, recomputed from the loaded model.
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert np.isfinite(best_trial.score)


@pytest.mark.slow
def test_best_model_loads_in_a_fresh_process_with_only_keras_rnnkit(tmp_path):
    x, y = _data()
    tuner = keras_tuner.RandomSearch(
        RecurrentHyperModel((6, 1), 1, families=("jordan",), fixed=QUICK),
        objective="loss",
        max_trials=1,
        directory=tmp_path,
        project_name="one",
    )
    tuner.search(x, y, epochs=1, verbose=0)
    best = tuner.get_best_models(1)[0]
    best.save(tmp_path / "best.keras")
    np.save(tmp_path / "expected.npy", best.predict(x, verbose=0))
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import sys
        import keras, numpy as np
        import keras_rnnkit
        model = keras.saving.load_model({str(tmp_path / "best.keras")!r})
        got = model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0)
        np.testing.assert_allclose(got, np.load({str(tmp_path / "expected.npy")!r}), rtol=1e-5)
        assert "keras_tuner" not in sys.modules, "loading must not need keras-tuner"
        print("loaded", type(model.layers[1]).__name__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded JordanRNN" in done.stdout


@pytest.mark.slow
def test_a_diverging_trial_is_recorded_as_failed_and_the_search_goes_on(tmp_path):
    x, y = _data()
    hp = keras_tuner.HyperParameters()
    # The grid runs 1e30 first: Adam's first step then moves every weight by
    # about 1e30, and the next batch's loss overflows float32 to inf, then NaN.
    hp.Choice("learning_rate", [1e30, 1e-3], ordered=False)
    tuner = keras_tuner.GridSearch(
        RecurrentHyperModel((6, 1), 1, families=("elman",), fixed=QUICK),
        objective="loss",
        hyperparameters=hp,
        tune_new_entries=False,
        directory=tmp_path,
        project_name="nan",
    )
    tuner.search(x, y, epochs=2, batch_size=8, verbose=0)
    trials = sorted(
        tuner.oracle.trials.values(), key=lambda t: -t.hyperparameters.values["learning_rate"]
    )
    assert [t.hyperparameters.values["learning_rate"] for t in trials] == [1e30, 1e-3]
    assert [t.status for t in trials] == ["FAILED", "COMPLETED"]
    assert "FailedTrialError" in trials[0].message and "loss became" in trials[0].message
    assert tuner.get_best_hyperparameters(1)[0].values["learning_rate"] == 1e-3


# One script for the subprocess tests: a search over all three families whose
# trials each train for at least `--pause` seconds; prints how many trials this
# process ran. Distributed mode is keras-tuner's, from the KERASTUNER_* variables.
SEARCH_SCRIPT = """
import json, pathlib, sys, time
import keras, keras_tuner, numpy as np
from keras_rnnkit.tuning import RecurrentHyperModel

directory, max_trials, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ready = sys.argv[4:]
ran = []

class Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        ran.append(1)
        pathlib.Path(f"{directory}-training-{len(ran)}").touch()
        time.sleep(pause)

rng = np.random.default_rng(0)
x = rng.normal(size=(24, 6, 1)).astype("float32")
y = x[:, -2:, 0].sum(axis=1, keepdims=True)
tuner = keras_tuner.RandomSearch(
    RecurrentHyperModel((6, 1), 1, fixed={"depth": 1, "units": 8, "bidirectional": False}),
    objective="loss", max_trials=max_trials, seed=5, directory=directory, project_name="search",
)
if ready:  # a barrier, so that every worker is up before the first trial
    pathlib.Path(ready[0]).touch()
    while not all(pathlib.Path(p).exists() for p in ready[1:]):
        time.sleep(0.1)
tuner.search(x, y, epochs=1, verbose=0, callbacks=[Count()])
print("RESULT " + json.dumps({"ran": len(ran)}))
"""


def _script(tmp_path):
    path = tmp_path / "search_script.py"
    path.write_text(SEARCH_SCRIPT)
    return path


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return {**env, **extra}


def _trials_on_disk(directory):
    trials = {}
    for path in sorted(pathlib.Path(directory, "search").glob("trial_*/trial.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:  # being written
            continue
        trials[record["trial_id"]] = record
    return trials


def _result(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
def test_a_killed_search_resumes_keeping_finished_trials(tmp_path):
    script, directory, max_trials = _script(tmp_path), tmp_path / "tuner", 4
    process = subprocess.Popen(
        [sys.executable, str(script), str(directory), str(max_trials), "1.5"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        # Killed while its third trial trains (each trial pauses 1.5 s first),
        # not while keras-tuner writes its state files (see docs/tuning.md).
        third = pathlib.Path(f"{directory}-training-3")
        deadline = time.monotonic() + 300
        while not third.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()[1][-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    finished = {k: t for k, t in _trials_on_disk(directory).items() if t["status"] == "COMPLETED"}
    assert len(finished) == 2

    resumed = subprocess.run(
        [sys.executable, str(script), str(directory), str(max_trials), "0"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Only the remaining trials ran (the interrupted one among them) ...
    assert _result(resumed.stdout)["ran"] == max_trials - len(finished)
    after = _trials_on_disk(directory)
    assert len(after) == max_trials
    assert all(t["status"] == "COMPLETED" for t in after.values())
    # ... and the finished ones are kept as they were.
    for trial_id, record in finished.items():
        assert after[trial_id]["hyperparameters"] == record["hyperparameters"]
        assert after[trial_id]["score"] == record["score"]


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_distributed_search_one_chief_two_workers_on_loopback(tmp_path):
    script, directory, max_trials = _script(tmp_path), tmp_path / "tuner", 4
    port = str(_free_port())
    ready = [str(tmp_path / "ready-0"), str(tmp_path / "ready-1")]
    roles = {
        "chief": [],
        "tuner0": [ready[0], *ready],
        "tuner1": [ready[1], *ready],
    }
    processes = {}
    try:
        for role, barrier in roles.items():
            env = _env(
                KERASTUNER_TUNER_ID=role,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=port,
            )
            processes[role] = subprocess.Popen(
                [sys.executable, str(script), str(directory), str(max_trials), "1.0", *barrier],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        outputs = {}
        for role in ("tuner0", "tuner1", "chief"):
            outputs[role] = processes[role].communicate(timeout=400)
            assert processes[role].returncode == 0, (role, outputs[role][1][-3000:])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    ran = {role: _result(outputs[role][0])["ran"] for role in ("tuner0", "tuner1")}
    # Both workers trained, the chief none; together exactly the trials asked for.
    assert ran["tuner0"] >= 1 and ran["tuner1"] >= 1, ran
    assert ran["tuner0"] + ran["tuner1"] == max_trials
    assert _result(outputs["chief"][0])["ran"] == 0
    trials = _trials_on_disk(directory)
    assert len(trials) == max_trials
    assert all(t["status"] == "COMPLETED" for t in trials.values())


def _example():
    spec = importlib.util.spec_from_file_location("tuning_example", ROOT / "examples" / "tuning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_example_smoke_run(tmp_path, capsys):
    result = _example().main(["--smoke", "--directory", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Results summary" in out and "wall time" in out
    assert result.best_hyperparameters["family"] in ("elman", "jordan", "tdnn")
    assert np.isfinite(result.test_scores["loss"])


@pytest.mark.slow
def test_rolling_origin_trials_train_on_the_past_and_validate_on_each_later_block(tmp_path):
    from keras_rnnkit.tuning.rolling_origin import CrossValidatedRandomSearch

    x, y = _data(samples=30)
    seen = []

    class Recording(RecurrentHyperModel):
        def build(self, hp):
            seen.append(("build", len(self.training_data[0])))
            return super().build(hp)

        def fit(self, hp, model, *args, **kwargs):
            x_val, _ = kwargs["validation_data"]
            # The fold's training samples end where its validation block begins.
            seen.append(("fit", args[0][-1, 0, 0], x_val[0, 0, 0], len(args[0]), len(x_val)))
            return super().fit(hp, model, *args, **kwargs)

    hypermodel = Recording((6, 1), 1, families=("elman",), fixed=QUICK, training_data=(x, y))
    tuner = make_tuner("random", hypermodel, max_trials=1, directory=str(tmp_path), seed=0, folds=3)
    assert isinstance(tuner, CrossValidatedRandomSearch)
    # 24 training samples, then 6 validation samples: blocks 12-18, 18-24, 24-30.
    tuner.search(x[:24], y[:24], validation_data=(x[24:], y[24:]), epochs=1, verbose=0)
    builds = [entry[1] for entry in seen if entry[0] == "build"]
    fits = [entry[1:] for entry in seen if entry[0] == "fit"]
    # keras-tuner first builds once to declare the space; then each fold's
    # model is scaled by that fold's own training samples.
    assert builds[-3:] == [12, 18, 24]
    assert [(n, b) for *_, n, b in fits] == [(12, 6), (18, 6), (24, 6)]
    for last_train, first_val, n, _ in fits:
        assert last_train == x[n - 1, 0, 0] and first_val == x[n, 0, 0]
    # The objective is the mean of the three folds' last validation losses.
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.status == "COMPLETED" and np.isfinite(trial.score)
    assert hypermodel.training_data[0] is x  # restored after the trial


def test_hyperband_refuses_rolling_folds(tmp_path):
    with pytest.raises(ValueError, match=r"make_tuner: `folds` .* needs kind 'random' or"):
        make_tuner("hyperband", RecurrentHyperModel((6, 1), 1), directory=str(tmp_path), folds=3)


def test_the_first_trial_is_the_given_configuration_and_a_resume_draws_as_usual(tmp_path):
    x, y = _data()
    first = {"family": "jordan", "units": 8, "learning_rate": 0.01, "weight_decay": 1e-2}
    hypermodel = RecurrentHyperModel((6, 1), 1, fixed={"depth": 1})
    tuner = make_tuner(
        "random", hypermodel, max_trials=2, directory=str(tmp_path), seed=3, first_values=first
    )
    tuner.search(x[:18], y[:18], validation_data=(x[18:], y[18:]), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    values = trials[0].hyperparameters.values
    assert {k: values[k] for k in first} == first
    # The rest at the space's defaults, and only what the family uses.
    assert values["context_decay"] == 0.5 and values["dropout"] == 0.0
    assert "context_width" not in values and "narx_output_units" not in values
    assert trials[1].hyperparameters.values != values
    resumed = make_tuner(
        "random", hypermodel, max_trials=3, directory=str(tmp_path), seed=3, first_values=first
    )
    resumed.search(x[:18], y[:18], validation_data=(x[18:], y[18:]), epochs=1, verbose=0)
    third = list(resumed.oracle.trials.values())[2].hyperparameters.values
    assert third != values


def test_a_first_trial_needs_a_tuner_that_takes_one(tmp_path):
    with pytest.raises(ValueError, match="`first_values` .* needs kind 'random' or 'bayesian'"):
        make_tuner(
            "hyperband",
            RecurrentHyperModel((6, 1), 1),
            directory=str(tmp_path),
            first_values={"units": 8},
        )


def _data_loss(model, x, y):
    """The model's loss on (x, y) without its weight penalties (what a fold is scored by)."""
    errors = model.predict(x, verbose=0) - y
    scale = getattr(model.loss, "variance", None)
    scale = 1.0 if scale is None else keras.ops.convert_to_numpy(scale)
    return float(np.mean(errors**2 / scale))


@pytest.mark.slow
def test_folds_stop_early_on_a_block_of_their_own_and_are_scored_on_the_next(tmp_path):
    x, y = _data(samples=36)
    seen = []

    class Recording(RecurrentHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            x_val, _ = kwargs["validation_data"]
            seen.append((len(args[0]), x_val[0, 0, 0], len(x_val)))
            history = super().fit(hp, model, *args, **kwargs)
            seen[-1] += (history.history["val_loss"], model)
            return history

    hypermodel = Recording((6, 1), 1, families=("elman",), fixed=QUICK, training_data=(x, y))
    tuner = make_tuner("random", hypermodel, max_trials=1, directory=str(tmp_path), seed=0, folds=3)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    # 30 training samples, then 6 validation: scored blocks 18-24, 24-30, 30-36; each fold
    # stops on the 6 samples before its block and trains on those before them.
    tuner.search(
        x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=12, verbose=0, callbacks=[stop]
    )
    fits = seen[-3:]
    assert [(n, first, size) for n, first, size, *_ in fits] == [
        (12, x[12, 0, 0], 6),
        (18, x[18, 0, 0], 6),
        (24, x[24, 0, 0], 6),
    ]
    scores = [_data_loss(model, x[n + 6 : n + 12], y[n + 6 : n + 12]) for n, *_, model in fits]
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.score == pytest.approx(np.mean(scores), rel=1e-5)
    assert trial.metrics.get_last_value("best_epochs") == pytest.approx(
        np.mean([np.argmin(curve) + 1 for *_, curve, _ in fits])
    )


def test_search_defaults_and_the_validated_configuration():
    from keras_rnnkit.forecasting import sunspots
    from keras_rnnkit.tuning.search import search_defaults
    from keras_rnnkit.tuning.search import validated_values

    assert search_defaults("sunspots") == {
        "max_trials": 4,
        "epochs": 300,
        "patience": 30,
        "members": 5,
        "fixed": {"depth": 1, "bidirectional": False},
    }
    values = validated_values("sunspots")
    settings = sunspots.SETTINGS[sunspots.DEFAULT_FAMILY]
    assert values == {
        "family": sunspots.DEFAULT_FAMILY,
        "units": settings.units,
        "learning_rate": settings.learning_rate,
        "weight_decay": settings.weight_decay,
        "weight_penalty": settings.weight_penalty,
    }
    assert validated_values("sunspots", families=("tdnn",)) is None
    assert validated_values("adding") is None


def test_a_trial_is_the_validated_configuration_only_with_every_other_value_its_default():
    from keras_rnnkit.tuning.search import _is_the_configuration

    hp = keras_tuner.HyperParameters()
    hp.Choice("family", ["elman", "jordan"], default="elman")
    hp.Float("learning_rate", 1e-4, 1e-2, default=1e-3)
    hp.Choice("dropout", [0.0, 0.2], default=0.0)
    hp.values.update(family="jordan", learning_rate=0.01, dropout=0.0)
    assert _is_the_configuration(hp, {"family": "jordan", "learning_rate": 0.01})
    assert not _is_the_configuration(hp, {"family": "jordan", "learning_rate": 0.02})
    hp.values["dropout"] = 0.2
    assert not _is_the_configuration(hp, {"family": "jordan", "learning_rate": 0.01})


@pytest.mark.slow
def test_the_validated_configuration_if_best_is_refitted_as_it_was_validated(tmp_path, monkeypatch):
    """The sunspots' first trial is the demo's configuration; kept as the best, the saved
    model is the demo's forecaster of it (its fixed epochs and pruning), not a refit for
    the folds' early-stopped epochs."""
    import dataclasses

    from keras_rnnkit.data import sunspot_windows
    from keras_rnnkit.forecasting import sunspots
    from keras_rnnkit.tuning import run_search

    family = sunspots.DEFAULT_FAMILY
    recipe = dataclasses.replace(
        sunspots.SETTINGS[family], epochs=3, prune=0.5, prune_steps=1, prune_epochs=1
    )
    monkeypatch.setitem(sunspots.SETTINGS, family, recipe)
    result = run_search("sunspots", max_trials=1, epochs=2, members=2, directory=tmp_path, seed=3)
    assert result.best_hyperparameters["family"] == family
    saved = keras.saving.load_model(result.model_path)
    demo, members, _ = sunspots.train_forecaster(
        family, sunspot_windows(window=12), dataclasses.replace(recipe, members=2), seed=3
    )
    x = sunspot_windows(window=12)["x_test"]
    np.testing.assert_allclose(
        saved.predict(x, verbose=0), demo.predict(x, verbose=0), rtol=1e-5, atol=1e-4
    )
    # Pruned as validated: half of each member's kernels are zero.
    kept = sunspots.parameter_count(members[0])
    assert sunspots.parameter_count(saved) == 2 * kept
    assert kept < members[0].count_params()


@pytest.mark.slow
def test_each_fold_of_a_trial_may_be_an_ensemble_scored_by_its_average(tmp_path):
    from keras_rnnkit.forecasting import average

    x, y = _data(samples=30)
    built, fitted = [], []

    class Recording(RecurrentHyperModel):
        def build(self, hp):
            built.append(super().build(hp))
            return built[-1]

    original = average
    import keras_rnnkit.forecasting.ensemble as ensemble

    def recording_average(models, name="ensemble"):
        fitted.append(original(models, name))
        return fitted[-1]

    hypermodel = Recording((6, 1), 1, families=("elman",), fixed=QUICK, training_data=(x, y))
    tuner = make_tuner(
        "random", hypermodel, max_trials=1, directory=str(tmp_path), seed=0, folds=3, members=2
    )
    ensemble_average, ensemble.average = ensemble.average, recording_average
    try:
        tuner.search(x[:24], y[:24], validation_data=(x[24:], y[24:]), epochs=2, verbose=0)
    finally:
        ensemble.average = ensemble_average
    assert len(fitted) == 3 and len(built) >= 6  # two members per fold
    scores = [_data_loss(m, x[n : n + 6], y[n : n + 6]) for m, n in zip(fitted, (12, 18, 24))]
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.score == pytest.approx(np.mean(scores), rel=1e-5)
    with pytest.raises(ValueError, match="`members` .* needs rolling-origin `folds`"):
        make_tuner("random", hypermodel, directory=str(tmp_path / "b"), members=2)
