"""Elman networks: the hidden state is fed back (`ElmanCell`, `ElmanRNN`)."""

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export
from keras_rnnkit.backend import engine
from keras_rnnkit.layers.base import RecurrentCell
from keras_rnnkit.layers.base import RecurrentLayer
from keras_rnnkit.layers.base import add_named_weights
from keras_rnnkit.layers.normalization import add_layer_norm_weights


@export
class ElmanCell(RecurrentCell):
    r"""One step of an Elman network (the cell of `ElmanRNN`).

    $$h_t = \mathrm{activation}(x_t W + h_{t-1} U + b), \qquad h_0 = 0,$$

    and the step's output is $h_t$. Shapes: B batch, D input features,
    H = `units`; $x_t$ is (B, D), $h_t$ is (B, H).

    Args:
        units: Positive integer H, the size of the hidden state and output.
        activation: Activation of the hidden state. Default: `"tanh"`.
            `None` means linear.
        use_bias: Whether to add the bias $b$. Default: `True`.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of `kernel` $W$ (D, H), `recurrent_kernel` $U$ (H, H) and `bias` $b$
            (H,). Defaults: `"glorot_uniform"`, `"orthogonal"`, `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Their
            regularizers. Default: `None`.
        kernel_constraint, recurrent_constraint, bias_constraint: Their
            constraints. Default: `None`.
        dropout: Fraction of the inputs $x_t$ to drop while training, in
            [0, 1); one mask per sequence. Default: `0.0`.
        recurrent_dropout: Fraction of $h_{t-1}$ to drop while training, in
            [0, 1); one mask per sequence. Default: `0.0`.
        seed: Integer seed of the dropout masks. Default: `None`.
        gradient_clip: None, or a positive float c: at every step, the gradient
            flowing back into the state is clipped to c (elementwise, or by
            its norm per sample; see `gradient_clip_mode`). The forward pass
            is unchanged. Default: `None`.
        gradient_clip_mode: `"value"` or `"norm"`. Default: `"value"`.
        zoneout: Probability in [0, 1) that a state unit keeps its previous
            value at a step while training (Krueger et al. 2016); at inference
            the expectation. Needs keras_rnnkit's layers to train. Default: `0.0`.
        layer_norm: Normalise the pre-activation over the units (Ba et al.
            2016), with weights `layer_norm_scale` and `layer_norm_offset`.
            Default: `False`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequence: (B, D) input of one step.
        states: list holding the previous state $h_{t-1}$, (B, H).
        training: Whether dropout applies.

    Returns:
        `(h_t, [h_t])`.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> layer = keras.layers.RNN(keras_rnnkit.ElmanCell(4), return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    output_is_state = True
    weight_initializers = {"kernel": "glorot_uniform", "recurrent": "orthogonal", "bias": "zeros"}

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        **kwargs,
    ):
        owner = type(self).__name__
        options = {
            "units": arguments.positive_int(owner, "units", units),
            "activation": arguments.activation(owner, "activation", activation),
            "use_bias": arguments.boolean(owner, "use_bias", use_bias),
        }
        super().__init__(options=options, **kwargs)
        self.state_size = self.units
        self.output_size = self.units

    def weight_shapes(self, input_width):
        h = self.units
        return {
            "kernel": (input_width, h),
            "recurrent_kernel": (h, h),
            "bias": (h,) if self.use_bias else None,
        }

    def build(self, input_shape):
        add_named_weights(self, input_shape[-1])
        add_layer_norm_weights(self, self.units)

    def feedback(self):
        return engine.Feedback(self.activation)

    def recurrence_weights(self):
        weights = engine.Weights(getattr(self, "recurrent_kernel", None))
        return getattr(self, "kernel", None), getattr(self, "bias", None), weights


@export
class ElmanRNN(RecurrentLayer):
    r"""Elman network layer, a drop-in replacement for `keras.layers.SimpleRNN`.

    $$h_t = \mathrm{activation}(x_t W + h_{t-1} U + b), \qquad h_0 = 0,$$

    output $h_t$. Inputs (B, T, D); output (B, H), or (B, T, H) with
    `return_sequences=True`. Weights, in order: `kernel` (D, H),
    `recurrent_kernel` (H, H), `bias` (H,): the same as `SimpleRNN`'s, so
    `elman.set_weights(simple_rnn.get_weights())` reproduces a SimpleRNN.

    Args:
        units, activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed, gradient_clip,
        gradient_clip_mode, zoneout, layer_norm: as in `ElmanCell`.
        activity_regularizer: Regularizer of the layer's output. Default: `None`.
        return_sequences: Return the whole sequence of outputs, not only the
            last. Default: `False`.
        return_state: Also return the last state. Default: `False`.
        go_backwards: Process the sequence backwards and return the reversed
            sequence. Default: `False`.
        stateful: Carry the last state of each batch sample into the next
            batch; needs a fixed batch size. Default: `False`.
        unroll: Unroll the loop (needs a fixed length). Default: `False`.
        zero_output_for_mask: Output zeros (instead of the previous output)
            at masked steps. Default: `False`.
        truncate_gradient: None, or a positive int k: truncated BPTT, the
            gradient through the carried state stops every k steps (in
            processing order); the forward pass is unchanged. Default: `None`.
        use_fused: `"auto"`, `True` or `False`, like `keras.layers.GRU`'s
            `use_cudnn`: whether to run the recurrence as one fused operation
            (`keras_rnnkit.backend.engine`; PyTorch's RNN kernel on torch, cuDNN's
            on TensorFlow with a GPU) instead of the step loop; the same values.
            It needs activation tanh or relu and no recurrent dropout while
            training, zoneout, layer norm, `gradient_clip`, `truncate_gradient`
            or `unroll`. `"auto"` takes it where allowed; `True` raises a
            `ValueError` where it is not. Default: `"auto"`. `use_cudnn` is a
            deprecated alias.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: (B, T, D) inputs.
        initial_state: optional list with the initial state (B, H).
        mask: optional (B, T) boolean mask; masked steps keep the state.
        training: Whether dropout applies.

    Example:

    >>> import numpy as np, keras_rnnkit
    >>> layer = keras_rnnkit.ElmanRNN(4, return_sequences=True, return_state=True)
    >>> outputs, state = layer(np.ones((2, 5, 3), "float32"))
    >>> tuple(outputs.shape), tuple(state.shape)
    ((2, 5, 4), (2, 4))
    """

    cell_class = ElmanCell
    layer_defaults = {"use_fused": "auto"}
    # Old argument name: new name (the old one warns; old configs load).
    renamed_arguments = {"use_cudnn": "use_fused"}
