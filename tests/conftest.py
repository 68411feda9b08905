import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


# The tests of the applications (the command line, tuning searches, benchmarks, examples):
# code above the layers that runs the same on every backend. Marked `application` here, in
# one list, so that CI runs them on TensorFlow and PyTorch and the JAX run keeps to the core.
APPLICATION_TESTS = {
    "test_bench",
    "test_cli",
    "test_cli_bad_inputs",
    "test_cli_forecast",
    "test_cli_nonsense",
    "test_cli_output",
    "test_cli_tool",
    "test_csv_files",
    "test_examples",
    "test_family_plugins",
    "test_reproductions",
    "test_sunspot_benchmark",
    "test_tuning_files",
    "test_tuning_ownership",
    "test_tuning_search",
}


# First: `-m` deselects by the markers added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in APPLICATION_TESTS:
            item.add_marker(pytest.mark.application)
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="needs the TensorFlow backend")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
