"""Keras's LSTM and GRU cells in plain NumPy, forwards and backwards through time, with the
per-step gradient clipping of keras_rnnkit's loop: written from the equations (Keras's gate
order and biases), not from any layer's code.

Clipping, as the loop applies it: the gradient that step t sends back into the states it
received, s_{t-1}, is clipped (elementwise to [-c, c], or per sample to norm c) before it
joins the gradient that s_{t-1} gets from its own output.
"""

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _clip(grads, threshold, mode):
    if threshold is None:
        return grads
    if mode == "value":
        return [np.clip(g, -threshold, threshold) for g in grads]
    clipped = []
    for g in grads:
        norm = np.sqrt(np.sum(g * g, axis=-1, keepdims=True))
        clipped.append(g * np.minimum(1.0, threshold / np.maximum(norm, 1e-12)))
    return clipped


def lstm_forward(x, kernel, recurrent_kernel, bias):
    """Outputs (B, T, H) and the per-step caches of `keras.layers.LSTMCell` (gates i, f, c, o)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outputs, caches = [], []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        caches.append((x[:, t], h, c, i, f, g, o, c_new))
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), caches


def lstm_gradients(x, weights, grad_outputs, clip=None, mode="value"):
    """dL/dx and the weights' gradients for dL/dy_t = `grad_outputs` (B, T, H)."""
    kernel, recurrent_kernel, bias = weights
    _, caches = lstm_forward(x, kernel, recurrent_kernel, bias)
    grads = [np.zeros_like(w) for w in weights]
    grad_x = np.zeros_like(x)
    grad_h_next = np.zeros_like(grad_outputs[:, 0])
    grad_c_next = np.zeros_like(grad_outputs[:, 0])
    for t in range(x.shape[1] - 1, -1, -1):
        x_t, h, c, i, f, g, o, c_new = caches[t]
        grad_h = grad_outputs[:, t] + grad_h_next
        tanh_c = np.tanh(c_new)
        grad_o = grad_h * tanh_c
        grad_c = grad_c_next + grad_h * o * (1 - tanh_c**2)
        grad_i, grad_f, grad_g = grad_c * g, grad_c * c, grad_c * i
        grad_z = np.concatenate(
            [grad_i * i * (1 - i), grad_f * f * (1 - f), grad_g * (1 - g**2), grad_o * o * (1 - o)],
            axis=-1,
        )
        grads[0] += x_t.T @ grad_z
        grads[1] += h.T @ grad_z
        grads[2] += grad_z.sum(axis=0)
        grad_x[:, t] = grad_z @ kernel.T
        grad_h_next, grad_c_next = _clip([grad_z @ recurrent_kernel.T, grad_c * f], clip, mode)
    return grad_x, grads


def gru_forward(x, kernel, recurrent_kernel, bias):
    """Outputs (B, T, H) and caches of `keras.layers.GRUCell` (reset_after=True; gates z, r, h)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    input_bias, recurrent_bias = bias
    h = np.zeros((batch, units))
    outputs, caches = [], []

    def part(a, k):
        return a[..., k * units : (k + 1) * units]

    for t in range(steps):
        xw = x[:, t] @ kernel + input_bias
        hu = h @ recurrent_kernel + recurrent_bias
        z = _sigmoid(part(xw, 0) + part(hu, 0))
        r = _sigmoid(part(xw, 1) + part(hu, 1))
        candidate = np.tanh(part(xw, 2) + r * part(hu, 2))
        h_new = z * h + (1 - z) * candidate
        caches.append((x[:, t], h, z, r, candidate, part(hu, 2)))
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1), caches


def gru_gradients(x, weights, grad_outputs, clip=None, mode="value"):
    """dL/dx and the weights' gradients for dL/dy_t = `grad_outputs` (B, T, H)."""
    kernel, recurrent_kernel, bias = weights
    _, caches = gru_forward(x, kernel, recurrent_kernel, bias)
    grads = [np.zeros_like(w) for w in weights]
    grad_x = np.zeros_like(x)
    grad_h_next = np.zeros_like(grad_outputs[:, 0])
    for t in range(x.shape[1] - 1, -1, -1):
        x_t, h, z, r, candidate, hu_h = caches[t]
        grad_h = grad_outputs[:, t] + grad_h_next
        grad_z = grad_h * (h - candidate)
        grad_candidate = grad_h * (1 - z)
        grad_a = grad_candidate * (1 - candidate**2)  # the candidate's pre-activation
        grad_r = grad_a * hu_h
        pre_z, pre_r = grad_z * z * (1 - z), grad_r * r * (1 - r)
        grad_xw = np.concatenate([pre_z, pre_r, grad_a], axis=-1)
        grad_hu = np.concatenate([pre_z, pre_r, grad_a * r], axis=-1)
        grads[0] += x_t.T @ grad_xw
        grads[1] += h.T @ grad_hu
        grads[2][0] += grad_xw.sum(axis=0)
        grads[2][1] += grad_hu.sum(axis=0)
        grad_x[:, t] = grad_xw @ kernel.T
        (grad_h_next,) = _clip([grad_hu @ recurrent_kernel.T + grad_h * z], clip, mode)
    return grad_x, grads
