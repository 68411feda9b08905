"""The speed targets a benchmark run judges: ratio ours / alternative, at most this.

They are the project's goals (issue 17, on top of issue 4's), kept here in the
benchmark's configuration and out of the shipped library. A ratio below 1
means ours is faster. `None`: the comparison is shown without a target.

- TensorFlow without XLA (the default): training and inference ≤ 0.8 against
  SimpleRNN; JordanRNN ≤ 0.8 against a plain Jordan cell in training.
- TensorFlow with XLA: training ≤ 0.8, inference ≤ 1.0; with XLA no slower
  than without, in training.
- JAX: the recurrent families ≤ 0.8 in training, ≤ 1.0 in inference (on a
  GPU, Elman training ≤ 0.5: issue 4's "at least 2x").
- torch: keep the lead: the same as JAX, and Elman within 1.2x of
  PyTorch's own `nn.RNN` in training.
- TDNN, on every backend: at least Conv1D's speed (≤ 1.0), in training and
  inference, for the contexts Conv1D can express.
"""

# (backend, comparison) -> {phase: target}; "jit" marks TensorFlow under XLA.
_TARGETS = {
    ("tensorflow", "elman"): {"train": 0.8, "predict": 0.8},
    ("tensorflow", "elman-jit"): {"train": 0.8, "predict": 1.0},
    ("tensorflow", "jit/no-jit"): {"train": 1.0},
    ("tensorflow", "jordan"): {"train": 0.8},
    ("tensorflow", "jordan-jit"): {"train": 0.8, "predict": 1.0},
    ("tensorflow", "tdnn/conv1d"): {"train": 1.0, "predict": 1.0},
    ("jax", "elman"): {"train": 0.8, "predict": 1.0},
    ("jax", "jordan"): {"train": 0.8, "predict": 1.0},
    ("jax", "tdnn/conv1d"): {"train": 1.0, "predict": 1.0},
    ("torch", "elman"): {"train": 0.8, "predict": 1.0},
    ("torch", "elman/nn.RNN"): {"train": 1.2},
    ("torch", "jordan"): {"train": 0.8, "predict": 1.0},
    ("torch", "tdnn/conv1d"): {"train": 1.0, "predict": 1.0},
}
# On a GPU, where the targets differ.
_GPU_TARGETS = {("jax", "elman"): {"train": 0.5, "predict": 1.0}}


def target(backend, comparison, phase, on_gpu=False):
    """The target ratio for one comparison, or None.

    >>> target("tensorflow", "elman", "predict")
    0.8
    >>> target("tensorflow", "jordan", "predict") is None
    True
    """
    table = _GPU_TARGETS if on_gpu and (backend, comparison) in _GPU_TARGETS else _TARGETS
    return table.get((backend, comparison), {}).get(phase)


def phase_of(record_id):
    """The phase named in a record id such as `ElmanRNN/train/B64_T100_D32_H128`."""
    return record_id.split("/")[1]
