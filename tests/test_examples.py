"""Every example runs end to end at a tiny size."""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sunspots_example_trains_every_built_in_family():
    results = _load("sunspots").main(["--epochs", "1", "--members", "2"])
    assert sorted(results) == ["elman", "jordan", "narx", "tdnn"]
    for periods in results.values():
        assert all(np.isfinite(arv) and arv > 0 for arv in periods.values())


@pytest.mark.slow
def test_adding_problem_example_runs_and_plots(tmp_path):
    results = _load("adding_problem").main(["--smoke", "--out", str(tmp_path)])
    assert sorted(results) == ["irnn", "settings", "tanh"]
    for kind in ("tanh", "irnn"):
        result = results[kind]
        assert np.isfinite(result["test_mse"])
        assert result["state_gradient_norms"].shape == (1, results["settings"]["length"])
        assert (tmp_path / f"gradient_flow_{kind}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_jordan_sequences_example_runs():
    result = _load("jordan_sequences").main(["--smoke"])
    assert 0.0 <= result["bit_accuracy"] <= 1.0


@pytest.mark.slow
def test_digits_classification_example_runs_every_built_in_family():
    accuracies = _load("digits_classification").main(["--smoke"])
    assert sorted(accuracies) == ["elman", "jordan", "narx", "tdnn"]
    assert all(0.0 <= accuracy <= 1.0 for accuracy in accuracies.values())


@pytest.mark.slow
def test_tdnn_example_streams_what_the_whole_sequence_model_computes():
    result = _load("tdnn_shifted_patterns").main(["--smoke"])
    assert result["stream_difference"] <= 1e-4  # the example also exits if it is larger
    assert sorted(result["accuracy_by_offset"]) == ["early", "late", "middle"]


@pytest.mark.slow
def test_temporal_xor_example_reports_each_place_in_the_triple_and_plots(tmp_path):
    result = _load("temporal_xor").main(["--smoke", "--out", str(tmp_path)])
    assert sorted(result["mse_by_place"]) == ["first", "second", "xor"]
    assert all(0.0 <= rate <= 1.0 for rate in result["error_rate_by_place"].values())
    assert len(result["mse_by_step"]) == result["settings"]["length"]
    assert (tmp_path / "temporal_xor_error.png").read_bytes()[:4] == b"\x89PNG"
