"""Time-delay neural networks: a fixed window of neighbouring inputs (`TDNN`, `TDNNCell`)."""

import numbers
import warnings

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export
from keras_rnnkit.backend import tdnn_convolution
from keras_rnnkit.layers.base import SHARED_OPTIONS
from keras_rnnkit.layers.base import RecurrentCell
from keras_rnnkit.layers.base import add_named_weights
from keras_rnnkit.layers.base import as_compute_dtype
from keras_rnnkit.layers.base import checked_mask
from keras_rnnkit.layers.base import state_within_memory
from keras_rnnkit.layers.base import weight_arguments
from keras_rnnkit.layers.base import weight_options
from keras_rnnkit.layers.base import weights_within_memory
from keras_rnnkit.layers.base import with_arguments
from keras_rnnkit.layers.config import config_from_signature
from keras_rnnkit.layers.normalization import add_layer_norm_weights
from keras_rnnkit.layers.normalization import layer_normalized

PADDINGS = ("same", "valid", "causal")
# The prefixes of TDNN's and TDNNCell's weight arguments, with their default initializers.
WEIGHT_INITIALIZERS = {"kernel": "glorot_uniform", "bias": "zeros"}


# The largest time offset: the backends pad and slice with 32-bit sizes.
LARGEST_OFFSET = arguments.LARGEST_STEP_COUNT


def _context_offsets(owner, name, value, *, causal=False):
    """Returns `value` as a tuple of distinct, increasing integer offsets."""
    try:
        offsets = tuple(value)
    except TypeError:
        offsets = None
    if not offsets or any(
        isinstance(o, bool) or not isinstance(o, numbers.Integral) for o in offsets
    ):
        raise ValueError(
            f"{owner}: `{name}` must be a non-empty sequence of integer time offsets, "
            f"e.g. (-2, -1, 0, 1, 2). Received: {name}={value!r}",
        )
    offsets = tuple(int(o) for o in offsets)
    if any(abs(o) > LARGEST_OFFSET for o in offsets):
        raise ValueError(
            f"{owner}: `{name}` must hold offsets within ±{LARGEST_OFFSET} (the backends "
            f"pad and slice with 32-bit sizes). Received: {name}={value!r}"
        )
    if any(b <= a for a, b in zip(offsets, offsets[1:])):
        raise ValueError(
            f"{owner}: `{name}` must hold distinct offsets in increasing order. "
            f"Received: {name}={value!r}"
        )
    if causal and offsets[-1] > 0:
        raise ValueError(
            f"{owner}: `{name}` must be causal (every offset <= 0) for step-by-step "
            f"streaming; use the `TDNN` layer for future context. "
            f"Received: {name}={value!r}",
        )
    return offsets


def _checked_options(owner, units, context, activation, use_bias, causal=False):
    """The validated options that TDNN and TDNNCell share."""
    return {
        "units": arguments.positive_int(owner, "units", units),
        "context": _context_offsets(owner, "context", context, causal=causal),
        "activation": arguments.activation(owner, "activation", activation),
        "use_bias": arguments.boolean(owner, "use_bias", use_bias),
    }


class _ContextWindow:
    """`receptive_field` of a layer with a `context` of time offsets."""

    @property
    def receptive_field(self):
        """Number of consecutive input steps one output can see: max - min + 1."""
        return self.context[-1] - self.context[0] + 1


class _ContextWeights:
    """The weights TDNN and TDNNCell share, so that theirs are the same: `kernel`
    (len(context), D, H), `bias` (H,) and the layer-norm weights, if any."""

    def weight_shapes(self, input_width):
        return {
            "kernel": (len(self.context), input_width, self.units),
            "bias": (self.units,) if self.use_bias else None,
        }

    def build(self, input_shape):
        add_named_weights(self, input_shape[-1])
        add_layer_norm_weights(self, self.units)


@export
class TDNN(_ContextWindow, _ContextWeights, keras.layers.Layer):
    r"""Time-delay neural network layer: each output sees a fixed window of inputs.

    $$y_t = \mathrm{activation}\Big(b + \sum_i x_{t + \mathrm{context}[i]}\, W_i\Big)$$

    `context` holds distinct integer offsets in increasing order: `(-2, -1, 0,
    1, 2)` (a symmetric window), `(-3, 0, 3)` (a dilated one) or `(-4, -2, 0)`
    (causal: only the past). Inputs (B, T, D); outputs (B, T', H) with
    H = `units`.

    - `padding="same"`: T' = T; inputs outside [0, T) count as zeros.
    - `padding="valid"`: only the t for which every $x_{t+\mathrm{context}[i]}$
      exists, T' = T - (max(context) - min(context)).
    - `padding="causal"`, as in `keras.layers.Conv1D`: T' = T, zeros padded
      on the left only, so that $y_t$ sees only $x_{\le t}$. It needs every
      offset <= 0 (a `ValueError` otherwise), and then computes what
      `"same"` computes; it states the intent, and refuses future context.
    - `strides=s` keeps every s-th output of that sequence, starting with the
      first (sub-sampling, as in Kaldi-style TDNNs): T' = ceil(T' / s).

    Masked input steps count as zeros, and the output mask is the input mask
    (for `"valid"`, an output is unmasked when its whole window is), sub-sampled
    by `strides`. So a right-padded batch gives, at the real steps, what each
    sequence gives alone.

    Weights: `kernel` (len(context), D, H), `bias` (H,).

    An evenly spaced context (offsets c_0 + i d, such as both above) runs as
    one `keras.ops.conv` with dilation d where that backend's convolution is
    the faster path (JAX; TensorFlow for d = 1); otherwise the windows are
    gathered into one matrix product. Both paths give the same values (see
    `keras_rnnkit.backend.tdnn_convolution`).

    Args:
        units: Positive integer H, the number of output features.
        context: Sequence of distinct, increasing integer offsets.
        padding: `"same"`, `"valid"` or `"causal"`. Default: `"same"`.
        strides: Positive integer sub-sampling factor, as `keras.layers.Conv1D`'s
            `strides`. Default: `1`. `stride` is a deprecated alias, still
            accepted with a `DeprecationWarning`.
        activation: Activation of the output. Default: `"relu"`.
        use_bias: Whether to add `bias`. Default: `True`.
        kernel_initializer: Default: `"glorot_uniform"`.
        bias_initializer: Default: `"zeros"`.
        kernel_regularizer, bias_regularizer: Default: `None`.
        kernel_constraint, bias_constraint: Default: `None`.
        layer_norm: Normalise the pre-activation over the units (Ba et al.
            2016), with weights `layer_norm_scale` and `layer_norm_offset`.
            Default: `False`.
        **kwargs: Base layer arguments (`name`, `dtype`, `activity_regularizer`, ...).

    Example:

    >>> import numpy as np, keras_rnnkit
    >>> layer = keras_rnnkit.TDNN(4, context=(-2, 0, 2), padding="valid", strides=2)
    >>> tuple(layer(np.zeros((1, 10, 3), "float32")).shape)
    (1, 3, 4)
    >>> layer.receptive_field
    5
    """

    def __init__(
        self,
        units,
        context,
        padding="same",
        strides=1,
        activation="relu",
        use_bias=True,
        **kwargs,
    ):
        owner = type(self).__name__
        arguments.float_dtype(owner, "dtype", kwargs.get("dtype"))
        checked = _checked_options(owner, units, context, activation, use_bias)
        default, check = SHARED_OPTIONS["layer_norm"]
        checked["layer_norm"] = check(owner, "layer_norm", kwargs.pop("layer_norm", default))
        checked["padding"] = arguments.one_of(owner, "padding", padding, PADDINGS)
        if padding == "causal" and checked["context"][-1] > 0:
            raise ValueError(
                f"{owner}: `padding='causal'` needs every `context` offset <= 0 (each "
                "output sees only past and present inputs); use padding='same' for "
                f"future context. Received: padding='causal', context={context!r}"
            )
        # stacklevel 4: the user's call, above `with_arguments`' __init__ and this one.
        strides = arguments.renamed(owner, kwargs, "stride", "strides", strides, 1, stacklevel=4)
        checked["strides"] = arguments.step_count(owner, "strides", strides)
        if "activity_regularizer" in kwargs:
            kwargs["activity_regularizer"] = arguments.regularizer(
                owner, "activity_regularizer", kwargs["activity_regularizer"]
            )
        checked.update(weight_options(owner, WEIGHT_INITIALIZERS, kwargs))
        super().__init__(**kwargs)
        for name, value in checked.items():
            setattr(self, name, value)
        weights_within_memory(self, input_width=1)
        self.supports_masking = True
        self.input_spec = keras.layers.InputSpec(ndim=3)

    # The weights' arguments and `layer_norm`, shown in the signature after the own ones.
    __init__ = with_arguments(
        __init__,
        {**weight_arguments(WEIGHT_INITIALIZERS), "layer_norm": SHARED_OPTIONS["layer_norm"][0]},
    )

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: input_shape[-1]})

    def _output_length(self, length):
        if length is None:
            return None
        if self.padding == "valid":
            length = max(length - (self.context[-1] - self.context[0]), 0)
        return -(-length // self.strides)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self._output_length(input_shape[1]), self.units)

    def _windows(self, sequence, length):
        """The slices x[t + context[i]] for every output t, one per offset."""
        lo, hi = self.context[0], self.context[-1]
        if self.padding != "valid":  # "same", or "causal" (then right == 0)
            left, right = max(0, -lo), max(0, hi)
            if sequence.shape[1] is not None:
                # An offset of T or more reads only padding: no more than T on a side.
                left, right = min(left, sequence.shape[1]), min(right, sequence.shape[1])
            padded = keras.ops.pad(sequence, [(0, 0), (left, right), (0, 0)])
            return [
                padded[:, c + left : c + left + length]
                if -left <= c <= right
                else keras.ops.zeros_like(sequence)
                for c in self.context
            ]
        # Sequences shorter than the window give no output (a negative end
        # would wrap around like a Python index).
        out_length = length - (hi - lo)
        out_length = (
            max(out_length, 0)
            if isinstance(out_length, int)
            else (keras.ops.maximum(out_length, 0))
        )
        return [sequence[:, c - lo : c - lo + out_length] for c in self.context]

    def call(self, inputs, mask=None):
        inputs = as_compute_dtype(self, inputs)
        mask = checked_mask(type(self).__name__, inputs, mask)
        if mask is not None:
            # Masked steps count as zeros, whatever the mask's values.
            inputs = inputs * keras.ops.cast(mask[..., None], inputs.dtype)
        strides = self.strides
        if inputs.shape[1] is not None:
            # A stride of T or more keeps only the first output, as a stride of T does
            # (TensorFlow's conv gradient fails for strides of 10**6 and hangs beyond).
            strides = min(strides, max(inputs.shape[1], 1))
        reason = tdnn_convolution.convolution_reason(
            self.context, keras.backend.backend(), inputs.shape
        )
        if reason is None:
            # Evenly spaced offsets: one convolution, sub-sampled by `strides`.
            # "causal" pads as "same" does: with no future offset, on the left only.
            padding = "valid" if self.padding == "valid" else "same"
            outputs = tdnn_convolution.convolve(inputs, self.kernel, self.context, padding, strides)
        else:
            # One matrix product over all offsets: [x_{t+c_0}, ..., x_{t+c_K}]
            # (K*D) against the kernel flattened to (K*D, H).
            length = keras.ops.shape(inputs)[1]
            stacked = keras.ops.concatenate(self._windows(inputs, length), axis=-1)
            # Sub-sampling before the product saves the work of the dropped steps.
            stacked = stacked[:, ::strides] if strides > 1 else stacked
            kernel = keras.ops.reshape(self.kernel, (-1, self.units))
            outputs = keras.ops.matmul(stacked, kernel)
        if self.bias is not None:
            # keras.ops.add, not +: on TensorFlow it becomes BiasAdd, whose gradient
            # (BiasAddGrad) is faster than the generic sum over (B, T).
            outputs = keras.ops.add(outputs, self.bias)
        return self.activation(layer_normalized(self, outputs))

    def compute_mask(self, inputs, mask=None):
        mask = checked_mask(type(self).__name__, inputs, mask)
        if mask is None:
            return None
        if self.padding == "valid":
            windows = self._windows(mask, keras.ops.shape(mask)[1])
            mask = windows[0]
            for window in windows[1:]:
                mask = keras.ops.logical_and(mask, window)
        return mask[:, :: self.strides] if self.strides > 1 else mask

    @property
    def stride(self):
        """Deprecated: `strides`."""
        warnings.warn(
            "TDNN: `stride` is deprecated, use `strides` (the same value, renamed).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.strides

    def get_config(self):
        return {**super().get_config(), **config_from_signature(self)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "stride" in config:
            # A config holding the deprecated `stride` loads without a warning,
            # since the user did not write it (saving again writes `strides`).
            config["strides"] = config.pop("stride")
        return cls(**config)


@export
class TDNNCell(_ContextWindow, _ContextWeights, RecurrentCell):
    r"""Streaming form of a causal TDNN, one step at a time, for `keras.layers.RNN`.

    With every offset $\le 0$ (causal), $y_t = \mathrm{activation}(b +
    \sum_i x_{t+\mathrm{context}[i]} W_i)$ depends only on inputs already seen.
    Inside `keras.layers.RNN(TDNNCell(...))` the weights are `kernel`
    (len(context), D, H) and `bias` (H,), as in `TDNN`, and with the same
    weights the cell computes exactly `TDNN(..., padding="same")`.

    The states are the last output (B, H) and, unless the context is `(0,)`,
    a buffer of pending partial sums (B, m * H) with m = -min(context): slot j
    holds what the inputs seen so far contribute to the output j steps ahead.
    Both sizes follow from the constructor alone, before the input size is
    known. (The last output comes first because Keras's JAX loop repeats the
    first state as the output of a masked step.) Under masking,
    `keras.layers.RNN` keeps the states at masked steps, so a masked step is
    skipped rather than counted as a zero input; for right padding the real
    steps come out the same either way.

    Args:
        units: Positive integer H.
        context: Distinct increasing offsets, all <= 0.
        activation: Default: `"relu"`.
        use_bias: Default: `True`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint, layer_norm: as
            in `TDNN`.
        gradient_clip, gradient_clip_mode: per-step clipping of the gradient
            flowing back into the state, as in `ElmanCell`.
        **kwargs: Base layer arguments.

    A TDNN has no hidden state to regularise with zoneout or recurrent
    dropout: its state is an exact buffer of partial sums, so those options
    are not offered.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> stream = keras.layers.RNN(keras_rnnkit.TDNNCell(4, context=(-2, -1, 0)),
    ...                           return_sequences=True)
    >>> tuple(stream(np.zeros((2, 6, 3), "float32")).shape)
    (2, 6, 4)
    """

    # No dropout, recurrent dropout or zoneout: a window of inputs has no state to drop.
    supports_dropout = False
    # Math of its own (`step`), not the engine's recurrence.
    fused_form = None
    weight_initializers = WEIGHT_INITIALIZERS

    def __init__(
        self,
        units,
        context,
        activation="relu",
        use_bias=True,
        **kwargs,
    ):
        owner = type(self).__name__
        options = _checked_options(owner, units, context, activation, use_bias, causal=True)
        super().__init__(options=options, **kwargs)
        self.delay = -self.context[0]
        # [last output, pending sums]: the output comes first because Keras's
        # JAX loop repeats `states[0]` as the output of a masked step.
        self.state_size = [self.units] + ([self.delay * self.units] if self.delay else [])
        self.output_size = self.units
        # One sample's pending sums must fit, before a batch's do.
        state_within_memory(self, remedy="a shorter context or fewer units")

    def step(self, sequence, states, training=False):
        h, m = self.units, self.delay
        # x_t times every W_i at once: parts[:, i] is what x_t adds to the output
        # -context[i] steps ahead (B, K, H).
        kernel = keras.ops.reshape(
            keras.ops.transpose(self.kernel, (1, 0, 2)), (self.kernel.shape[1], -1)
        )
        parts = keras.ops.reshape(keras.ops.matmul(sequence, kernel), (-1, len(self.context), h))
        by_delay = {-c: i for i, c in enumerate(self.context)}
        output = parts[:, by_delay[0]] if 0 in by_delay else keras.ops.zeros_like(parts[:, 0])
        if m:
            # pending[:, j]: the sum due j + 1 steps ahead (B, m, H).
            pending = keras.ops.reshape(states[1], (-1, m, h))
            output = output + pending[:, 0]
        if self.bias is not None:
            output = output + self.bias
        output = self.activation(layer_normalized(self, output))
        if not m:
            return output, [output]
        # Every sum moves a step closer, and x_t's parts join the sums they are due in:
        # slices and one concatenation, so the step's size does not grow with the delay.
        later = keras.ops.concatenate([pending[:, 1:], keras.ops.zeros_like(pending[:, :1])], 1)
        pieces, start = [], 0
        for k in sorted(k for k in by_delay if k > 0):
            pieces += [later[:, start : k - 1], later[:, k - 1 : k] + parts[:, by_delay[k], None]]
            start = k
        pieces.append(later[:, start:])
        new_pending = keras.ops.concatenate(pieces, axis=1)
        return output, [output, keras.ops.reshape(new_pending, (-1, m * h))]
