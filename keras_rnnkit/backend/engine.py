"""One output-feedback recurrence for every family, on every backend.

An Elman network is a Jordan network whose output layer is the identity and
whose context does not decay, so one recurrence with one hand-written
backward pass serves both. For c_0 the initial state:

    h_t = activation(x_t W + c_{t-1} U + b)
    y_t = output_activation(h_t V + b_o)     (Elman: no output layer, y_t = h_t)
    c_t = decay c_{t-1} + y_t                (Elman: decay = 0, so c_t = h_t)

With a mask, a masked step keeps the state (c_t = c_{t-1}), and its output
follows Keras's rule: the last unmasked step's output (zeros before the first
one), or zeros with `zero_output_for_mask`.

This module holds what does not depend on the backend: the step and its
backward step (the equations above and their derivatives, written once), the
input projection of all steps as one product and its gradients, and Keras's
masking rule. Each
backend module (`jax_rnn`, `tensorflow_rnn`, `torch_rnn`) exports the same
names: `OPS` (the few per-step primitives the steps use), `feedback` (the
loops over the steps, forwards and backwards, registered as one
differentiable operation: a `jax.custom_vjp` around `lax.scan`, a
`tf.custom_gradient` around `tf.scan`, a `torch.autograd.Function` around a
Python loop), and `native_elman` / `native_elman_reason` (a vendor's Elman
kernel where the backend has one: cuDNN through TensorFlow on a GPU,
PyTorch's RNN kernel). TensorFlow and JAX also export `feedback_last`: an
inference loop for a call that needs the last step only, which carries the
state and stacks nothing (`last_step`; its gradient is `feedback`'s, from
`last_step_gradients`). Which path a layer takes is decided in one place,
`keras_rnnkit.layers.fused_policy`.
"""

import contextlib
import contextvars
import importlib
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


# Set while an exporter traces (`portable()`).
PORTABLE = contextvars.ContextVar("portable", default=False)


@contextlib.contextmanager
def portable():
    """Traces inside this context use only the backend's plain, portable ops.

    No vendor kernel (cuDNN's has no CPU kernel) and no function compiled by
    XLA: what an exported file (SavedModel, TFLite, ONNX) must hold to serve
    on any device and convert with any tool.
    """
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

    `output_activation` None means no output layer (Elman): y_t = h_t, and
    then `decay` must be 0.
    """

    activation: str
    output_activation: str | None = None
    decay: float = 0.0

    @property
    def has_output_layer(self):
        return self.output_activation is not None


class Weights(NamedTuple):
    """The weights of the loop beyond the input projection's kernel and bias.

    `output_kernel` and `output_bias` are None without an output layer. The
    backward step takes the kernels transposed in the same tuple (once per
    sequence, not once per step).
    """

    recurrent_kernel: object
    output_kernel: object = None
    output_bias: object = None


# What one forward step gives and `feedback` returns, time-major (T, B, .),
# in this order: all the forward loop stacks.
RETURNED = {True: ("outputs", "contexts"), False: ("contexts",)}
# What the backward pass reads. Without an output layer h_t is c_t wherever
# the step is unmasked, and a masked step's h_t is never used (its gradient
# is multiplied by the 0 of the mask), so the contexts are all it needs. With
# one, the hidden layer is recomputed after the forward loop
# (`saved_for_backward`), in one product over all steps, instead of being
# stacked step by step.
SAVED = {True: ("hidden", "outputs", "contexts"), False: ("contexts",)}


def masked(ops, keep, new_states, states, output, held, zero_output_for_mask):
    """Keras's masking rule, the one place it is written: `(new_states, output)`.

    A masked step (`keep` 0) keeps every state and shows the output held from
    the last unmasked step (`held`; zeros before the first one), or zeros with
    `zero_output_for_mask`. `keep` is (B, 1) of 0/1, or None without a mask;
    `ops` is `keras.ops` or a backend's `OPS`.
    """
    if keep is None:
        return new_states, output
    kept = keep > 0.5
    new_states = [ops.where(kept, new, old) for new, old in zip(new_states, states)]
    shown = ops.zeros_like(output) if zero_output_for_mask else held
    return new_states, ops.where(kept, output, shown)


def step(ops, options, weights, context, projection, keep):
    """One forward step: `(c_t, returned)`, `returned` as named in `RETURNED`.

    `ops` is the backend's `OPS`; `projection` is x_t W + b (B, H); `keep`
    (B, 1) of 0/1, or None without a mask.
    """
    hidden = getattr(ops, options.activation)(
        ops.affine(projection, context, weights.recurrent_kernel)
    )
    if options.has_output_layer:
        output = ops.affine(weights.output_bias, hidden, weights.output_kernel)
        if options.output_activation != "linear":
            output = getattr(ops, options.output_activation)(output)
    else:
        output = hidden
    new = options.decay * context + output if options.decay else output
    new = new if keep is None else ops.where(keep > 0, new, context)
    if options.has_output_layer:
        return new, (output, new)
    return new, (new,)


def last_step(ops, options, weights, carry, projection, keep):
    """One step of the inference loop that keeps only the last step's values.

    `carry` is `(c_{t-1}, y)`: the state, and the output that Keras's
    masking rule gives at the last step so far (the last unmasked step's
    output, zeros before the first one). Returns the new carry; nothing is
    stacked.
    """
    new, returned = step(ops, options, weights, carry[0], projection, keep)
    output = returned[0] if keep is None else ops.where(keep > 0, returned[0], carry[1])
    return new, output


def last_output(held, keep, zero_output_for_mask):
    """The last step's output from `last_step`'s held one: zeros where that
    step is masked and `zero_output_for_mask` is set."""
    return held * keep[-1] if keep is not None and zero_output_for_mask else held


def last_step_gradients(options, returned, keep, zero_output_for_mask, grad_output, grad_context):
    """The gradients of `feedback`'s `returned` tensors, given those of the last
    step's output and state only (what `last_step`'s loop gives), for the
    backward pass of an inference call.

    The last output is one step's output: the last step's, or with a mask
    (Keras's rule) the last unmasked step's (zeros where there is none, or
    where the last step is masked and `zero_output_for_mask` is set).
    """
    contexts = returned[-1]
    steps = keras.ops.shape(contexts)[0]
    grad_output = keras.ops.zeros_like(contexts[-1]) if grad_output is None else grad_output
    grad_context = keras.ops.zeros_like(contexts[-1]) if grad_context is None else grad_context
    at_last = keras.ops.cast(keras.ops.arange(steps) == steps - 1, contexts.dtype)[:, None, None]
    if keep is None:
        output_step = at_last
    elif zero_output_for_mask:
        output_step = at_last * keep
    elif options.has_output_layer:
        # The last unmasked step: unmasked, and no unmasked step after it.
        later = keras.ops.flip(keras.ops.cumsum(keras.ops.flip(keep, 0), 0), 0) - keep
        output_step = keep * keras.ops.cast(later < 0.5, keep.dtype)
    else:
        # c_T is the last unmasked step's output (or c_0 where there is none).
        output_step = at_last * keras.ops.max(keep, axis=0)
    grad_outputs = output_step * grad_output[None]
    grad_contexts = at_last * grad_context[None]
    if options.has_output_layer:
        return grad_outputs, grad_contexts
    return (grad_outputs + grad_contexts,)


def saved_for_backward(ops, options, weights, projection, initial, returned):
    """The `SAVED` tensors from the forward loop's `returned` ones.

    With an output layer, h_t = activation(x_t W + b + c_{t-1} U) for all
    steps at once: c_{t-1} is the state that entered step t (the initial
    one, then the contexts), masked steps included.
    """
    if not options.has_output_layer:
        return returned
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


def backward_step(ops, options, transposed, grad_next, grads, saved, keep):
    """One step of the reverse loop: `(dL/dc_{t-1}, per_step)`.

    `transposed` is `Weights` of the transposed kernels; `grad_next` the
    gradient reaching c_t through step t+1; `grads` the gradients of step
    t's returned tensors (`RETURNED`); `saved` step t's `SAVED` tensors.
    `per_step` is `(dL/da_t, dL/dz_t)` with an output layer (a_t its
    pre-activation, z_t the hidden one), `(dL/dz_t,)` without.
    """
    # d loss / d c_t: its own use, and through c_{t+1} (decay and U).
    grad_c = grads[-1] + grad_next
    # c_t = decay c_{t-1} + y_t, or c_{t-1} where the step is masked.
    into_output = grad_c if keep is None else keep * grad_c
    if options.has_output_layer:
        hidden, output = saved[0], saved[1]
        grad_a = _times_derivative(ops, options.output_activation, grads[0] + into_output, output)
        grad_hidden = grad_a @ transposed.output_kernel
    else:
        hidden = saved[-1]
        grad_hidden = into_output
    grad_z = _times_derivative(ops, options.activation, grad_hidden, hidden)
    grad_previous = grad_z @ transposed.recurrent_kernel
    if keep is not None:
        # A masked step carries c_{t-1} whole; an unmasked one `decay` of it.
        carried = options.decay * keep + (1 - keep) if options.decay else 1 - keep
        grad_previous = grad_previous + carried * grad_c
    elif options.decay:
        grad_previous = grad_previous + options.decay * grad_c
    if options.has_output_layer:
        return grad_previous, (grad_a, grad_z)
    return grad_previous, (grad_z,)


def weight_gradients(ops, options, initial, saved, per_step):
    """The weights' gradients from all steps, each as one product over all of them.

    Returns `Weights` of gradients; `saved` and `per_step` are the stacked
    (T, B, .) tensors of the forward and backward loops.
    """
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
    """Keras variables to the backend's tensors in the inputs' (compute) dtype; None stays None.

    Inside an autocast scope and in a stateless call this gives the values
    the call must use.
    """
    as_tensor = backend_module().OPS.as_tensor
    return [
        None if w is None else as_tensor(keras.ops.convert_to_tensor(w, dtype=inputs.dtype))
        for w in weights
    ]


def in_processing_order(inputs, mask, go_backwards):
    """The inputs and the mask as 0/1 `keep` (or None), both time-major
    (T, B, ...) in processing order."""
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
    """The input projection x_t W + b of all (T, B, D) steps in one product."""
    projection = keras.ops.matmul(inputs, kernel)
    return projection if bias is None else projection + bias


def input_gradients(ops, inputs, kernel, bias, grad_projection):
    """dL/dx, dL/dW and dL/db (None without a bias) from dL/d(x_t W + b) of all
    steps, each one product or sum over all of them."""
    grad_inputs = keras.ops.matmul(grad_projection, keras.ops.transpose(kernel))
    grad_bias = None if bias is None else ops.sum_over_steps(grad_projection)
    return grad_inputs, ops.sum_of_products(inputs, grad_projection), grad_bias


def held_outputs(ops, outputs, keep, zero_output_for_mask):
    """Keras's masking rule on (T, B, O) outputs: a masked step repeats the last
    unmasked step's output (zeros before the first one), or is zeros."""
    if zero_output_for_mask:
        return outputs * keep
    steps = keras.ops.arange(keras.ops.shape(outputs)[0])[:, None]
    last = ops.cummax(keras.ops.where(keep[..., 0] > 0, steps, -1))
    held = ops.gather_steps(outputs, keras.ops.maximum(last, 0))
    return held * keras.ops.cast(last >= 0, outputs.dtype)[..., None]


def run(
    inputs,
    initial_state,
    kernel,
    bias,
    weights,
    options,
    *,
    go_backwards,
    mask=None,
    zero_output_for_mask=False,
    last_only=False,
):
    """Runs the recurrence over `inputs` (B, T, D): `(outputs, last_state)`.

    `weights` is `Weights` (tensors in the inputs' dtype), `options`
    `Feedback`. Outputs (B, T, O) in processing order (the reversed sequence
    with `go_backwards`); last_state c_T (B, O). With `last_only` the outputs
    are the last step's only, (B, 1, O): where the backend has an inference
    loop for that (`feedback_last`), it stacks nothing.
    """
    module = backend_module()
    steps, keep = in_processing_order(
        module.OPS.as_tensor(inputs), two_dimensional(mask), go_backwards
    )
    if last_only and hasattr(module, "feedback_last"):
        output, context = module.feedback_last(
            steps, kernel, bias, initial_state, weights, keep, options, zero_output_for_mask
        )
        return output[:, None], context
    returned = module.feedback(steps, kernel, bias, initial_state, weights, keep, options)
    outputs = masked_outputs(module.OPS, options, returned, keep, zero_output_for_mask)
    if last_only:
        outputs = outputs[-1:]
    return keras.ops.swapaxes(outputs, 0, 1), returned[-1][-1]


def masked_outputs(ops, options, returned, keep, zero_output_for_mask):
    """The (T, B, O) outputs from `feedback`'s `returned` tensors, Keras's masking rule applied."""
    contexts = returned[-1]
    if options.has_output_layer:
        outputs = returned[0]
        if keep is not None:
            outputs = held_outputs(ops, outputs, keep, zero_output_for_mask)
        return outputs
    if keep is None:
        return contexts
    # Without an output layer a masked step's kept state is the last
    # unmasked output: only the steps before the first unmasked one
    # (or, with `zero_output_for_mask`, every masked one) become zeros.
    seen = keep if zero_output_for_mask else keras.ops.minimum(keras.ops.cumsum(keep, 0), 1)
    return contexts * seen


def elman(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    *,
    go_backwards,
    mask=None,
    zero_output_for_mask=False,
    native=False,
    last_only=False,
):
    """The Elman recurrence h_t = act(x_t W + h_{t-1} U + b): `(outputs, last_state)`.

    `activation` is the cell's activation function (a key of `ACTIVATIONS`);
    `bias` may be None. `native` (the policy's choice) runs the backend's
    own kernel instead of `feedback`; `last_only` as `run` takes it.
    """
    kernel, recurrent_kernel, bias = weights_as_tensors(inputs, kernel, recurrent_kernel, bias)
    name = ACTIVATIONS[activation]
    if native:
        lengths = None
        if mask is not None:
            lengths = keras.ops.sum(keras.ops.cast(two_dimensional(mask), "int32"), axis=1)
        return backend_module().native_elman(
            inputs,
            initial_state,
            kernel,
            recurrent_kernel,
            bias,
            name,
            go_backwards=go_backwards,
            lengths=lengths,
            zero_output_for_mask=zero_output_for_mask,
        )
    return run(
        inputs,
        initial_state,
        kernel,
        bias,
        Weights(recurrent_kernel),
        Feedback(name),
        go_backwards=go_backwards,
        mask=mask,
        zero_output_for_mask=zero_output_for_mask,
        last_only=last_only,
    )


def jordan(
    inputs,
    initial_state,
    cell,
    *,
    go_backwards,
    mask=None,
    zero_output_for_mask=False,
    last_only=False,
):
    """The Jordan recurrence of `cell` (a built `JordanCell`): `(outputs, last_context)`.

    `last_only` as `run` takes it.
    """
    kernel, recurrent_kernel, bias, output_kernel, output_bias = weights_as_tensors(
        inputs, cell.kernel, cell.recurrent_kernel, cell.bias, cell.output_kernel, cell.output_bias
    )
    if output_bias is None:
        output_bias = keras.ops.zeros((keras.ops.shape(output_kernel)[1],), inputs.dtype)
    return run(
        inputs,
        initial_state,
        kernel,
        bias,
        Weights(recurrent_kernel, output_kernel, output_bias),
        Feedback(
            ACTIVATIONS[cell.activation],
            OUTPUT_ACTIVATIONS[cell.output_activation],
            float(cell.context_decay),
        ),
        go_backwards=go_backwards,
        mask=mask,
        zero_output_for_mask=zero_output_for_mask,
        last_only=last_only,
    )
