"""The checks every export runs first, with errors that say what to do."""

import keras

from keras_rnnkit._model_layers import walk_layers


def require_tensorflow(owner):
    """Export formats are TensorFlow graphs: refuse other backends plainly."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"{owner} needs the TensorFlow backend (set KERAS_BACKEND=tensorflow before "
            "importing keras); `to_streaming` works on every backend. "
            f"Received: backend={backend!r}"
        )


def require_model(owner, model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: `model` must be a keras.Model. Received: model={model!r}")


def require_built(owner, model):
    """A model that was never built or called has no shapes to export."""
    require_model(owner, model)
    if not model.built:
        raise ValueError(
            f"{owner}: model {model.name!r} has never been built, so its input shapes are "
            "unknown. Call it once on a batch (model(x)), build it with "
            "model.build((None, None, features)), or start it with keras.Input((None, features))."
        )


def graph_inputs(owner, model):
    """The model's symbolic inputs; only functional and Sequential models have them."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"{owner}: model {model.name!r} has no symbolic inputs (a subclassed model, "
            "or a Sequential model never built). Build it with keras.Input((None, features)) "
            "or call it once on a batch (export_saved_model also takes `input_signature`, "
            "e.g. [keras.InputSpec((None, None, features))])."
        )
    return inputs


def refuse_stateful(owner, model):
    """A served graph gets no memory between requests: stateful layers cannot export."""
    for layer in walk_layers(model):
        if getattr(layer, "stateful", False):
            raise ValueError(
                f"{owner}: layer {layer.name!r} is stateful=True, and an exported graph "
                "cannot carry its state from one request to the next. Export the same "
                "architecture built with stateful=False (copy the weights with "
                "set_weights) and use streaming=True: the `step` signature takes and "
                "returns the states, so the caller carries them."
            )
