"""TensorBoard event files for `GradientFlowMonitor`, through `tf.summary`.

Keras's own `TensorBoard` callback writes with `tf.summary` on every backend,
so TensorFlow must be installed (not necessarily the backend); so here.
"""

import os

import numpy as np

# The monitor's run inside a TensorBoard log directory, beside Keras's "train"
# and "validation": its tags never collide with theirs.
RUN = "gradient_flow"


def log_directory(owner, log_dir):
    """The monitor's run folder for `log_dir` (a path or a `keras.callbacks.TensorBoard`)."""
    import keras

    if isinstance(log_dir, keras.callbacks.TensorBoard):
        log_dir = log_dir.log_dir
    if not isinstance(log_dir, (str, os.PathLike)):
        raise ValueError(
            f"{owner}: `log_dir` must be None, a directory or a keras.callbacks.TensorBoard. "
            f"Received: log_dir={log_dir!r}"
        )
    try:
        import tensorflow  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{owner}: `log_dir` writes TensorBoard event files with tf.summary, as Keras's "
            "TensorBoard callback does: pip install tensorflow (any Keras backend works)"
        ) from error
    return os.path.join(os.fspath(log_dir), RUN)


class EpochWriter:
    """Writes one epoch's scalars, histograms and image into one event file."""

    def __init__(self, directory):
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(directory)

    def write(self, epoch, scalars, histograms, image=None):
        """`scalars` {tag: float}, `histograms` {tag: array}, `image` (H, W, C) uint8 or None."""
        tf = self._tf
        with self._writer.as_default(step=epoch):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value)
            for tag, values in histograms.items():
                tf.summary.histogram(tag, np.asarray(values, "float64"))
            if image is not None:
                tf.summary.image("gradient_flow/profile", image[None])
        self._writer.flush()

    def close(self):
        self._writer.close()


def figure_pixels(figure):
    """A matplotlib figure as an RGB uint8 array (H, W, 3), drawn off screen."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
