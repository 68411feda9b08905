"""A fault campaign of `rnnkit`: kills, resumed searches, seeded runs and crafted files, counted.

    nice -n 5 python -m tests.fault_campaign --seed 7 --out /tmp/fault_campaign.json

Re-runs, with counts, four properties an earlier review reported:

1. kills: `rnnkit train` (a fresh --out, and an existing one with --overwrite), `rnnkit
   export` (savedmodel, onnx, tflite; --overwrite, and a fresh --out) and `rnnkit demo` are
   SIGKILLed at seeded random moments, and at the moment their new result is staged
   (`.NAME.rnnkit-staging-*` appears) or swapped in (the target's inode changes). After
   each kill the target holds the old result, whole (or, between the two renames of a
   folder swap, the old one moved aside, which the next run renames back), the new result,
   whole (loaded in a separate process), or nothing (a fresh --out); a sample of kills is
   followed by the same command, which must succeed and leave nothing beside the target;
   after the others, `keras_rnnkit._atomic.recover` (what every next run does first) must
   leave no staging or aside entry.
2. tune: `rnnkit tune` killed during its search; the same command again must resume
   (keep the finished trials' scores) and finish with a best model that loads.
3. determinism: seeded fits in two fresh processes give bit-identical weights: TensorFlow
   (jit_compile "auto", which is no XLA on a CPU, and jit_compile=True: XLA), JAX and
   PyTorch, and `rnnkit train --seed N` twice (the saved models' weights).
4. crafted: crafted `.keras` files (Lambda layers and dotted module paths that would run
   code and leave a marker file, registered-name tricks, pickles, zip bombs, absurd
   sizes, corrupt archives, deep nesting) are loaded in fresh processes, each under a
   memory limit (RLIMIT_AS: the VmSize after importing keras, + 1 GiB) and a 120 s
   timeout, with `keras.saving.load_model` and with `rnnkit export FILE --format
   savedmodel` (the CLI has no keras format; every format loads the file the same way).

Prints the counts as JSON and writes them, with every record and every failure (with how to
reproduce it), to --out. Every backend runs in a child process, one at a time; this module
imports only the standard library (pytest imports it for its doctests: it has none).
"""

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import pathlib
import pickle
import platform
import random
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
GIB = 2**30
LOAD_TIMEOUT_S = 120
MEMORY_WORDS = ("MemoryError", "Unable to allocate", "bad_alloc", "ResourceExhausted", "OOM")


# ---------------------------------------------------------------------------------------
# Shared helpers (the parent process: standard library only).


def _env(backend="tensorflow", **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["KERAS_BACKEND"] = backend
    env.update(extra)
    return env


def _cli(*args):
    return [sys.executable, "-m", "keras_rnnkit_cli", *args]


def _worker(*args):
    return [sys.executable, "-m", "tests.fault_campaign", "--worker", *map(str, args)]


def _shell(argv, env_backend=None):
    """`argv` as a shell line to reproduce it, from the repository root."""
    words = ["python" if word == sys.executable else shlex.quote(str(word)) for word in argv]
    prefix = f"KERAS_BACKEND={env_backend} " if env_backend else ""
    return f"cd {ROOT} && {prefix}{' '.join(words)}"


def _run(argv, timeout, env=None, cwd=None):
    began = time.monotonic()
    try:
        done = subprocess.run(
            argv, env=env or _env(), cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as expired:
        return {
            "rc": None,
            "timed_out": True,
            "seconds": round(time.monotonic() - began, 2),
            "stdout": _text(expired.stdout),
            "stderr": _text(expired.stderr),
        }
    return {
        "rc": done.returncode,
        "timed_out": False,
        "seconds": round(time.monotonic() - began, 2),
        "stdout": done.stdout,
        "stderr": done.stderr,
    }


def _text(value):
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _tail(text, size=1500):
    text = text or ""
    return text if len(text) <= size else "..." + text[-size:]


def _identity(path):
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def _fingerprint(path):
    """sha256 of a file, or of a folder's relative names and contents; None if absent."""
    path = pathlib.Path(path)
    if not (path.exists() or path.is_symlink()):
        return None
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for entry in sorted(path.rglob("*")):
        digest.update(str(entry.relative_to(path)).encode() + b"\0")
        if entry.is_file():
            digest.update(entry.read_bytes())
    return digest.hexdigest()


def _leftovers(out):
    """Names of the `_atomic` staging and aside entries of `out` beside it."""
    out = pathlib.Path(out)
    if not out.parent.is_dir():
        return []
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.rnnkit-"))


def _copy(source, target):
    source, target = pathlib.Path(source), pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)
    return target


def _load_atomic():
    """`keras_rnnkit._atomic` (standard library only), without importing the package."""
    spec = importlib.util.spec_from_file_location(
        "_campaign_atomic", ROOT / "keras_rnnkit" / "_atomic.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _versions():
    found = {"python": platform.python_version()}
    for name in (
        "keras",
        "keras-rnnkit",
        "tensorflow",
        "jax",
        "jaxlib",
        "torch",
        "keras-tuner",
        "numpy",
        "h5py",
        "onnx",
        "onnxruntime",
        "tf2onnx",
    ):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


class Campaign:
    """What the parts share: the seed, the work folder, the clock, failures, verification."""

    def __init__(self, args):
        self.args = args
        self.work = pathlib.Path(args.work)
        self.began = time.monotonic()
        self.deadline = self.began + args.budget_min * 60
        self.failures = []

    def elapsed(self):
        return time.monotonic() - self.began

    def ends_by(self, fraction):
        """The moment a part must stop starting new items: `fraction` of the budget."""
        return self.began + fraction * self.args.budget_min * 60

    def fail(self, part, item, what, reproduce, **detail):
        self.failures.append(
            {"part": part, "id": item, "what": what, "reproduce": reproduce, **detail}
        )

    def verify(self, items, name):
        """Checks `items` ({id, kind, path, ...}) in one TensorFlow process (restarted after
        an item it dies on); returns {id: {"ok": bool, "error": str}}."""
        if not items:
            return {}
        folder = self.work / "verify"
        folder.mkdir(parents=True, exist_ok=True)
        listing = folder / f"{name}.json"
        results = folder / f"{name}.jsonl"
        listing.write_text(json.dumps(items))
        results.unlink(missing_ok=True)
        found = {}
        for _ in range(len(items) + 1):
            run = _run(_worker("verify", listing, results), timeout=1200)
            if results.exists():
                for line in results.read_text().splitlines():
                    record = json.loads(line)
                    found[record["id"]] = record
            pending = [item for item in items if item["id"] not in found]
            if not pending:
                break
            # The checker died (or timed out) on the first item it had not finished.
            first = pending[0]
            error = f"the checker process ended (rc {run['rc']}): {_tail(run['stderr'], 800)}"
            record = {"id": first["id"], "ok": False, "error": error}
            found[first["id"]] = record
            with results.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        return found


# ---------------------------------------------------------------------------------------
# Part 1: kills.

TRAIN_NAMES = ["metrics.json", "model.keras"]


class Kills:
    def __init__(self, campaign):
        self.c = campaign
        self.rng = random.Random(campaign.args.seed)  # the kill moments, modes and reruns
        self.atomic = _load_atomic()
        self.root = campaign.work / "kills"
        self.records = []
        self.verify_items = []
        self.baselines = {}
        self.demo_completions = 0
        self.skipped = 0

    # One kill, its state, and the rerun or the recovery after it.
    def kill(self, key, argv, out, mode, kind, *, delay, settle=0.3, rerun=False, fresh=False):
        out = pathlib.Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "id": f"k{len(self.records):03d}",
            "key": key,
            "mode": mode,
            "out": str(out),
            "argv": argv[2:],
            "reproduce": _shell(argv),
        }
        self.records.append(record)
        record["leftovers_before"] = _leftovers(out)  # must be none: each state is recovered
        old_inode = _identity(out)
        old_hash = _fingerprint(out) if old_inode is not None else None
        log = self.root / "logs" / f"{record['id']}.stderr"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as stderr:
            process = subprocess.Popen(
                argv, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr, cwd=self.root
            )
        began = time.monotonic()
        staging = f".{out.name}.rnnkit-staging-{process.pid}-"
        limit = began + 600
        if mode == "random":
            wait = self.rng.uniform(*delay)
            record["delay_s"] = round(wait, 3)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait)
        else:
            while process.poll() is None and time.monotonic() < limit:
                if any(name.startswith(staging) for name in os.listdir(out.parent)):
                    record["staging_seen_s"] = round(time.monotonic() - began, 3)
                    break
                # Finer near the end, where a short-lived staging entry appears.
                time.sleep(0.005 if time.monotonic() - began < 0.7 * delay[1] else 0.0005)
            if mode == "staging":
                wait = self.rng.uniform(0, settle)
                record["delay_after_staging_s"] = round(wait, 3)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=wait)
            else:  # "swap": the first moment the target's identity changes
                while (
                    process.poll() is None
                    and _identity(out) == old_inode
                    and time.monotonic() < limit
                ):
                    time.sleep(0.0005)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=120)
        record["at_s"] = round(time.monotonic() - began, 3)
        record["rc"] = process.returncode
        record["killed"] = process.returncode == -signal.SIGKILL
        record["completed"] = process.returncode == 0
        if process.returncode not in (0, -signal.SIGKILL):
            record["stderr"] = _tail(log.read_text(errors="replace"))
        if record["completed"] and key.startswith("demo"):
            self.demo_completions += 1
        self._state_after_kill(record, out, kind, old_inode, old_hash)
        if rerun and not (fresh and record["state"] == "new"):
            self._rerun(record, argv, out, kind, key)
        else:
            if rerun:
                record["rerun_skipped"] = "the killed run's result was complete"
            self.atomic.recover(out)  # what the next run does first
            record["leftovers_after_recover"] = _leftovers(out)
            if record["state"] == "old_aside":
                record["restored_by_recover"] = (
                    _identity(out) == old_inode and _fingerprint(out) == old_hash
                )
        return record

    def _state_after_kill(self, record, out, kind, old_inode, old_hash):
        leftovers = _leftovers(out)
        record["leftovers_after_kill"] = leftovers
        inode = _identity(out)
        if inode is not None:
            if inode == old_inode:
                same = _fingerprint(out) == old_hash
                record["state"] = "old" if same else "old_changed_in_place"
            else:
                record["state"] = "new"
                snapshot = _copy(out, self.root / "snapshots" / record["id"] / out.name)
                self._check(record["id"], kind, snapshot, record["key"])
        elif old_inode is None:
            record["state"] = "absent"
        else:
            asides = [n for n in leftovers if ".rnnkit-previous-" in n]
            whole = [n for n in asides if _fingerprint(out.parent / n) == old_hash]
            record["state"] = "old_aside" if whole else "old_lost"

    def _check(self, item, kind, path, key):
        entry = {"id": item, "kind": kind, "path": str(path)}
        names = self.baselines.get(key, {}).get("names")
        if names is not None:
            entry["names"] = names
        self.verify_items.append(entry)

    def _rerun(self, record, argv, out, kind, key):
        run = _run(argv, timeout=600, cwd=self.root)
        rerun = {"rc": run["rc"], "seconds": run["seconds"], "leftovers": _leftovers(out)}
        if run["rc"] != 0:
            rerun["stderr"] = _tail(run["stderr"])
        elif out.exists():
            snapshot = _copy(out, self.root / "snapshots" / f"{record['id']}-rerun" / out.name)
            self._check(f"{record['id']}-rerun", kind, snapshot, key)
        record["rerun"] = rerun
        if key.startswith("demo") and run["rc"] == 0:
            self.demo_completions += 1
        return run

    def baseline(self, key, argv, out, kind):
        """Runs `argv` to the end: the old result of later kills, and its duration."""
        out = pathlib.Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        run = _run(argv, timeout=900, cwd=self.root)
        names = sorted(os.listdir(out)) if out.is_dir() and kind in ("train", "demo") else None
        self.baselines[key] = {
            "rc": run["rc"],
            "seconds": run["seconds"],
            "names": names,
            "reproduce": _shell(argv),
        }
        if run["rc"] != 0:
            self.baselines[key]["stderr"] = _tail(run["stderr"])
            return None
        self._check(f"baseline-{key}", kind, out, key)
        return run["seconds"]

    def plan(self, counts):
        """(mode, rerun) for each kill of each key: modes shuffled, reruns sampled."""
        plans = {}
        for key, (n, modes, reruns) in counts.items():
            chosen = (modes * n)[:n]
            self.rng.shuffle(chosen)
            again = set(self.rng.sample(range(n), min(n, reruns))) if n else set()
            plans[key] = [(mode, i in again) for i, mode in enumerate(chosen)]
        return plans

    def run(self, ends_by):
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        scale = self.c.args.kills / 62

        def n(count):
            return max(1, round(count * scale))

        train_fresh = ("train", "--model", "elman", "--task", "plans", "--epochs", "2")
        train_fresh += ("--members", "1", "--quiet")
        train_over = ("train", "--model", "jordan", "--task", "sunspots", "--epochs", "1")
        train_over += ("--folds", "0", "--members", "1", "--quiet")
        source = self.root / "source" / "model.keras"
        keys = {
            # key: (argv for an --out, kind, fresh, [overwrite])
            "train_fresh": (lambda o: _cli(*train_fresh, "--out", str(o)), "train", True),
            "train_overwrite": (
                lambda o: _cli(*train_over, "--out", str(o), "--overwrite"),
                "train",
                False,
            ),
        }
        for form in ("savedmodel", "onnx", "tflite"):
            keys[f"export_{form}"] = (
                lambda o, f=form: _cli(
                    "export", str(source), "--format", f, "--out", str(o), "--quiet", "--overwrite"
                ),
                form,
                False,
            )
        for form in ("savedmodel", "onnx"):
            keys[f"export_{form}_fresh"] = (
                lambda o, f=form: _cli(
                    "export", str(source), "--format", f, "--out", str(o), "--quiet"
                ),
                form,
                True,
            )
        outs = {
            "train_fresh": "run",
            "train_overwrite": "run",
            "export_savedmodel": "sm",
            "export_onnx": "m.onnx",
            "export_tflite": "m.tflite",
            "export_savedmodel_fresh": "sm",
            "export_onnx_fresh": "m.onnx",
        }
        three = ["random", "staging", "swap"]
        plans = self.plan(
            {
                "train_fresh": (n(14), three, max(2, round(n(14) * 0.3))),
                "train_overwrite": (n(16), three, max(2, round(n(16) * 0.3))),
                "export_savedmodel": (n(8), three, 2),
                "export_onnx": (n(7), three, 2),
                "export_tflite": (n(7), three, 2),
                "export_savedmodel_fresh": (n(2), three, 2),
                "export_onnx_fresh": (n(2), three, 2),
            }
        )
        for key in keys:
            make, kind, fresh = keys[key]
            if fresh:
                out = self.root / key / "baseline" / outs[key]
            else:
                out = self.root / key / outs[key]
            seconds = self.baseline(key, make(out), out, kind)
            if key == "train_overwrite" and seconds is not None:
                _copy(out / "model.keras", source)
            if seconds is None:
                self.c.fail("kills", f"baseline-{key}", "the command failed", _shell(make(out)))
                continue
            for i, (mode, rerun) in enumerate(plans[key]):
                # A run that ends before its kill is recorded, and tried again at a random
                # moment (at most twice more): the kills counted are real SIGKILLs.
                for attempt in range(3):
                    if time.monotonic() > ends_by:
                        self.skipped += 1
                        break
                    name = f"k{i:02d}" + (f"-{attempt}" if attempt else "")
                    target = self.root / key / name / outs[key] if fresh else out
                    record = self.kill(
                        key,
                        make(target),
                        target,
                        mode if attempt == 0 else "random",
                        kind,
                        delay=(0.2, 0.97 * seconds),
                        settle=0.002 if kind == "tflite" else 0.3,
                        rerun=rerun,
                        fresh=fresh,
                    )
                    if not record["completed"]:
                        break
        self.demo(ends_by)
        verified = self.c.verify(self.verify_items, "kills")
        return self.judge(verified)

    def demo(self, ends_by):
        """The demo: killed early with a fresh --out then run to the end (the one demo run
        that completes), killed while it replaces that result, and a full (not --smoke)
        demo killed within its first 10-40 s."""
        out = self.root / "demo" / "run"
        smoke = ("demo", "--smoke", "--quiet", "--out", str(out))
        first = self.kill(
            "demo_fresh",
            _cli(*smoke),
            out,
            "random",
            "demo",
            delay=(5, 12),
            rerun=True,
            fresh=True,
        )
        seconds = first.get("rerun", {}).get("seconds") or first["at_s"]
        if not out.is_dir():
            self.c.fail("kills", first["id"], "no demo result to overwrite", first["reproduce"])
            return
        self.baselines["demo_overwrite"] = {"names": sorted(os.listdir(out)), "seconds": seconds}
        self.baselines["demo_fresh"] = self.baselines["demo_overwrite"]
        high = min(40.0, 0.9 * seconds)
        low = min(10.0, 0.5 * high)
        modes = ["random", "staging", "swap", "random"][: max(1, round(4 * self.c.args.kills / 62))]
        for mode in modes:
            if time.monotonic() > ends_by:
                break
            self.kill(
                "demo_overwrite",
                _cli(*smoke, "--overwrite"),
                out,
                mode,
                "demo",
                delay=(low, high),
                settle=0.2,
            )
        full = self.root / "demo_full" / "k00" / "run"
        if time.monotonic() < ends_by:
            self.kill(
                "demo_full",
                _cli("demo", "--quiet", "--out", str(full)),
                full,
                "random",
                "demo",
                delay=(10, 40),
                fresh=True,
            )

    def judge(self, verified):
        counts = dict.fromkeys(
            [
                "kills",
                "completed_before_the_kill",
                "command_failed",
                "whole_old",
                "whole_old_moved_aside",
                "whole_new",
                "absent_fresh_out",
                "broken",
                "leftovers_not_cleaned",
                "reruns",
                "reruns_ok",
                "reruns_failed",
            ],
            0,
        )
        for record in self.records:
            rid, reproduce = record["id"], record["reproduce"]
            what = f"{record['mode']} kill at {record['at_s']} s"
            counts["kills"] += record["killed"]
            counts["completed_before_the_kill"] += record["completed"]
            if not (record["killed"] or record["completed"]):
                counts["command_failed"] += 1
                self.c.fail(
                    "kills",
                    rid,
                    f"the command failed (rc {record['rc']})",
                    reproduce,
                    stderr=record.get("stderr"),
                )
            state = record["state"]
            check = verified.get(rid)
            if state == "new" and check is not None:
                record["verified"] = check
            if record["leftovers_before"]:
                self.c.fail(
                    "kills",
                    rid,
                    "entries left beside the target before the run",
                    reproduce,
                    leftovers=record["leftovers_before"],
                )
            if state == "old":
                counts["whole_old"] += 1
            elif state == "old_aside":
                restored = record.get("restored_by_recover", True)
                rerun = record.get("rerun")
                if rerun is not None:
                    restored = rerun["rc"] == 0  # checked with the rerun below
                if restored:
                    counts["whole_old"] += 1
                    counts["whole_old_moved_aside"] += 1
                else:
                    counts["broken"] += 1
                    self.c.fail(
                        "kills",
                        rid,
                        f"{what}: the old result, moved aside, was not restored",
                        reproduce,
                    )
            elif state == "new":
                if check is not None and check["ok"]:
                    counts["whole_new"] += 1
                else:
                    counts["broken"] += 1
                    self.c.fail(
                        "kills",
                        rid,
                        f"{what}: the new result is not whole",
                        reproduce,
                        error=(check or {}).get("error"),
                    )
            elif state == "absent":
                counts["absent_fresh_out"] += 1
            else:
                counts["broken"] += 1
                self.c.fail(
                    "kills",
                    rid,
                    f"{what}: {state}",
                    reproduce,
                    leftovers=record["leftovers_after_kill"],
                )
            if record.get("leftovers_after_recover"):
                counts["leftovers_not_cleaned"] += 1
                self.c.fail(
                    "kills",
                    rid,
                    f"{what}: leftovers after recover",
                    reproduce,
                    leftovers=record["leftovers_after_recover"],
                )
            rerun = record.get("rerun")
            if rerun is None:
                continue
            counts["reruns"] += 1
            again = verified.get(f"{rid}-rerun")
            rerun["verified"] = again
            ok = rerun["rc"] == 0 and not rerun["leftovers"] and again is not None and again["ok"]
            counts["reruns_ok" if ok else "reruns_failed"] += 1
            if not ok:
                self.c.fail(
                    "kills",
                    f"{rid}-rerun",
                    f"rerun after a {what} failed",
                    reproduce,
                    rc=rerun["rc"],
                    stderr=rerun.get("stderr"),
                    leftovers=rerun["leftovers"],
                    error=(again or {}).get("error"),
                )
        for key, baseline in self.baselines.items():
            check = verified.get(f"baseline-{key}")
            if check is not None:
                baseline["verified"] = check
                if not check["ok"]:
                    self.c.fail(
                        "kills",
                        f"baseline-{key}",
                        "a finished run's result does not load",
                        baseline.get("reproduce"),
                        error=check["error"],
                    )
        counts["demo_runs_completed"] = self.demo_completions
        counts["skipped_for_time"] = self.skipped
        by_key = {}
        for record in self.records:
            entry = by_key.setdefault(record["key"], {"kills": 0, "states": {}})
            entry["kills"] += record["killed"]
            entry["states"][record["state"]] = entry["states"].get(record["state"], 0) + 1
        return {
            "counts": counts,
            "by_command": by_key,
            "baselines": self.baselines,
            "records": self.records,
        }


# ---------------------------------------------------------------------------------------
# Part 2: tune.


def _trials(project):
    """{trial_id: record} of the trial files, and the names of state files that do not parse."""
    broken = []
    for name in ("oracle.json", "tuner0.json"):
        path = project / name
        if path.exists():
            try:
                json.loads(path.read_text())
            except ValueError:
                broken.append(name)
    trials = {}
    for path in project.glob("trial_*/trial.json"):
        try:
            record = json.loads(path.read_text())
            trials[record["trial_id"]] = record
        except (ValueError, KeyError):
            broken.append(str(path.relative_to(project)))
    return trials, broken


def _tune_part(c, ends_by):
    rng = random.Random(f"{c.args.seed}-tune")
    root = c.work / "tune"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    max_trials = 4
    records, checks = [], []
    for i in range(c.args.tune_kills):
        if time.monotonic() > ends_by:
            break
        directory = root / f"t{i}"
        argv = _cli(
            "tune",
            "--task",
            "plans",
            "--max-trials",
            str(max_trials),
            "--epochs",
            "2",
            "--directory",
            str(directory),
            "--quiet",
            "--seed",
            str(i),
        )
        project = directory / "plans-random"
        mode = "random" if i % 2 == 0 else "state_change"
        record = {"id": f"t{i}", "reproduce": _shell(argv), "mode": mode}
        log = root / f"t{i}.stderr"
        with open(log, "w") as stderr:
            process = subprocess.Popen(
                argv, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr, cwd=root
            )
        began = time.monotonic()
        while process.poll() is None and time.monotonic() < began + 300:
            if list(project.glob("trial_*")):
                break
            time.sleep(0.02)
        record["first_trial_s"] = round(time.monotonic() - began, 3)
        if record["mode"] == "random":
            record["delay_s"] = round(rng.uniform(0.2, 9.0), 3)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=record["delay_s"])
        else:  # once a trial has finished, the next moment a state file changes
            while process.poll() is None and time.monotonic() < began + 300:
                finished = [
                    t for t in _trials(project)[0].values() if t.get("status") == "COMPLETED"
                ]
                if finished:
                    break
                time.sleep(0.01)
            before = _state_times(project)
            while process.poll() is None and time.monotonic() < began + 300:
                if _state_times(project) != before:
                    break
                time.sleep(0.002)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=120)
        record["at_s"] = round(time.monotonic() - began, 3)
        record["rc"] = process.returncode
        record["killed"] = process.returncode == -signal.SIGKILL
        if process.returncode not in (0, -signal.SIGKILL):
            record["stderr"] = _tail(log.read_text(errors="replace"))
        trials, broken = _trials(project)
        finished = {k: t for k, t in trials.items() if t.get("status") == "COMPLETED"}
        record["trials_before"] = len(trials)
        record["finished_before"] = sorted(finished)
        record["unreadable_state_after_kill"] = broken
        run = _run(argv, timeout=600, cwd=root)
        after, broken_after = _trials(project)
        kept = all(
            after.get(k, {}).get("score") == t.get("score")
            and after.get(k, {}).get("hyperparameters") == t.get("hyperparameters")
            for k, t in finished.items()
        )
        best = re.search(r"best model .* saved to (\S+)", run["stdout"])
        leftovers = [str(p) for p in directory.rglob("*") if ".rnnkit-" in p.name]
        record["rerun"] = {
            "rc": run["rc"],
            "seconds": run["seconds"],
            "reloaded_state": "Reloading Tuner" in run["stdout"] + run["stderr"],
            "trials_after": len(after),
            "completed_after": sum(t.get("status") == "COMPLETED" for t in after.values()),
            "finished_trials_kept": kept,
            "unreadable_state": broken_after,
            "best_model": best.group(1) if best else None,
            "leftovers": leftovers,
        }
        if run["rc"] != 0:
            record["rerun"]["stderr"] = _tail(run["stderr"])
        if best:
            path = pathlib.Path(best.group(1))
            path = path if path.is_absolute() else root / path
            checks.append({"id": record["id"], "kind": "keras", "path": str(path)})
        records.append(record)
    verified = c.verify(checks, "tune")
    counts = {
        "kills": 0,
        "completed_before_the_kill": 0,
        "reruns": 0,
        "resumed_and_finished": 0,
        "reloaded_state": 0,
        "failed": 0,
    }
    for record in records:
        counts["kills"] += record["killed"]
        counts["completed_before_the_kill"] += record["rc"] == 0
        rerun = record["rerun"]
        counts["reruns"] += 1
        counts["reloaded_state"] += rerun["reloaded_state"]
        check = verified.get(record["id"])
        rerun["best_model_loads"] = check
        ok = (
            rerun["rc"] == 0
            and rerun["trials_after"] == max_trials
            and rerun["completed_after"] == max_trials
            and rerun["finished_trials_kept"]
            and not rerun["unreadable_state"]
            and not record["unreadable_state_after_kill"]
            and not rerun["leftovers"]
            and check is not None
            and check["ok"]
        )
        if record["rc"] not in (0, -signal.SIGKILL):
            ok = False
        counts["resumed_and_finished" if ok else "failed"] += 1
        if not ok:
            c.fail(
                "tune",
                record["id"],
                f"{record['mode']} kill at {record['at_s']} s: the rerun did not resume and finish",
                record["reproduce"],
                record=record,
            )
    return {"counts": counts, "max_trials": max_trials, "records": records}


def _state_times(project):
    found = {}
    for path in project.rglob("*.json"):
        with contextlib.suppress(FileNotFoundError):
            found[str(path)] = path.stat().st_mtime_ns
    return found


# ---------------------------------------------------------------------------------------
# Part 3: determinism.

DETERMINISM_CONFIGS = [
    ("tensorflow", "auto"),
    ("tensorflow", "true"),
    ("jax", "auto"),
    ("torch", "auto"),
]
CLI_CONFIGS = [
    ("tensorflow", "elman"),
    ("tensorflow", "narx"),
    ("jax", "jordan"),
    ("torch", "tdnn"),
]


def _twice(c, counts, label, backend, what, command):
    """Runs `command(index)`, an `(argv, out)`, for index 0 and 1 on `backend`:
    `[(run, out, argv), ...]`, or None where either failed, which is counted and recorded
    as `what` failed."""
    runs = []
    for index in range(2):
        argv, out = command(index)
        runs.append((_run(argv, timeout=900, env=_env(backend)), out, argv))
    failed = next((r for r in runs if r[0]["rc"] != 0), None)
    if failed is None:
        return runs
    counts["errors"] += 1
    run, _, argv = failed
    c.fail("determinism", label, what, _shell(argv, backend), stderr=_tail(run["stderr"]))
    return None


def _determinism_part(c, ends_by):
    root = c.work / "determinism"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    seed = c.args.seed
    pairs, counts = (
        [],
        {
            "pairs": 0,
            "identical": 0,
            "differ": 0,
            "errors": 0,
            "seed_changes_weights": 0,
            "seed_does_not_change_weights": 0,
        },
    )
    for backend, jit in DETERMINISM_CONFIGS:
        if time.monotonic() > ends_by:
            break
        label = f"{backend}-jit_{jit}"

        def fit(index, label=label, jit=jit):
            out = root / f"{label}-{index}.json"
            return _worker("determinism", out, jit, seed), out

        runs = _twice(c, counts, label, backend, "the seeded fit failed", fit)
        if runs is None:
            continue
        first, second = (json.loads(out.read_text()) for _, out, _ in runs)
        for model, entry in first["models"].items():
            again = second["models"][model]
            same = entry["seed"] == again["seed"]
            changes = entry["seed"] != entry["other_seed"]
            pair = {
                "id": f"{label}/{model}",
                "backend": first["backend"],
                "jit_compile_resolved": entry["jit_compile"],
                "identical": same,
                "another_seed_changes_weights": changes,
            }
            pairs.append(pair)
            counts["pairs"] += 1
            counts["identical" if same else "differ"] += 1
            counts["seed_changes_weights" if changes else "seed_does_not_change_weights"] += 1
            if not same:
                differing = [
                    i for i, (a, b) in enumerate(zip(entry["seed"], again["seed"])) if a != b
                ]
                c.fail(
                    "determinism",
                    pair["id"],
                    "two seeded runs gave different weights",
                    _shell(_worker("determinism", "OUT.json", jit, seed), backend),
                    differing_weight_indices=differing,
                )
            if not changes:
                c.fail(
                    "determinism",
                    pair["id"],
                    "another seed gave the same weights (the check cannot fail)",
                    _shell(_worker("determinism", "OUT.json", jit, seed), backend),
                )
    checks = []
    cli_runs = {}
    for backend, family in CLI_CONFIGS:
        if time.monotonic() > ends_by:
            break
        label = f"cli-{backend}-{family}"

        def train(index, label=label, family=family):
            out = root / label / f"run{index}"
            options = ["--epochs", "3", "--folds", "0", "--members", "2", "--seed", str(seed)]
            argv = _cli("train", "--model", family, "--task", "sunspots", *options)
            return [*argv, "--quiet", "--out", str(out)], out

        outs = _twice(c, counts, label, backend, "rnnkit train failed", train)
        if outs is None:
            continue
        cli_runs[label] = [{"rc": r["rc"], "seconds": r["seconds"]} for r, _, _ in outs]
        checks.append(
            {
                "id": label,
                "kind": "same_weights",
                "path": str(outs[0][1] / "model.keras"),
                "other": str(outs[1][1] / "model.keras"),
                "reproduce": _shell(outs[0][2], backend),
            }
        )
    verified = c.verify(checks, "determinism")
    for check in checks:
        result = verified.get(check["id"], {"ok": False, "error": "not checked"})
        pair = {"id": check["id"], "identical": result["ok"], "error": result.get("error")}
        pairs.append(pair)
        counts["pairs"] += 1
        counts["identical" if result["ok"] else "differ"] += 1
        if not result["ok"]:
            c.fail(
                "determinism",
                check["id"],
                "two `rnnkit train --seed` runs saved different weights",
                check["reproduce"] + " (twice, to two --out)",
                error=result.get("error"),
            )
    return {"counts": counts, "pairs": pairs, "cli_runs": cli_runs}


# ---------------------------------------------------------------------------------------
# Part 4: crafted files.


class _Touch:
    """Unpickled, opens `path` for writing: the payload of the crafted pickles."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _sandbox_files(folder, allowed):
    found = []
    for path in folder.rglob("*"):
        relative = str(path.relative_to(folder))
        if path.is_dir() or any(relative == a or relative.startswith(a + "/") for a in allowed):
            continue
        found.append(relative)
    return sorted(found)


def _crafted_part(c, ends_by):
    root = c.work / "crafted"
    if root.exists():
        shutil.rmtree(root)
    files, marks = root / "files", root / "markers"
    files.mkdir(parents=True)
    marks.mkdir()
    craft = _run(_worker("craft", files, marks), timeout=900)
    manifest_path = files / "manifest.json"
    if craft["rc"] != 0 or not manifest_path.exists():
        c.fail(
            "crafted",
            "craft",
            "crafting the files failed",
            _shell(_worker("craft", files, marks)),
            stderr=_tail(craft["stderr"], 4000),
        )
        return {"counts": {}, "records": []}
    manifest = json.loads(manifest_path.read_text())
    if c.args.crafted:
        manifest = [case for case in manifest if case["name"] in c.args.crafted.split(",")]
    counts = dict.fromkeys(
        [
            "files",
            "craft_errors",
            "armed_payloads",
            "loads",
            "code_ran",
            "crashed",
            "timed_out",
            "memory_exhausted",
            "loaded",
            "refused",
            "refused_clear",
            "refused_unclear",
            "unexpected_outcome",
            "unexpected_files",
            "skipped_for_time",
        ],
        0,
    )
    records = []
    for case in manifest:
        if "craft_error" in case:
            counts["craft_errors"] += 1
            c.fail(
                "crafted",
                case["name"],
                "the file could not be crafted",
                "",
                error=case["craft_error"],
            )
            continue
        if time.monotonic() > ends_by:
            counts["skipped_for_time"] += 1
            continue
        counts["files"] += 1
        counts["armed_payloads"] += bool(case.get("armed"))
        record = {**case, "results": {}}
        for loader in ("load_model", "cli_export"):
            result = _load_crafted(case, loader, root, marks)
            record["results"][loader] = result
            counts["loads"] += 1
            for outcome in ("code_ran", "crashed", "timed_out", "memory_exhausted"):
                counts[outcome] += bool(result[outcome])
            counts["unexpected_files"] += bool(result["unexpected_files"])
            if result["outcome"] == "loaded":
                counts["loaded"] += 1
            elif result["outcome"] == "refused":
                counts["refused"] += 1
                counts["refused_clear" if result["clear"] else "refused_unclear"] += 1
            expected = case["expect"] if loader == "load_model" else case["expect_cli"]
            result["as_expected"] = expected == "any" or (
                {"load": "loaded", "refuse": "refused"}[expected] == result["outcome"]
            )
            counts["unexpected_outcome"] += not result["as_expected"]
            problems = [
                what
                for what, bad in (
                    ("code ran (its marker file exists)", result["code_ran"]),
                    ("crashed", result["crashed"]),
                    ("timed out", result["timed_out"]),
                    ("exhausted memory", result["memory_exhausted"]),
                    (
                        "refused without one clear line",
                        result["outcome"] == "refused" and not result["clear"],
                    ),
                    (f"expected {expected}, got {result['outcome']}", not result["as_expected"]),
                    (f"wrote files {result['unexpected_files']}", result["unexpected_files"]),
                )
                if bad
            ]
            if problems:
                c.fail(
                    "crafted",
                    f"{case['name']}/{loader}",
                    "; ".join(problems),
                    result["reproduce"],
                    reproduce_plain=result["reproduce_plain"],
                    file=case["path"],
                    what_the_file_is=case["what"],
                    rc=result["rc"],
                    message=result["message"],
                    load_error=result.get("load_error"),
                    stderr_lines=result.get("stderr_lines"),
                    stderr=result.get("stderr_tail"),
                )
        records.append(record)
    return {"counts": counts, "records": records}


def _load_crafted(case, loader, root, marks):
    sandbox = root / "sandbox" / case["name"] / loader
    sandbox.mkdir(parents=True)
    (sandbox / "home").mkdir()
    marker_dir = marks / case["name"]
    if marker_dir.exists():
        shutil.rmtree(marker_dir)
    marker_dir.mkdir()
    out = sandbox / "exported"
    if loader == "load_model":
        argv = _worker("load", case["path"])
    else:
        argv = _worker("cli_export", case["path"], out)
    run = _run(argv, timeout=LOAD_TIMEOUT_S, env=_env(HOME=str(sandbox / "home")), cwd=sandbox)
    result = {
        "rc": run["rc"],
        "seconds": run["seconds"],
        "timed_out": run["timed_out"],
        "reproduce": _shell(argv) + "  # under RLIMIT_AS = VmSize after import + 1 GiB",
        "reproduce_plain": (
            f"python -c 'import keras; keras.saving.load_model(\"{case['path']}\")'"
            if loader == "load_model"
            else f"rnnkit export {case['path']} --format savedmodel --out /tmp/x --quiet"
        ),
        "code_ran": bool(list(marker_dir.iterdir())),
        "unexpected_files": _sandbox_files(
            sandbox, ["home/.keras/keras.json", "home/.cache/matplotlib", "exported"]
        ),
    }
    stderr_lines = [line for line in run["stderr"].splitlines() if line.strip()]
    message, grown = "", None
    if loader == "load_model":
        line = next((x for x in run["stdout"].splitlines() if x.startswith("RESULT ")), None)
        parsed = json.loads(line[len("RESULT ") :]) if line else None
        crashed = not run["timed_out"] and (run["rc"] != 0 or parsed is None)
        if parsed is not None:
            outcome = parsed["outcome"]
            message = parsed.get("message", "")
            grown = parsed.get("grown")
        else:
            outcome = "crashed" if not run["timed_out"] else "timed_out"
        clear = outcome == "refused" and bool(message.strip())
    else:
        crashed = not run["timed_out"] and (
            run["rc"] is None
            or run["rc"] < 0
            or run["rc"] not in (0, 1)
            or "Traceback (most recent call last)" in run["stderr"]
        )
        message = stderr_lines[-1] if stderr_lines else ""
        found = re.search(r"^GROWN (\d+)$", run["stdout"], re.M)
        grown = int(found.group(1)) if found else None
        found = re.search(r"^LOADERROR (.*)$", run["stdout"], re.M)
        if found:
            full = " ".join(json.loads(found.group(1)).split())
            result["load_error"] = full if len(full) <= 600 else f"{full[:300]} ... {full[-300:]}"
        if run["timed_out"]:
            outcome = "timed_out"
        elif crashed:
            outcome = "crashed"
        elif run["rc"] == 0:
            outcome = "loaded"
        else:
            outcome = "refused"
        clear = (
            outcome == "refused"
            and len(stderr_lines) == 1
            and stderr_lines[0].startswith("rnnkit: error:")
        )
        if stderr_lines and not clear:
            result["stderr_lines"] = stderr_lines[:20]
    said = message + " " + result.get("load_error", "")
    memory = any(word in said for word in MEMORY_WORDS) or (grown is not None and grown > GIB)
    result.update(
        outcome=outcome,
        message=message[:600],
        clear=clear,
        crashed=crashed,
        memory_exhausted=memory,
        grown_bytes=grown,
    )
    if crashed or run["timed_out"]:
        result["stderr_tail"] = _tail(run["stderr"], 3000)
    return result


# ---------------------------------------------------------------------------------------
# The workers: each runs in its own process, with one backend.


def _quiet_import():
    """Imports keras and keras_rnnkit with file descriptor 2 pointed at /dev/null, as
    `rnnkit` does: TensorFlow's C++ library writes lines there while it loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        import keras

        import keras_rnnkit  # noqa: F401
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
    return keras


def _vm_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))


def _limit_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + GIB, resource.RLIM_INFINITY))


def _load_worker(path):
    import resource

    keras = _quiet_import()
    _limit_memory()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"outcome": "loaded"}
    try:
        keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any refusal counts; its type is reported
        text = f"{type(error).__name__}: {' '.join(str(error).split())}"
        # Keras wraps the cause in errors that repeat whole configs: its start and its end.
        text = text if len(text) <= 600 else f"{text[:300]} ... {text[-300:]}"
        result = {"outcome": "refused", "message": text}
    result["grown"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print("RESULT " + json.dumps(result), flush=True)


def _cli_export_worker(path, out):
    _quiet_import()
    _limit_memory()
    import resource

    import keras

    import keras_rnnkit_cli

    load_model = keras.saving.load_model

    def observed(*args, **kwargs):
        # Only observes: the full error of the load, which the CLI prints cut to one line.
        try:
            return load_model(*args, **kwargs)
        except Exception as error:
            print("LOADERROR " + json.dumps(f"{type(error).__name__}: {error}"), flush=True)
            raise

    keras.saving.load_model = observed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = keras_rnnkit_cli.main(
        ["export", path, "--format", "savedmodel", "--out", out, "--quiet"]
    )
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(f"GROWN {grown}", flush=True)
    sys.exit(code)


def _determinism_worker(out, jit, seed):
    keras = _quiet_import()
    import numpy as np

    import keras_rnnkit

    jit_compile = {"auto": "auto", "true": True}[jit]
    data = np.random.default_rng(0)
    x = data.normal(size=(24, 8, 2)).astype("float32")
    y = x[:, -3:, :1].sum(axis=1)
    makers = {
        "ElmanRNN": lambda: [keras_rnnkit.ElmanRNN(6)],
        "ElmanRNN_dropout": lambda: [
            keras_rnnkit.ElmanRNN(6, dropout=0.25, recurrent_dropout=0.25)
        ],
        "JordanRNN": lambda: [keras_rnnkit.JordanRNN(6, 2)],
        "NARX": lambda: [keras_rnnkit.NARX(6, 1)],
        "TDNN": lambda: [keras_rnnkit.TDNN(6, (-2, -1, 0)), keras.layers.Flatten()],
    }
    result = {"backend": keras.backend.backend(), "models": {}}
    for name, make in makers.items():
        entry = {}
        for label, value in (("seed", seed), ("other_seed", seed + 1)):
            keras.utils.set_random_seed(value)
            model = keras.Sequential([keras.Input((8, 2)), *make(), keras.layers.Dense(1)])
            model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=jit_compile)
            model.fit(x, y, batch_size=6, epochs=2, shuffle=True, verbose=0)
            entry[label] = [
                f"{w.dtype}{w.shape}:{hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest()}"
                for w in model.get_weights()
            ]
            entry["jit_compile"] = bool(model.jit_compile)
            keras.backend.clear_session()
        result["models"][name] = entry
    pathlib.Path(out).write_text(json.dumps(result))


def _verify_worker(listing, results):
    keras = _quiet_import()
    import numpy as np

    items = json.loads(pathlib.Path(listing).read_text())
    done = set()
    if pathlib.Path(results).exists():
        done = {json.loads(line)["id"] for line in pathlib.Path(results).read_text().splitlines()}

    def check(item):
        path = pathlib.Path(item["path"])
        kind = item["kind"]
        if kind in ("train", "demo"):
            names = sorted(os.listdir(path))
            if item.get("names") is not None and names != item["names"]:
                raise ValueError(f"holds {names}; a finished run holds {item['names']}")
            json.loads((path / "metrics.json").read_text())
            for name in names:
                if name.endswith(".keras"):
                    keras.saving.load_model(path / name)
                elif name.endswith(".png"):
                    data = (path / name).read_bytes()
                    if not (data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")):
                        raise ValueError(f"{name} is not a whole PNG")
        elif kind == "keras":
            keras.saving.load_model(path)
        elif kind == "savedmodel":
            import tensorflow as tf

            loaded = tf.saved_model.load(str(path))
            if "serve" not in loaded.signatures:
                raise ValueError(f"no serve signature: {list(loaded.signatures)}")
        elif kind == "onnx":
            import onnx
            import onnxruntime

            onnx.checker.check_model(onnx.load(str(path)))
            onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        elif kind == "tflite":
            import tensorflow as tf

            tf.lite.Interpreter(model_path=str(path)).allocate_tensors()
        elif kind == "same_weights":
            first = keras.saving.load_model(path).get_weights()
            second = keras.saving.load_model(item["other"]).get_weights()
            if len(first) != len(second):
                raise ValueError(f"{len(first)} weights against {len(second)}")
            differ = [i for i, (a, b) in enumerate(zip(first, second)) if not np.array_equal(a, b)]
            if differ:
                largest = max(float(np.max(np.abs(first[i] - second[i]))) for i in differ)
                raise ValueError(f"weights {differ} differ (largest difference {largest:.3g})")
        else:
            raise ValueError(f"unknown kind {kind}")

    with open(results, "a") as handle:
        for item in items:
            if item["id"] in done:
                continue
            try:
                check(item)
                record = {"id": item["id"], "ok": True}
            except Exception as error:  # noqa: BLE001 - reported, with its type
                text = " ".join(str(error).split())[:600]
                record = {"id": item["id"], "ok": False, "error": f"{type(error).__name__}: {text}"}
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            keras.backend.clear_session()


def _craft_worker(folder, marks):
    """Writes the crafted files into `folder` and `manifest.json` listing them."""
    sys.setrecursionlimit(20000)
    keras = _quiet_import()
    import h5py
    import numpy as np

    import keras_rnnkit
    from keras_rnnkit.forecasting import SeriesForecaster
    from keras_rnnkit.layers import KerasCell
    from keras_rnnkit.layers import Recurrent

    func_dump = importlib.import_module("keras.src.utils.python_utils").func_dump

    folder, marks = pathlib.Path(folder), pathlib.Path(marks)
    bases = folder / "_bases"
    bases.mkdir(parents=True, exist_ok=True)
    serialize = keras.saving.serialize_keras_object

    def marker(name):
        (marks / name).mkdir(parents=True, exist_ok=True)
        return str(marks / name / "ran")

    def touch(name):
        # Compiled here: a lambda whose code opens the marker for writing, then returns its
        # first argument (an activation's, a Lambda layer's or an initializer's input).
        return eval(f"lambda *a, **k: (open({marker(name)!r}, 'w').close(), a[0])[1]")  # noqa: S307

    def base(name, *layers, shape=(3, 2)):
        model = keras.Sequential([keras.Input(shape), *layers])
        path = bases / f"{name}.keras"
        model.save(path)
        return path

    def layer(config):
        return config["config"]["layers"][-1]

    def rewrite(name, source, change=None, *, drop=(), extra=(), raw=None, replace=None):
        target = folder / f"{name}.keras"
        with (
            zipfile.ZipFile(source) as src,
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for item in src.infolist():
                if item.filename in drop:
                    continue
                data = src.read(item)
                if replace and item.filename in replace:
                    data = replace[item.filename]
                elif item.filename == "config.json" and raw is not None:
                    data = raw
                elif item.filename == "config.json" and change is not None:
                    config = json.loads(data)
                    change(config)
                    data = json.dumps(config).encode()
                dst.writestr(item, data)
            for entry, data in extra:
                dst.writestr(entry, data)
        return target

    def setter(**values):
        return lambda config: layer(config)["config"].update(values)

    elman = base("elman", keras_rnnkit.ElmanRNN(4))
    jordan = base("jordan", keras_rnnkit.JordanRNN(4, output_units=2))
    narx = base("narx", keras_rnnkit.NARX(4, output_units=1))
    tdnn = base("tdnn", keras_rnnkit.TDNN(4, context=(-1, 0)))
    tdnn_cell = base("tdnn_cell", keras.layers.RNN(keras_rnnkit.TDNNCell(4, context=(-1, 0))))
    wrapped = base("keras_cell", Recurrent(KerasCell(keras.layers.SimpleRNNCell(4))))

    def saved(name, model):
        path = folder / f"{name}.keras"
        model.save(path)
        return path

    def lambda_layer(name):
        return saved(
            name, keras.Sequential([keras.Input((3, 2)), keras.layers.Lambda(touch(name))])
        )

    def lambda_functional(name):
        inputs = keras.Input((3, 2))
        hidden = keras_rnnkit.ElmanRNN(4, return_sequences=True)(inputs)
        hidden = keras.layers.Lambda(touch(name))(hidden)
        outputs = keras.layers.Dense(1)(keras.layers.Flatten()(hidden))
        return saved(name, keras.Model(inputs, outputs))

    def lambda_forecaster(name):
        inputs = keras.Input((13, 1))
        hidden = keras.layers.Lambda(touch(name))(keras_rnnkit.ElmanRNN(3)(inputs))
        series = {
            "target": "y",
            "features": ["y"],
            "time_column": None,
            "window": 13,
            "season": 12,
            "strategy": "recursive",
            "steps": 1,
            "intervals": None,
        }
        return saved(name, SeriesForecaster(inputs, keras.layers.Dense(1)(hidden), series=series))

    def lambda_config(name):
        """`touch(name)` as `keras.saving.serialize_keras_object` writes a lambda (bytecode)."""
        return {"class_name": "__lambda__", "config": {"value": list(func_dump(touch(name)))}}

    def lambda_loss(name):
        model = keras.Sequential([keras.Input((3, 2)), keras_rnnkit.ElmanRNN(4)])
        model.compile("adam", loss="mse")
        source = saved(f"{name}_source", model)

        def change(config):
            config["compile_config"]["loss"] = lambda_config(name)

        path = rewrite(name, source, change)
        source.unlink()
        return path

    def unsafe_then_lambda(name):
        # As CVE-2025-9906's proof of concept wrote it: a Lambda layer that calls
        # keras.config.enable_unsafe_deserialization, then one of bytecode.
        unlock = {
            "module": "keras.config",
            "class_name": "function",
            "config": "enable_unsafe_deserialization",
            "registered_name": "function",
        }
        source = bases / f"{name}.keras"
        keras.Sequential([keras.Input((3, 2)), keras.layers.Lambda(touch(name))]).save(source)

        def change(config):
            lam = layer(config)
            first = json.loads(json.dumps(lam))
            first["config"]["name"] = "unlock"
            first["config"]["function"] = unlock
            config["config"]["layers"].insert(1, first)

        path = rewrite(name, source, change)
        return path

    def dotted_layer(entry):
        def change(config):
            config["config"]["layers"][-1] = entry

        return change

    def lambda_function(function, arguments):
        def change(config):
            config["config"]["layers"][-1] = {
                "module": "keras.layers",
                "class_name": "Lambda",
                "registered_name": None,
                "config": {
                    "name": "lam",
                    "trainable": True,
                    "dtype": "float32",
                    "function": function,
                    "arguments": arguments,
                },
            }

        return change

    def pickled(name):
        return pickle.dumps(_Touch(marker(name)))

    def npz_with_pickle(name):
        groups = []
        with h5py.File(io.BytesIO(zipfile.ZipFile(elman).read("model.weights.h5")), "r") as h5:
            h5.visit(lambda key: groups.append(key) if key.endswith("vars") else None)
        buffer = io.BytesIO()
        arrays = {key: np.array([{"0": _Touch(marker(name))}], dtype=object) for key in groups}
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def h5_shape_bomb():
        buffer = io.BytesIO()
        original = io.BytesIO(zipfile.ZipFile(elman).read("model.weights.h5"))
        with h5py.File(original, "r") as source, h5py.File(buffer, "w") as target:
            for key in source.attrs:
                target.attrs[key] = source.attrs[key]

            def copy(key, obj):
                if isinstance(obj, h5py.Group):
                    group = target.require_group(key)
                    for attr in obj.attrs:
                        group.attrs[attr] = obj.attrs[attr]
                elif key.endswith("vars/0"):  # the kernel: a huge declared shape, no data
                    target.create_dataset(
                        key, shape=(2**20, 2**20), dtype="float32", chunks=(1024, 1024)
                    )
                else:
                    target.create_dataset(key, data=obj[()])

            source.visititems(copy)
        return buffer.getvalue()

    def streamed(name, entry, size, prefix=b"", suffix=b""):
        """A copy of the Elman file whose `entry` inflates to `size` bytes."""
        target = folder / f"{name}.keras"
        chunk = b"A" * (64 * 2**20) if entry == "config.json" else bytes(64 * 2**20)
        with (
            zipfile.ZipFile(elman) as src,
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
        ):
            for item in src.infolist():
                if item.filename != entry:
                    dst.writestr(item.filename, src.read(item))
            with dst.open(entry, "w", force_zip64=True) as handle:
                handle.write(prefix)
                written = len(prefix)
                while written < size - len(suffix):
                    part = chunk[: size - len(suffix) - written]
                    handle.write(part)
                    written += len(part)
                handle.write(suffix)
        return target

    def many_entries(name, count=250_000):
        target = folder / f"{name}.keras"
        with zipfile.ZipFile(elman) as src, zipfile.ZipFile(target, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, src.read(item))
            for i in range(count):
                dst.writestr(f"assets/junk/{i}", b"")
        return target

    def patched(name, change):
        target = folder / f"{name}.keras"
        data = bytearray(elman.read_bytes())
        change(data)
        target.write_bytes(bytes(data))
        return target

    def lying_size(data):
        for signature, name_len_at, size_at, name_at in (
            (b"PK\x01\x02", 28, 24, 46),
            (b"PK\x03\x04", 26, 22, 30),
        ):
            at = data.find(signature)
            while at != -1:
                length = struct.unpack_from("<H", data, at + name_len_at)[0]
                if data[at + name_at : at + name_at + length] == b"config.json":
                    struct.pack_into("<I", data, at + size_at, 0x7FFFFFF0)
                at = data.find(signature, at + 4)

    def corrupt_directory(data):
        at = data.rfind(b"PK\x01\x02")
        noise = random.Random(1).randbytes(40)
        data[at + 10 : at + 50] = noise

    def nested_models(depth=300):
        core = json.dumps(layer(json.loads(zipfile.ZipFile(elman).read("config.json"))))
        head = '{"module": "keras", "class_name": "Sequential", "registered_name": null, '
        head += '"config": {"name": "s", "layers": ['
        return (head * depth + core + "]}}" * depth).encode()

    def shape_everywhere(shape):
        def change(value):
            if isinstance(value, dict):
                for key, item in value.items():
                    if item == [None, 3, 2]:
                        value[key] = shape
                    else:
                        change(item)
            elif isinstance(value, list):
                for item in value:
                    change(item)

        return change

    def numpy_load(name):
        payload = marks / f"{name}.pkl"  # beside the marker folder, not in it
        payload.write_bytes(pickled(name))
        entry = {
            "module": "numpy",
            "class_name": "load",
            "registered_name": None,
            "config": {"file": str(payload), "allow_pickle": True},
        }
        return rewrite(name, elman, dotted_layer(entry))

    def inner_cell(**values):
        return lambda config: layer(config)["config"]["cell"]["config"].update(values)

    def keras_cell_units(config):
        layer(config)["config"]["cell"]["config"]["cell"]["config"]["units"] = 10**6

    m = marker
    cases = [
        # name, group, what, expect (load_model), expect (CLI), make(name), armed check
        (
            "control_elman",
            "control",
            "a valid ElmanRNN model",
            "load",
            "load",
            lambda n: _copy(elman, folder / f"{n}.keras"),
            False,
        ),
        (
            "control_tdnn_context_1e9",
            "control",
            "TDNN context (-10**9, 0): valid, and small",
            "load",
            "any",
            lambda n: rewrite(n, tdnn, setter(context=[-(10**9), 0])),
            False,
        ),
        # Code that would run: Lambda layers and lambdas elsewhere.
        (
            "lambda_layer",
            "code",
            "a Lambda layer whose bytecode writes a marker",
            "refuse",
            "refuse",
            lambda_layer,
            True,
        ),
        (
            "lambda_in_functional_model",
            "code",
            "ElmanRNN -> Lambda(marker) -> Dense",
            "refuse",
            "refuse",
            lambda_functional,
            True,
        ),
        (
            "lambda_in_series_forecaster",
            "code",
            "a SeriesForecaster holding a Lambda(marker)",
            "refuse",
            "refuse",
            lambda_forecaster,
            True,
        ),
        (
            "lambda_activation",
            "code",
            "ElmanRNN activation: a serialized lambda (marker)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, setter(activation=lambda_config(n))),
            True,
        ),
        (
            "lambda_initializer",
            "code",
            "JordanRNN kernel_initializer: a lambda (marker)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, jordan, setter(kernel_initializer=lambda_config(n))),
            True,
        ),
        (
            "lambda_as_recurrent_cell",
            "code",
            "keras_rnnkit Recurrent whose cell is a Lambda layer (marker)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, wrapped, setter(cell=serialize(keras.layers.Lambda(touch(n))))),
            True,
        ),
        (
            "lambda_loss_in_compile_config",
            "code",
            "compile_config loss: a lambda (marker)",
            "any",
            "any",
            lambda_loss,
            True,
        ),
        (
            "enable_unsafe_then_lambda",
            "code",
            "Lambda(keras.config.enable_unsafe_deserialization) then Lambda(marker)",
            "refuse",
            "refuse",
            unsafe_then_lambda,
            True,
        ),
        # Dotted module paths.
        (
            "module_os_system",
            "module",
            "a layer {module: os, class_name: system}",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "os",
                        "class_name": "system",
                        "registered_name": None,
                        "config": {"command": f"touch {m(n)}"},
                    }
                ),
            ),
            True,
        ),
        (
            "module_subprocess_popen",
            "module",
            "a layer {module: subprocess, class_name: Popen}",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "subprocess",
                        "class_name": "Popen",
                        "registered_name": None,
                        "config": {"args": ["touch", m(n)]},
                    }
                ),
            ),
            True,
        ),
        (
            "builtins_eval_activation",
            "module",
            "ElmanRNN activation: builtins.eval",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                setter(
                    activation={
                        "module": "builtins",
                        "class_name": "function",
                        "config": "eval",
                        "registered_name": "function",
                    }
                ),
            ),
            True,
        ),
        (
            "os_system_activation",
            "module",
            "ElmanRNN activation: the function os.system",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                setter(
                    activation={
                        "module": "os",
                        "class_name": "function",
                        "config": "system",
                        "registered_name": None,
                    }
                ),
            ),
            True,
        ),
        (
            "builtins_exec_lambda",
            "module",
            "Lambda(function=builtins.exec)",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                lambda_function(
                    {
                        "module": "builtins",
                        "class_name": "function",
                        "config": "exec",
                        "registered_name": None,
                    },
                    {},
                ),
            ),
            True,
        ),
        (
            "keras_get_file_lambda",
            "module",
            "Lambda(function=keras.utils.get_file) fetching "
            "file:///etc/hostname into the marker folder",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                lambda_function(
                    {
                        "module": "keras.utils",
                        "class_name": "function",
                        "config": "get_file",
                        "registered_name": "function",
                    },
                    {
                        "origin": "file:///etc/hostname",
                        "cache_dir": str(marks / n),
                        "cache_subdir": ".",
                    },
                ),
            ),
            True,
        ),
        (
            "keras_internal_module",
            "module",
            "a layer {module: keras.src.saving."
            "serialization_lib, class_name: enable_unsafe_deserialization}",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "keras.src.saving.serialization_lib",
                        "class_name": "enable_unsafe_deserialization",
                        "registered_name": None,
                        "config": {},
                    }
                ),
            ),
            True,
        ),
        (
            "rnnkit_internal_function",
            "module",
            "a layer {module: keras_rnnkit._atomic, class_name: write_text} writing the marker",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "keras_rnnkit._atomic",
                        "class_name": "write_text",
                        "registered_name": "keras_rnnkit>write_text",
                        "config": {"path": m(n), "text": "ran"},
                    }
                ),
            ),
            True,
        ),
        (
            "numpy_load_pickle",
            "module",
            "a layer {module: numpy, class_name: load} of a pickle "
            "that writes the marker, allow_pickle=True",
            "refuse",
            "refuse",
            numpy_load,
            True,
        ),
        # Registered-name tricks.
        (
            "registered_name_os_system",
            "registered",
            "registered_name os>system, module os",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "os",
                        "class_name": "system",
                        "registered_name": "os>system",
                        "config": {"command": f"touch {m(n)}"},
                    }
                ),
            ),
            True,
        ),
        (
            "registered_name_rnnkit_over_popen",
            "registered",
            "registered_name keras_rnnkit>ElmanRNN on {module: subprocess, class_name: Popen}",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "subprocess",
                        "class_name": "Popen",
                        "registered_name": "keras_rnnkit>ElmanRNN",
                        "config": {"args": ["touch", m(n)]},
                    }
                ),
            ),
            True,
        ),
        (
            "registered_name_not_a_layer",
            "registered",
            "a layer whose registered_name is keras_rnnkit>WeightElimination (a regularizer)",
            "refuse",
            "refuse",
            lambda n: rewrite(
                n,
                elman,
                dotted_layer(
                    {
                        "module": "keras_rnnkit.regularizers",
                        "class_name": "WeightElimination",
                        "registered_name": "keras_rnnkit>WeightElimination",
                        "config": {},
                    }
                ),
            ),
            False,
        ),
        # Pickles.
        (
            "pickle_in_archive",
            "pickle",
            "a valid file plus payload.pkl and assets/payload.pkl (unpickled: writes the marker)",
            "any",
            "any",
            lambda n: rewrite(
                n, elman, extra=[("payload.pkl", pickled(n)), ("assets/payload.pkl", pickled(n))]
            ),
            False,
        ),
        (
            "pickle_weights_npz",
            "pickle",
            "model.weights.npz of pickled object arrays instead of model.weights.h5",
            "any",
            "any",
            lambda n: rewrite(
                n,
                elman,
                drop=("model.weights.h5",),
                extra=[("model.weights.npz", npz_with_pickle(n))],
            ),
            False,
        ),
        (
            "pickle_as_config",
            "pickle",
            "config.json holding a pickle",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, raw=pickled(n)),
            False,
        ),
        (
            "zip_slip_asset",
            "pickle",
            "an entry assets/../../..../marker (path traversal)",
            "any",
            "any",
            lambda n: rewrite(
                n, elman, extra=[("assets/" + "../" * 16 + m(n).lstrip("/"), b"ran")]
            ),
            False,
        ),
        # Absurd sizes.
        (
            "jordan_output_units_1e8",
            "size",
            "JordanRNN output_units=10**8",
            "refuse",
            "refuse",
            lambda n: rewrite(n, jordan, setter(output_units=10**8)),
            False,
        ),
        (
            "elman_units_1e5",
            "size",
            "ElmanRNN units=10**5",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, setter(units=10**5)),
            False,
        ),
        (
            "tdnn_cell_context_1e9",
            "size",
            "keras.layers.RNN(TDNNCell) context (-10**9, 0)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, tdnn_cell, inner_cell(context=[-(10**9), 0])),
            False,
        ),
        (
            "narx_feedback_delay_1e9",
            "size",
            "NARX feedback_delays (1, 10**9)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, narx, setter(feedback_delays=[1, 10**9])),
            False,
        ),
        (
            "narx_input_delay_1e9",
            "size",
            "NARX input_delays (1, 10**9)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, narx, setter(input_delays=[1, 10**9])),
            False,
        ),
        (
            "narx_units_1e8",
            "size",
            "NARX units=10**8",
            "refuse",
            "refuse",
            lambda n: rewrite(n, narx, setter(units=10**8)),
            False,
        ),
        (
            "tdnn_units_1e9",
            "size",
            "TDNN units=10**9",
            "refuse",
            "refuse",
            lambda n: rewrite(n, tdnn, setter(units=10**9)),
            False,
        ),
        (
            "tdnn_million_offsets",
            "size",
            "TDNN with 10**6 context offsets and 256 units",
            "refuse",
            "refuse",
            lambda n: rewrite(n, tdnn, setter(context=list(range(-(10**6) + 1, 1)), units=256)),
            False,
        ),
        (
            "elman_units_2_63",
            "size",
            "ElmanRNN units=2**63",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, setter(units=2**63)),
            False,
        ),
        (
            "elman_units_negative",
            "size",
            "ElmanRNN units=-1",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, setter(units=-1)),
            False,
        ),
        (
            "input_features_1e9",
            "size",
            "ElmanRNN(4) on inputs of 10**9 features",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, shape_everywhere([None, 3, 10**9])),
            False,
        ),
        (
            "keras_cell_units_1e6",
            "size",
            "Recurrent(KerasCell(keras.layers.SimpleRNNCell(10**6)))"
            " (Keras's own cell in keras_rnnkit's loop)",
            "refuse",
            "refuse",
            lambda n: rewrite(n, wrapped, keras_cell_units),
            False,
        ),
        (
            "h5_declared_shape_bomb",
            "size",
            "model.weights.h5 whose kernel declares shape (2**20, 2**20) and stores nothing",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, replace={"model.weights.h5": h5_shape_bomb()}),
            False,
        ),
        # Zip bombs.
        (
            "config_inflates_to_2_gib",
            "bomb",
            "config.json: 2 GiB once inflated (2 MB stored)",
            "refuse",
            "refuse",
            lambda n: streamed(
                n,
                "config.json",
                2 * GIB,
                b'{"module": "keras", "class_name": "Sequential", "config": {"name": "',
                b'"}}',
            ),
            False,
        ),
        (
            "weights_inflate_to_2_gib",
            "bomb",
            "model.weights.h5: 2 GiB of zeros once inflated",
            "refuse",
            "refuse",
            lambda n: streamed(n, "model.weights.h5", 2 * GIB),
            False,
        ),
        (
            "250k_entries",
            "bomb",
            "a valid file plus 250000 empty entries",
            "any",
            "any",
            many_entries,
            False,
        ),
        (
            "lying_size_header",
            "bomb",
            "config.json's headers declare 2 GiB uncompressed (its data is a valid config)",
            "any",
            "any",
            lambda n: patched(n, lying_size),
            False,
        ),
        # Corrupt archives and configs.
        (
            "truncated_zip",
            "corrupt",
            "the first half of a valid file",
            "refuse",
            "refuse",
            lambda n: (
                (folder / f"{n}.keras").write_bytes(elman.read_bytes()[: elman.stat().st_size // 2])
                and folder / f"{n}.keras"
            ),
            False,
        ),
        (
            "corrupt_central_directory",
            "corrupt",
            "40 random bytes over a central directory entry",
            "refuse",
            "refuse",
            lambda n: patched(n, corrupt_directory),
            False,
        ),
        (
            "config_not_json",
            "corrupt",
            "config.json: '{not json'",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, raw=b"{not json"),
            False,
        ),
        (
            "config_json_a_list",
            "corrupt",
            "config.json: [1, 2, 3]",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, raw=b"[1, 2, 3]"),
            False,
        ),
        (
            "empty_file",
            "corrupt",
            "0 bytes",
            "refuse",
            "refuse",
            lambda n: (folder / f"{n}.keras").write_bytes(b"") or folder / f"{n}.keras",
            False,
        ),
        (
            "no_config_json",
            "corrupt",
            "an archive without config.json",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, drop=("config.json",)),
            False,
        ),
        (
            "deep_json_nesting",
            "corrupt",
            "config.json: 10**6 nested lists",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, raw=b"[" * 10**6 + b"]" * 10**6),
            False,
        ),
        (
            "deeply_nested_models",
            "corrupt",
            "300 Sequential models nested in each other",
            "refuse",
            "refuse",
            lambda n: rewrite(n, elman, raw=nested_models()),
            False,
        ),
        (
            "weights_of_another_model",
            "corrupt",
            "an ElmanRNN config with a JordanRNN's weights",
            "any",
            "any",
            lambda n: rewrite(
                n,
                elman,
                replace={"model.weights.h5": zipfile.ZipFile(jordan).read("model.weights.h5")},
            ),
            False,
        ),
    ]
    manifest = []
    for name, group, what, expect, expect_cli, make, armed in cases:
        entry = {
            "name": name,
            "group": group,
            "what": what,
            "expect": expect,
            "expect_cli": expect_cli,
        }
        try:
            path = make(name)
            entry["path"] = str(path)
            entry["bytes"] = pathlib.Path(path).stat().st_size
            entry["armed_check"] = armed
        except Exception as error:  # noqa: BLE001 - reported as a crafting error
            entry["craft_error"] = f"{type(error).__name__}: {error}"[:800]
        manifest.append(entry)
    # Whether each payload runs at all when loading is unsafe (safe_mode=False), in this
    # process: a payload that cannot run even then proves less when it does not run.
    for entry in manifest:
        if entry.get("armed_check"):
            (marks / entry["name"]).mkdir(exist_ok=True)
            for stale in (marks / entry["name"]).iterdir():
                _remove_path(stale)
            try:
                model = keras.saving.load_model(entry["path"], safe_mode=False)
                entry["unsafe_load"] = "loaded"
                entry["armed_at"] = "load" if list((marks / entry["name"]).iterdir()) else None
                # Used once: a payload in an activation runs only when the model is called.
                shape = [1 if size is None else size for size in model.inputs[0].shape]
                model.predict(np.zeros(shape, "float32"), verbose=0)
            except Exception as error:  # noqa: BLE001
                entry["unsafe_load"] = f"{type(error).__name__}: {str(error)[:200]}"
            entry["armed"] = bool(list((marks / entry["name"]).iterdir()))
            if entry["armed"] and not entry.get("armed_at"):
                entry["armed_at"] = "call"
    for path in marks.iterdir():  # made while crafting (a Lambda runs when built) or armed
        if path.is_dir():
            for stale in path.iterdir():
                _remove_path(stale)
    shutil.rmtree(bases)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _remove_path(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


WORKERS = {
    "load": _load_worker,
    "cli_export": _cli_export_worker,
    "determinism": lambda out, jit, seed: _determinism_worker(out, jit, int(seed)),
    "verify": _verify_worker,
    "craft": _craft_worker,
}


# ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="/tmp/fault_campaign.json")
    parser.add_argument("--work", default="/tmp/fault_campaign_work", help="emptied first")
    parser.add_argument("--budget-min", type=float, default=34.0, help="wall-time budget")
    parser.add_argument("--kills", type=int, default=62, help="about this many kills")
    parser.add_argument("--tune-kills", type=int, default=4)
    parser.add_argument("--parts", default="kills,tune,determinism,crafted")
    parser.add_argument("--crafted", default="", help="only these crafted files (names, a,b)")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        WORKERS[args.worker[0]](*args.worker[1:])
        return 0
    campaign = Campaign(args)
    campaign.work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    report = {
        "seed": args.seed,
        "command": _shell([sys.executable, "-m", "tests.fault_campaign", *sys.argv[1:]]),
        "versions": _versions(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "niceness": os.nice(0),
    }
    # Each part stops starting new items at its share of the budget (an earlier part's
    # unused time carries over).
    runs = [
        ("kills", lambda: Kills(campaign).run(campaign.ends_by(0.45))),
        ("tune", lambda: _tune_part(campaign, campaign.ends_by(0.55))),
        ("determinism", lambda: _determinism_part(campaign, campaign.ends_by(0.70))),
        ("crafted", lambda: _crafted_part(campaign, campaign.ends_by(0.97))),
    ]
    for name, run in runs:
        if name not in parts:
            continue
        began = time.monotonic()
        try:
            report[name] = run()
        except Exception:  # noqa: BLE001 - the campaign reports it and goes on
            report[name] = {"error": traceback.format_exc()}
            campaign.fail(
                name, name, "the part itself raised", "", traceback=traceback.format_exc()
            )
        report[name]["wall_time_s"] = round(time.monotonic() - began, 1)
        print(f"[{campaign.elapsed():.0f} s] {name} done", file=sys.stderr, flush=True)
    report["wall_time_s"] = round(campaign.elapsed(), 1)
    report["failures"] = campaign.failures
    summary = {
        "seed": args.seed,
        "wall_time_s": report["wall_time_s"],
        "versions": report["versions"],
        **{
            name: {"counts": report[name].get("counts"), "wall_time_s": report[name]["wall_time_s"]}
            for name, _ in runs
            if name in report
        },
        "failures": len(campaign.failures),
    }
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
