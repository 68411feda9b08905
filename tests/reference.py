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


def layer_norm(z, scale, offset, epsilon=1e-3):
    """Ba et al. 2016: normalise over the units, then scale and offset."""
    mean = z.mean(axis=-1, keepdims=True)
    variance = z.var(axis=-1, keepdims=True)
    return (z - mean) / np.sqrt(variance + epsilon) * scale + offset


def zoneout(new, old, keep):
    """Krueger et al. 2016: `keep` is a 0/1 mask (training) or the rate (inference)."""
    return keep * old + (1 - keep) * new


def elman(
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    activation="tanh",
    h0=None,
    mask=None,
    norm=None,
    keep=None,
):
    """h_t = act(x_t W + h_{t-1} U + b); masked steps keep h. Returns (B, T, H).

    `norm=(scale, offset)` normalises the pre-activation (layer norm);
    `keep` applies zoneout: a (B, T, H) 0/1 array or a rate (its expectation).
    """
    act = ACTIVATIONS[activation]
    batch, steps, _ = x.shape
    h = np.zeros((batch, kernel.shape[1])) if h0 is None else np.array(h0, dtype=float)
    outputs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel
        if bias is not None:
            z = z + bias
        if norm is not None:
            z = layer_norm(z, *norm)
        new_h = act(z)
        if keep is not None:
            new_h = zoneout(new_h, h, keep if np.isscalar(keep) else keep[:, t])
        if mask is not None:
            new_h = np.where(mask[:, t, None], new_h, h)
        h = new_h
        outputs.append(h)
    return np.stack(outputs, axis=1)


def elman_bptt(
    x,
    kernel,
    recurrent_kernel,
    bias,
    output_weights,
    activation="tanh",
    clip=None,
    clip_mode="value",
    truncate=None,
):
    """Back-propagation through time for an Elman net, written out by hand.

    The loss is sum(output_weights * h) over all steps. The gradient that flows
    from step t back into the state h_{t-1} is clipped (elementwise to
    [-clip, clip], or each sample's vector to norm <= clip), and with
    `truncate=k` it is cut (zero) at every step t = k, 2k, ... (0-based).

    Returns (d kernel, d recurrent_kernel, d bias, d x, [the gradient into
    h_{t-1} from step t, for every t, after clipping]).
    """
    derivatives = {
        "tanh": lambda h: 1 - h**2,
        "relu": lambda h: (h > 0).astype(float),
        "linear": lambda h: np.ones_like(h),
    }
    h = elman(x, kernel, recurrent_kernel, bias, activation)
    batch, steps, _ = x.shape
    previous = np.concatenate([np.zeros((batch, 1, h.shape[2])), h[:, :-1]], axis=1)
    d_kernel = np.zeros_like(kernel)
    d_recurrent = np.zeros_like(recurrent_kernel)
    d_bias = np.zeros(kernel.shape[1])
    d_x = np.zeros_like(x)
    into_state = [None] * steps
    from_later = np.zeros((batch, h.shape[2]))
    for t in reversed(range(steps)):
        d_h = output_weights[:, t] + from_later
        d_a = d_h * derivatives[activation](h[:, t])
        d_kernel += x[:, t].T @ d_a
        d_recurrent += previous[:, t].T @ d_a
        d_bias += d_a.sum(axis=0)
        d_x[:, t] = d_a @ kernel.T
        back = d_a @ recurrent_kernel.T
        if truncate and t > 0 and t % truncate == 0:
            back = np.zeros_like(back)
        if clip is not None and clip_mode == "value":
            back = np.clip(back, -clip, clip)
        elif clip is not None:
            norm = np.linalg.norm(back, axis=-1, keepdims=True)
            back = back * np.minimum(1.0, clip / np.maximum(norm, 1e-12))
        into_state[t] = back
        from_later = back
    return d_kernel, d_recurrent, d_bias, d_x, into_state


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
    norm=None,
    keep=None,
    mask=None,
):
    """Jordan network. Returns (outputs y (B, T, O), contexts c (B, T, O)).

    h_t = act(x_t W + c_{t-1} U + b), y_t = out_act(h_t V + b_o),
    c_t = decay c_{t-1} + fed_t, where fed_t = y_t, or, with teacher forcing,
    targets_t where use_own[:, t] is 0. `norm` and `keep` as in `elman`
    (zoneout acts on the context); masked steps keep c (their y is returned
    as computed: what a layer outputs there is Keras's masking rule).
    """
    act, out_act = ACTIVATIONS[activation], ACTIVATIONS[output_activation]
    batch, steps, _ = x.shape
    c = np.zeros((batch, output_kernel.shape[1])) if c0 is None else np.array(c0, dtype=float)
    ys, cs = [], []
    for t in range(steps):
        z = x[:, t] @ kernel + c @ recurrent_kernel
        if bias is not None:
            z = z + bias
        if norm is not None:
            z = layer_norm(z, *norm)
        h = act(z)
        y = h @ output_kernel
        if output_bias is not None:
            y = y + output_bias
        y = out_act(y)
        fed = y
        if targets is not None:
            own = np.zeros((batch, 1)) if use_own is None else use_own[:, t]
            fed = own * y + (1 - own) * targets[:, t]
        new_c = context_decay * c + fed
        new_c = (
            new_c if keep is None else zoneout(new_c, c, keep if np.isscalar(keep) else keep[:, t])
        )
        c = new_c if mask is None else np.where(mask[:, t, None], new_c, c)
        ys.append(y)
        cs.append(c)
    return np.stack(ys, axis=1), np.stack(cs, axis=1)


def narx(
    x,
    kernel,
    recurrent_kernel,
    bias,
    output_kernel,
    output_bias,
    input_delays=(1, 2),
    feedback_delays=(1, 2),
    activation="tanh",
    x0=None,
    y0=None,
    targets=None,
    use_own=None,
    norm=None,
    mask=None,
):
    """NARX network (MATLAB's narxnet). Returns (outputs y (B, T, O), fed back (B, T, O)).

    h_t = act(sum_{i in input_delays} x_{t-i} W_i + sum_{j in feedback_delays} yhat_{t-j} R_j
    + b), y_t = h_t V + c, with yhat_t = y_t (closed loop), or, with teacher forcing (open
    loop), targets_t where use_own[:, t] is 0. Both delay lines are shift registers that hold
    zeros before the first step, or x0 (B, max(input_delays), D) = x_{-1}, x_{-2}, ... and
    y0 (B, max(feedback_delays), O) = yhat_{-1}, yhat_{-2}, ...; a masked step shifts neither
    (its y is returned as computed). `norm` as in `elman`.
    """
    act = ACTIVATIONS[activation]
    batch, steps, features = x.shape
    m, n, o = max(input_delays), max(feedback_delays), output_kernel.shape[1]
    # Before step t: x_line[:, k] = x_{t-1-k}, y_line[:, k] = yhat_{t-1-k}.
    x_line = np.zeros((batch, m + 1, features))
    if x0 is not None:
        x_line[:, :m] = x0
    y_line = np.zeros((batch, n, o)) if y0 is None else np.array(y0, dtype=float)
    ys, fed_back = [], []
    for t in range(steps):
        seen = np.concatenate([x[:, t, None], x_line[:, :-1]], axis=1)  # seen[:, i] = x_{t-i}
        z = sum(seen[:, i] @ w for i, w in zip(input_delays, kernel))
        z = z + sum(y_line[:, j - 1] @ r for j, r in zip(feedback_delays, recurrent_kernel))
        if bias is not None:
            z = z + bias
        if norm is not None:
            z = layer_norm(z, *norm)
        y = act(z) @ output_kernel
        if output_bias is not None:
            y = y + output_bias
        fed = y
        if targets is not None:
            own = np.zeros((batch, 1)) if use_own is None else use_own[:, t]
            fed = own * y + (1 - own) * targets[:, t]
        shifted = np.concatenate([fed[:, None], y_line[:, :-1]], axis=1)
        keep = np.ones((batch, 1, 1), bool) if mask is None else mask[:, t, None, None]
        x_line = np.where(keep, seen, x_line)
        y_line = np.where(keep, shifted, y_line)
        ys.append(y)
        fed_back.append(fed)
    return np.stack(ys, axis=1), np.stack(fed_back, axis=1)


def narx_states(x, fed_back, kernel, input_delays, feedback_delays, x0=None, y0=None):
    """NarxCell's states after the last step of `narx` (no mask), from their definitions.

    The feedback line (B, n O): yhat_{T-1}, ..., yhat_{T-n}, oldest last. Unless
    input_delays is (0,), the input line (B, m H): its slot k (k = 1..m) is what the
    inputs seen so far add to the pre-activation of step T-1+k,
    sum over i in input_delays, i >= k, of x_{T-1+k-i} W_i.
    """
    batch, steps, _ = x.shape
    m, n = max(input_delays), max(feedback_delays)
    history = x if x0 is None else np.concatenate([x0[:, ::-1], x], axis=1)
    fed = fed_back if y0 is None else np.concatenate([y0[:, ::-1], fed_back], axis=1)
    start = history.shape[1] - steps  # index of x_0 in `history`

    def x_at(s):
        return history[:, start + s] if start + s >= 0 else np.zeros_like(history[:, 0])

    def fed_at(s):
        index = fed.shape[1] - steps + s
        return fed[:, index] if index >= 0 else np.zeros_like(fed[:, 0])

    lines = [np.concatenate([fed_at(steps - j) for j in range(1, n + 1)], axis=-1)]
    if m:
        slots = [
            sum(
                (x_at(steps - 1 + k - i) @ w for i, w in zip(input_delays, kernel) if i >= k),
                np.zeros((batch, kernel.shape[-1])),
            )
            for k in range(1, m + 1)
        ]
        lines.append(np.concatenate(slots, axis=-1))
    return lines


def tdnn(
    x, kernel, bias=None, context=(0,), padding="same", stride=1, activation="relu", mask=None
):
    """y_t = act(b + sum_i x_{t+context[i]} W_i), out-of-range inputs are zeros.

    "same": t in [0, T); "valid": t in [-min, T-1-max]; "causal" (offsets <= 0
    only): t in [0, T), as "same"; then every stride-th.
    Masked inputs count as zeros.
    """
    act = ACTIVATIONS[activation]
    batch, steps, _ = x.shape
    if mask is not None:
        x = x * mask[..., None]
    if padding == "causal":
        assert max(context) <= 0, "a causal TDNN has no future offsets"
    if padding in ("same", "causal"):
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
