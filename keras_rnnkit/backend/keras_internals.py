"""The one place where keras_rnnkit reaches into Keras's private modules.

`keras.layers.RNN` prepares one dropout mask per sequence only for cells of Keras's
private `DropoutRNNCell` mixin, so our cells inherit it (a Keras without it gets an
equivalent, and our own layers prepare the masks themselves). `backend_rnn` is the
backend's loop over the steps, which `keras.layers.RNN.inner_loop` runs.
"""

try:
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    KERAS_PREPARES_DROPOUT_MASKS = True
except ImportError:  # pragma: no cover - depends on the installed Keras
    import keras

    KERAS_PREPARES_DROPOUT_MASKS = False

    class DropoutRNNCell:
        """Caches one dropout mask per sequence (same contract as Keras's mixin)."""

        def _create_dropout_mask(self, step_input, rate):
            return keras.random.dropout(
                keras.ops.ones_like(step_input), rate=rate, seed=self.seed_generator
            )

        def get_dropout_mask(self, step_input):
            if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
                self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
            return getattr(self, "_dropout_mask", None)

        def get_recurrent_dropout_mask(self, step_input):
            if (
                getattr(self, "_recurrent_dropout_mask", None) is None
                and self.recurrent_dropout > 0
            ):
                self._recurrent_dropout_mask = self._create_dropout_mask(
                    step_input, self.recurrent_dropout
                )
            return getattr(self, "_recurrent_dropout_mask", None)

        def reset_dropout_mask(self):
            self._dropout_mask = None

        def reset_recurrent_dropout_mask(self):
            self._recurrent_dropout_mask = None


# Our layers run it themselves, to hand each step its controls (no public name).
from keras.src.backend import rnn as backend_rnn  # noqa: E402

__all__ = ["DropoutRNNCell", "KERAS_PREPARES_DROPOUT_MASKS", "backend_rnn"]
