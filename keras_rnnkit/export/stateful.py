"""`to_streaming`: a trained whole-sequence model as a stateful one-step-at-a-time model."""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.export.checks import require_built
from keras_rnnkit.export.program import StepProgram


class StreamingModel(keras.Model):
    """Runs `source` one time step per call, carrying the states between calls.

    Built by `to_streaming`; the weights are `source`'s own variables (shared,
    not copied), plus one non-trainable variable (batch_size, S_i) per state.

    Call arguments:
        inputs: (batch_size, 1, D), the next step of every sequence.

    Returns:
        What `source` returns for the sequences so far: its output at this
        step, with a time axis of length 1 where `source`'s output has one.
    """

    def __init__(self, source, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.batch_size = batch_size
        self._program = StepProgram(source, owner="to_streaming")
        self.state_variables = [
            self.add_weight(
                shape=(batch_size, size),
                initializer="zeros",
                trainable=False,
                name=f"state_{index}",
            )
            for index, size in enumerate(self._program.state_sizes)
        ]

    def build(self, input_shape):
        expected = (self.batch_size, 1, self._program.input_features)
        if tuple(input_shape) != expected:
            raise ValueError(
                f"{self.name}: each call takes one step of every sequence, shape "
                f"{expected}. Received: inputs.shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        states = [keras.ops.convert_to_tensor(v) for v in self.state_variables]
        outputs, new_states = self._program(inputs[:, 0], states)
        for variable, value in zip(self.state_variables, new_states):
            variable.assign(keras.ops.cast(value, variable.dtype))
        return outputs

    def reset_state(self):
        """Zeros every state: the next call starts new sequences."""
        for variable in self.state_variables:
            variable.assign(keras.ops.zeros(variable.shape, dtype=variable.dtype))


def to_streaming(model, *, batch_size=1):
    """A stateful copy of `model` that takes one time step per call.

    The whole-sequence `model` (functional or Sequential, one input of shape
    (B, T, D)) is rewritten layer by layer: `ElmanRNN`, `JordanRNN` and any
    `keras.layers.RNN` run one step of their cell, a causal `TDNN` (every
    offset <= 0, `padding="causal"` or `"same"`, `strides=1`) runs as a `TDNNCell` over the
    same weights, per-step layers (Dense, activations, ...) run as they are,
    and `Masking` passes the step through (a stream has no padding: send only
    the real steps). The states live in variables of the returned model and
    carry over from call to call until `reset_state()`.

    Step by step it gives what `model` gives: after the steps
    $x_0, \\dots, x_t$ it returns `model(x[:, : t + 1])` at its last step
    (the last output, or step t of the output sequence).

    Args:
        model: A built, trained whole-sequence model; it is not modified, and
            its weights are shared, not copied.
        batch_size: Positive integer, the number of sequences streamed side
            by side. Default: `1`.

    Returns:
        A `StreamingModel`; call it on (batch_size, 1, D) steps.

    Raises:
        ValueError: for layers that need future steps (Bidirectional,
            `go_backwards`, a TDNN with future offsets) or mix time steps
            (pooling over time, convolutions), naming the layer.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> from keras_rnnkit.export import to_streaming
    >>> model = keras.Sequential([keras.Input((None, 3)), keras_rnnkit.ElmanRNN(4)])
    >>> stream = to_streaming(model, batch_size=2)
    >>> x = np.random.rand(2, 5, 3).astype("float32")
    >>> for t in range(5):
    ...     y_t = stream(x[:, t : t + 1])
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y_t),
    ...                  keras.ops.convert_to_numpy(model(x)), atol=1e-5))
    True
    >>> stream.reset_state()  # the next call starts new sequences
    """
    require_built("to_streaming", model)
    batch_size = arguments.positive_int("to_streaming", "batch_size", batch_size)
    return StreamingModel(model, batch_size, name=f"{model.name}_streaming")
