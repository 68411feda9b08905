"""The Elman recurrence through PyTorch's RNN kernel (what `torch.nn.RNN` runs)."""

import torch

_KERNELS = {"tanh": torch.rnn_tanh, "relu": torch.rnn_relu}


def _kernel_parameters(kernel, recurrent_kernel, bias):
    # PyTorch keeps the weights transposed, (H, D) and (H, H), and adds two
    # biases (input and recurrent); ours is the first, the second is zero.
    params = [kernel.T, recurrent_kernel.T]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
    return params


def elman_with_lengths(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    activation,
    *,
    lengths,
    zero_output_for_mask,
):
    """`elman` over right-padded sequences of the given (B,) lengths (all >= 1), forwards.

    The state stops at each sequence's last step; the outputs at padded
    steps are that state (what the step loop carries), or zeros with
    `zero_output_for_mask`. On a GPU the kernel runs on a packed sequence
    (cuDNN takes the lengths itself); on the CPU, where PyTorch's backward
    pass of a packed sequence measured 4-5x slower than the plain kernel's,
    it runs over the whole padded batch (see `_padded_elman`).
    """
    run = _packed_elman if inputs.is_cuda else _padded_elman
    outputs, last_state = run(
        inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths
    )
    steps = inputs.shape[1]
    real = (torch.arange(steps, device=inputs.device)[None, :] < lengths[:, None])[..., None]
    padding = torch.zeros_like(outputs) if zero_output_for_mask else last_state[:, None]
    return torch.where(real, outputs, padding), last_state


def _padded_elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths):
    """The plain kernel over the padded batch, and each sequence's state at its last step.

    Exact for right padding: a step's output depends only on the steps
    before it, so the outputs up to each sequence's length are its own, and
    no gradient reaches the padded steps (their outputs are replaced).
    """
    outputs, _ = elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, False)
    rows = torch.arange(inputs.shape[0], device=inputs.device)
    return outputs, outputs[rows, lengths - 1]


def _packed_elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, lengths):
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


def elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """`(outputs, last_state)` of h_t = act(x_t W + h_{t-1} U + b); see `fused_elman`."""
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


_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
_OUTPUT_ACTIVATIONS = {"linear": None, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def _derivative(activation, h):
    """act'(z) from h = act(z): 1 - h^2 for tanh, [h > 0] for relu."""
    if activation == "tanh":
        return 1.0 - h * h
    return (h > 0).to(h.dtype)


def _output_derivative(output_activation, y):
    """output_act'(a) from y = output_act(a); None for linear (a factor of 1)."""
    if output_activation == "tanh":
        return 1.0 - y * y
    if output_activation == "sigmoid":
        return y * (1.0 - y)
    return None


class _JordanRecurrence(torch.autograd.Function):
    """(outputs y, contexts c), each (T, B, O), time-major; see `fused_jordan`.

    `keep` (T, B, 1) of 0/1, or None: where 0 the step is masked and the
    context is carried unchanged (its output y is computed but unused). Both
    loops run outside autograd: one graph node for the whole sequence.
    """

    @staticmethod
    def forward(ctx, projection, c0, recurrent_kernel, output_kernel, output_bias, keep, options):
        decay, activation, output_activation = options
        act, out_act = _ACTIVATIONS[activation], _OUTPUT_ACTIVATIONS[output_activation]
        steps = projection.shape[0]
        hidden = torch.empty_like(projection)
        outputs = projection.new_empty((steps, *c0.shape))
        contexts = torch.empty_like(outputs)
        c = c0
        for t in range(steps):
            h = act(torch.addmm(projection[t], c, recurrent_kernel))
            y = torch.addmm(output_bias, h, output_kernel)
            y = out_act(y) if out_act is not None else y
            new = y + decay * c if decay else y
            c = new if keep is None else torch.where(keep[t] > 0, new, c)
            hidden[t], outputs[t], contexts[t] = h, y, c
        ctx.save_for_backward(hidden, outputs, contexts, c0, recurrent_kernel, output_kernel, keep)
        ctx.options = options
        return outputs, contexts

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_outputs, grad_contexts):
        hidden, outputs, contexts, c0, recurrent_kernel, output_kernel, keep = ctx.saved_tensors
        decay, activation, output_activation = ctx.options
        u_t, v_t = recurrent_kernel.T, output_kernel.T
        grad_a = torch.empty_like(outputs)
        grad_z = torch.empty_like(hidden)
        grad_next = torch.zeros_like(c0)
        for t in range(outputs.shape[0] - 1, -1, -1):
            k = None if keep is None else keep[t]
            # d loss / d c_t: its own use, and through c_{t+1} (decay and U).
            grad_c = grad_contexts[t] + grad_next
            # c_t = decay c_{t-1} + y_t, or c_{t-1} where the step is masked.
            a = grad_outputs[t] + (grad_c if k is None else k * grad_c)
            derivative = _output_derivative(output_activation, outputs[t])
            if derivative is not None:
                a = a * derivative
            z = torch.mm(a, v_t) * _derivative(activation, hidden[t])
            grad_next = torch.mm(z, u_t)
            carried = decay if k is None else decay * k + (1 - k)
            if decay or k is not None:
                grad_next = grad_next + carried * grad_c
            grad_a[t], grad_z[t] = a, z
        previous = torch.cat([c0[None], contexts[:-1]], dim=0)
        # The weights' gradients: one product over all steps each, not one per step.
        flat = lambda x: x.reshape(-1, x.shape[-1])  # noqa: E731
        return (
            grad_z,
            grad_next,
            flat(previous).T @ flat(grad_z),
            flat(hidden).T @ flat(grad_a),
            grad_a.sum(dim=(0, 1)),
            None,
            None,
        )


def _held_outputs(outputs, keep, zero_output_for_mask):
    """Keras's masking rule on (T, B, O) outputs: a masked step repeats the last
    unmasked step's output (zeros before the first one), or is zeros."""
    if zero_output_for_mask:
        return outputs * keep
    steps = torch.arange(outputs.shape[0], device=outputs.device)[:, None]
    last = torch.cummax(torch.where(keep[..., 0] > 0, steps, -1), dim=0).values
    held = torch.gather(outputs, 0, last.clamp(min=0)[..., None].expand_as(outputs))
    return held * (last >= 0)[..., None].to(outputs.dtype)


def jordan(
    inputs,
    initial_state,
    kernel,
    recurrent_kernel,
    bias,
    output_kernel,
    output_bias,
    *,
    decay,
    activation,
    output_activation,
    go_backwards,
    mask=None,
    zero_output_for_mask=False,
):
    """`(outputs, last_state)` of the Jordan recurrence; see `fused_jordan`."""
    projection = inputs.transpose(0, 1) @ kernel
    if bias is not None:
        projection = projection + bias
    keep = None if mask is None else mask.transpose(0, 1)[..., None].to(inputs.dtype)
    if go_backwards:
        projection = torch.flip(projection, dims=(0,))
        keep = None if keep is None else torch.flip(keep, dims=(0,))
    if output_bias is None:
        output_bias = projection.new_zeros((output_kernel.shape[1],))
    # A copy of c_0, as for `elman`: a stateful layer overwrites its variable
    # in place before the backward pass that needs c_0.
    outputs, contexts = _JordanRecurrence.apply(
        projection.contiguous(),
        initial_state.clone(),
        recurrent_kernel,
        output_kernel,
        output_bias,
        keep,
        (decay, activation, output_activation),
    )
    if keep is not None:
        outputs = _held_outputs(outputs, keep, zero_output_for_mask)
    return outputs.transpose(0, 1), contexts[-1]
