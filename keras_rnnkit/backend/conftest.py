"""pytest collects this package's modules for their doctests: skip those of absent backends.

`torch_rnn.py` and `jax_rnn.py` import their framework at the top; an install
without it (e.g. only the `dev` extra, on TensorFlow) never imports them.
"""

import importlib.util

collect_ignore = [
    f"{framework}_rnn.py"
    for framework in ("torch", "jax")
    if importlib.util.find_spec(framework) is None
]
