"""Training on sequences longer than memory allows: stateful chunks fed in order.

Truncated BPTT at the scale of a whole data set: each long sequence is cut
into chunks of `chunk_length` steps, fed in order to a model whose recurrent
layers are `stateful=True`, so that the state flows across chunks while the
gradient stops at every chunk edge (the carried state is a variable, not part
of the differentiated graph). States are reset whenever a new group of
sequences starts. It all runs inside `model.fit`, `evaluate` and `predict`.
"""

from dataclasses import dataclass

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._model_layers import walk_layers


@dataclass(frozen=True)
class SequenceChunks:
    """Chunks of long sequences, in the order a stateful model must see them.

    Attributes:
        x: (G * C * batch_size, chunk_length, ...) inputs, where G groups of
            `batch_size` sequences each come as C consecutive batches of chunks.
        y: the targets chunked the same way, or None.
        batch_size: the batch size to train, evaluate and predict with.
        chunks_per_sequence: C, the number of batches after which the states
            must be reset.
    """

    x: np.ndarray
    y: np.ndarray | None
    batch_size: int
    chunks_per_sequence: int

    def reset_callback(self):
        """A `ResetStatesEvery` callback resetting at every new group of sequences."""
        return ResetStatesEvery(self.chunks_per_sequence)

    def unchunk(self, outputs):
        """Puts per-chunk outputs (as `predict` returns them) back as whole sequences."""
        outputs = np.asarray(outputs)
        groups = outputs.shape[0] // (self.chunks_per_sequence * self.batch_size)
        shaped = outputs.reshape(
            groups, self.chunks_per_sequence, self.batch_size, *outputs.shape[1:]
        )
        shaped = np.moveaxis(shaped, 1, 2)  # (G, B, C, chunk_length, ...)
        return shaped.reshape(
            groups * self.batch_size,
            self.chunks_per_sequence * outputs.shape[1],
            *outputs.shape[2:],
        )


def _chunk(array, batch_size, chunk_length):
    count, steps = array.shape[:2]
    chunks = steps // chunk_length
    shaped = array.reshape(count // batch_size, batch_size, chunks, chunk_length, *array.shape[2:])
    shaped = np.swapaxes(shaped, 1, 2)  # (G, C, B, chunk_length, ...)
    return shaped.reshape(-1, chunk_length, *array.shape[2:]), chunks


def chunk_sequences(x, y=None, *, chunk_length, batch_size):
    """Cuts long sequences into chunks ordered for stateful training.

    Sequence i of a group sits at row i of every batch of that group, so that
    a stateful layer carries its state from one chunk to the next.

    Args:
        x: (N, T, ...) inputs; N a multiple of `batch_size`, T of
            `chunk_length`.
        y: optional (N, T, ...) per-step targets.
        chunk_length: Positive integer, time steps per chunk (the BPTT length).
        batch_size: Positive integer, sequences trained side by side.

    Returns:
        A `SequenceChunks`.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> from keras_rnnkit.training import chunk_sequences
    >>> x = np.random.rand(4, 60, 1).astype("float32")
    >>> chunks = chunk_sequences(x, x, chunk_length=20, batch_size=2)
    >>> chunks.x.shape, chunks.chunks_per_sequence
    ((12, 20, 1), 3)
    >>> model = keras.Sequential([
    ...     keras.Input(batch_shape=(2, 20, 1)),
    ...     keras_rnnkit.ElmanRNN(8, stateful=True, return_sequences=True),
    ...     keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> _ = model.fit(chunks.x, chunks.y, batch_size=chunks.batch_size, shuffle=False,
    ...               callbacks=[chunks.reset_callback()], verbose=0)
    >>> whole = chunks.unchunk(model.predict(chunks.x, batch_size=2, verbose=0,
    ...                                      callbacks=[chunks.reset_callback()]))
    >>> whole.shape
    (4, 60, 1)
    """
    owner = "chunk_sequences"
    x = np.asarray(x)
    chunk_length = arguments.positive_int(owner, "chunk_length", chunk_length)
    batch_size = arguments.positive_int(owner, "batch_size", batch_size)
    if x.ndim < 2:
        raise ValueError(
            f"{owner}: `x` must have shape (sequences, time, ...). Received: x.shape={x.shape}"
        )
    count, steps = x.shape[:2]
    if count % batch_size:
        raise ValueError(
            f"{owner}: the number of sequences must be a multiple of `batch_size` (a stateful "
            f"layer needs full batches). Received: {count} sequences, batch_size={batch_size}"
        )
    if steps % chunk_length:
        raise ValueError(
            f"{owner}: the sequence length must be a multiple of `chunk_length`; trim or pad "
            f"the sequences first. Received: length {steps}, chunk_length={chunk_length}"
        )
    x_chunks, chunks = _chunk(x, batch_size, chunk_length)
    y_chunks = None
    if y is not None:
        y = np.asarray(y)
        if y.shape[:2] != x.shape[:2]:
            raise ValueError(
                f"{owner}: `y` must have per-step targets, shape (sequences, time, ...) like "
                f"x's first two axes {x.shape[:2]}. Received: y.shape={y.shape}"
            )
        y_chunks, _ = _chunk(y, batch_size, chunk_length)
    return SequenceChunks(x_chunks, y_chunks, batch_size, chunks)


def reset_recurrent_states(model):
    """Resets the state of every stateful layer in `model`, nested ones included."""
    for layer in walk_layers(model):
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


class ResetStatesEvery(keras.callbacks.Callback):
    """Resets the model's stateful layers every `batches` batches (and at each epoch).

    For stateful training on chunked sequences (see `chunk_sequences`): a new
    group of sequences starts every `batches` batches, in `fit`, `evaluate` and
    `predict` alike.

    Args:
        batches: Positive integer, the number of chunks per sequence.
    """

    def __init__(self, batches):
        super().__init__()
        self.batches = arguments.positive_int("ResetStatesEvery", "batches", batches)

    def _maybe_reset(self, batch):
        if batch % self.batches == 0:
            reset_recurrent_states(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        self._maybe_reset(batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._maybe_reset(batch)

    def on_predict_batch_begin(self, batch, logs=None):
        self._maybe_reset(batch)
