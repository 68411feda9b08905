"""One decorator that marks a symbol public and registers it for serialization."""

import keras

PACKAGE = "keras_rnnkit"


def export(symbol):
    """Registers `symbol` for `.keras` saving as `keras_rnnkit>Name` (no name of Keras's
    can be shadowed); loading a saved model needs `import keras_rnnkit`, no `custom_objects`."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(symbol)
