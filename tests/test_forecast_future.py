"""Forecasts beyond the data (`keras_rnnkit.forecasting.future`), against references written
from the definitions: a recursive forecast is a plain loop that feeds each forecast back, a
direct one reads one window, the next time labels follow the calendar, and split-conformal
intervals cover a new error as often as their level says."""

import statistics

import keras
import numpy as np
import pytest

from keras_rnnkit.data.csv_files import direct_task
from keras_rnnkit.data.csv_files import load_csv
from keras_rnnkit.data.time_steps import next_times
from keras_rnnkit.forecasting import SeriesForecaster
from keras_rnnkit.forecasting import conformal_intervals
from keras_rnnkit.forecasting import forecast
from keras_rnnkit.forecasting import multi_step_forecasts
from keras_rnnkit.forecasting.future import held_out_forecasts
from keras_rnnkit.forecasting.future import series_of

ISO = "ISO 8601 dates or times (2020-01-31, 2020-01-31T12:00)"


def _series(**changes):
    series = {
        "target": "y",
        "features": ["y"],
        "time_column": None,
        "window": 3,
        "season": None,
        "strategy": "recursive",
        "steps": 1,
        "intervals": None,
    }
    return {**series, **changes}


def linear_forecaster(weights, bias=0.0, series=None, outputs=1):
    """A SeriesForecaster computing `flatten(window) @ weights + bias`: a linear model whose
    forecasts a NumPy loop can reproduce exactly."""
    weights = np.asarray(weights, "float32")
    series = series or _series()
    window, features = series["window"], len(series["features"])
    inputs = keras.Input((window, features))
    dense = keras.layers.Dense(outputs, name="linear")
    outputs_ = dense(keras.layers.Flatten()(inputs))
    model = SeriesForecaster(inputs, outputs_, series=series)
    dense.set_weights([weights.reshape(window * features, outputs), np.full(outputs, bias)])
    return model


# --- the time labels after a series -------------------------------------------------------


@pytest.mark.parametrize(
    "labels, time_format, expected",
    [
        (["2019-11", "2019-12"], "months (2020-01)", ["2020-01", "2020-02", "2020-03"]),
        (["2020Q3", "2020Q4"], "quarters (2020Q1)", ["2021Q1", "2021Q2", "2021Q3"]),
        (["2020-Q3", "2020-Q4"], "quarters (2020Q1)", ["2021-Q1", "2021-Q2", "2021-Q3"]),
        (["2020-12-30", "2020-12-31"], ISO, ["2021-01-01", "2021-01-02", "2021-01-03"]),
        (["2020-12-17", "2020-12-24"], ISO, ["2020-12-31", "2021-01-07", "2021-01-14"]),
        (["2020-11-30", "2020-12-31"], ISO, ["2021-01-31", "2021-02-28", "2021-03-31"]),
        (["2020-11-15", "2020-12-15"], ISO, ["2021-01-15", "2021-02-15", "2021-03-15"]),
        (["2020-07-01", "2020-10-01"], ISO, ["2021-01-01", "2021-04-01", "2021-07-01"]),
        (
            ["2020-01-01T22:00", "2020-01-01T23:00"],
            ISO,
            ["2020-01-02T00:00", "2020-01-02T01:00", "2020-01-02T02:00"],
        ),
        ([1998.0, 1999.0], "numbers", [2000, 2001, 2002]),
        ([0.5, 0.75], "numbers", [1.0, 1.25, 1.5]),
    ],
)
def test_the_next_times_follow_the_series_calendar(labels, time_format, expected):
    assert next_times(labels, time_format, 3) == expected


def test_the_step_is_the_most_frequent_one_so_a_dropped_row_does_not_change_it():
    labels = ["2020-01", "2020-02", "2020-04", "2020-05", "2020-06"]  # March dropped
    assert next_times(labels, "months (2020-01)", 2) == ["2020-07", "2020-08"]


def test_one_label_shows_no_step():
    with pytest.raises(ValueError, match="at least two rows"):
        next_times(["2020-01"], "months (2020-01)", 2, name="month")


# --- the multi-step forecasts, against plain loops -------------------------------------------


def test_a_recursive_forecast_feeds_each_forecast_back_as_a_loop_does():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=3) * 0.5
    model = linear_forecaster(weights, bias=0.3)
    history = rng.normal(size=10)
    expected, window = [], list(history[-3:])
    for _ in range(6):
        value = float(np.dot(window, weights) + 0.3)
        expected.append(value)
        window = window[1:] + [value]
    got = multi_step_forecasts(
        model, history[:, None], [10], 6, window=3, strategy="recursive", target_index=0
    )[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_recursive_forecast_reads_the_other_features_from_their_future_rows():
    # Features (y, u): y_t = 0.5 y_{t-1} + u_{t-1}, written as weights on the window of 2.
    series = _series(features=["y", "u"], window=2)
    weights = np.array([[0.0], [0.0], [0.5], [1.0]])  # rows: (y_{t-2}, u_{t-2}, y_{t-1}, u_{t-1})
    model = linear_forecaster(weights, series=series)
    rows = np.array([[1.0, 0.0], [2.0, 10.0], [np.nan, 20.0], [np.nan, 30.0]])
    got = multi_step_forecasts(model, rows, [2], 3, window=2, strategy="recursive", target_index=0)
    y1 = 0.5 * 2.0 + 10.0
    y2 = 0.5 * y1 + 20.0
    y3 = 0.5 * y2 + 30.0
    np.testing.assert_allclose(got[0], [y1, y2, y3], rtol=1e-6)


def test_a_direct_forecast_reads_one_window_and_keeps_the_first_steps():
    weights = np.arange(12.0).reshape(3, 4)
    model = linear_forecaster(weights, series=_series(strategy="direct", steps=4), outputs=4)
    history = np.array([1.0, 2.0, 3.0, 4.0])
    got = multi_step_forecasts(model, history[:, None], [4], 2, window=3, strategy="direct")
    np.testing.assert_allclose(got[0], (history[1:] @ weights)[:2], rtol=1e-6)


# --- the saved forecaster ----------------------------------------------------------------------


def test_a_saved_forecaster_loads_with_its_series_and_forecasts_the_same(tmp_path):
    series = _series(
        intervals={
            "levels": [0.8],
            "half_widths": [[1.0]],
            "origins": [9],
            "method": [["conformal"]],
        }
    )
    model = linear_forecaster([0.2, 0.3, 0.4], bias=1.0, series=series)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, SeriesForecaster)
    assert loaded.series == series
    history = np.arange(8.0)[:, None]
    np.testing.assert_array_equal(
        forecast(loaded, history, 4).values, forecast(model, history, 4).values
    )


def test_the_series_is_checked_when_built_and_when_loaded():
    inputs = keras.Input((3, 1))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="SeriesForecaster: `series\\['strategy'\\]`"):
        SeriesForecaster(inputs, outputs, series=_series(strategy="both"))
    with pytest.raises(ValueError, match="a recursive forecaster has one output"):
        SeriesForecaster(inputs, outputs, series=_series(features=["x"]))
    with pytest.raises(ValueError, match="must be a dict with the keys"):
        SeriesForecaster(inputs, outputs, series={"target": "y"})


# --- forecast(): history files, times, exogenous features, errors -------------------------------


def _write(path, header, rows):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    return path


def test_forecast_continues_the_time_column_and_gives_the_intervals(tmp_path):
    series = _series(
        time_column="month",
        intervals={
            "levels": [0.8, 0.95],
            "half_widths": [[1.0, 2.0], [3.0, 4.0]],
            "origins": [50, 49],
            "method": [["conformal"] * 2] * 2,
        },
    )
    model = linear_forecaster([0.0, 0.0, 1.0], series=series)  # persistence
    history = _write(tmp_path / "h.csv", "month,y", [(f"2020-{m:02d}", m) for m in range(1, 13)])
    result = forecast(model, history, 3)
    assert result.times == ["2021-01", "2021-02", "2021-03"]
    np.testing.assert_allclose(result.values, [12.0, 12.0, 12.0])
    lower, upper = result.intervals[0.95]
    np.testing.assert_allclose(upper - result.values, [3.0, 4.0, np.nan])  # 2 steps calibrated
    assert np.isnan(lower[2])
    text = result.to_csv()
    assert text.splitlines()[0] == "month,y,lower_80,upper_80,lower_95,upper_95"
    assert text.splitlines()[1] == "2021-01,12,11,13,9,15"
    assert text.splitlines()[3] == "2021-03,12,,,,"


def test_forecast_refuses_what_it_cannot_use(tmp_path):
    model = linear_forecaster([0.0, 0.0, 1.0], series=_series(time_column="month"))
    short = _write(tmp_path / "short.csv", "month,y", [("2020-01", 1), ("2020-02", 2)])
    with pytest.raises(ValueError, match="has 2 rows; the model reads the last 3"):
        forecast(model, short, 2)
    other = _write(tmp_path / "other.csv", "month,x", [(f"2020-0{m}", m) for m in range(1, 6)])
    with pytest.raises(ValueError, match="no column 'y'"):
        forecast(model, other, 2)
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        forecast(model, np.ones((5, 1)), 0)
    with pytest.raises(ValueError, match="`future` is not used here"):
        forecast(model, np.ones((5, 1)), 2, future=np.ones((1, 0)))
    with pytest.raises(ValueError, match="no interval calibration"):
        forecast(model, np.ones((5, 1)), 2, levels=[0.9])
    plain = keras.Sequential([keras.Input((3, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="must be a SeriesForecaster.*Received: Sequential"):
        forecast(plain, np.ones((5, 1)), 2)
    direct = linear_forecaster(
        np.ones((3, 2)), series=_series(strategy="direct", steps=2), outputs=2
    )
    with pytest.raises(ValueError, match="forecasts at most 2 steps.*--steps 3"):
        forecast(direct, np.ones((5, 1)), 3)


def test_exogenous_features_need_their_future_rows_and_times(tmp_path):
    series = _series(features=["y", "u"], window=2, time_column="t")
    model = linear_forecaster([[0.0], [0.0], [0.5], [1.0]], series=series)
    history = _write(tmp_path / "h.csv", "t,y,u", [(1, 1.0, 0.0), (2, 2.0, 10.0)])
    with pytest.raises(ValueError, match="also takes u; a recursive forecast of 3 steps needs"):
        forecast(model, history, 3)
    few = _write(tmp_path / "few.csv", "t,u", [(3, 20.0)])
    with pytest.raises(ValueError, match="`future` has 1 rows; 3 steps need"):
        forecast(model, history, 3, future=few)
    wrong = _write(tmp_path / "wrong.csv", "t,u", [(4, 20.0), (5, 30.0)])
    with pytest.raises(ValueError, match="must continue the history's: it holds 4.0 where 3"):
        forecast(model, history, 3, future=wrong)
    future = _write(tmp_path / "future.csv", "t,u", [(3, 20.0), (4, 30.0)])
    result = forecast(model, history, 3, future=future)
    assert result.times == [3, 4, 5]
    np.testing.assert_allclose(result.values, [11.0, 25.5, 42.75], rtol=1e-6)
    # One step reads only the history.
    np.testing.assert_allclose(forecast(model, history, 1).values, [11.0], rtol=1e-6)


def test_to_csv_never_replaces_a_file_unasked(tmp_path):
    model = linear_forecaster([0.0, 0.0, 1.0])
    result = forecast(model, np.arange(5.0), 2)
    path = tmp_path / "f.csv"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        result.to_csv(path)
    assert path.read_text() == "precious"
    result.to_csv(path, overwrite=True)
    assert path.read_text().startswith("step,y\n1,4\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]


# --- split-conformal intervals --------------------------------------------------------------


def test_conformal_half_width_is_the_rank_of_the_definition_or_a_normal_one_with_few_errors():
    errors = np.arange(1.0, 10.0)  # 9 errors: rank ceil(10 * 0.8) = 8 -> 8.0
    got = conformal_intervals(np.zeros((9, 1)), errors[:, None], levels=(0.8, 0.95))
    assert got["half_widths"][0] == [8.0]
    assert got["method"] == [["conformal"], ["normal"]]  # rank 10 > 9 errors
    z = statistics.NormalDist().inv_cdf(0.975)
    assert got["half_widths"][1][0] == pytest.approx(z * np.sqrt(np.mean(errors**2)))
    truth = np.array([[1.0, np.nan], [2.0, 5.0]])  # the second step has one known error
    assert conformal_intervals(np.zeros((2, 2)), truth)["origins"] == [2, 1]


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_intervals_cover_as_often_as_their_level_on_a_series_with_known_noise(strategy):
    """AR(1), y_t = 0.7 y_{t-1} + e_t with e ~ N(0, 1), forecast by its exact conditional mean:
    calibrated on 1,500 origins, the intervals are scored on 4,000 others, for 6 steps."""
    phi, steps, rng = 0.7, 6, np.random.default_rng(1)
    y = np.zeros(6000)
    for t in range(1, len(y)):
        y[t] = phi * y[t - 1] + rng.normal()
    if strategy == "recursive":
        model = linear_forecaster([0.0, 0.0, phi])
    else:
        weights = np.zeros((3, steps))
        weights[2] = phi ** np.arange(1, steps + 1)
        model = linear_forecaster(
            weights, series=_series(strategy="direct", steps=steps), outputs=steps
        )

    def forecasts_and_truth(origins):
        f = multi_step_forecasts(
            model, y[:, None], origins, steps, window=3, strategy=strategy, target_index=0
        )
        return f, y[origins[:, None] + np.arange(steps)]

    calibration = conformal_intervals(*forecasts_and_truth(np.arange(3, 1503)))
    f, truth = forecasts_and_truth(np.arange(1800, 5800))
    for level, widths in zip(calibration["levels"], calibration["half_widths"]):
        covered = np.abs(truth - f) <= np.asarray(widths)
        assert np.all(np.abs(covered.mean(axis=0) - level) <= 0.05), (level, covered.mean(axis=0))
        # The h-step error of an exact AR(1) forecast has sd sqrt(sum phi^2k), k < h.
        sd = np.sqrt(np.cumsum(phi ** (2 * np.arange(steps))))
        z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
        np.testing.assert_allclose(widths, z * sd, rtol=0.1)


# --- the tasks the command line trains on ---------------------------------------------------


def test_a_direct_task_splits_at_the_same_rows_without_a_target_in_a_later_split(tmp_path):
    rows = [
        (f"2000-{1 + i % 12:02d}-01".replace("2000", str(2000 + i // 12)), float(i))
        for i in range(120)
    ]
    path = _write(tmp_path / "s.csv", "day,y", rows)
    task = load_csv(path, "y", window=4, time_column="day")
    direct = direct_task(task, 5)
    first_val, first_test = task["split_rows"]["val"], task["split_rows"]["test"]
    # y is the row index: the targets name their own rows.
    assert direct["y_train"].max() < first_val
    assert first_val <= direct["y_val"].min() and direct["y_val"].max() < first_test
    assert direct["y_test"].min() == first_test
    np.testing.assert_array_equal(direct["y_train"][:, 0], direct["x_train"][:, -1, 0] + 1)
    np.testing.assert_array_equal(np.diff(direct["y_test"], axis=1), 1.0)
    with pytest.raises(ValueError, match="no val samples with all 20 target rows"):
        direct_task(task, 20)


def test_held_out_forecasts_never_score_a_row_past_the_split(tmp_path):
    path = _write(tmp_path / "s.csv", "y", [(float(i),) for i in range(60)])
    task = load_csv(path, "y", window=3)
    model = linear_forecaster([0.0, 0.0, 1.0])
    series = series_of(task, strategy="recursive", steps=1)
    forecasts, truth, origins = held_out_forecasts(model, task, series, 4, start="val", end="test")
    assert origins[0] == task["split_rows"]["val"] and origins[-1] == task["split_rows"]["test"] - 1
    assert np.isnan(truth[-1, 1:]).all() and truth[-1, 0] == origins[-1]
    np.testing.assert_allclose(forecasts, np.repeat(origins[:, None] - 1.0, 4, axis=1))


def test_a_saved_forecaster_loads_in_a_process_that_imported_only_keras_rnnkit(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "model.keras"
    linear_forecaster([0.2, 0.3, 0.4], bias=1.0).save(path)
    code = (
        "import sys, keras, keras_rnnkit\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(type(model).__name__, model.series['window'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "SeriesForecaster 3", done.stderr[-2000:]
