"""One output-feedback recurrence, its masking rule and its backward pass, for every backend.

For c_0 the initial state, one step of the recurrence is

    h_t = activation(x_t W + c_{t-1} U + b)
    y_t = output_activation(h_t V + b_o)     (no output layer: y_t = h_t)
    c_t = decay c_{t-1} + y_t                (no output layer: decay = 0, so c_t = h_t)

An Elman cell is the recurrence without an output layer, a Jordan cell the one with it.
Cells' `step` and the fused loops call `recurrence`; Keras's masking rule is `masked`.

The fused recurrence (`run`) is one differentiable operation: the input projection of all
steps in one product, a loop over the rest (`scan_step`) and a hand-written backward pass
(`backward_step`, then each weight's gradient in one product). Every backend module
exports `OPS` (per-step primitives), `feedback` (both loops), `feedback_last` (the last
step only) and `native_rnn` / `native_rnn_reason` (a vendor's kernel, where there is one).
"""

import contextlib
import contextvars
import importlib
import types
from typing import NamedTuple

import keras

# Hidden activations with a fused form, by the function Keras resolves them to.
ACTIVATIONS = {keras.activations.tanh: "tanh", keras.activations.relu: "relu"}
# Output activations with a fused form; each has a derivative that its own output gives.
OUTPUT_ACTIVATIONS = {
    keras.activations.linear: "linear",
    keras.activations.tanh: "tanh",
    keras.activations.sigmoid: "sigmoid",
}
MODULES = {
    "torch": "keras_rnnkit.backend.torch_rnn",
    "jax": "keras_rnnkit.backend.jax_rnn",
    "tensorflow": "keras_rnnkit.backend.tensorflow_rnn",
}
# The per-step primitives for a cell's own step (any backend, through keras.ops).
KERAS_OPS = types.SimpleNamespace(
    affine=lambda p, x, w: p + keras.ops.matmul(x, w),
    where=keras.ops.where,
    zeros_like=keras.ops.zeros_like,
)


# Set while an exporter traces (`portable()`).
PORTABLE = contextvars.ContextVar("portable", default=False)


@contextlib.contextmanager
def portable():
    """Traces inside use only plain ops, what an exported file must hold: no vendor
    kernel (cuDNN's has no CPU kernel), no XLA-compiled function."""
    token = PORTABLE.set(True)
    try:
        yield
    finally:
        PORTABLE.reset(token)


def backend_module():
    """The current backend's module (the same names in each; see above)."""
    return importlib.import_module(MODULES[keras.backend.backend()])


class Feedback(NamedTuple):
    """The static options of one recurrence (hashable: JAX takes them as static).

    Activations are functions in a cell's step, names in the fused loops; no
    `output_activation`: no output layer. `mask_rule`: None, "previous" or "zeros".
    """

    activation: object
    output_activation: object = None
    decay: float = 0.0
    mask_rule: str | None = None

    @property
    def has_output_layer(self):
        return self.output_activation is not None

    @property
    def shows_flag(self):
        """Whether the fused loops carry a (B, 1) flag, not the shown output: without an
        output layer a masked step shows the kept state or zeros, so flag_t c_t."""
        return not self.has_output_layer and self.mask_rule is not None

    @property
    def stacks_outputs(self):
        """Whether the fused loops carry the outputs (or the flag) beside the states."""
        return self.has_output_layer or self.mask_rule is not None


class Weights(NamedTuple):
    """U, V and b_o (None without an output layer), or the kernels transposed."""

    recurrent_kernel: object
    output_kernel: object = None
    output_bias: object = None


class FusedForm(NamedTuple):
    """A cell's recurrence as the fused loops run it: `Feedback` with activation names,
    W (D, H), b (H,) or None, `Weights` (None before the cell is built)."""

    options: Feedback
    kernel: object = None
    bias: object = None
    weights: Weights | None = None


def fused_form(feedback, kernel, bias, weights):
    """`FusedForm` of a cell's `Feedback`, or a string saying why it has none."""
    activation = ACTIVATIONS.get(feedback.activation)
    if activation is None:
        return "the activation is not tanh or relu"
    output_activation = None
    if feedback.has_output_layer:
        output_activation = OUTPUT_ACTIVATIONS.get(feedback.output_activation)
        if output_activation is None:
            return "the output activation is not linear, tanh or sigmoid"
    options = Feedback(activation, output_activation, float(feedback.decay))
    return FusedForm(options, kernel, bias, weights)


def _activate(ops, activation, x):
    """`activation(x)`: a function, or the name of one of `ops`'."""
    return getattr(ops, activation)(x) if isinstance(activation, str) else activation(x)


def recurrence(
    ops, options, weights, context, projection, *, fed=None, normalize=None, target=None
):
    """One step, `(y_t, c_t)`, from `projection` = x_t W + b; `ops`: `KERAS_OPS` or `OPS`.

    A cell's step may add `fed` (what multiplies U: recurrent dropout), `normalize`
    (layer norm of the pre-activation) and `target=(target_t, use_own_t)` (teacher
    forcing: c_t is fed from `use_own y_t + (1 - use_own) target_t`).
    """
    pre_activation = ops.affine(
        projection, context if fed is None else fed, weights.recurrent_kernel
    )
    if normalize is not None:
        pre_activation = normalize(pre_activation)
    hidden = _activate(ops, options.activation, pre_activation)
    if not options.has_output_layer:
        return hidden, hidden
    # A cell without biases has none; the fused loops get zeros (`run`).
    output_bias = 0.0 if weights.output_bias is None else weights.output_bias
    output = ops.affine(output_bias, hidden, weights.output_kernel)
    if options.output_activation != "linear":
        output = _activate(ops, options.output_activation, output)
    fed_back = output
    if target is not None:
        target, use_own = target
        fed_back = use_own * output + (1.0 - use_own) * target
    return output, options.decay * context + fed_back if options.decay else fed_back


def masked(ops, keep, new_states, states, output, held, zero_output_for_mask):
    """Keras's masking rule: `(new_states, output)`. A masked step (`keep` (B, 1) is 0, or
    None: no mask) keeps every state and shows `held`, the last unmasked step's output
    (zeros before one), or zeros with `zero_output_for_mask`."""
    if keep is None:
        return new_states, output
    kept = keep > 0.5
    new_states = [ops.where(kept, new, old) for new, old in zip(new_states, states)]
    shown = ops.zeros_like(output) if zero_output_for_mask else held
    return new_states, ops.where(kept, output, shown)


def scan_step(ops, options, weights, carry, projection, keep):
    """One step of the fused loops: the new carry, which they stack (the "returned"):
    `(flag, contexts)`, `(outputs, contexts)` or `(contexts,)`, by `stacks_outputs`."""
    context = carry[-1]
    output, new = recurrence(ops, options, weights, context, projection)
    if not options.stacks_outputs:
        return (new,)
    if options.shows_flag:
        output = ops.ones_like(carry[0])
    (new,), output = masked(
        ops, keep, [new], [context], output, carry[0], options.mask_rule == "zeros"
    )
    return (output, new)


def initial_carry(ops, options, initial):
    """The carry before the first step: zeros for the output or flag (if carried), c_0."""
    if not options.stacks_outputs:
        return (initial,)
    return (ops.zeros_like(initial[:, :1] if options.shows_flag else initial), initial)


def outputs_of(options, returned):
    """The outputs a layer shows, from the returned tensors (stacked or last)."""
    if options.shows_flag:
        # The flag depends on the mask alone: no gradient to compute for it.
        return keras.ops.stop_gradient(returned[0]) * returned[-1]
    return returned[0]


def last_of(options, carry):
    """`(y_T, c_T)` of the last carry."""
    return outputs_of(options, carry), carry[-1]


def initial_gradient_carry(options, zeros):
    """The reverse loop's carry after the last step: zeros."""
    return (zeros, zeros) if options.has_output_layer else (zeros,)


def last_step_gradients(options, returned, grad_output, grad_context):
    """The gradients of the stacked `returned`, from those of `feedback_last`'s results."""
    contexts = returned[-1]
    steps = keras.ops.shape(contexts)[0]
    grad_output = keras.ops.zeros_like(contexts[-1]) if grad_output is None else grad_output
    grad_context = keras.ops.zeros_like(contexts[-1]) if grad_context is None else grad_context
    at_last = keras.ops.cast(keras.ops.arange(steps) == steps - 1, contexts.dtype)[:, None, None]
    if options.has_output_layer:
        return at_last * grad_output[None], at_last * grad_context[None]
    if options.shows_flag:
        # y_T = flag_T c_T; the flag has no gradient.
        grad_output = returned[0][-1] * grad_output
        return keras.ops.zeros_like(returned[0]), at_last * (grad_output + grad_context)[None]
    return (at_last * (grad_output + grad_context)[None],)


def saved_for_backward(ops, options, weights, projection, initial, returned):
    """What the backward pass reads: the contexts (h_t = c_t where unmasked; masked steps
    have no gradient), or with an output layer `(hidden, *returned)`, h_t recomputed."""
    if not options.has_output_layer:
        return returned[-1:]
    previous = entering_states(ops, initial, returned[-1])
    pre_activation = projection + keras.ops.matmul(previous, weights.recurrent_kernel)
    return (getattr(ops, options.activation)(pre_activation), *returned)


def entering_states(ops, initial, contexts):
    """c_{t-1} for every step t: the initial state, then the contexts but the last."""
    return ops.concat([initial[None], contexts[:-1]])


def _times_derivative(ops, activation, grad, value):
    """grad * f'(z) from value = f(z), for the activations of this module."""
    if activation == "tanh":
        return grad * (1.0 - value * value)
    if activation == "sigmoid":
        return grad * (value * (1.0 - value))
    if activation == "relu":
        return grad * ops.positive(value)
    return grad  # linear


def backward_step(ops, options, transposed, carry, grads, saved, keep):
    """One step of the reverse loop: `(new_carry, per_step)`.

    `carry`: the gradients reaching step t's shown output (with an output layer: through
    later held outputs) and state; `grads`: those of step t's returned tensors (the
    flag's is unused: `outputs_of` routes the shown outputs' to the contexts); `saved`:
    step t's `saved_for_backward`. `new_carry` is the same for step t-1; `per_step` is
    `(dL/da_t, dL/dz_t)` (output and hidden pre-activations), or `(dL/dz_t,)`.
    """
    grad_context = grads[-1] + carry[-1]
    # y_t reaches the shown output o_t and the new state (the gradient of `masked`).
    into_output = grad_context
    if options.has_output_layer:
        grad_shown = grads[0] + carry[0]
        into_output = grad_shown + grad_context
    if keep is not None:
        into_output = keep * into_output
    if options.has_output_layer:
        hidden, output = saved[0], saved[1]
        grad_a = _times_derivative(ops, options.output_activation, into_output, output)
        grad_hidden = grad_a @ transposed.output_kernel
    else:
        hidden = saved[-1]
        grad_hidden = into_output
    grad_z = _times_derivative(ops, options.activation, grad_hidden, hidden)
    grad_previous = grad_z @ transposed.recurrent_kernel
    if keep is not None:
        # A masked step carries c_{t-1} whole; an unmasked one `decay` of it.
        carried = options.decay * keep + (1 - keep) if options.decay else 1 - keep
        grad_previous = grad_previous + carried * grad_context
    elif options.decay:
        grad_previous = grad_previous + options.decay * grad_context
    if not options.has_output_layer:
        return (grad_previous,), (grad_z,)
    per_step = (grad_a, grad_z)
    # A masked step shows o_{t-1} (Keras's rule), unless it shows zeros.
    if keep is None or options.mask_rule == "zeros":
        grad_held = ops.zeros_like(grad_shown)
    else:
        grad_held = (1 - keep) * grad_shown
    return (grad_held, grad_previous), per_step


def weight_gradients(ops, options, initial, saved, per_step):
    """`Weights` of gradients, each one product over the stacked (T, B, .) tensors."""
    previous = entering_states(ops, initial, saved[-1])
    grad_z = per_step[-1]
    if not options.has_output_layer:
        return Weights(ops.sum_of_products(previous, grad_z))
    grad_a = per_step[0]
    return Weights(
        ops.sum_of_products(previous, grad_z),
        ops.sum_of_products(saved[0], grad_a),
        ops.sum_over_steps(grad_a),
    )


def two_dimensional(mask):
    """A (B, T) mask from a (B, T) or (B, T, 1) one; None stays None."""
    return mask[..., 0] if mask is not None and len(mask.shape) == 3 else mask


def weights_as_tensors(inputs, *weights):
    """Variables as the backend's tensors in the inputs' dtype, as autocast or a
    stateless call reads them (None stays None)."""
    as_tensor = backend_module().OPS.as_tensor
    return [
        None if w is None else as_tensor(keras.ops.convert_to_tensor(w, dtype=inputs.dtype))
        for w in weights
    ]


def in_processing_order(inputs, mask, go_backwards):
    """The inputs and the mask as 0/1 `keep` (or None), time-major in processing order."""
    steps = keras.ops.swapaxes(inputs, 0, 1)
    keep = None
    if mask is not None:
        keep = keras.ops.cast(keras.ops.swapaxes(mask, 0, 1)[..., None], inputs.dtype)
    if go_backwards:
        # The inputs, not their projection: D values a step, usually fewer than H.
        steps = keras.ops.flip(steps, axis=0)
        keep = None if keep is None else keras.ops.flip(keep, axis=0)
    return steps, keep


def project(inputs, kernel, bias=None):
    """x_t W + b, of one step or all steps in one product (`keras.ops.add`: TF's BiasAdd)."""
    # Keras's PyTorch `matmul` returns float32 from float64 operands: cast back.
    projection = keras.ops.cast(keras.ops.matmul(inputs, kernel), inputs.dtype)
    return projection if bias is None else keras.ops.add(projection, bias)


def input_gradients(ops, inputs, kernel, bias, grad_projection):
    """dL/dx, dL/dW and dL/db (or None) from dL/d(x_t W + b), one product each."""
    grad_inputs = keras.ops.matmul(grad_projection, keras.ops.transpose(kernel))
    grad_bias = None if bias is None else ops.sum_over_steps(grad_projection)
    return grad_inputs, ops.sum_of_products(inputs, grad_projection), grad_bias


def run(inputs, initial_state, form, *, go_backwards, mask=None, native=False, last_only=False):
    """The fused recurrence of `form` over `inputs` (B, T, D): `(outputs, c_T)`, the outputs
    (B, T, O) in processing order, or (B, 1, O) from a loop that stacks nothing with
    `last_only`; `native` runs the backend's `native_rnn` instead."""
    module = backend_module()
    options = form.options
    kernel, bias, *weights = weights_as_tensors(inputs, form.kernel, form.bias, *form.weights)
    if native:
        lengths = None
        if mask is not None:
            lengths = keras.ops.sum(keras.ops.cast(two_dimensional(mask), "int32"), axis=1)
        return module.native_rnn(
            inputs,
            initial_state,
            kernel,
            weights[0],
            bias,
            options.activation,
            go_backwards=go_backwards,
            lengths=lengths,
            zero_output_for_mask=options.mask_rule == "zeros",
        )
    if options.has_output_layer and weights[2] is None:
        weights[2] = keras.ops.zeros((keras.ops.shape(weights[1])[1],), inputs.dtype)
    weights = Weights(*weights)
    steps, keep = in_processing_order(
        module.OPS.as_tensor(inputs), two_dimensional(mask), go_backwards
    )
    arguments = (steps, kernel, bias, initial_state, weights, keep, options)
    if last_only:
        output, context = module.feedback_last(*arguments)
        return output[:, None], context
    returned = module.feedback(*arguments)
    return keras.ops.swapaxes(outputs_of(options, returned), 0, 1), returned[-1][-1]
