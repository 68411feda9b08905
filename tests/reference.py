"""Plain NumPy recurrences, written from the equations in the issue, not from the layers.

Everything here is float64 and loops over time explicitly, so that it is obviously
the textbook recurrence. `numerical_gradient` differentiates any of them by
central differences.
"""

import numpy as np

ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
    None: lambda z: z,
}


def elman(x, kernel, recurrent_kernel, bias=None, activation="tanh", h0=None, mask=None):
    """h_t = act(x_t W + h_{t-1} U + b); masked steps keep h. Returns (B, T, H)."""
    act = ACTIVATIONS[activation]
    batch, steps, _ = x.shape
    h = np.zeros((batch, kernel.shape[1])) if h0 is None else np.array(h0, dtype=float)
    outputs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel
        if bias is not None:
            z = z + bias
        new_h = act(z)
        if mask is not None:
            new_h = np.where(mask[:, t, None], new_h, h)
        h = new_h
        outputs.append(h)
    return np.stack(outputs, axis=1)


def jordan(
    x,
    kernel,
    recurrent_kernel,
    bias,
    output_kernel,
    output_bias,
    activation="tanh",
    output_activation=None,
    context_decay=0.0,
    c0=None,
    targets=None,
    use_own=None,
):
    """Jordan network. Returns (outputs y (B, T, O), contexts c (B, T, O)).

    h_t = act(x_t W + c_{t-1} U + b), y_t = out_act(h_t V + b_o),
    c_t = decay c_{t-1} + fed_t, where fed_t = y_t, or, with teacher forcing,
    targets_t where use_own[:, t] is 0.
    """
    act, out_act = ACTIVATIONS[activation], ACTIVATIONS[output_activation]
    batch, steps, _ = x.shape
    c = np.zeros((batch, output_kernel.shape[1])) if c0 is None else np.array(c0, dtype=float)
    ys, cs = [], []
    for t in range(steps):
        z = x[:, t] @ kernel + c @ recurrent_kernel
        if bias is not None:
            z = z + bias
        h = act(z)
        y = h @ output_kernel
        if output_bias is not None:
            y = y + output_bias
        y = out_act(y)
        fed = y
        if targets is not None:
            own = np.zeros((batch, 1)) if use_own is None else use_own[:, t]
            fed = own * y + (1 - own) * targets[:, t]
        c = context_decay * c + fed
        ys.append(y)
        cs.append(c)
    return np.stack(ys, axis=1), np.stack(cs, axis=1)


def tdnn(
    x, kernel, bias=None, context=(0,), padding="same", stride=1, activation="relu", mask=None
):
    """y_t = act(b + sum_i x_{t+context[i]} W_i), out-of-range inputs are zeros.

    "same": t in [0, T); "valid": t in [-min, T-1-max]; then every stride-th.
    Masked inputs count as zeros.
    """
    act = ACTIVATIONS[activation]
    batch, steps, _ = x.shape
    if mask is not None:
        x = x * mask[..., None]
    if padding == "same":
        times = range(steps)
    else:
        times = range(-min(context), steps - max(context))
    outputs = []
    for t in times:
        total = np.zeros((batch, kernel.shape[2])) if bias is None else np.tile(bias, (batch, 1))
        for i, offset in enumerate(context):
            if 0 <= t + offset < steps:
                total = total + x[:, t + offset] @ kernel[i]
        outputs.append(act(total))
    outputs = np.stack(outputs, axis=1) if outputs else np.zeros((batch, 0, kernel.shape[2]))
    return outputs[:, ::stride]


def numerical_gradient(function, arrays, epsilon=1e-6):
    """Central-difference gradient of the scalar `function(*arrays)` w.r.t. each array."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    gradients = []
    for array in arrays:
        gradient = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + epsilon
            plus = function(*arrays)
            array[index] = saved - epsilon
            minus = function(*arrays)
            array[index] = saved
            gradient[index] = (plus - minus) / (2 * epsilon)
        gradients.append(gradient)
    return gradients
