"""The Elman recurrence through PyTorch's RNN kernel (what `torch.nn.RNN` runs)."""

import torch

_KERNELS = {"tanh": torch.rnn_tanh, "relu": torch.rnn_relu}


def elman(inputs, initial_state, kernel, recurrent_kernel, bias, activation, go_backwards):
    """`(outputs, last_state)` of h_t = act(x_t W + h_{t-1} U + b); see `fused_elman`."""
    if go_backwards:
        inputs = torch.flip(inputs, dims=(1,))
    # PyTorch keeps the weights transposed, (H, D) and (H, H), and adds two
    # biases (input and recurrent); ours is the first, the second is zero.
    params = [kernel.T, recurrent_kernel.T]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
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
