"""The one-line answer to "no Keras backend installed", raised by `import keras_rnnkit`.

The base install has no backend (each is an extra), and keras then fails deep inside with a
ModuleNotFoundError for tensorflow; this module is imported first and says what to install:
the backend's own package, a command that works however keras_rnnkit was installed (from the
index, a wheel or a checkout), where `pip install "keras-rnnkit[jax]"` needs the index.
"""

import os

# What to install for each backend; PyTorch's default wheel on Linux is its CUDA build (GBs).
INSTALL = {
    "tensorflow": "pip install tensorflow (or tensorflow-cpu)",
    "jax": "pip install jax",
    "torch": "pip install torch (its CPU build: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)",
}


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
                f"Keras's default backend, TensorFlow, is not installed: {INSTALL['tensorflow']}; "
                "or pip install jax / torch and set KERAS_BACKEND=jax / torch."
            )
        else:
            message = (
                f"KERAS_BACKEND={os.environ['KERAS_BACKEND']} but {missing} is not installed: "
                f"{INSTALL[missing]}."
            )
        raise ImportError(f"keras_rnnkit: {message}") from None


require_backend()
