"""Residual diagnostics: the statistics against statsmodels and a hand loop, the figures' files.

statsmodels and scipy are references only (neither is a dependency of the package):
their tests skip without them, as the figures' tests skip without matplotlib.
"""

import ast
import math
import pathlib
import sys

import numpy as np
import pytest

from keras_rnnkit.forecasting import diagnostics
from keras_rnnkit.forecasting.diagnostics import ljung_box
from keras_rnnkit.forecasting.diagnostics import plot_residuals
from keras_rnnkit.forecasting.diagnostics import plot_response
from keras_rnnkit.forecasting.diagnostics import residual_autocorrelation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _hand_autocorrelation(e, max_lag):
    """r_k from its definition, one term at a time."""
    n = len(e)
    mean = sum(e) / n
    denominator = sum((e_t - mean) ** 2 for e_t in e)
    return [
        sum((e[t] - mean) * (e[t - k] - mean) for t in range(k, n)) / denominator
        for k in range(1, max_lag + 1)
    ]


def _ar1(rng, phi, n):
    e = np.zeros(n)
    noise = rng.normal(size=n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + noise[t]
    return e


# --- The statistics ----------------------------------------------------------------------


@pytest.mark.parametrize("n, max_lag", [(3, 2), (10, 9), (57, 20), (400, 40)])
def test_autocorrelation_equals_the_hand_loop(rng, n, max_lag):
    e = rng.normal(size=n) + 3.0
    acf = residual_autocorrelation(e, max_lag=max_lag)
    np.testing.assert_allclose(acf.values, _hand_autocorrelation(e.tolist(), max_lag), rtol=1e-12)
    assert acf.lags.tolist() == list(range(1, max_lag + 1))
    assert acf.n == n
    assert acf.bound == pytest.approx(1.96 / math.sqrt(n))
    assert acf.outside.tolist() == [k for k, r in zip(acf.lags, acf.values) if abs(r) > acf.bound]


@pytest.mark.parametrize("n, max_lag", [(5, 4), (64, 20), (1000, 50)])
def test_autocorrelation_equals_statsmodels_acf(rng, n, max_lag):
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    e = _ar1(rng, 0.5, n)
    expected = stattools.acf(e, nlags=max_lag, adjusted=False, fft=False)[1:]
    np.testing.assert_allclose(
        residual_autocorrelation(e, max_lag=max_lag).values, expected, rtol=1e-10, atol=1e-14
    )


def test_a_column_gives_the_same_autocorrelation(rng):
    e = rng.normal(size=30)
    np.testing.assert_array_equal(
        residual_autocorrelation(e[:, None]).values, residual_autocorrelation(e).values
    )


@pytest.mark.parametrize("n, expected", [(3, 2), (21, 20), (500, 20)])
def test_the_default_max_lag_is_that_of_matlab(rng, n, expected):
    assert residual_autocorrelation(rng.normal(size=n)).lags.size == expected


def test_the_result_cannot_be_changed(rng):
    acf = residual_autocorrelation(rng.normal(size=30))
    with pytest.raises(ValueError):
        acf.values[0] = 1.0
    with pytest.raises(AttributeError):
        acf.bound = 0.0


def test_about_5_percent_of_the_lags_of_white_noise_fall_outside_the_bounds():
    # 20 series of n = 2000, 50 lags each: 1000 nearly independent r_k; the count outside
    # is about binomial(1000, 0.05), mean 50, sd 6.9. [30, 70] is the mean +- 2.9 sd, wide
    # enough for nearly any seed; the seed is fixed so the test never flips.
    rng = np.random.default_rng(2027)
    outside = sum(
        residual_autocorrelation(rng.normal(size=2000), max_lag=50).outside.size for _ in range(20)
    )
    assert 30 <= outside <= 70


def test_an_ar1_series_has_r_k_near_phi_to_the_k(rng):
    # r_k of AR(1) estimates phi^k; its sd at n = 2000 is about sqrt((1 - phi^2) / n) = 0.013
    # at lag 1, a little more at higher lags: 0.05 is over 3 sd.
    acf = residual_autocorrelation(_ar1(rng, 0.8, 2000), max_lag=3)
    np.testing.assert_allclose(acf.values, [0.8, 0.64, 0.512], atol=0.05)
    assert acf.outside.tolist() == [1, 2, 3]


@pytest.mark.parametrize("n, lags", [(3, 1), (50, 10), (2000, 20)])
def test_ljung_box_equals_statsmodels(rng, n, lags):
    diagnostic = pytest.importorskip("statsmodels.stats.diagnostic")
    e = _ar1(rng, 0.3, n)
    table = diagnostic.acorr_ljungbox(e, lags=[lags])
    test = ljung_box(e, lags=lags)
    assert test.statistic == pytest.approx(float(table["lb_stat"].iloc[0]), rel=1e-10)
    assert test.p_value == pytest.approx(float(table["lb_pvalue"].iloc[0]), rel=1e-9, abs=1e-300)
    assert (test.lags, test.n) == (lags, n)


def test_ljung_box_equals_its_formula_over_the_hand_loop(rng):
    e = rng.normal(size=40).tolist()
    n, h = len(e), 6
    r = _hand_autocorrelation(e, h)
    expected = n * (n + 2) * sum(r[k - 1] ** 2 / (n - k) for k in range(1, h + 1))
    assert ljung_box(e, lags=h).statistic == pytest.approx(expected, rel=1e-12)


def test_ljung_box_rejects_about_5_percent_of_white_noise_and_all_of_ar1():
    # 400 white-noise series: the rejections at 0.05 are about binomial(400, 0.05), mean 20,
    # sd 4.4 (the chi-square is only approximate at n = 200, h = 10). [8, 34] is +- 2.7 sd
    # and more; the seed is fixed.
    rng = np.random.default_rng(7)
    rejected = sum(ljung_box(rng.normal(size=200), lags=10).p_value < 0.05 for _ in range(400))
    assert 8 <= rejected <= 34
    assert ljung_box(_ar1(rng, 0.8, 2000), lags=10).p_value < 1e-100


@pytest.mark.parametrize("dof", [1, 2, 3, 10, 41, 200, 1999])
def test_the_chi_square_tail_equals_scipy(dof):
    stats = pytest.importorskip("scipy.stats")
    # From the far left of the distribution to far in its right tail, across both branches
    # (the series below x = dof + 2, the continued fraction above).
    quantiles = [1e-12, 1e-4, 0.1, 0.5, 0.9, 1 - 1e-6, 1 - 1e-15]
    points = [float(stats.chi2.ppf(q, dof)) for q in quantiles] + [dof + 2.0, 30.0 * dof + 50]
    for x in points:
        expected = float(stats.chi2.sf(x, dof))
        assert diagnostics._chi2_survival(x, dof) == pytest.approx(expected, rel=1e-9), x
    assert diagnostics._chi2_survival(0.0, dof) == 1.0


def test_the_chi_square_tail_of_two_degrees_is_exp_of_minus_half_x():
    # P(chi2_2 > x) = exp(-x / 2) exactly: a check that needs no reference library.
    for x in (0.01, 1.0, 3.0, 4.5, 20.0, 700.0):
        assert diagnostics._chi2_survival(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)


BAD_RESIDUALS = {
    "two_columns": (np.zeros((5, 2)), "`residuals` must have shape (n,) or (n, 1). Received"),
    "too_short": ([1.0, 2.0], "`residuals` must hold at least 3 values. Received"),
    "nan": ([1.0, np.nan, 2.0, 3.0], "`residuals` must be finite. Received: residuals with nan"),
    "inf": ([1.0, 2.0, np.inf], "`residuals` must be finite. Received: residuals with inf"),
    "strings": (["a", "b", "c"], "`residuals` must be an array of real numbers. Received"),
    "booleans": ([True, False, True], "`residuals` must be an array of real numbers. Received"),
    "constant": ([2.0] * 5, "`residuals` must not all be equal. Received"),
}


@pytest.mark.parametrize(
    "function", [residual_autocorrelation, ljung_box], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("case", BAD_RESIDUALS, ids=str)
def test_bad_residuals_are_named_with_the_function(function, case):
    residuals, message = BAD_RESIDUALS[case]
    arguments = {} if function is residual_autocorrelation else {"lags": 1}
    with pytest.raises(ValueError, match=f"^{function.__name__}: ") as raised:
        function(residuals, **arguments)
    assert message in str(raised.value)


@pytest.mark.parametrize("max_lag", [0, -1, 10, 11, 2.0, True, "3"], ids=repr)
def test_a_bad_max_lag_is_refused(max_lag):
    with pytest.raises(ValueError) as raised:
        residual_autocorrelation(np.arange(10.0) ** 2, max_lag=max_lag)
    assert str(raised.value) == (
        "residual_autocorrelation: `max_lag` must be an integer in [1, n - 1] = [1, 9], "
        f"n being the number of residuals. Received: max_lag={max_lag!r}"
    )


@pytest.mark.parametrize("lags", [None, 0, 10, 1.5], ids=repr)
def test_a_bad_number_of_ljung_box_lags_is_refused(lags):
    with pytest.raises(ValueError, match=r"^ljung_box: `lags` must be an integer in \[1, n - 1\]"):
        ljung_box(np.arange(10.0) ** 2, lags=lags)


def test_the_module_never_imports_keras_and_matplotlib_only_inside_functions():
    tree = ast.parse(pathlib.Path(diagnostics.__file__).read_text())
    top_level = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert not any(name.split(".")[0] == "keras" for name in names), names
            if node in tree.body:
                top_level.update(name.split(".")[0] for name in names)
    assert "matplotlib" not in top_level
    assert top_level <= set(sys.stdlib_module_names) | {"numpy", "keras_rnnkit"}


# --- The figures -------------------------------------------------------------------------


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib")


def _response_arguments(n=30):
    times = np.arange(2000, 2000 + n)
    target = np.sin(times / 3.0) * 10.0
    forecasts = np.r_[np.nan, target[:-1]]
    train, val = 2 * n // 3, n // 6
    splits = ["train"] * train + ["val"] * val + ["test"] * (n - train - val)
    return times, target, forecasts, splits


def _draw(kind, path, **options):
    if kind == "residuals":
        return plot_residuals(path, np.random.default_rng(0).normal(size=100), **options)
    return plot_response(path, *_response_arguments(), **options)


def _is_png(path):
    data = pathlib.Path(path).read_bytes()
    return data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_plot_residuals_writes_a_png_and_returns_the_autocorrelation(matplotlib, tmp_path):
    e = np.random.default_rng(1).normal(size=150)
    acf = plot_residuals(tmp_path / "residuals.png", e, title="Test residuals", max_lag=12)
    assert _is_png(tmp_path / "residuals.png")
    expected = residual_autocorrelation(e, max_lag=12)
    np.testing.assert_array_equal(acf.values, expected.values)
    assert acf.outside.tolist() == expected.outside.tolist()


@pytest.mark.parametrize(
    "times",
    [
        np.arange(30) * 0.5,
        [f"2001-{month:02d}" for month in range(1, 13)] * 2 + ["2003-01"] * 6,
        np.arange("2001-01", "2003-07", dtype="datetime64[M]"),
    ],
    ids=["numbers", "strings", "datetime64"],
)
def test_plot_response_writes_a_png_for_numbers_and_labels(matplotlib, tmp_path, times):
    _, target, forecasts, splits = _response_arguments()
    plot_response(
        tmp_path / "response.png", times, target[:, None], forecasts, splits, target_name="y (m)"
    )
    assert _is_png(tmp_path / "response.png")


def test_plot_response_draws_a_single_split(matplotlib, tmp_path):
    times, target, forecasts, _ = _response_arguments()
    plot_response(tmp_path / "response.png", times, target, forecasts, ["test"] * len(times))
    assert _is_png(tmp_path / "response.png")


@pytest.mark.parametrize("kind", ["residuals", "response"])
def test_an_existing_file_is_refused_unless_overwrite(matplotlib, tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match=f"^plot_{kind}: `path` exists.*overwrite=True"):
        _draw(kind, path)
    assert path.read_bytes() == b"old"
    _draw(kind, path, overwrite=True)
    assert _is_png(path)
    assert list(tmp_path.iterdir()) == [path]  # nothing left beside it


@pytest.mark.parametrize("kind", ["residuals", "response"])
def test_a_folder_is_never_replaced(matplotlib, tmp_path, kind):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(IsADirectoryError, match=f"^plot_{kind}: `path` must be a file path"):
        _draw(kind, tmp_path / "out.png", overwrite=True)
    assert (tmp_path / "out.png").is_dir()


@pytest.mark.parametrize("kind", ["residuals", "response"])
def test_a_new_file_appears_whole_with_no_temporary_file_left(matplotlib, tmp_path, kind):
    path = tmp_path / "new" / "folder" / f"{kind}.png"
    _draw(kind, path)
    assert _is_png(path)
    assert list(path.parent.iterdir()) == [path]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("kind", ["residuals", "response"])
def test_a_failed_write_leaves_no_partial_file(matplotlib, tmp_path, monkeypatch, kind, existing):
    from matplotlib.figure import Figure

    def write_half_and_fail(self, fname, **options):
        pathlib.Path(fname).write_bytes(PNG_SIGNATURE)  # a partial PNG, then the failure
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", write_half_and_fail)
    path = tmp_path / f"{kind}.png"
    if existing:
        path.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        _draw(kind, path, overwrite=existing)
    if existing:
        assert path.read_bytes() == b"old"
        assert list(tmp_path.iterdir()) == [path]
    else:
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["residuals", "response"])
def test_without_matplotlib_the_error_says_how_to_install_it(tmp_path, monkeypatch, kind):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.ticker"):
        monkeypatch.setitem(sys.modules, name, None)  # import of it raises ImportError
    with pytest.raises(ImportError, match=f"^plot_{kind} draws with matplotlib.*pip install"):
        _draw(kind, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def _response_call(**changes):
    times, target, forecasts, splits = _response_arguments(n=6)
    arguments = dict(times=times, target=target, forecasts=forecasts, splits=splits)
    arguments.update(changes)
    return arguments


BAD_RESPONSE = {
    "times_a_string": (
        {"times": "2001"},
        "`times` must be a sequence of numbers or of labels. Received: times='2001'",
    ),
    "times_empty": ({"times": []}, "`times` must be a non-empty 1-D sequence."),
    "times_not_increasing": (
        {"times": [0, 1, 2, 2, 3, 4]},
        "`times`, when numbers, must be finite and increasing. Received: times[3]=",
    ),
    "times_nan": (
        {"times": [0, 1, np.nan, 3, 4, 5]},
        "`times`, when numbers, must be finite and increasing. Received: times[2]=",
    ),
    "times_of_objects": (
        {"times": [object()] * 6},
        "`times` must hold numbers, or labels (strings or dates). Received",
    ),
    "target_too_short": (
        {"target": np.zeros(5)},
        "`target` must have one value per time step, N = 6 (len(times)). "
        "Received: target.shape=(5,)",
    ),
    "forecasts_two_columns": (
        {"forecasts": np.zeros((6, 2))},
        "`forecasts` must have shape (N,) or (N, 1). Received: forecasts.shape=(6, 2)",
    ),
    "forecasts_infinite": (
        {"forecasts": [0, 1, np.inf, 3, 4, 5]},
        "`forecasts` must not hold infinities (NaN marks a step without a value). "
        "Received: forecasts with an infinity at index 2",
    ),
    "target_strings": ({"target": ["a"] * 6}, "`target` must be an array of real numbers."),
    "splits_unknown": (
        {"splits": ["train"] * 5 + ["validation"]},
        "`splits` must hold only 'train', 'val' and 'test'. Received: a label 'validation'",
    ),
    "splits_short": (
        {"splits": ["train"] * 5},
        "`splits` must have one label per time step, N = 6 (len(times)). Received: len(splits)=5",
    ),
    "splits_a_string": ({"splits": "train"}, "`splits` must be a sequence of one label"),
    "target_name_empty": (
        {"target_name": ""},
        "`target_name` must be a non-empty string. Received: target_name=''",
    ),
    "title_not_text": ({"title": 3}, "`title` must be None or a string. Received: title=3"),
    "overwrite_not_bool": (
        {"overwrite": "yes"},
        "`overwrite` must be True or False. Received: overwrite='yes'",
    ),
}


@pytest.mark.parametrize("case", BAD_RESPONSE, ids=str)
def test_plot_response_refuses_bad_arguments(tmp_path, case):
    changes, message = BAD_RESPONSE[case]
    with pytest.raises(ValueError) as raised:
        plot_response(tmp_path / "out.png", **_response_call(**changes))
    assert str(raised.value).startswith("plot_response: ")
    assert message in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_lag": 100}, "`max_lag` must be an integer in [1, n - 1] = [1, 99]"),
        ({"title": b"x"}, "`title` must be None or a string."),
        ({"overwrite": 1}, "`overwrite` must be True or False. Received: overwrite=1"),
    ],
    ids=["max_lag", "title", "overwrite"],
)
def test_plot_residuals_refuses_bad_arguments(tmp_path, options, message):
    with pytest.raises(ValueError, match="^plot_residuals: ") as raised:
        plot_residuals(tmp_path / "out.png", np.random.default_rng(0).normal(size=100), **options)
    assert message in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_path_is_refused():
    with pytest.raises(ValueError, match=r"^plot_residuals: `path` must be a file path"):
        plot_residuals(None, [1.0, 2.0, 4.0])
