"""The models the benchmark times: ours and the alternatives, each with the same head.

Every model maps (B, T, D) inputs to one number per sequence: the layer, then
(for layers with sequence outputs) a global average over time, then
`Dense(1)`, trained with Adam on the mean squared error.
"""

import keras
import numpy as np

import keras_rnnkit

# TDNN contexts: what Conv1D can express (contiguous, dilated) and what it
# cannot (arbitrary offsets).
CONTEXTS = {
    "contiguous": (-2, -1, 0, 1, 2),
    "dilated": (-4, -2, 0, 2, 4),
    "offsets": (-7, -3, -1, 0, 2),
}
STREAM_CONTEXT = (-4, -3, -2, -1, 0)


class NaiveJordanCell(keras.layers.Layer):
    r"""A Jordan network written plainly for `keras.layers.RNN` (the baseline).

    $$h_t = \tanh(x_t W + y_{t-1} U + b), \qquad y_t = h_t V + c,$$

    states `[y]`: what `JordanRNN(units, output_units)` computes with its
    defaults (`context_decay=0`, linear output), without its fast paths.
    Shapes: $x_t$ (B, D), $h_t$ (B, H), $y_t$ (B, O).

    Args:
        units: H, the size of the hidden layer.
        output_units: O, the size of the output and of the state.
        **kwargs: Base layer arguments.

    Example:

    >>> import numpy as np, keras
    >>> from benchmarks.suite.models import NaiveJordanCell
    >>> rnn = keras.layers.RNN(NaiveJordanCell(8, 2))
    >>> tuple(rnn(np.zeros((3, 5, 4), "float32")).shape)
    (3, 2)
    """

    def __init__(self, units, output_units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.output_units = output_units
        self.state_size = output_units
        self.output_size = output_units

    def build(self, input_shape):
        d, h, o = input_shape[-1], self.units, self.output_units
        self.kernel = self.add_weight(shape=(d, h), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(o, h), name="recurrent_kernel", initializer="orthogonal"
        )
        self.bias = self.add_weight(shape=(h,), name="bias", initializer="zeros")
        self.output_kernel = self.add_weight(shape=(h, o), name="output_kernel")
        self.output_bias = self.add_weight(shape=(o,), name="output_bias", initializer="zeros")

    def call(self, x, states):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        hidden = keras.ops.tanh(
            keras.ops.matmul(x, self.kernel)
            + keras.ops.matmul(previous, self.recurrent_kernel)
            + self.bias
        )
        y = keras.ops.matmul(hidden, self.output_kernel) + self.output_bias
        return y, [y]


class GatherTDNN(keras.layers.Layer):
    """A TDNN by gather and matrix product: any offsets, `"same"` padding.

    Gathers x[t + context[i]] for every t with one `take` into (B, T, K, D),
    flattens the last two axes and multiplies by the (K * D, H) kernel, then
    adds the bias and applies ReLU (TDNN's default activation). The kernel is
    (K, D, H), as `TDNN`'s. Needs a fixed T.

    Args:
        units: H, the number of output features.
        context: Distinct increasing integer offsets (K of them).
        **kwargs: Base layer arguments.

    Example:

    >>> import numpy as np
    >>> from benchmarks.suite.models import GatherTDNN
    >>> layer = GatherTDNN(4, context=(-3, 0, 2))
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 7, 4)
    """

    def __init__(self, units, context, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.context = tuple(context)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(len(self.context), input_shape[-1], self.units), name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, x):
        lo, hi = self.context[0], self.context[-1]
        steps = x.shape[1]
        padded = keras.ops.pad(x, [(0, 0), (max(0, -lo), max(0, hi)), (0, 0)])
        shift = max(0, -lo)
        indices = np.arange(steps)[:, None] + np.array(self.context)[None, :] + shift
        windows = keras.ops.take(padded, indices.astype("int32"), axis=1)  # (B, T, K, D)
        windows = keras.ops.reshape(windows, (-1, steps, len(self.context) * x.shape[-1]))
        kernel = keras.ops.reshape(self.kernel, (-1, self.units))
        return keras.ops.relu(keras.ops.matmul(windows, kernel) + self.bias)


def _layer(name, size, context=None):
    h = size.units
    if name == "ElmanRNN":
        return keras_rnnkit.ElmanRNN(h)
    if name == "SimpleRNN":
        return keras.layers.SimpleRNN(h)
    if name == "JordanRNN":
        return keras_rnnkit.JordanRNN(h, output_units=jordan_outputs(size))
    if name == "NaiveJordan":
        return keras.layers.RNN(NaiveJordanCell(h, jordan_outputs(size)))
    if name == "TDNN":
        return keras_rnnkit.TDNN(h, context=context)
    if name == "Conv1D":
        dilation = context[1] - context[0]
        return keras.layers.Conv1D(
            h, len(context), dilation_rate=dilation, padding="same", activation="relu"
        )
    if name == "GatherTDNN":
        return GatherTDNN(h, context)
    raise ValueError(f"unknown model {name!r}")


def jordan_outputs(size):
    """O, the Jordan output (and context) size: a quarter of H, at least 1."""
    return max(1, size.units // 4)


def build(name, size, context=None, jit_compile="auto", masked=False):
    """A compiled model: `name`'s layer, then (sequences) a time average, then Dense(1).

    `jit_compile="auto"` is each backend's default: XLA on JAX (whose
    `jit_compile=False` would run the step op by op), none on torch, and on
    TensorFlow none on CPU (the worker passes False and True explicitly there).
    `masked`: a `Masking(0.0)` layer first, so that all-zero steps (padding)
    are masked.
    """
    inputs = keras.Input((size.steps, size.features))
    outputs = keras.layers.Masking(0.0)(inputs) if masked else inputs
    outputs = _layer(name, size, context)(outputs)
    if len(outputs.shape) == 3:
        outputs = keras.layers.GlobalAveragePooling1D()(outputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(outputs))
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=jit_compile)
    return model


def streaming_model(size):
    """A stateful `RNN(TDNNCell)` taking one step of one sequence per call."""
    cell = keras_rnnkit.TDNNCell(size.units, context=STREAM_CONTEXT)
    inputs = keras.Input(batch_shape=(1, 1, size.features))
    return keras.Model(inputs, keras.layers.RNN(cell, stateful=True)(inputs))


def window_model(size):
    """The same TDNN recomputed over the last `receptive_field` inputs at each step."""
    width = STREAM_CONTEXT[-1] - STREAM_CONTEXT[0] + 1
    inputs = keras.Input(batch_shape=(1, width, size.features))
    layer = keras_rnnkit.TDNN(size.units, context=STREAM_CONTEXT, padding="valid")
    return keras.Model(inputs, layer(inputs))


def forward_flops(name, size, context=None):
    """Multiply-adds x 2 of one forward pass (the matrix products only)."""
    b, t, d, h = size
    if name in ("ElmanRNN", "SimpleRNN", "nn.RNN"):
        return 2 * b * t * (d * h + h * h) + 2 * b * h
    if name in ("JordanRNN", "NaiveJordan"):
        o = jordan_outputs(size)
        return 2 * b * t * (d * h + o * h + h * o) + 2 * b * o
    if name in ("TDNN", "Conv1D", "GatherTDNN"):
        return 2 * b * t * len(context) * d * h + 2 * b * h
    raise ValueError(f"unknown model {name!r}")
