"""Configs read off constructor signatures (each argument stored as the attribute of the
same name, serialized by type), so that no argument can be forgotten."""

import inspect

import keras

# Keys that `keras.layers.Layer.get_config` owns; a wrapping layer keeps its own.
BASE_LAYER_KEYS = frozenset(keras.layers.Layer().get_config())


def constructor_arguments(cls):
    """Names of the explicit arguments of `cls.__init__`, in order."""
    return [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def serialize_argument(value):
    """Serializes one constructor argument by its type, the way `keras.layers` do."""
    if isinstance(value, keras.initializers.Initializer):
        return keras.initializers.serialize(value)
    if isinstance(value, keras.regularizers.Regularizer):
        return keras.regularizers.serialize(value)
    if isinstance(value, keras.constraints.Constraint):
        return keras.constraints.serialize(value)
    if isinstance(value, tuple):
        return list(value)
    if callable(value):
        return keras.activations.serialize(value)
    return value


def config_from_signature(obj):
    """`{argument: serialized attribute}` for every constructor argument of `obj`."""
    return {
        name: serialize_argument(getattr(obj, name)) for name in constructor_arguments(type(obj))
    }
