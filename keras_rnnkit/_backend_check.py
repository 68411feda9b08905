"""The one-line answer to "no Keras backend installed", raised by `import keras_rnnkit`.

The base install has no backend (each is an extra), and keras then fails deep inside with a
ModuleNotFoundError for tensorflow; this module is imported first and says which extra to install.
"""

import os

_EXTRAS = {
    "tensorflow": 'pip install "keras-rnnkit[tensorflow]" (or "keras-rnnkit[tensorflow-cpu]")',
    "jax": 'pip install "keras-rnnkit[jax]"',
    "torch": 'pip install "keras-rnnkit[torch]"',
}


def require_backend():
    """Imports keras; raises ImportError naming the extra to install if its backend is missing."""
    try:
        import keras  # noqa: F401
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in _EXTRAS:
            raise
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        others = (
            ""
            if "KERAS_BACKEND" in os.environ
            else ('; or "keras-rnnkit[jax]" / "keras-rnnkit[torch]" with KERAS_BACKEND=jax / torch')
        )
        raise ImportError(
            f"keras_rnnkit: the Keras backend {backend!r} needs {missing!r}, which is not "
            f"installed: {_EXTRAS[missing]}{others}."
        ) from None


require_backend()
