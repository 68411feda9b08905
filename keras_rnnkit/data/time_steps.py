"""The time labels after the end of a series, at the series' own step.

A forecast beyond the data needs the times of the rows it forecasts. The step
is the series' most frequent one (so that a row dropped by `--missing drop` does
not change it), and it is kept in the labels' own calendar: monthly ISO dates stay
on the same day of the month (or on month ends), months (`2020-01`) and quarters
(`2020Q1`) count on, numbers add the step. Labels are written in the form of the
last one.
"""

import calendar
import collections
import datetime
import re

from keras_rnnkit.data.csv_files import TIME_FORMATS

# ISO dates whose most frequent step falls in one of these day ranges step in
# calendar months: (low, high, months).
_MONTHLY_STEPS = ((28, 31, 1), (89, 92, 3), (181, 184, 6), (365, 366, 12))


def _most_frequent(steps, owner, name):
    if not steps:
        raise ValueError(
            f"{owner}: the time column {name!r} needs at least two rows to show its step"
        )
    return collections.Counter(steps).most_common(1)[0][0]


def _add_months(moment, months, month_ends):
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    day = last if month_ends else min(moment.day, last)
    return moment.replace(year=year, month=month + 1, day=day)


def _is_month_end(moment):
    return moment.day == calendar.monthrange(moment.year, moment.month)[1]


def _numbers(labels, steps, owner, name):
    differences = [round(b - a, 9) for a, b in zip(labels, labels[1:])]
    step = _most_frequent(differences, owner, name)
    whole = all(float(label).is_integer() for label in labels) and float(step).is_integer()
    values = [labels[-1] + step * (i + 1) for i in range(steps)]
    return [int(v) if whole else round(v, 9) for v in values]


def _counted(labels, steps, owner, name, parse, per_year, write):
    keys = [parse(label) for label in labels]
    indices = [year * per_year + part - 1 for year, part in keys]
    step = _most_frequent([b - a for a, b in zip(indices, indices[1:])], owner, name)
    return [
        write(labels[-1], *divmod(indices[-1] + step * (i + 1), per_year)) for i in range(steps)
    ]


def _write_month(last, year, month):
    return f"{year:04d}-{month + 1:02d}"


def _write_quarter(last, year, quarter):
    match = re.fullmatch(r"\d{4}([ -]?)(Q)[1-4]", last, flags=re.IGNORECASE)
    separator, letter = match[1], match[2]
    return f"{year:04d}{separator}{letter}{quarter + 1}"


def _write_iso(last, moment):
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", last):
        return moment.date().isoformat()
    separator = "T" if "T" in last else " "
    seconds = re.search(r"\d{2}:\d{2}:\d{2}", last) is not None
    return moment.isoformat(sep=separator, timespec="auto" if seconds else "minutes")


def _iso(labels, steps, owner, name):
    keys = [datetime.datetime.fromisoformat(label) for label in labels]
    step = _most_frequent([b - a for a, b in zip(keys, keys[1:])], owner, name)
    days = step.total_seconds() / 86400.0
    months = next((m for low, high, m in _MONTHLY_STEPS if low <= days <= high), None)
    if months is None:
        return [_write_iso(labels[-1], keys[-1] + step * (i + 1)) for i in range(steps)]
    # Calendar months: month ends stay month ends, other days keep their day.
    ends = _is_month_end(keys[-1]) and _is_month_end(keys[-2])
    moments = [_add_months(keys[-1], months * (i + 1), ends) for i in range(steps)]
    return [_write_iso(labels[-1], moment) for moment in moments]


def next_times(times, time_format, steps, *, owner="next_times", name="time"):
    """The labels of the `steps` rows after `times`, at the series' most frequent step.

    Args:
        times: The time column's labels in file order (numbers as floats, other
            labels as strings), as `CsvTable.times` holds them.
        time_format: Their form, a key of `keras_rnnkit.data.csv_files.TIME_FORMATS`.
        steps: How many labels to give, a positive integer.
        owner: The function named in errors.
        name: The time column's name, for errors.

    Returns:
        A list of `steps` labels: numbers for a numeric column (integers where
        every label is one), strings in the last label's form otherwise.

    Example:

    >>> next_times(["2020-11", "2020-12"], "months (2020-01)", 2)
    ['2021-01', '2021-02']
    >>> next_times(["2021-01-31", "2021-02-28", "2021-03-31"], next(
    ...     f for f in TIME_FORMATS if f.startswith("ISO")), 2)
    ['2021-04-30', '2021-05-31']
    >>> next_times([1998.0, 1999.0], "numbers", 2)
    [2000, 2001]
    """
    labels = list(times)
    if time_format == "numbers":
        return _numbers([float(label) for label in labels], steps, owner, name)
    if time_format == "months (2020-01)":
        return _counted(labels, steps, owner, name, TIME_FORMATS[time_format], 12, _write_month)
    if time_format == "quarters (2020Q1)":
        return _counted(labels, steps, owner, name, TIME_FORMATS[time_format], 4, _write_quarter)
    if time_format in TIME_FORMATS:
        return _iso(labels, steps, owner, name)
    raise ValueError(
        f"{owner}: `time_format` must be one of {', '.join(TIME_FORMATS)}. "
        f"Received: time_format={time_format!r}"
    )


def same_time(a, b, time_format):
    """Whether two labels of one form name the same time (`2020Q1` and `2020-Q1` do)."""
    parse = TIME_FORMATS[time_format]
    return parse(str(a)) == parse(str(b))
