"""The one place that imports keras-tuner, with an actionable error when it is missing."""

try:
    import keras_tuner
except ImportError as error:  # tested by hiding keras_tuner from sys.modules
    raise ImportError(
        "keras_rnnkit.tuning needs keras-tuner, which is not installed. "
        "Install it with: pip install keras-tuner (the [tuner] extra of keras-rnnkit)"
    ) from error

__all__ = ["keras_tuner"]
