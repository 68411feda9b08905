"""On a GPU: the fast paths of ElmanRNN and JordanRNN equal the generic path, forward and gradients.

Run with `KERAS_BACKEND=torch` or `KERAS_BACKEND=jax` (benchmarks/gpu.sh runs
both). The generic path is chosen through the layer's public switch
`use_fused=False` where the layer has one (like Keras's `use_cudnn` for LSTM
and GRU); `keras.layers.SimpleRNN` with the same weights (Keras's own generic
loop) is the reference in any case. Exits non-zero on a mismatch.

Tolerance: float32 with TF32 turned off on both backends; a T-step
recurrence accumulates rounding at each step, so outputs and gradients may
differ by about T float32 epsilons relative to their size. We allow 8 T eps
(rtol) and the same absolute amount against the largest magnitude.
"""

import argparse
import inspect
import sys

import keras
import numpy as np

import keras_rnnkit

B, T, D, H = 8, 50, 16, 64
RTOL = 8 * T * float(np.finfo(np.float32).eps)
CONFIGS = {
    "last output": {},
    "sequences": {"return_sequences": True},
    "go_backwards": {"go_backwards": True, "return_sequences": True},
    "relu": {"activation": "relu", "return_sequences": True},
    "masked": {"return_sequences": True, "masked": True},
}


def _device(allow_cpu):
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            if allow_cpu:
                return "cpu"
            sys.exit("gpu_check: PyTorch sees no GPU")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.cuda.get_device_name(0)
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
        device = jax.devices()[0]
        if device.platform != "gpu" and not allow_cpu:
            sys.exit("gpu_check: JAX sees no GPU")
        return device.device_kind
    sys.exit(f"gpu_check: run it with KERAS_BACKEND=torch or jax, not {backend}")


def _value_and_grads(layer, x, mask, weights):
    """sum(layer(x) * fixed random weights) and its gradient w.r.t. x and the weights."""
    backend = keras.backend.backend()
    non_trainable = [v.value for v in layer.non_trainable_variables]
    rng = np.random.default_rng(1)
    probe = None

    def loss(x_tensor, *arrays):
        nonlocal probe
        kwargs = {} if mask is None else {"mask": keras.ops.convert_to_tensor(mask)}
        outputs, _ = layer.stateless_call(list(arrays), non_trainable, x_tensor, **kwargs)
        if probe is None:
            probe = rng.standard_normal(tuple(outputs.shape)).astype("float32")
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(probe)), outputs

    arrays = [x, *weights]
    if backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        tensors = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]
        value, outputs = loss(*tensors)
        grads = torch.autograd.grad(value, tensors)
        return outputs.detach().cpu().numpy(), [g.cpu().numpy() for g in grads]
    import jax

    (_, outputs), grads = jax.value_and_grad(
        lambda *t: loss(*t), argnums=tuple(range(len(arrays))), has_aux=True
    )(*[jax.numpy.asarray(a) for a in arrays])
    return np.asarray(outputs), [np.asarray(g) for g in grads]


def _close(name, ours, reference):
    scale = float(np.max(np.abs(reference))) or 1.0
    error = float(np.max(np.abs(ours - reference)))
    ok = bool(np.allclose(ours, reference, rtol=RTOL, atol=RTOL * scale))
    print(f"    {name:18s} max |diff| {error:.2e} (scale {scale:.2e}) {'ok' if ok else 'MISMATCH'}")
    return ok


def check(label, make_fast, make_reference, config):
    config = dict(config)
    masked = config.pop("masked", False)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D)).astype("float32")
    mask = None
    if masked:  # right padding: sequence i has T - 3 i real steps
        mask = np.arange(T)[None, :] < (T - 3 * np.arange(B))[:, None]
    fast, reference = make_fast(**config), make_reference(**config)
    fast(x[:1])
    reference(x[:1])
    weights = [w.astype("float32") for w in reference.get_weights()]
    print(f"  {label}, {config or 'defaults'}{', right-padded mask' if masked else ''}")
    out_fast, grads_fast = _value_and_grads(fast, x, mask, weights)
    out_ref, grads_ref = _value_and_grads(reference, x, mask, weights)
    names = ["output", "d/dx"] + [f"d/d{w.path.split('/')[-1]}" for w in fast.trainable_weights]
    results = [_close(names[0], out_fast, out_ref)]
    results += [_close(n, a, b) for n, a, b in zip(names[1:], grads_fast, grads_ref)]
    return all(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run without a GPU (to try it out)")
    device = _device(parser.parse_args(argv).cpu)
    backend = keras.backend.backend()
    print(f"gpu_check: {backend} on {device}, B={B} T={T} D={D} H={H}, rtol={RTOL:.1e}")
    switch = "use_fused" in inspect.signature(keras_rnnkit.ElmanRNN).parameters
    pairs = [
        (
            "ElmanRNN vs SimpleRNN (same weights)",
            lambda **kw: keras_rnnkit.ElmanRNN(H, **kw),
            lambda **kw: keras.layers.SimpleRNN(H, **kw),
        )
    ]
    if switch:
        pairs.insert(
            0,
            (
                'ElmanRNN use_fused="auto" vs use_fused=False',
                lambda **kw: keras_rnnkit.ElmanRNN(H, use_fused="auto", **kw),
                lambda **kw: keras_rnnkit.ElmanRNN(H, use_fused=False, **kw),
            ),
        )
    else:
        print("  (ElmanRNN has no `use_fused` switch: the reference is SimpleRNN only)")
    if "use_fused" in inspect.signature(keras_rnnkit.JordanRNN).parameters:
        # Forced (True): "auto" keeps JAX on the step loop, where it measured as fast.
        pairs.append(
            (
                "JordanRNN use_fused=True vs use_fused=False",
                lambda **kw: keras_rnnkit.JordanRNN(H, H // 4, use_fused=True, **kw),
                lambda **kw: keras_rnnkit.JordanRNN(H, H // 4, use_fused=False, **kw),
            )
        )
    ok = all(
        check(label, fast, reference, config)
        for label, fast, reference in pairs
        for config in CONFIGS.values()
    )
    print(f"gpu_check: {backend}: {'all equal' if ok else 'MISMATCHES, see above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
