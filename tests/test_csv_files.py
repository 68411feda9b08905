"""Users' CSV files: columns by name, bad cells named, windows and the `rnnkit train` options."""

import datetime
import json

import numpy as np
import pytest

import keras_rnnkit_cli as cli
from keras_rnnkit.data import load_file
from keras_rnnkit.data.csv_files import forecast_windows
from keras_rnnkit.data.csv_files import load_csv
from keras_rnnkit.data.csv_files import read_csv_columns

# Line 1 is the header; line 3 has an empty b, line 4 a nan a.
GAPPY = """day,a,b
2020-01-01,1,10
2020-01-02,2,
2020-01-03,nan,30
2020-01-04,4,40
2020-01-05,5,50
2020-01-06,6,60
"""


def _write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _dated_series(rows, start=datetime.date(2020, 1, 1)):
    """A CSV text: date, temp = sin(r / 3), sales = r (r the row), and the dates."""
    dates = [(start + datetime.timedelta(days=r)).isoformat() for r in range(rows)]
    body = "".join(f"{d},{float(np.sin(r / 3))!r},{r}\n" for r, d in enumerate(dates))
    return "date,temp,sales\n" + body, dates


def _reference_windows(features, target, window, horizon):
    """The plain loop that forecast_windows must equal."""
    x, y, persistence = [], [], []
    for t in range(window, len(features) - horizon + 1):
        x.append(features[t - window : t])
        y.append([target[t + horizon - 1]])
        persistence.append([target[t - 1]])
    return np.array(x), np.array(y), np.array(persistence)


def _joined(task, name):
    return np.concatenate([task[f"{name}_{s}"] for s in ("train", "val", "test")])


# --- the time column ---------------------------------------------------------------------


def test_a_date_column_orders_the_rows_and_is_reported_never_a_feature(tmp_path):
    text, dates = _dated_series(40)
    task = load_csv(_write(tmp_path, text), "sales", window=4, time_column="date")
    assert task["feature_names"] == ["temp", "sales"] and task["target_feature_index"] == 1
    assert task["x_train"].shape[1:] == (4, 2)
    # 36 samples: test round(7.2) = 7, validation round(3.6) = 4, train 25. Sample i's
    # target row is i + 4, so the test targets are rows 33 .. 39.
    assert [len(task[f"time_{s}"]) for s in ("train", "val", "test")] == [25, 4, 7]
    assert task["time_test"].tolist() == dates[33:]
    np.testing.assert_array_equal(task["y_test"][:, 0], np.arange(33, 40))
    assert task["horizon"] == 1 and task["rows_dropped"] == task["rows_filled"] == 0


def test_a_numeric_time_column_is_read_as_floats(tmp_path):
    text = "year,v\n" + "".join(f"{1900 + r},{r}\n" for r in range(30))
    task = load_csv(_write(tmp_path, text), "v", window=3, time_column="year")
    # 27 samples; the last target row is 29, the year 1929.
    assert task["time_test"].dtype == np.float64 and task["time_test"][-1] == 1929.0
    assert task["feature_names"] == ["v"]


def test_a_date_column_without_time_column_is_named_in_the_error(tmp_path):
    text, _ = _dated_series(30)
    with pytest.raises(ValueError, match=r"column 'date' is not numeric \(line 2: '2020-01-01'"):
        load_csv(_write(tmp_path, text), "sales", window=4)
    with pytest.raises(ValueError, match="--time-column date"):
        load_csv(_write(tmp_path, text), "sales", window=4, missing="drop")


@pytest.mark.parametrize(
    "times",
    [["2020-01-02", "2020-01-01"], ["3", "2"], ["2020-01-01", "2020-01-01"]],
    ids=["dates", "numbers", "repeated"],
)
def test_a_time_column_that_does_not_increase_is_refused_not_sorted(tmp_path, times):
    rows = ["2019-12-30", "2019-12-31", *times] if "-" in times[0] else ["0", "1", *times]
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(rows))
    # The fourth data row (line 5) is the first that does not come after the one above.
    with pytest.raises(ValueError, match=r"must increase down the file, but line 5 "):
        read_csv_columns(_write(tmp_path, text), time_column="t")


@pytest.mark.parametrize(
    "labels",
    [
        ["1959", "1960", "1961.5"],
        ["2020-01-31", "2020-02-01", "2020-02-01T06:30"],
        ["1999-11", "1999-12", "2000-01"],
        ["1959Q3", "1959Q4", "1960q1"],
        ["1959 Q4", "1960-Q1", "1960Q2"],
    ],
    ids=["numbers", "iso", "months", "quarters", "quarter-spellings"],
)
def test_time_labels_in_each_form_are_ordered_and_kept(tmp_path, labels):
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(labels))
    table = read_csv_columns(_write(tmp_path, text), time_column="t")
    expected = [float(t) for t in labels] if labels[0] == "1959" else labels
    assert list(table.times) == expected


@pytest.mark.parametrize(
    "labels,line,label",
    [
        (["31/01/2020", "01/02/2020"], 2, "31/01/2020"),
        (["2020-01", "2020-02", "2020-02-15"], 4, "2020-02-15"),
        (["1960Q4", "1961Q1", "1961Q5"], 4, "1961Q5"),
        (["1", "2", "three"], 4, "three"),
        (["Mon", "Tue"], 2, "Mon"),
    ],
    ids=["day-first", "mixed", "fifth-quarter", "word", "weekdays"],
)
def test_a_time_label_of_no_form_or_another_form_is_refused(tmp_path, labels, line, label):
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(labels))
    with pytest.raises(ValueError, match=rf"line {line}, the time column 't' holds '{label}'"):
        read_csv_columns(_write(tmp_path, text), time_column="t")


@pytest.mark.parametrize(
    "labels", [["2020Q2", "2020Q1"], ["2020-03", "2020-02"]], ids=["quarters", "months"]
)
def test_months_and_quarters_out_of_order_are_refused(tmp_path, labels):
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(labels))
    with pytest.raises(ValueError, match="must increase down the file, but line 3"):
        read_csv_columns(_write(tmp_path, text), time_column="t")


def test_the_time_column_needs_a_value_in_every_row(tmp_path):
    path = _write(tmp_path, "t,v\n1,1\n,2\n3,3\n")
    with pytest.raises(ValueError, match="line 3, column 't' is empty; the time column"):
        read_csv_columns(path, time_column="t", missing="drop")


def test_the_time_column_cannot_be_a_feature_or_the_target(tmp_path):
    text, _ = _dated_series(30)
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match="cannot also be a feature"):
        load_csv(path, "sales", time_column="date", features=["date", "temp"])
    with pytest.raises(ValueError, match="the target 'date' is the time column"):
        load_csv(path, "date", time_column="date")


# --- choosing columns --------------------------------------------------------------------


def test_features_choose_the_columns_and_the_target_need_not_be_one(tmp_path):
    text, _ = _dated_series(30)
    path = _write(tmp_path, text)
    task = load_csv(path, "sales", window=5, time_column="date", features=["temp"])
    assert task["feature_names"] == ["temp"] and task["target_feature_index"] is None
    # Sample 0 is rows 0..4 of temp; its target is sales at row 5 (= 5), its persistence
    # forecast sales at row 4 (= 4).
    expected = np.sin(np.arange(5) / 3).astype("float32")
    np.testing.assert_array_equal(task["x_train"][0, :, 0], expected)
    assert task["y_train"][0, 0] == 5 and task["persistence_train"][0, 0] == 4
    task = load_csv(path, "temp", window=5, time_column="date", features=["sales", "temp"])
    assert task["feature_names"] == ["sales", "temp"] and task["target_feature_index"] == 1
    np.testing.assert_array_equal(task["x_train"][0, :, 0], np.arange(5))


def test_an_unknown_feature_is_refused_with_the_columns_listed(tmp_path):
    text, _ = _dated_series(30)
    with pytest.raises(ValueError, match="no column 'price'; the columns are date, temp, sales"):
        load_csv(_write(tmp_path, text), "sales", time_column="date", features=["temp", "price"])


def test_an_unknown_target_is_refused(tmp_path):
    path = _write(tmp_path, "a,b\n" + "".join(f"{i},{i}\n" for i in range(30)))
    with pytest.raises(ValueError, match="no column 'zzz'; the columns are a, b"):
        load_csv(path, "zzz")


@pytest.mark.parametrize("features", ["a,b", [], ["a", "a"], ["a", " "]])
def test_features_must_be_a_list_of_distinct_names(tmp_path, features):
    path = _write(tmp_path, "a,b\n" + "".join(f"{i},{i}\n" for i in range(30)))
    with pytest.raises(ValueError, match="load_csv: `features` must be a list of distinct"):
        load_csv(path, "a", features=features)


# --- bad cells ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell,message",
    [
        ("", "line 4, column 'b' is empty"),
        ("nan", "line 4, column 'b' holds 'nan', not a finite number"),
        ("NaN", "line 4, column 'b' holds 'NaN', not a finite number"),
        ("-inf", "line 4, column 'b' holds '-inf', not a finite number"),
        ("n/a", "line 4, column 'b' holds 'n/a', not a number"),
    ],
)
def test_a_bad_cell_is_an_error_naming_file_line_and_column(tmp_path, cell, message):
    rows = [f"{i},{i}" for i in range(30)]
    rows[2] = f"2,{cell}"  # data row 3: line 4
    path = _write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError) as caught:
        load_csv(path, "a", window=3)
    text = str(caught.value)
    assert text.startswith(f"{path}: {message}") and "--missing drop" in text
    assert len(text.splitlines()) == 1


@pytest.mark.parametrize("missing", ["error", "drop", "ffill"])
@pytest.mark.parametrize("cell", ["1e308", "-3.5e38", "1E39"])
def test_a_finite_number_beyond_float32_is_named_whatever_missing_says(tmp_path, cell, missing):
    # It used to become inf in the cast to float32, then be reported as NaN or infinite.
    rows = [f"{i},{i}" for i in range(30)]
    rows[2] = f"2,{cell}"  # data row 3: line 4
    rows[5] = "5,nan"  # a missing cell after it: dropped or filled, not the error
    path = _write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError) as caught:
        read_csv_columns(path, missing=missing)
    text = str(caught.value)
    assert text == (
        f"{path}: line 4, column 'b' holds {cell!r}, beyond float32's range "
        "(magnitudes up to 3.402823e+38)"
    )


def test_the_largest_float32_itself_is_read(tmp_path):
    largest = float(np.finfo(np.float32).max)
    path = _write(tmp_path, f"a,b\n1,{largest!r}\n2,{-largest!r}\n")
    table = read_csv_columns(path)
    assert np.isfinite(table.values.astype("float32")).all()


def test_a_bad_cell_in_an_unused_column_is_no_error(tmp_path):
    rows = [f"{i},{i},x" for i in range(30)]
    path = _write(tmp_path, "a,b,note\n" + "\n".join(rows) + "\n")
    task = load_csv(path, "a", window=3, features=["a", "b"])
    assert task["x_train"].shape[1:] == (3, 2)


def test_the_first_bad_cell_of_the_gappy_file_is_named(tmp_path):
    path = _write(tmp_path, GAPPY)
    with pytest.raises(ValueError, match="line 3, column 'b' is empty"):
        read_csv_columns(path, time_column="day")


def test_drop_leaves_out_rows_with_a_bad_cell_and_says_how_many(tmp_path):
    table = read_csv_columns(_write(tmp_path, GAPPY), time_column="day", missing="drop")
    # Lines 3 (b empty) and 4 (a nan) go; lines 2, 5, 6, 7 stay.
    np.testing.assert_array_equal(table.values, [[1, 10], [4, 40], [5, 50], [6, 60]])
    assert table.lines.tolist() == [2, 5, 6, 7]
    assert table.times == ("2020-01-01", "2020-01-04", "2020-01-05", "2020-01-06")
    assert table.rows_dropped == 2 and table.rows_filled == 0


def test_ffill_carries_the_last_good_value_forward(tmp_path):
    table = read_csv_columns(_write(tmp_path, GAPPY), time_column="day", missing="ffill")
    # b at line 3 takes b of line 2 (10); a at line 4 takes a of line 3 (2).
    np.testing.assert_array_equal(
        table.values, [[1, 10], [2, 10], [2, 30], [4, 40], [5, 50], [6, 60]]
    )
    assert table.rows_filled == 2 and table.rows_dropped == 0
    assert len(table.times) == 6


def test_ffill_cannot_fill_the_first_data_row(tmp_path):
    path = _write(tmp_path, "a,b\n1,\n2,3\n")
    with pytest.raises(ValueError, match="line 2, column 'b' is empty; the first data row"):
        read_csv_columns(path, missing="ffill")


def test_drop_and_ffill_reach_the_task_dict(tmp_path):
    rows = [f"{i},{i * 10}" for i in range(40)]
    rows[10] = "10,"  # data row 11: dropped, or b = 90 carried forward
    path = _write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    dropped = load_csv(path, "b", window=3, missing="drop")
    assert dropped["rows_dropped"] == 1 and dropped["rows_filled"] == 0
    # 39 rows make 36 samples, against 37 with the row filled.
    assert len(_joined(dropped, "y")) == 36
    filled = load_csv(path, "b", window=3, missing="ffill")
    assert filled["rows_filled"] == 1 and len(_joined(filled, "y")) == 37
    # Sample 8 is rows 8..10; its target is row 11 (b = 110); row 10's b is filled (90).
    np.testing.assert_array_equal(_joined(filled, "x")[8, :, 1], [80, 90, 90])


def test_an_empty_cell_in_a_one_column_file_is_an_error_not_a_shift(tmp_path):
    # np.loadtxt skipped the blank line and shifted every later value one step.
    path = _write(tmp_path, "v\n" + "\n".join(["1", "2", "", "4"] + [str(i) for i in range(5, 30)]))
    with pytest.raises(ValueError, match="line 4, column 'v' is empty"):
        load_csv(path, "v", window=3)


def test_a_blank_line_between_rows_is_a_row_of_empty_cells(tmp_path):
    text = "a,b\n" + "".join(f"{i},{i}\n" for i in range(15)) + "\n" + "15,15\n"
    with pytest.raises(ValueError, match="line 17, column 'a' is empty"):
        read_csv_columns(_write(tmp_path, text))
    assert read_csv_columns(_write(tmp_path, text), missing="drop").rows_dropped == 1


def test_a_row_with_the_wrong_number_of_fields_is_refused(tmp_path):
    with pytest.raises(ValueError, match="line 3 has 3 fields, the header has 2"):
        read_csv_columns(_write(tmp_path, "a,b\n1,2\n3,4,5\n"))


@pytest.mark.parametrize(
    "keywords,message",
    [
        ({"missing": "zero"}, "`missing` must be one of 'error', 'drop', 'ffill'"),
        ({"delimiter": ";;"}, "`delimiter` must be a single character"),
        ({"columns": "a"}, "`columns` must be a list of distinct column names"),
    ],
)
def test_read_csv_columns_checks_its_arguments(tmp_path, keywords, message):
    with pytest.raises(ValueError, match=f"read_csv_columns: {message}"):
        read_csv_columns(_write(tmp_path, "a\n1\n"), **keywords)


# --- the file format ---------------------------------------------------------------------


def test_a_semicolon_delimiter(tmp_path):
    text = "a;b\n" + "".join(f"{i};{i * 2}\n" for i in range(5))
    table = read_csv_columns(_write(tmp_path, text), delimiter=";")
    assert table.names == ("a", "b") and table.values[:, 1].tolist() == [0, 2, 4, 6, 8]


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n3,4\n", encoding="utf-8-sig")
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert read_csv_columns(path).names == ("a", "b")


def test_quoted_fields_and_a_quoted_header(tmp_path):
    text = '"day","price, EUR",units\n"2020-01-01","1,5",2\n2020-01-02,"7",3\n'
    table = read_csv_columns(_write(tmp_path, text), time_column="day", columns=["units"])
    assert table.names == ("units",) and table.values[:, 0].tolist() == [2, 3]
    # "1,5" is one field (a decimal comma, so not a number): named with its column.
    with pytest.raises(ValueError, match=r"line 2, column 'price, EUR' holds '1,5'"):
        read_csv_columns(_write(tmp_path, text), time_column="day")


def test_a_quoted_field_across_lines_is_reported_by_its_first_line(tmp_path):
    text = 'note,v\n"one",1\n"two\nlines",x\n"three",3\n'
    with pytest.raises(ValueError, match="line 3, column 'v' holds 'x'"):
        read_csv_columns(_write(tmp_path, text), columns=["v"])


def test_trailing_blank_lines_are_ignored(tmp_path):
    table = read_csv_columns(_write(tmp_path, "a,b\n1,2\n3,4\n\n\n  \n"))
    assert table.values.tolist() == [[1, 2], [3, 4]] and table.rows_dropped == 0


def test_a_file_without_rows_or_header_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no header row"):
        read_csv_columns(_write(tmp_path, ""))
    with pytest.raises(ValueError, match="no data rows"):
        read_csv_columns(_write(tmp_path, "a,b\n\n"))


# --- windows -----------------------------------------------------------------------------


@pytest.mark.parametrize("window,horizon", [(1, 1), (5, 1), (5, 2), (7, 4)])
def test_forecast_windows_equal_the_plain_loop(rng, window, horizon):
    features, target = rng.normal(size=(40, 3)), rng.normal(size=40)
    x, y, persistence, rows = forecast_windows(features, target, window, horizon)
    expected = _reference_windows(features, target, window, horizon)
    for got, want in zip((x, y, persistence), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(target[rows], y[:, 0])


def test_load_csv_windows_equal_the_plain_loop(tmp_path, rng):
    values = rng.normal(size=(50, 3))
    text = "a,b,c\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in values)
    task = load_csv(_write(tmp_path, text), "b", window=6, horizon=2)
    x, y, persistence = _reference_windows(values, values[:, 1], 6, 2)
    np.testing.assert_array_equal(_joined(task, "x"), x.astype("float32"))
    np.testing.assert_array_equal(_joined(task, "y"), y.astype("float32"))
    np.testing.assert_array_equal(_joined(task, "persistence"), persistence.astype("float32"))
    assert {task[f"{a}_train"].dtype for a in ("x", "y", "persistence")} == {np.dtype("float32")}


def test_horizon_three_targets_by_hand(tmp_path):
    # v = r * r at row r. Window 4, horizon 3: sample i is rows i..i+3, its target row
    # i + 4 + 3 - 1 = i + 6, its persistence row i + 3. 30 rows make 24 samples: test
    # round(4.8) = 5, validation round(2.4) = 2, train 17.
    text = "v\n" + "".join(f"{r * r}\n" for r in range(30))
    task = load_csv(_write(tmp_path, text), "v", window=4, horizon=3)
    assert [len(task[f"y_{s}"]) for s in ("train", "val", "test")] == [17, 2, 5]
    assert task["y_train"][:2, 0].tolist() == [36, 49]  # rows 6, 7
    assert task["persistence_train"][:2, 0].tolist() == [9, 16]  # rows 3, 4
    assert task["x_train"][1, :, 0].tolist() == [1, 4, 9, 16]  # rows 1..4
    # The last sample, 23: rows 23..26, target row 29.
    assert task["x_test"][-1, :, 0].tolist() == [529, 576, 625, 676]
    assert task["y_test"][-1, 0] == 841 and task["horizon"] == 3


def test_persistence_is_the_target_at_the_windows_last_row(tmp_path):
    text, _ = _dated_series(30)
    task = load_csv(_write(tmp_path, text), "temp", window=5, time_column="date")
    # temp is feature 0: persistence is the last step of each window's temp.
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(task[f"persistence_{split}"], task[f"x_{split}"][:, -1, :1])


def test_too_few_rows_for_window_and_horizon(tmp_path):
    path = _write(tmp_path, "v\n" + "".join(f"{r}\n" for r in range(6)))
    with pytest.raises(ValueError, match="6 data rows are too few for window=4 and horizon=3"):
        load_csv(path, "v", window=4, horizon=3)
    with pytest.raises(ValueError, match="load_csv: `horizon` must be a positive integer"):
        load_csv(path, "v", window=4, horizon=0)


def test_load_file_passes_csv_options_and_refuses_them_for_npz(tmp_path):
    text, _ = _dated_series(30)
    task = load_file(_write(tmp_path, text), target="sales", window=4, time_column="date")
    assert task["feature_names"] == ["temp", "sales"]
    npz = tmp_path / "data.npz"
    np.savez(npz, x=np.zeros((20, 3, 1)), y=np.zeros(20))
    with pytest.raises(ValueError, match="time_column, horizon apply to CSV files only"):
        load_file(npz, time_column="date", horizon=2)


# --- the command line --------------------------------------------------------------------


@pytest.mark.slow
def test_train_on_a_dated_csv_file(tmp_path, capsys):
    text, _ = _dated_series(60)
    path = _write(tmp_path, text)
    out = tmp_path / "run"
    argv = ["train", "--model", "tdnn", "--data", str(path), "--target", "temp"]
    argv += ["--time-column", "date", "--features", "temp", "--horizon", "2", "--window", "5"]
    argv += ["--predict", "level", "--folds", "0"]
    assert cli.main([*argv, "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == str(path) and np.isfinite(metrics["test"]["loss"])
    # A noiseless sine is an exact AR(5): one epoch of a network does worse, and says so
    # (once; its residuals, a sine too, are also reported as autocorrelated).
    error = [line for line in capsys.readouterr().err.splitlines() if "no better than" in line]
    assert len(error) == 1
    assert error[0].startswith("rnnkit: warning: the tdnn model is no better than AR(5)")
    assert metrics["validation_against_baselines"]["beats_every_baseline"] is False


def test_train_tells_how_many_rows_were_dropped(tmp_path, capsys):
    rows = [f"{float(np.sin(i / 3))!r}" for i in range(60)]
    rows[7] = "nan"
    path = _write(tmp_path, "v\n" + "\n".join(rows) + "\n")
    argv = ["train", "--model", "tdnn", "--data", str(path), "--target", "v", "--window", "4"]
    out = str(tmp_path / "run")
    argv += ["--missing", "drop", "--epochs", "1", "--folds", "0", "--quiet"]
    assert cli.main([*argv, "--out", out]) == 0
    assert "dropped 1 rows" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--time-column", "date"], "line 5, column 'temp' is empty"),
        (["--time-column", "date", "--horizon", "0"], "--horizon must be at least 1"),
        (["--time-column", "date", "--features", "temp,price"], "no column 'price'"),
        # The first column holds labels: it is the time column unless --features says otherwise.
        ([], "line 5, column 'temp' is empty"),
        (["--features", "date,temp"], "column 'date' is not numeric (line 2: '2020-01-01')"),
    ],
)
def test_train_refuses_a_bad_csv_file_in_one_line(tmp_path, capsys, extra, message):
    text, _ = _dated_series(40)
    lines = text.splitlines()
    lines[4] = lines[4].split(",")[0] + ",," + lines[4].split(",")[2]  # line 5: temp empty
    path = _write(tmp_path, "\n".join(lines) + "\n")
    argv = ["train", "--model", "elman", "--data", str(path), "--target", "sales"]
    code = cli.main([*argv, *extra, "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err
    assert code == 1 and message in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "source,extra,message",
    [
        (
            ["--task", "sunspots"],
            ["--horizon", "2"],
            "--horizon apply to --data FILE.csv (.tsv, .txt) only",
        ),
        (
            ["--task", "sunspots"],
            ["--target", "temp"],
            "--target apply to --data FILE.csv (.tsv, .txt) only",
        ),
        (
            ["--data", "{npz}"],
            ["--target", "y"],
            "--target apply to --data FILE.csv (.tsv, .txt) only",
        ),
        (
            ["--data", "{npz}"],
            ["--time-column", "t", "--missing", "drop"],
            "--time-column, --missing apply to --data FILE.csv (.tsv, .txt) only, not to --data",
        ),
    ],
)
def test_csv_options_are_refused_without_a_csv_file(tmp_path, capsys, source, extra, message):
    npz = tmp_path / "data.npz"
    np.savez(npz, x=np.zeros((20, 3, 1)), y=np.zeros(20))
    source = [s.format(npz=npz) for s in source]
    code = cli.main(["train", "--model", "elman", *source, *extra, "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err
    assert code == 1 and message in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name,delimiter",
    [("series.tsv", None), ("series.tsv", "\\t"), ("series.tsv", "\t"), ("series.txt", "\\t")],
)
def test_a_tsv_or_txt_file_is_read_as_delimited_text(tmp_path, capsys, name, delimiter):
    """A .tsv is tab-separated by default; a .txt takes --delimiter like a .csv."""
    path = tmp_path / name
    path.write_text("a\tb\n" + "".join(f"{i}\t{i}\n" for i in range(30)))
    argv = ["train", "--model", "elman", "--data", str(path), "--target", "zzz"]
    argv += [] if delimiter is None else ["--delimiter", delimiter]
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 1
    assert "no column 'zzz'; the columns are a, b" in capsys.readouterr().err


def test_a_tab_delimiter_can_be_typed_as_backslash_t(tmp_path, capsys):
    path = _write(tmp_path, "a\tb\n" + "".join(f"{i}\t{i}\n" for i in range(30)))
    argv = ["train", "--model", "elman", "--data", str(path), "--target", "zzz"]
    assert cli.main([*argv, "--delimiter", "\\t", "--out", str(tmp_path / "o")]) == 1
    # Split on tabs, the header names two columns (not one called "a\tb").
    assert "no column 'zzz'; the columns are a, b" in capsys.readouterr().err


def _months(count, start_year=2000):
    return [f"{start_year + m // 12}-{m % 12 + 1:02d}-01" for m in range(count)]


@pytest.mark.parametrize(
    "labels,season",
    [
        (_months(30), 12),
        ([f"{2000 + q // 4}-{3 * (q % 4) + 1:02d}-01" for q in range(20)], 4),
        ([str(datetime.date(2020, 1, 6) + datetime.timedelta(weeks=w)) for w in range(30)], 52),
        ([str(datetime.date(2020, 1, 1) + datetime.timedelta(days=d)) for d in range(30)], 7),
        ([f"{2000 + m // 12}-{m % 12 + 1:02d}" for m in range(30)], 12),
        ([f"{1960 + q // 4}Q{q % 4 + 1}" for q in range(30)], 4),
        ([str(1900 + y) for y in range(30)], None),
        # Business days: a step of 3 days every week is not plainly daily.
        (
            [
                str(day)
                for day in (
                    datetime.date(2020, 1, 6) + datetime.timedelta(days=d) for d in range(42)
                )
                if day.weekday() < 5
            ],
            None,
        ),
    ],
    ids=["monthly", "quarterly", "weekly", "daily", "months", "quarters", "years", "weekdays"],
)
def test_the_season_is_the_one_the_time_column_plainly_shows(tmp_path, labels, season):
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(labels))
    assert read_csv_columns(_write(tmp_path, text), time_column="t").season == season


def test_monthly_rows_give_a_seasonal_naive_forecast_and_a_longer_window(tmp_path):
    values = 10 * np.sin(np.arange(60) * 2 * np.pi / 12) + np.arange(60) / 10
    dates = _months(60)
    text = "month,sales\n" + "".join(f"{d},{v:.6f}\n" for d, v in zip(dates, values))
    path = _write(tmp_path, text)
    task = load_csv(path, "sales", time_column="month")
    assert (task["season"], task["season_source"]) == (12, "time column")
    assert task["x_train"].shape[1] == 25  # two seasons + 1
    # Each test sample's target row is one of the last rows; its seasonal naive forecast
    # is the value 12 rows (one year) before, as read from the file.
    test_rows = [dates.index(t) for t in task["time_test"]]
    np.testing.assert_allclose(
        task["seasonal_naive_test"][:, 0], values[np.array(test_rows) - 12], rtol=1e-6
    )
    np.testing.assert_allclose(task["y_test"][:, 0], values[test_rows], rtol=1e-6)
    from keras_rnnkit.forecasting import regression_baselines

    scores = regression_baselines(task)
    expected = np.mean((values[test_rows] - values[np.array(test_rows) - 12]) ** 2)
    assert scores["seasonal naive (12)"] == pytest.approx(expected, rel=1e-5)


def test_a_given_season_and_a_horizon_beyond_it(tmp_path):
    values = np.arange(40.0) ** 1.5
    text = "v\n" + "".join(f"{v:.6f}\n" for v in values)
    task = load_csv(_write(tmp_path, text), "v", window=6, horizon=5, season=4)
    assert (task["season"], task["season_source"]) == (4, "given")
    # Horizon 5 with a season of 4: two seasons (8 rows) back, a value known at forecast time.
    targets = task["y_test"][:, 0]
    rows = np.searchsorted(values.astype("float32"), targets)
    np.testing.assert_allclose(task["seasonal_naive_test"][:, 0], values[rows - 8], rtol=1e-6)


def test_no_season_means_no_seasonal_naive_forecast(tmp_path):
    text = "v\n" + "".join(f"{v}\n" for v in range(40))
    task = load_csv(_write(tmp_path, text), "v")
    assert task["season"] is None and "seasonal_naive_test" not in task
    assert task["x_train"].shape[1] == 12
