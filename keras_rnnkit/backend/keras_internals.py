"""The one place where keras_rnnkit reaches into Keras's private modules.

Two names: the `DropoutRNNCell` mixin and the backend's step loop `rnn`
(see the end of this file).

`keras.layers.RNN` pre-generates dropout masks (one per sequence, before the loop)
only for cells that are instances of Keras's private `DropoutRNNCell` mixin; there
is no public hook for it. Our cells inherit that mixin when it exists so that a
plain `keras.layers.RNN(ElmanCell(dropout=0.2))` keeps one mask per sequence, as
`keras.layers.RNN(SimpleRNNCell(dropout=0.2))` does.

If a future Keras moves the mixin, the capability check below falls back to an
equivalent of our own. Our own layers (`ElmanRNN`, `JordanRNN`) prepare and reset
the masks themselves, so they keep working either way; only cells wrapped in a
plain `keras.layers.RNN` would then draw their masks lazily.
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


# The backend's loop over the steps, which `keras.layers.RNN.inner_loop` runs;
# our layers run it themselves so that they can pass their cells the step
# layout as a call argument (Keras's loop passes only `training`). Keras has
# no public name for it.
from keras.src.backend import rnn as backend_rnn  # noqa: E402

__all__ = ["DropoutRNNCell", "KERAS_PREPARES_DROPOUT_MASKS", "backend_rnn"]
