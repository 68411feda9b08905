"""Jordan networks: the previous *output* is fed back (`JordanCell`, `JordanRNN`)."""

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export
from keras_rnnkit.backend import engine
from keras_rnnkit.layers.base import RecurrentCell
from keras_rnnkit.layers.base import add_named_weights
from keras_rnnkit.layers.base import built_width
from keras_rnnkit.layers.base import checked_initial_state
from keras_rnnkit.layers.normalization import add_layer_norm_weights
from keras_rnnkit.layers.teacher_forcing import TeacherForcedLayer


@export
class JordanCell(RecurrentCell):
    r"""One step of a Jordan network (the cell of `JordanRNN`).

    The state is the context $c$ (size O), fed from the network's own output:

    $$h_t = \mathrm{activation}(x_t W + c_{t-1} U + b)$$
    $$y_t = \mathrm{output\_activation}(h_t V + b_o)$$
    $$c_t = \lambda\, c_{t-1} + y_t, \qquad c_0 = 0,$$

    with $\lambda$ = `context_decay`, the self-connection of Jordan's context
    units ($\lambda = 0$ is plain output feedback). The step's output is $y_t$.
    Shapes: B batch, D input features, H = `units`, O = `output_units`.

    Weights, in order: `kernel` $W$ (D, H), `recurrent_kernel` $U$ (O, H),
    `bias` $b$ (H,), `output_kernel` $V$ (H, O), `output_bias` $b_o$ (O,).

    Args:
        units: Positive integer H, the size of the hidden layer.
        output_units: Positive integer O, the size of the output and context.
        activation: Activation of the hidden layer. Default: `"tanh"`.
        output_activation: Activation of the output. Default: `None` (linear).
        context_decay: $\lambda$ in [0, 1). Default: `0.0`.
        use_bias: Whether to use `bias` and `output_bias`. Default: `True`.
        kernel_initializer: Initializer of `kernel`. Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`.
            Default: `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Default: `"zeros"`.
        output_kernel_initializer: Initializer of `output_kernel`.
            Default: `"glorot_uniform"`.
        output_bias_initializer: Initializer of `output_bias`. Default: `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        output_kernel_regularizer, output_bias_regularizer: Regularizers of the
            weights of the same name. Default: `None`.
        kernel_constraint, recurrent_constraint, bias_constraint,
        output_kernel_constraint, output_bias_constraint: Constraints on the
            weights of the same name. Default: `None`.
        dropout: Fraction of the inputs $x_t$ to drop while training, in
            [0, 1); one mask per sequence. Default: `0.0`.
        recurrent_dropout: Fraction of the context $c_{t-1}$ to drop while
            training, in [0, 1); one mask per sequence. Default: `0.0`.
        seed: Integer seed of the dropout masks and of scheduled sampling.
            Default: `None`.
        gradient_clip, gradient_clip_mode, zoneout, layer_norm: as in
            `ElmanCell`; here the state that is clipped and zoned out is the
            context, and layer norm acts on the hidden pre-activation.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> cell = keras_rnnkit.JordanCell(8, output_units=2, context_decay=0.5)
    >>> tuple(keras.layers.RNN(cell)(np.zeros((3, 4, 5), "float32")).shape)
    (3, 2)
    """

    weight_initializers = {
        "kernel": "glorot_uniform",
        "recurrent": "orthogonal",
        "bias": "zeros",
        "output_kernel": "glorot_uniform",
        "output_bias": "zeros",
    }

    def __init__(
        self,
        units,
        output_units,
        activation="tanh",
        output_activation=None,
        context_decay=0.0,
        use_bias=True,
        **kwargs,
    ):
        owner = type(self).__name__
        options = {
            "units": arguments.positive_int(owner, "units", units),
            "output_units": arguments.positive_int(owner, "output_units", output_units),
            "activation": arguments.activation(owner, "activation", activation),
            "output_activation": arguments.activation(
                owner, "output_activation", output_activation
            ),
            "context_decay": arguments.rate(owner, "context_decay", context_decay),
            "use_bias": arguments.boolean(owner, "use_bias", use_bias),
        }
        super().__init__(options=options, **kwargs)
        self.state_size = self.output_units
        self.output_size = self.output_units

    def weight_shapes(self, input_width):
        h, o = self.units, self.output_units
        return {
            "kernel": (input_width, h),
            "recurrent_kernel": (o, h),
            "bias": (h,) if self.use_bias else None,
            "output_kernel": (h, o),
            "output_bias": (o,) if self.use_bias else None,
        }

    def build(self, input_shape):
        add_named_weights(self, input_shape[-1])
        add_layer_norm_weights(self, self.units)

    def feedback(self):
        return engine.Feedback(self.activation, self.output_activation, self.context_decay)

    def recurrence_weights(self):
        weights = engine.Weights(
            *(
                getattr(self, name, None)
                for name in ("recurrent_kernel", "output_kernel", "output_bias")
            )
        )
        return getattr(self, "kernel", None), getattr(self, "bias", None), weights


@export
class JordanRNN(TeacherForcedLayer):
    r"""Jordan network layer: the previous output feeds back through a context.

    $$h_t = \mathrm{activation}(x_t W + c_{t-1} U + b),\quad
      y_t = \mathrm{output\_activation}(h_t V + b_o),\quad
      c_t = \lambda\, c_{t-1} + y_t,\quad c_0 = 0.$$

    Inputs (B, T, D); output $y$: (B, O), or (B, T, O) with
    `return_sequences=True`; the state is the context $c$ (B, O).

    Args:
        units, output_units, activation, output_activation, context_decay,
        use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, output_kernel_initializer, output_bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        output_kernel_regularizer, output_bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint,
        output_kernel_constraint, output_bias_constraint, dropout,
        recurrent_dropout, seed, gradient_clip, gradient_clip_mode, zoneout,
        layer_norm: as in `JordanCell`.
        activity_regularizer, return_sequences, return_state, go_backwards,
        stateful, unroll, zero_output_for_mask, truncate_gradient: as in
        `ElmanRNN`.
        use_fused: `"auto"`, `True` or `False`, like `ElmanRNN`'s
            `use_fused` (a Jordan network has no cuDNN kernel): whether to run the whole
            recurrence as one fused operation instead of a loop of cell
            calls: the input projection of all steps as one matrix product,
            a loop over the rest of each step, and a hand-written backward
            pass (on JAX and TensorFlow a scan; on torch one autograd node
            per sequence). The configuration must allow it: activation tanh
            or relu, output activation linear, tanh or sigmoid, no teacher
            forcing or recurrent dropout while training, no zoneout, layer
            norm, `gradient_clip`, `truncate_gradient` or `unroll` (masks
            are applied step by step). `"auto"` then takes it: it is faster
            than the step loop on torch, on TensorFlow with XLA and without
            (there its scans run as XLA-compiled functions inside the
            graph), and on JAX in training, as fast in inference
            (docs/benchmarks.md).
            `True` raises a `ValueError` (in the constructor, or in the call
            for targets) where it is not allowed; `False` always runs the
            step loop. Both compute the same values. Default: `"auto"`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: (B, T, D) inputs.
        initial_state: optional list with the initial context (B, O).
        mask: optional (B, T) boolean mask; masked steps keep the context.
        training: Whether dropout and teacher forcing apply.
        targets: optional (B, T, O) true outputs for **teacher forcing**:
            while training, the context is fed from `targets[:, t]` instead of
            the network's own $y_t$, i.e. $c_t = \lambda c_{t-1} + \hat y_t$.
            Outside training they are ignored and the network runs on its own
            outputs, as it will when deployed.
        sampling_probability: probability, per sample and step, of feeding
            back the own output instead of the target (scheduled sampling,
            Bengio et al. 2015). A float or scalar tensor in [0, 1].
            Default: `0.0` (pure teacher forcing). Targets of another shape,
            or a probability outside [0, 1], raise a `ValueError`.

    Example: teacher forcing in a functional model, then free-running
    generation after a primer.

    >>> import numpy as np, keras, keras_rnnkit
    >>> x = keras.Input((None, 1)); y_true = keras.Input((None, 1))
    >>> jordan = keras_rnnkit.JordanRNN(8, output_units=1, return_sequences=True)
    >>> model = keras.Model([x, y_true], jordan(x, targets=y_true))
    >>> model.compile("adam", "mse")
    >>> series = np.sin(np.arange(21) / 3.0).astype("float32")[None, :, None]
    >>> _ = model.fit([series[:, :-1], series[:, 1:]], series[:, 1:], verbose=0)
    >>> tuple(jordan.generate(series[:, :10], steps=5).shape)
    (1, 5, 1)
    """

    cell_class = JordanCell
    layer_defaults = {"use_fused": "auto"}

    def generate(self, primer, steps, initial_state=None):
        """Runs on `primer`, then free-runs `steps` steps on its own outputs.

        The network is read as a one-step-ahead predictor: the output after the
        last primer step is taken as the next input, and so on. This needs
        `output_units` equal to the number of input features D. Generation
        always runs forward in time and without dropout.

        Args:
            primer: (B, Tp) + (D,) inputs, Tp >= 1.
            steps: Positive integer, how many values to generate.
            initial_state: optional list with the initial context (B, O).

        Returns:
            (B, steps, O): the `steps` values that follow the primer.
        """
        owner = type(self).__name__
        steps = arguments.positive_int(owner, "steps", steps)
        primer = keras.ops.convert_to_tensor(primer, dtype=self.compute_dtype)
        if len(primer.shape) != 3 or primer.shape[-1] != self.cell.output_units:
            raise ValueError(
                f"{owner}.generate: `primer` must have shape (batch, time, "
                f"{self.cell.output_units}) (output_units, since outputs are fed "
                f"back as inputs). Received: primer.shape={tuple(primer.shape)}"
            )
        if primer.shape[1] == 0:
            raise ValueError(
                f"{owner}.generate: `primer` must hold at least one step. "
                f"Received: primer.shape={tuple(primer.shape)}"
            )
        width = built_width(self)
        if width is not None and width != self.cell.output_units:
            raise ValueError(
                f"{owner}.generate: the outputs are fed back as inputs, so the layer must "
                f"be built for output_units={self.cell.output_units} input features; it was "
                f"built for {width}. Received: primer.shape={tuple(primer.shape)}"
            )
        if not self.built:
            self.build(primer.shape)
        if initial_state is None:
            initial_state = self.cell.get_initial_state(keras.ops.shape(primer)[0])
        initial_state = checked_initial_state(
            f"{owner}.generate", initial_state, self.cell.state_size, primer.shape[0]
        )
        context = keras.ops.cast(initial_state[0], self.compute_dtype)

        # A plain loop over the cell: generation is an inference utility, and
        # `keras.ops.scan` on TensorFlow requires outputs shaped like the carry.
        states = [context]
        try:
            for t in range(primer.shape[1]):
                y, states = self.cell(primer[:, t], states, training=False)
            generated = []
            for _ in range(steps):
                generated.append(y)
                y, states = self.cell(y, states, training=False)
        finally:
            # The cell caches dropout masks sized to this batch; the next
            # sequence must draw its own, as after every layer call.
            self.cell.reset_dropout_mask()
            self.cell.reset_recurrent_dropout_mask()
        return keras.ops.stack(generated, axis=1)
