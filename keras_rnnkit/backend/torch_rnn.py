"""The engine's recurrence on torch: Python loops forwards and backwards inside one
`torch.autograd.Function`; and PyTorch's own Elman kernel (what `torch.nn.RNN` runs).

The loops record one graph node per sequence instead of several per step.
"""

import types

import keras
import torch

from keras_rnnkit.backend import engine

_KERNELS = {"tanh": torch.rnn_tanh, "relu": torch.rnn_relu}


def _kernel_parameters(kernel, recurrent_kernel, bias):
    # PyTorch keeps the weights transposed, (H, D) and (H, H), and adds two
    # biases (input and recurrent); ours is the first, the second is zero.
    params = [kernel.T, recurrent_kernel.T]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
    return params


# PyTorch's CPU kernel has no float16 path.
_KERNEL_DTYPES = ("float32", "float64")


def native_rnn_reason(compute_dtype, mask, go_backwards):
    """Why PyTorch's kernel cannot run this call, or None when it can.

    It can in float32 and float64, without a mask, or with a right-padded
    one (every row a run of True, at least one, then only False) and the
    layer running forwards: it takes the mask as sequence lengths. A check of
    the mask's values: the torch backend runs eagerly.
    """
    if compute_dtype not in _KERNEL_DTYPES:
        return f"PyTorch's CPU kernel has no {compute_dtype} path"
    if mask is None:
        return None
    if go_backwards:
        return "a mask is given with go_backwards"
    mask = keras.ops.convert_to_tensor(engine.two_dimensional(mask)).bool()
    lengths = mask.sum(dim=1)
    right_padded = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
    if not bool(torch.equal(mask, right_padded)):
        return "the mask is not right-padded (a run of True, then only False, in every row)"
    if not bool((lengths > 0).all()):
        return "the mask has a sequence without any step"
    return None


def native_rnn(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    *,
    go_backwards,
    lengths=None,
    zero_output_for_mask=False,
):
    """The recurrence without an output layer through PyTorch's kernel; `lengths` (B,) for
    right-padded sequences (all >= 1, forwards only; see `native_rnn_reason`), or None.

    The state stops at each sequence's last step; the outputs at padded
    steps are that state (what the step loop carries), or zeros with
    `zero_output_for_mask`. On a GPU the kernel runs on a packed sequence
    (cuDNN takes the lengths itself); on the CPU it runs over the whole
    padded batch (see `_padded_kernel`), since there PyTorch's backward pass
    of a packed sequence is several times slower than the plain kernel's
    (docs/benchmarks.md, "Which path runs").
    """
    if lengths is None:
        return _whole_kernel(
            inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards
        )
    run = _packed_kernel if inputs.is_cuda else _padded_kernel
    outputs, last_state = run(
        inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths
    )
    steps = inputs.shape[1]
    real = (torch.arange(steps, device=inputs.device)[None, :] < lengths[:, None])[..., None]
    # Right padding: every padded step shows the last real step's output, its state.
    _, outputs = engine.masked(
        OPS, real.to(outputs.dtype), [], [], outputs, last_state[:, None], zero_output_for_mask
    )
    return outputs, last_state


def _padded_kernel(inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths):
    """The plain kernel over the padded batch, and each sequence's state at its last step.

    Exact for right padding: a step's output depends only on the steps
    before it, so the outputs up to each sequence's length are its own, and
    no gradient reaches the padded steps (their outputs are replaced).
    """
    outputs, _ = _whole_kernel(
        inputs, initial_state, kernel, recurrent_kernel, bias, activation, False
    )
    rows = torch.arange(inputs.shape[0], device=inputs.device)
    return outputs, outputs[rows, lengths - 1]


def _packed_kernel(inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths):
    """The kernel on a packed sequence: padded steps are never computed."""
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        inputs, lengths.cpu(), batch_first=True, enforce_sorted=False
    )
    # The packed batch is sorted by length: the initial state must follow it.
    h0 = initial_state.index_select(0, packed.sorted_indices).unsqueeze(0).clone()
    params = _kernel_parameters(kernel, recurrent_kernel, bias)
    data, last_state = _KERNELS[activation](
        packed.data, packed.batch_sizes, h0, params, bias is not None, 1, 0.0, False, False
    )
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(
        torch.nn.utils.rnn.PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        ),
        batch_first=True,
        total_length=inputs.shape[1],
    )
    return outputs, last_state[0].index_select(0, packed.unsorted_indices)


def _whole_kernel(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """The kernel over whole sequences: `(outputs, last_state)`."""
    if go_backwards:
        inputs = torch.flip(inputs, dims=(1,))
    params = _kernel_parameters(kernel, recurrent_kernel, bias)
    # A copy: the kernel keeps h_0 for its backward pass, and a stateful layer
    # writes its new state into the variable that h_0 came from, in place,
    # before that backward pass runs.
    outputs, last_state = _KERNELS[activation](
        inputs,
        initial_state.unsqueeze(0).clone(),
        params,
        bias is not None,  # has_biases
        1,  # num_layers
        0.0,  # dropout between layers
        False,  # train (only matters for that dropout)
        False,  # bidirectional
        True,  # batch_first
    )
    return outputs, last_state[0]


OPS = types.SimpleNamespace(
    as_tensor=lambda x: x,
    tanh=torch.tanh,
    relu=torch.relu,
    sigmoid=torch.sigmoid,
    where=torch.where,
    positive=lambda x: (x > 0).to(x.dtype),
    # One fused multiply-add per product.
    affine=torch.addmm,
    concat=lambda parts: torch.cat(parts, dim=0),
    sum_of_products=lambda a, b: a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1]),
    sum_over_steps=lambda x: x.sum(dim=(0, 1)),
    zeros_like=torch.zeros_like,
    ones_like=torch.ones_like,
)


class _Feedback(torch.autograd.Function):
    """`engine`'s loops over the steps, outside autograd: one graph node per sequence."""

    @staticmethod
    def forward(ctx, projection, initial, keep, options, *tensors):
        weights = engine.Weights(*tensors)
        steps = projection.shape[0]
        carry = engine.initial_carry(OPS, options, initial)
        returned = [projection.new_empty((steps, *value.shape)) for value in carry]
        for t in range(steps):
            step_keep = None if keep is None else keep[t]
            carry = engine.scan_step(OPS, options, weights, carry, projection[t], step_keep)
            for stack, value in zip(returned, carry, strict=True):
                stack[t] = value
        ctx.save_for_backward(projection, initial, keep, *tensors, *returned)
        ctx.options, ctx.weight_count = options, len(tensors)
        return tuple(returned)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        projection, initial, keep, *rest = ctx.saved_tensors
        tensors, returned = rest[: ctx.weight_count], rest[ctx.weight_count :]
        options = ctx.options
        saved = engine.saved_for_backward(
            OPS, options, engine.Weights(*tensors), projection, initial, returned
        )
        transposed = engine.Weights(*(w.T if w.dim() == 2 else None for w in tensors))
        per_step = None
        carry = engine.initial_gradient_carry(options, torch.zeros_like(initial))
        for t in range(saved[0].shape[0] - 1, -1, -1):
            carry, values = engine.backward_step(
                OPS,
                options,
                transposed,
                carry,
                [g[t] for g in grads],
                [s[t] for s in saved],
                None if keep is None else keep[t],
            )
            if per_step is None:
                per_step = [v.new_empty((saved[0].shape[0], *v.shape)) for v in values]
            for stack, value in zip(per_step, values, strict=True):
                stack[t] = value
        gradients = engine.weight_gradients(OPS, options, initial, saved, per_step)
        return (
            per_step[-1],
            carry[-1],
            None,
            None,
            *(g for g in gradients if g is not None),
        )


def feedback(inputs, kernel, bias, initial, weights, keep, options):
    """The returned tensors of `engine.scan_step`, stacked (T, B, .), time-major.

    `inputs` (T, B, D) in processing order; their projection is one product
    before the loops, differentiated by autograd.
    """
    projection = engine.project(inputs, kernel, bias)
    # A copy of c_0: a stateful layer writes its new state into the variable
    # that c_0 came from, in place, before the backward pass that needs c_0.
    return _Feedback.apply(
        projection.contiguous(),
        initial.clone(),
        keep,
        options,
        *(w for w in weights if w is not None),
    )


def feedback_last(inputs, kernel, bias, initial, weights, keep, options):
    """The last step's output and c_T, (B, O) each: `feedback`'s loops, whose
    backward pass needs every step's tensors, so they are stacked here too."""
    returned = feedback(inputs, kernel, bias, initial, weights, keep, options)
    return engine.last_of(options, tuple(r[-1] for r in returned))
