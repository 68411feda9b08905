"""A search killed at any moment resumes cleanly and keeps every finished trial.

keras-tuner writes its state (`oracle.json`, `tuner0.json`, `trial_*/trial.json`)
in place; `keras_rnnkit.tuning.make_tuner`'s tuners write it by renames
(`keras_rnnkit.tuning.state`). One test kills a search halfway through a
write of `oracle.json`; another kills one at seeded random moments and at the
first moment its project folder changes, again and again, each run resuming
the last one's state.
"""

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest

# The writes under test are plain file operations, the same on every backend; each
# resume starts a fresh process, so one backend (the default) keeps CI's time down.
pytestmark = pytest.mark.tensorflow_only

pytest.importorskip("keras_tuner")

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A search of small trials (~0.1 s of training each); touches `started` when
# the first trial trains, and prints how many trials this process ran.
SCRIPT = """
import json, pathlib, sys
import keras, numpy as np
from keras_rnnkit.tuning import RecurrentHyperModel, make_tuner

directory, max_trials, started = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
ran = []

class Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        ran.append(1)
        started.touch()

rng = np.random.default_rng(0)
x = rng.normal(size=(16, 4, 1)).astype("float32")
y = x[:, -2:, 0].sum(axis=1, keepdims=True)
hypermodel = RecurrentHyperModel(
    (4, 1), 1, families=("elman",), fixed={"depth": 1, "units": 4, "bidirectional": False}
)
tuner = make_tuner("random", hypermodel, objective="loss", max_trials=max_trials, seed=5,
                   directory=directory, project_name="search")
tuner.search(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[Count()])
print("RESULT " + json.dumps({"ran": len(ran)}))
"""


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _command(tmp_path, max_trials, *wrapper):
    script = tmp_path / "search_script.py"
    script.write_text(SCRIPT)
    started = tmp_path / "started"
    started.unlink(missing_ok=True)
    args = [str(script), str(tmp_path / "tuner"), str(max_trials), str(started)]
    if wrapper:
        return [sys.executable, str(ROOT / "tests" / "kill_mid_write.py"), *wrapper, *args]
    return [sys.executable, *args]


def _state(tmp_path):
    """`{trial_id: record}` from the trial files; every state file must parse."""
    project = tmp_path / "tuner" / "search"
    for name in ("oracle.json", "tuner0.json"):
        if (project / name).exists():
            json.loads((project / name).read_text())
    return {
        record["trial_id"]: record
        for record in (json.loads(p.read_text()) for p in project.glob("trial_*/trial.json"))
    }


def _finished(trials):
    return {k: t for k, t in trials.items() if t["status"] == "COMPLETED"}


def _resume_to_the_end(tmp_path, max_trials, finished):
    resumed = subprocess.run(
        _command(tmp_path, max_trials), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ran = json.loads(resumed.stdout.split("RESULT ")[-1])["ran"]
    assert ran == max_trials - len(finished)  # no finished trial ran again
    after = _state(tmp_path)
    assert len(after) == max_trials
    assert all(t["status"] == "COMPLETED" for t in after.values())
    for trial_id, record in finished.items():
        assert after[trial_id]["hyperparameters"] == record["hyperparameters"]
        assert after[trial_id]["score"] == record["score"]
    project = tmp_path / "tuner" / "search"
    leftovers = [p for p in project.rglob("*") if ".rnnkit-" in p.name]
    assert leftovers == []
    return after


# oracle.json is written once at the start, then when a trial starts, when it
# ends (still listing it as ongoing), and by the tuner's save after it: the 3rd
# write records the first trial's end, the 5th starts the second trial.
@pytest.mark.slow
@pytest.mark.parametrize("write", [3, 5], ids=["first_trial_ends", "second_trial_starts"])
def test_a_search_killed_while_writing_the_oracle_state_resumes(tmp_path, write):
    killed = subprocess.run(
        _command(tmp_path, 3, "oracle.json", str(write)),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    finished = _finished(_state(tmp_path))
    assert sorted(finished) == ["0"]
    _resume_to_the_end(tmp_path, 3, finished)


def _wait_for_change(project, deadline):
    """Returns once a state file under `project` is added, removed or rewritten."""

    def snapshot():
        found = {}
        for path in project.rglob("*.json"):
            if path.name not in ("oracle.json", "tuner0.json", "trial.json"):
                continue
            try:
                found[path] = path.stat().st_mtime_ns
            except FileNotFoundError:
                pass
        return found

    before = snapshot()
    while time.monotonic() < deadline and snapshot() == before:
        time.sleep(0.002)


@pytest.mark.slow
def test_a_search_killed_again_and_again_resumes_each_time(tmp_path):
    kills, max_trials, rng = 10, 24, random.Random(15)
    finished, killed = {}, 0
    for kill in range(kills):
        process = subprocess.Popen(
            _command(tmp_path, max_trials),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists() and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        if kill % 2:  # the first moment the tuner's state changes: a trial's end
            _wait_for_change(tmp_path / "tuner" / "search", deadline)
        else:  # a random moment, in the first few trials
            time.sleep(rng.uniform(0, 4))
        process.kill()
        _, stderr = process.communicate(timeout=60)
        # Each run resumes the last one's state: it must not have failed.
        assert process.returncode in (-signal.SIGKILL, 0), stderr[-3000:]
        killed += process.returncode == -signal.SIGKILL
        trials = _state(tmp_path)
        for trial_id, record in finished.items():
            assert trials[trial_id]["score"] == record["score"], (kill, trial_id)
        finished = _finished(trials)
        if process.returncode == 0:  # a fast machine finished the search between kills
            assert len(finished) == max_trials, (kill, sorted(finished))
            break
    assert killed >= kills // 2, killed
    assert len(finished) >= 2  # trials finished between kills, and were kept
    _resume_to_the_end(tmp_path, max_trials, finished)
    print(f"{killed} kills, {killed} clean resumes, {len(finished)} finished trials kept")
