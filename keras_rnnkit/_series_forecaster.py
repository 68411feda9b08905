"""`SeriesForecaster`: a Keras model of a series' windows that remembers its series.

Part of the core, as everything a saved model may hold: `import keras_rnnkit` registers it,
so that `keras.saving.load_model` loads a forecaster saved by `rnnkit train --data FILE.csv`.
Forecasting with it (`keras_rnnkit.forecasting.forecast`) lives with the applications.
"""

import copy

import keras

from keras_rnnkit import _arguments as arguments

STRATEGIES = ("recursive", "direct")
_SERIES_KEYS = (
    "target",
    "features",
    "time_column",
    "window",
    "season",
    "strategy",
    "steps",
    "intervals",
)


def checked_series(owner, series):
    """`series` as the dict a `SeriesForecaster` keeps, or a clear error."""
    if not isinstance(series, dict) or set(series) != set(_SERIES_KEYS):
        keys = sorted(series) if isinstance(series, dict) else type(series).__name__
        raise ValueError(
            f"{owner}: `series` must be a dict with the keys {', '.join(_SERIES_KEYS)}. "
            f"Received: {keys}"
        )
    series = copy.deepcopy(series)
    features = series["features"]
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(name, str) and name for name in features)
    ):
        raise ValueError(
            f"{owner}: `series['features']` must be a non-empty list of column names. "
            f"Received: {features!r}"
        )
    arguments.positive_int(owner, "series['window']", series["window"])
    arguments.positive_int(owner, "series['steps']", series["steps"])
    arguments.one_of(owner, "series['strategy']", series["strategy"], STRATEGIES)
    if series["strategy"] == "recursive" and (
        series["steps"] != 1 or series["target"] not in features
    ):
        raise ValueError(
            f"{owner}: a recursive forecaster has one output and its target among its "
            f"features. Received: steps={series['steps']}, target={series['target']!r}, "
            f"features={features}"
        )
    return series


@keras.saving.register_keras_serializable(package="keras_rnnkit")
class SeriesForecaster(keras.Model):
    """A functional model of windows (B, W, F) -> forecasts (B, S) that knows its series.

    Args:
        inputs: The model's input tensor(s), as for a functional `keras.Model`.
        outputs: Its output tensor: (B, 1) for a recursive forecaster, (B, S)
            for a direct one.
        series: A dict: `target` (the forecast column's name), `features` (the
            input columns, in window order), `time_column` (or None), `window`
            (W), `season` (or None), `strategy` (`"recursive"` or `"direct"`),
            `steps` (S, the outputs) and `intervals` (see
            `conformal_intervals`, or None).
        name: The model's name.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting import SeriesForecaster, forecast
    >>> inputs = keras.Input((2, 1))
    >>> last = keras.layers.Lambda(lambda x: x[:, -1, :])(inputs)
    >>> model = SeriesForecaster(inputs, keras.layers.Dense(1)(last), series={
    ...     "target": "y", "features": ["y"], "time_column": None, "window": 2,
    ...     "season": None, "strategy": "recursive", "steps": 1, "intervals": None})
    >>> model.layers[-1].set_weights([np.array([[0.5]]), np.zeros(1)])
    >>> forecast(model, np.array([[8.0], [4.0]]), 3).values.tolist()
    [2.0, 1.0, 0.5]
    """

    def __init__(self, inputs, outputs, series, name=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.series = checked_series(type(self).__name__, series)

    def get_config(self):
        graph = keras.Model(self.inputs, self.outputs, name=self.name).get_config()
        return {**graph, "series": copy.deepcopy(self.series)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        series = config.pop("series")
        graph = keras.Model.from_config(config, custom_objects=custom_objects)
        return cls(graph.inputs, graph.outputs, series=series, name=graph.name)
