"""Finding the layers inside a model, wrappers included."""

import keras


def walk_layers(layer):
    """Yields every layer inside `layer`, depth first, parents before children.

    Follows `layers` (models), `forward_layer` and `backward_layer`
    (`Bidirectional`) and `layer` (other wrappers such as `TimeDistributed`).
    """
    children = list(getattr(layer, "layers", []))
    children += [
        getattr(layer, name)
        for name in ("forward_layer", "backward_layer", "layer")
        if isinstance(getattr(layer, name, None), keras.layers.Layer)
    ]
    for child in children:
        yield child
        yield from walk_layers(child)
