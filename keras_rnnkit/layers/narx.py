"""NARX networks: inputs and fed-back outputs through two tapped delay lines (`NarxCell`,
`NARX`), as MATLAB's `narxnet`."""

import numbers

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export
from keras_rnnkit.layers.base import RecurrentCell
from keras_rnnkit.layers.base import add_named_weights
from keras_rnnkit.layers.base import checked_initial_state
from keras_rnnkit.layers.base import checked_width
from keras_rnnkit.layers.base import state_within_memory
from keras_rnnkit.layers.loop import controls_of
from keras_rnnkit.layers.loop import run_step
from keras_rnnkit.layers.normalization import add_layer_norm_weights
from keras_rnnkit.layers.normalization import layer_normalized
from keras_rnnkit.layers.teacher_forcing import TeacherForcedLayer
from keras_rnnkit.layers.teacher_forcing import check_targets


def _delays(owner, name, value, smallest):
    """`value` as a tuple of distinct, increasing integer delays >= `smallest`, or raises."""
    must = (
        f"{owner}: `{name}` must be a non-empty sequence of distinct integer delays >= "
        f"{smallest} in increasing order, e.g. {(smallest, smallest + 1)}. Received: "
        f"{name}={value!r}"
    )
    try:
        delays = tuple(value)
    except TypeError:
        raise ValueError(must) from None
    if (
        not delays
        or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in delays)
        or delays[0] < smallest
        or any(b <= a for a, b in zip(delays, delays[1:]))
    ):
        raise ValueError(must)
    return tuple(int(d) for d in delays)


@export
class NarxCell(RecurrentCell):
    r"""One step of a NARX network (the cell of `NARX`), as MATLAB's `narxnet`.

    $$h_t = \mathrm{activation}\Big(\sum_{i \in I} x_{t-i} W_i
        + \sum_{j \in F} \hat y_{t-j} R_j + b\Big), \qquad y_t = h_t V + c,$$

    with $I$ = `input_delays` (0 allowed: $x_t$ itself), $F$ = `feedback_delays`
    (each >= 1) and $\hat y_s$ what is fed back: the cell's own output $y_s$
    (closed loop, parallel), or while teacher forcing the observed target of
    step s (open loop, series-parallel). Before the first step both delay
    lines hold zeros ($x_s = \hat y_s = 0$ for $s < 1$). The step's output is
    $y_t$. Shapes: B batch, D input features, H = `units`, O = `output_units`,
    m = max(I), n = max(F).

    The states are the two delay lines, so that a sequence fed step by step
    (a stateful layer, streaming) gives what it gives whole:

    - the feedback line (B, n O): $[\hat y_{t-1}, \ldots, \hat y_{t-n}]$;
    - unless I = (0,), the input line (B, m H): slot k (k = 1..m) holds
      $\sum_{i \in I,\, i \ge k} x_{t+k-i} W_i$, what the inputs seen so far
      add to the pre-activation k steps ahead. It holds the products, not
      $x$, so that its size follows from the constructor alone, before D is
      known (as `TDNNCell`'s).

    Weights, in order: `kernel` $W$ (len(I), D, H), `recurrent_kernel` $R$
    (len(F), O, H), `bias` $b$ (H,), `output_kernel` $V$ (H, O),
    `output_bias` $c$ (O,).

    Args:
        units: Positive integer H, the size of the hidden layer.
        output_units: Positive integer O, the size of the output, fed back.
        input_delays: Distinct increasing integers >= 0, the taps of the
            input delay line. Default: `(1, 2)` (MATLAB's `1:2`). A window
            model that forecasts from its last step wants `(0, 1, ...)`:
            then $y_t$ sees $x_t$ (MATLAB's `removedelay`).
        feedback_delays: Distinct increasing integers >= 1, the taps of the
            feedback delay line. Default: `(1, 2)`.
        activation: Activation of the hidden layer. Default: `"tanh"`.
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
        recurrent_dropout: Fraction of the fed-back values $\hat y_{t-j}$ to
            drop while training, in [0, 1); one mask per sequence (the line
            itself carries them undropped). Default: `0.0`.
        seed: Integer seed of the dropout masks and of scheduled sampling.
            Default: `None`.
        gradient_clip, gradient_clip_mode, zoneout, layer_norm: as in
            `ElmanCell`; the states clipped and zoned out are the delay lines
            (a zoned-out slot keeps its value instead of shifting), layer norm
            acts on the hidden pre-activation.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequence: (B, D) input of one step.
        states: list of the delay lines (see above).
        training: Whether dropout applies.

    Returns:
        `(y_t, new_states)`.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> cell = keras_rnnkit.NarxCell(8, output_units=2, input_delays=(0, 1))
    >>> cell.state_size
    [4, 8]
    >>> tuple(keras.layers.RNN(cell)(np.zeros((3, 4, 5), "float32")).shape)
    (3, 2)
    """

    # Math of its own (`step`), not the engine's recurrence.
    fused_form = None
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
        input_delays=(1, 2),
        feedback_delays=(1, 2),
        activation="tanh",
        use_bias=True,
        **kwargs,
    ):
        owner = type(self).__name__
        options = {
            "units": arguments.positive_int(owner, "units", units),
            "output_units": arguments.positive_int(owner, "output_units", output_units),
            "input_delays": _delays(owner, "input_delays", input_delays, 0),
            "feedback_delays": _delays(owner, "feedback_delays", feedback_delays, 1),
            "activation": arguments.activation(owner, "activation", activation),
            "use_bias": arguments.boolean(owner, "use_bias", use_bias),
        }
        super().__init__(options=options, **kwargs)
        # m and n: how many past steps each line remembers.
        self.input_memory = self.input_delays[-1]
        self.feedback_memory = self.feedback_delays[-1]
        feedback_line = self.feedback_memory * self.output_units
        input_line = [self.input_memory * self.units] if self.input_memory else []
        self.state_size = [feedback_line, *input_line]
        state_within_memory(self, remedy="shorter delays or fewer units")
        self.output_size = self.output_units

    def weight_shapes(self, input_width):
        h, o = self.units, self.output_units
        return {
            "kernel": (len(self.input_delays), input_width, h),
            "recurrent_kernel": (len(self.feedback_delays), o, h),
            "bias": (h,) if self.use_bias else None,
            "output_kernel": (h, o),
            "output_bias": (o,) if self.use_bias else None,
        }

    def build(self, input_shape):
        add_named_weights(self, input_shape[-1])
        add_layer_norm_weights(self, self.units)

    def _tapped(self, kernel, delays, first, rows):
        """`kernel` (len(delays), rows, H) as one matrix over every delay from `first` to the
        last, zeros for the untapped ones: (rows, (last - first + 1) H) for the inputs
        (`rows` = D), or ((last - first + 1) rows, H) for the fed-back outputs (`rows` = O)."""
        h = self.units
        index = {delay: i for i, delay in enumerate(delays)}
        zeros = keras.ops.zeros((rows, h), kernel.dtype)
        blocks = [kernel[index[k]] if k in index else zeros for k in range(first, delays[-1] + 1)]
        if first == 0:  # inputs: side by side
            if len(blocks) == len(delays):
                return keras.ops.reshape(keras.ops.transpose(kernel, (1, 0, 2)), (rows, -1))
            return keras.ops.concatenate(blocks, axis=1)
        if len(blocks) == len(delays):  # fed-back outputs: one above the other
            return keras.ops.reshape(kernel, (-1, h))
        return keras.ops.concatenate(blocks, axis=0)

    def step(self, sequence, states, training=False, teacher=None):
        """One step; `teacher=(target_t, use_own_t)` feeds back the target where use_own
        is 0 (open loop)."""
        h, o, m, n = self.units, self.output_units, self.input_memory, self.feedback_memory
        feedback_line = states[0]
        inputs = self._dropped(sequence, self.get_dropout_mask(sequence), training)
        fed = self._dropped(feedback_line, self.get_recurrent_dropout_mask(feedback_line), training)
        # x_t W_k for k = 0..m at once (W_k = 0 for an untapped delay): (B, (m + 1) H);
        # block k is what x_t adds to the pre-activation k steps ahead.
        ahead = keras.ops.matmul(
            inputs, self._tapped(self.kernel, self.input_delays, 0, self.kernel.shape[1])
        )
        pre_activation = ahead[:, :h] + states[1][:, :h] if m else ahead
        # sum_j yhat_{t-j} R_j: the whole line against R stacked over j = 1..n.
        recurrent_kernel = self._tapped(self.recurrent_kernel, self.feedback_delays, 1, o)
        pre_activation = pre_activation + keras.ops.matmul(fed, recurrent_kernel)
        if self.bias is not None:
            pre_activation = pre_activation + self.bias
        hidden = self.activation(layer_normalized(self, pre_activation))
        output = keras.ops.matmul(hidden, self.output_kernel)
        if self.output_bias is not None:
            output = output + self.output_bias
        fed_back = output
        if teacher is not None:
            target, use_own = teacher
            fed_back = use_own * output + (1.0 - use_own) * target
        new_states = [
            keras.ops.concatenate([fed_back, feedback_line[:, : (n - 1) * o]], axis=-1)
            if n > 1
            else fed_back
        ]
        if m:
            # The pending sums move one step closer, and x_t's own join them.
            pending = ahead[:, h:]
            if m > 1:
                shifted = keras.ops.concatenate(
                    [states[1][:, h:], keras.ops.zeros_like(states[1][:, :h])], axis=-1
                )
                pending = pending + shifted
            new_states.append(pending)
        return output, new_states


@export
class NARX(TeacherForcedLayer):
    r"""NARX network layer (nonlinear autoregressive with exogenous inputs), as
    MATLAB's `narxnet`: the inputs and the fed-back outputs pass through two
    tapped delay lines.

    $$h_t = \mathrm{activation}\Big(\sum_{i \in I} x_{t-i} W_i
        + \sum_{j \in F} \hat y_{t-j} R_j + b\Big), \qquad y_t = h_t V + c,$$

    $I$ = `input_delays`, $F$ = `feedback_delays`, zeros before the first step.
    Inputs (B, T, D); output $y$: (B, O), or (B, T, O) with
    `return_sequences=True`; the states are the two delay lines (see
    `NarxCell`).

    **Open and closed loop.** With `targets` while training, $\hat y_s$ is
    the observed target of step s (open loop, MATLAB's series-parallel
    training: teacher forcing, as `JordanRNN`'s); otherwise, and in
    `generate`, it is the layer's own output $y_s$ (closed loop, parallel).
    A NARX with no exogenous input, whose inputs are the target series'
    own past, is a NAR network (MATLAB's `narnet`); `generate` forecasts such
    a series closed loop after an open-loop primer.

    In `keras_rnnkit.models.build_model` (the family "narx") a window
    (B, T, D) passes through the layer closed loop, its last output to a
    `Dense` head: those models take no per-step targets, so $y$ is a learned
    O-dimensional summary fed back through its delay line, trained through
    time, as a Jordan network's output is (see `keras_rnnkit.models.families`).

    Args:
        units, output_units, input_delays, feedback_delays, activation,
        use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, output_kernel_initializer, output_bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        output_kernel_regularizer, output_bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint,
        output_kernel_constraint, output_bias_constraint, dropout,
        recurrent_dropout, seed, gradient_clip, gradient_clip_mode, zoneout,
        layer_norm: as in `NarxCell`.
        activity_regularizer, return_sequences, return_state, go_backwards,
        stateful, unroll, zero_output_for_mask, truncate_gradient: as in
        `ElmanRNN`. A NARX always runs the step loop (it has no fused form).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: (B, T, D) inputs.
        initial_state: optional list with the initial delay lines, (B, n O)
            and, unless `input_delays` is `(0,)`, (B, m H).
        mask: optional (B, T) boolean mask; masked steps keep the delay lines.
        training: Whether dropout and teacher forcing apply.
        targets: optional (B, T, O) observed targets for **open-loop
            training**: while training, $\hat y_t$ = `targets[:, t]`. Outside
            training they are ignored and the layer runs closed loop.
        sampling_probability: probability, per sample and step, of feeding
            back the own output instead of the target (scheduled sampling).
            A float or scalar tensor in [0, 1]. Default: `0.0`. Targets of
            another shape, or a probability outside [0, 1], raise a
            `ValueError`.

    Example: a NAR network trained open loop on a series (the target of step
    t is the next value), then forecasting closed loop after a primer.

    >>> import numpy as np, keras, keras_rnnkit
    >>> x = keras.Input((None, 1)); y_true = keras.Input((None, 1))
    >>> narx = keras_rnnkit.NARX(8, output_units=1, input_delays=(0, 1),
    ...                          return_sequences=True)
    >>> model = keras.Model([x, y_true], narx(x, targets=y_true))
    >>> model.compile("adam", "mse")
    >>> series = np.sin(np.arange(21) / 3.0).astype("float32")[None, :, None]
    >>> _ = model.fit([series[:, :-1], series[:, 1:]], series[:, 1:], verbose=0)
    >>> tuple(narx.generate(series[:, :10], steps=5).shape)
    (1, 5, 1)
    """

    cell_class = NarxCell

    def generate(self, primer, steps, targets=None, inputs=None, initial_state=None):
        r"""A closed-loop forecast after an open-loop primer (MATLAB's `closeloop`).

        Two readings, by whether the future `inputs` are given:

        - **NAR** (`inputs=None`): the layer is a one-step-ahead predictor of
          its own input series, $y_t \approx x_{t+1}$ (so O = D). Over the
          primer the observed next values are fed back, $\hat y_t = x_{t+1}$
          (open loop); from the primer's last step on, each output is fed back
          and is the next input. Returns $y_{T_p}, \ldots, y_{T_p+s-1}$: the
          `steps` values that follow the primer.
        - **NARX** (`inputs` (B, steps, D), the exogenous inputs after the
          primer): the primer runs open loop on `targets` (B, Tp, O), its
          observed targets (closed loop without them), then `steps` more steps
          on `inputs`, closed loop. Returns $y_{T_p+1}, \ldots, y_{T_p+s}$.

        Generation always runs forward in time and without dropout.

        Args:
            primer: (B, Tp, D) observed inputs, Tp >= 1.
            steps: Positive integer s, how many values to generate.
            targets: (B, Tp, O) observed targets of the primer's steps, with
                `inputs` only. Default: `None`.
            inputs: (B, steps, D) inputs of the generated steps, or `None`
                (the NAR reading). Default: `None`.
            initial_state: optional list with the initial delay lines.

        Returns:
            (B, steps, O).
        """
        owner = f"{type(self).__name__}.generate"
        steps = arguments.positive_int(owner, "steps", steps)
        primer = keras.ops.convert_to_tensor(primer, dtype=self.compute_dtype)
        if len(primer.shape) != 3 or primer.shape[1] == 0:
            raise ValueError(
                f"{owner}: `primer` must have shape (batch, time, features) with at least "
                f"one step. Received: primer.shape={tuple(primer.shape)}"
            )
        o = self.cell.output_units
        if inputs is None:
            if targets is not None:
                raise ValueError(
                    f"{owner}: `targets` go with `inputs` (the NARX reading); without "
                    "`inputs` the primer is its own target series. Received: targets given, "
                    "inputs=None"
                )
            if primer.shape[-1] != o:
                raise ValueError(
                    f"{owner}: without `inputs`, `primer` must have shape (batch, time, {o}) "
                    f"(output_units, since outputs are fed back as inputs). Received: "
                    f"primer.shape={tuple(primer.shape)}"
                )
        else:
            inputs = keras.ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
            wanted = (primer.shape[0], steps, primer.shape[-1])
            if tuple(inputs.shape) != wanted:
                raise ValueError(
                    f"{owner}: `inputs` must have shape (batch, steps, features) = "
                    f"{wanted}. Received: inputs.shape={tuple(inputs.shape)}"
                )
            if targets is not None:
                targets = keras.ops.convert_to_tensor(targets, dtype=self.compute_dtype)
                check_targets(owner, targets, primer, o)
        checked_width(owner, self, "primer", primer)
        if not self.built:
            self.build(primer.shape)
        batch = primer.shape[0]
        if initial_state is None:
            initial_state = self.cell.get_initial_state(keras.ops.shape(primer)[0])
        states = checked_initial_state(owner, initial_state, self.cell.state_size, batch)
        states = [keras.ops.cast(s, self.compute_dtype) for s in states]
        controls = controls_of(self.cell)
        own = keras.ops.zeros((keras.ops.shape(primer)[0], 1), self.compute_dtype)

        def step(x, states, target=None):
            given = {"features": x}
            if target is not None:
                given.update(target=target, use_own=own)
            return run_step(self.cell, controls, given, states, training=False)

        # A plain loop over the cell: generation is an inference utility, and
        # `keras.ops.scan` on TensorFlow requires outputs shaped like the carry.
        generated = []
        try:
            if inputs is None:
                for t in range(primer.shape[1] - 1):
                    _, states = step(primer[:, t], states, primer[:, t + 1])
                x = primer[:, -1]
                for _ in range(steps):
                    x, states = step(x, states)
                    generated.append(x)
            else:
                for t in range(primer.shape[1]):
                    target = None if targets is None else targets[:, t]
                    _, states = step(primer[:, t], states, target)
                for k in range(steps):
                    y, states = step(inputs[:, k], states)
                    generated.append(y)
        finally:
            # The cell caches dropout masks sized to this batch; the next
            # sequence must draw its own, as after every layer call.
            self.cell.reset_dropout_mask()
            self.cell.reset_recurrent_dropout_mask()
        return keras.ops.stack(generated, axis=1)
