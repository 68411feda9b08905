"""The benchmark machinery (benchmarks/suite, outside the package): its outputs, not its times.

Benchmarks are not tests: nothing here asserts a duration. The smoke run
checks the structure of results.json and results.md, and that every ratio is
the ratio of the medians it reports.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_rnnkit
from benchmarks import suite as bench
from benchmarks.suite import measure
from benchmarks.suite import models
from benchmarks.suite import repeats
from benchmarks.suite import report
from benchmarks.suite.settings import parse_size

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORD_KEYS = {
    "id",
    "model",
    "variant",
    "phase",
    "size",
    "size_label",
    "median_ms",
    "q1_ms",
    "q3_ms",
    "iqr_ms",
    "repeats",
    "memory",
    "gflops",
    "fraction_of_matmul_rate",
}


@pytest.mark.slow
def test_smoke_run_writes_consistent_json_markdown_and_plot(tmp_path):
    backend = keras.backend.backend()
    out = tmp_path / "bench"
    assert bench.main(["--smoke", "--backends", backend, "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert set(data) == {"meta", "backends", "cross_process"}
    assert list(data["backends"]) == [backend]
    result = data["backends"][backend]
    assert result["meta"]["backend"] == backend
    records = {r["id"]: r for r in result["records"]}
    expected = {"ElmanRNN", "SimpleRNN", "JordanRNN", "NaiveJordan", "TDNN", "Conv1D"}
    expected |= {"GatherTDNN", "TDNNCell"} | ({"nn.RNN"} if backend == "torch" else set())
    assert {r["model"] for r in records.values()} == expected
    for record in records.values():
        assert set(record) == RECORD_KEYS
        assert record["q1_ms"] <= record["median_ms"] <= record["q3_ms"]
        assert record["repeats"] == 3  # the smoke mode's repetitions
        assert record["memory"]["peak_rss_mb"] > 0
    markdown = (out / "results.md").read_text()
    assert f"## {backend}" in markdown
    assert result["comparisons"]
    for comparison in result["comparisons"]:
        ours, alternative = records[comparison["ours"]], records[comparison["alternative"]]
        assert comparison["ratio"] == pytest.approx(
            ours["median_ms"] / alternative["median_ms"], rel=1e-12
        )
        assert f"| {comparison['ratio']:.2f} |" in markdown
        if comparison["target"] is not None:
            assert comparison["met"] == (comparison["ratio"] <= comparison["target"])
    # Every group of the issue is compared: Elman, Jordan, TDNN (Conv1D and
    # gather), the streaming cell, and the sweep behind the plot.
    pairs = {
        (records[c["ours"]]["model"], records[c["alternative"]]["model"])
        for c in result["comparisons"]
    }
    assert {
        ("ElmanRNN", "SimpleRNN"),
        ("JordanRNN", "NaiveJordan"),
        ("TDNN", "Conv1D"),
        ("TDNN", "GatherTDNN"),
        ("TDNNCell", "TDNN"),
    } <= pairs
    if backend == "tensorflow":
        assert ("ElmanRNN[jit]/train/B4_T8_D3_H8", "ElmanRNN/train/B4_T8_D3_H8") in {
            (c["ours"], c["alternative"]) for c in result["comparisons"]
        }
    if backend == "torch":
        assert ("ElmanRNN", "nn.RNN") in pairs
    pytest.importorskip("matplotlib")
    assert (out / "time_vs_length.png").read_bytes()[:4] == b"\x89PNG"


def test_refuses_to_overwrite_an_existing_output_folder(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("keep me")
    assert bench.main(["--smoke", "--backends", keras.backend.backend(), "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "keep me"


def test_bad_arguments_name_what_is_allowed(tmp_path, capsys):
    out = str(tmp_path / "new")
    assert bench.main(["--backends", "theano", "--out", out]) == 1
    assert "`--backends` must name backends from tensorflow, jax, torch" in capsys.readouterr().err
    assert bench.main(["--groups", "lstm", "--out", out]) == 1
    assert "`--groups` must be from elman, jordan, masked, tdnn, stream" in capsys.readouterr().err
    with pytest.raises(ValueError, match="BxTxDxH with positive integers.*Received: '64x100'"):
        parse_size("64x100")
    assert parse_size("small") == (64, 100, 32, 128)
    assert parse_size("2x3x4x5") == (2, 3, 4, 5)
    assert not (tmp_path / "new").exists()


def test_summary_gives_median_and_inclusive_quartiles():
    # 1..5 s: median 3 s; inclusive quartiles are the 2nd and 4th values.
    assert measure.summary([5, 1, 4, 2, 3]) == {
        "median_ms": 3000.0,
        "q1_ms": 2000.0,
        "q3_ms": 4000.0,
        "iqr_ms": 2000.0,
        "repeats": 5,
    }


def test_time_fit_times_the_requested_number_of_steps():
    size = parse_size("2x3x2x4")
    model = models.build("ElmanRNN", size)
    x = np.zeros((2 * 10, 3, 2), "float32")
    durations = measure.time_fit(model, x, np.zeros((20, 1), "float32"), 2, 2, 5)
    assert len(durations) == 5 and all(d > 0 for d in durations)


def test_naive_jordan_cell_computes_what_jordan_rnn_computes(rng):
    # The baseline must do the same work: with the same weights, same outputs.
    x = rng.standard_normal((3, 6, 4)).astype("float32")
    ours = keras_rnnkit.JordanRNN(5, output_units=2, return_sequences=True)
    naive = keras.layers.RNN(models.NaiveJordanCell(5, 2), return_sequences=True)
    ours(x)
    naive(x)
    naive.set_weights([w * 0 + rng.standard_normal(w.shape) for w in naive.get_weights()])
    ours.set_weights(naive.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(naive(x)), atol=1e-5
    )


@pytest.mark.parametrize("kind", sorted(models.CONTEXTS))
def test_tdnn_baselines_compute_what_tdnn_computes(kind, rng):
    context = models.CONTEXTS[kind]
    x = rng.standard_normal((2, 11, 3)).astype("float32")
    tdnn = keras_rnnkit.TDNN(4, context=context)
    tdnn(x)
    tdnn.set_weights([rng.standard_normal(w.shape) for w in tdnn.get_weights()])
    expected = keras.ops.convert_to_numpy(tdnn(x))
    size = parse_size("2x11x3x4")
    baselines = [models._layer("GatherTDNN", size, context)]
    if kind != "offsets":
        baselines.append(models._layer("Conv1D", size, context))
    for layer in baselines:
        layer(x)
        # Conv1D's kernel is (K, D, H), as TDNN's: the same weights, as they are.
        layer.set_weights(tdnn.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)


@pytest.mark.slow
def test_the_benchmark_imports_no_framework_beyond_what_keras_imports():
    # `import keras` itself may import JAX when it is installed; the benchmark
    # (parent and TensorFlow worker modules) must add no jax or torch module.
    frameworks = "{m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'torch')}"
    code = (
        f"import sys, keras; before = {frameworks};"
        "import benchmarks.suite.runner, benchmarks.suite.report;"
        "import benchmarks.suite.worker, benchmarks.suite.models;"
        f"print(sorted({frameworks} - before))"
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_the_suite_lives_in_the_checkout_not_in_the_package():
    import importlib.util

    assert importlib.util.find_spec("keras_rnnkit.bench") is None
    assert pathlib.Path(bench.__file__).parent == ROOT / "benchmarks" / "suite"


@pytest.mark.slow
def test_the_entry_point_runs_from_a_checkout():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: benchmarks/run.py") and "--smoke" in completed.stdout


def test_repeated_runs_report_each_ratios_median_and_range():
    def run(ratios):
        comparisons = [
            {
                "ours": f"ours{i}",
                "alternative": f"alt{i}",
                "phase": "train",
                "size_label": "small",
                "target": 1.0,
                "ratio": ratio,
            }
            for i, ratio in enumerate(ratios)
        ]
        return {"tensorflow": {"comparisons": comparisons}}

    runs = [run([0.9, 1.3]), run([1.2, 0.7]), run([0.8, 1.1])]
    (first, second) = repeats.summarize(runs)["tensorflow"]
    assert first["ratios"] == [0.9, 1.2, 0.8] and second["ratios"] == [1.3, 0.7, 1.1]
    assert (first["median"], first["min"], first["max"], first["met"]) == (0.9, 0.8, 1.2, True)
    assert (second["median"], second["met"]) == (1.1, False)
    lines = report._repeated({"runs": 3, "ratios": {"tensorflow": [first, second]}})
    assert "| tensorflow | ours0 | alt0 | small | train | 0.90 | 0.80–1.20 | ≤ 1: met |" in lines
    assert (
        "| tensorflow | ours1 | alt1 | small | train | 1.10 | 0.70–1.30 | ≤ 1: **missed** |"
        in lines
    )


@pytest.mark.slow
def test_a_repeated_smoke_run_summarizes_the_runs_it_made(tmp_path):
    backend = keras.backend.backend()
    out = tmp_path / "bench"
    argv = ["--smoke", "--backends", backend, "--groups", "elman", "--runs", "2"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == 2 and data["repeated"]["runs"] == 2
    for index, row in enumerate(data["repeated"]["ratios"][backend]):
        per_run = [run[backend]["comparisons"][index]["ratio"] for run in data["runs"]]
        assert row["ratios"] == per_run
        assert row["median"] == pytest.approx(np.median(per_run))
    assert "## Ratios over 2 whole runs" in (out / "results.md").read_text()
    assert bench.main(["--smoke", "--runs", "0", "--out", str(tmp_path / "x")]) == 1


def test_compare_marks_changes_beyond_the_runs_range_only():
    from benchmarks.suite import compare

    def data(*rows):
        ratios = [
            {
                "ours": f"ours{i}",
                "alternative": "alt",
                "size_label": "small",
                "phase": "train",
                "median": median,
                "min": low,
                "max": high,
            }
            for i, (median, low, high) in enumerate(rows)
        ]
        return {"repeated": {"runs": 3, "ratios": {"jax": ratios}}}

    before = data((1.0, 0.9, 1.1), (1.0, 0.95, 1.05), (1.0, 0.95, 1.05))
    after = data((1.08, 1.0, 1.2), (1.2, 1.15, 1.25), (0.7, 0.65, 0.75))
    lines = compare.compare(before, after)
    assert lines[2].endswith("| 1.00 (0.90–1.10) | 1.08 (1.00–1.20) | within noise |")
    assert lines[3].endswith("| slower |") and lines[4].endswith("| faster |")
    with pytest.raises(ValueError, match="single run"):
        compare.compare({"meta": {}}, after)
