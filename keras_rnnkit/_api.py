"""One decorator that marks a symbol public and registers it for serialization."""

import keras

PACKAGE = "keras_rnnkit"


def export(symbol):
    """Registers `symbol` for `.keras` saving under the name `keras_rnnkit>Name`.

    Registration goes through `keras.saving.register_keras_serializable`, the
    public mechanism Keras provides for this, with our package prefix so that no
    name of Keras's own (or another library's) can be shadowed. Loading a saved
    model then needs only `import keras_rnnkit`, no `custom_objects`.
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(symbol)
