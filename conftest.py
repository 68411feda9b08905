"""pytest collects the package's modules for their doctests: skip those of absent backends.

`keras_rnnkit/backend/torch_rnn.py` and `jax_rnn.py` import their framework at
the top; an install without it (e.g. only the `dev` extra, on TensorFlow) never
imports them. This file stays out of the package: the wheel ships no test setup.
"""

import importlib.util

collect_ignore = [
    f"keras_rnnkit/backend/{framework}_rnn.py"
    for framework in ("torch", "jax")
    if importlib.util.find_spec(framework) is None
]
