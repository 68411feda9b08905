"""The one-line answer to "no Keras backend installed", raised by `import keras_rnnkit`.

The base install has no backend (each is an extra), and keras then fails deep inside with a
ModuleNotFoundError for tensorflow; this module is imported first and says which extra to install.
"""

import os

_OTHERS = '"keras-rnnkit[jax]" / "keras-rnnkit[torch]" and set KERAS_BACKEND=jax / torch'


def require_backend():
    """Imports keras; raises ImportError naming the extra to install if its backend is missing."""
    try:
        import keras  # noqa: F401
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in ("tensorflow", "jax", "torch"):
            raise
        if "KERAS_BACKEND" not in os.environ:
            message = (
                f"Keras's default backend, TensorFlow, is not installed: pip install "
                f'"keras-rnnkit[tensorflow]" (or [tensorflow-cpu]), or {_OTHERS}.'
            )
        else:
            message = (
                f"KERAS_BACKEND={os.environ['KERAS_BACKEND']} but {missing} is not installed: "
                f'pip install "keras-rnnkit[{missing}]".'
            )
        raise ImportError(f"keras_rnnkit: {message}") from None


require_backend()
