"""An error raised while a layer makes its cell names the class the user constructed.

`ElmanRNN(4, kernel_initializer="junk")` builds an `ElmanCell` inside; its
checks must still say "ElmanRNN: ...", while a user who builds the cell sees
"ElmanCell: ...".
"""

import inspect

import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.layers.base import RecurrentLayer

# One bad value for every cell argument that is not a weight option (those get
# "junk"); a new cell argument fails `test_every_cell_argument_has_a_bad_value`
# until it has one here.
BAD_VALUES = {
    "units": 0,
    "output_units": -1,
    "activation": "junk",
    "output_activation": "junk",
    "context_decay": 1.5,
    "input_delays": (2, 1),
    "feedback_delays": (0,),
    "use_bias": "yes",
    "dropout": 1.5,
    "recurrent_dropout": -0.1,
    "seed": "7",
    "gradient_clip": -1.0,
    "gradient_clip_mode": "max",
    "zoneout": 1.0,
    "layer_norm": "yes",
}
WEIGHT_OPTION_SUFFIXES = ("_initializer", "_regularizer", "_constraint")

# (layer, its cell, the arguments every construction needs)
FAMILIES = [
    (keras_rnnkit.ElmanRNN, keras_rnnkit.ElmanCell, {"units": 3}),
    (keras_rnnkit.JordanRNN, keras_rnnkit.JordanCell, {"units": 3, "output_units": 2}),
    (keras_rnnkit.NARX, keras_rnnkit.NarxCell, {"units": 3, "output_units": 2}),
]


def _cell_arguments(cell_class):
    return [
        p.name
        for p in inspect.signature(cell_class).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    ]


def _bad_value(name):
    return "junk" if name.endswith(WEIGHT_OPTION_SUFFIXES) else BAD_VALUES[name]


CASES = [
    pytest.param(cls, required, name, id=f"{cls.__name__}-{name}")
    for layer, cell, required in FAMILIES
    for cls in (layer, cell)
    for name in _cell_arguments(cell)
]


@pytest.mark.parametrize("cell_class", [cell for _, cell, _ in FAMILIES], ids=lambda c: c.__name__)
def test_every_cell_argument_has_a_bad_value(cell_class):
    missing = [
        name
        for name in _cell_arguments(cell_class)
        if not name.endswith(WEIGHT_OPTION_SUFFIXES) and name not in BAD_VALUES
    ]
    assert missing == []


@pytest.mark.parametrize("cls,required,name", CASES)
def test_bad_argument_names_the_class_constructed(cls, required, name):
    bad = _bad_value(name)
    with pytest.raises(ValueError) as error:
        cls(**{**required, name: bad})
    message = str(error.value)
    assert message.startswith(f"{cls.__name__}: `{name}` must "), message
    assert f"Received: {name}={bad!r}" in message
    if issubclass(cls, RecurrentLayer):
        assert "Cell" not in message, message


BUILD_CASES = [
    (keras_rnnkit.ElmanRNN, {"units": 3}, "bias_initializer", "orthogonal", "bias"),
    (keras_rnnkit.ElmanCell, {"units": 3}, "bias_initializer", "orthogonal", "bias"),
    (
        keras_rnnkit.JordanRNN,
        {"units": 3, "output_units": 2},
        "bias_initializer",
        "identity",
        "bias",
    ),
    (
        keras_rnnkit.JordanRNN,
        {"units": 3, "output_units": 2},
        "output_bias_initializer",
        "identity",
        "output_bias",
    ),
    (
        keras_rnnkit.JordanCell,
        {"units": 3, "output_units": 2},
        "output_bias_initializer",
        "orthogonal",
        "output_bias",
    ),
    (
        keras_rnnkit.NARX,
        {"units": 3, "output_units": 2},
        "recurrent_initializer",
        "identity",
        "recurrent_kernel",
    ),
]


@pytest.mark.parametrize(
    "cls,required,name,bad,weight",
    BUILD_CASES,
    ids=[f"{c.__name__}-{n}" for c, _, n, _, _ in BUILD_CASES],
)
def test_initializer_refused_at_build_names_the_class_constructed(cls, required, name, bad, weight):
    # "orthogonal" and "identity" are valid names but cannot make a 1-D bias:
    # the error comes from `add_named_weight`, when the cell is built.
    layer = cls(**{**required, name: bad})
    with pytest.raises(ValueError) as error:
        layer.build((2, 5, 4) if issubclass(cls, RecurrentLayer) else (2, 4))
    message = str(error.value)
    assert message.startswith(f"{cls.__name__}: `{name}` cannot initialize `{weight}`"), message


def test_build_error_in_a_call_names_the_layer():
    layer = keras_rnnkit.JordanRNN(3, 2, bias_initializer="orthogonal")
    with pytest.raises(ValueError, match=r"^JordanRNN: `bias_initializer` cannot initialize"):
        layer(np.zeros((2, 5, 4), "float32"))


def test_another_recurrent_layer_names_itself():
    # Any RecurrentLayer subclass around a cell, not only the library's own.
    class Wrapped(RecurrentLayer):
        cell_class = keras_rnnkit.ElmanCell

    with pytest.raises(ValueError, match=r"^Wrapped: `dropout` must be in \[0, 1\)"):
        Wrapped(units=3, dropout=2.0)
    layer = Wrapped(units=3, bias_initializer="orthogonal")
    with pytest.raises(ValueError, match=r"^Wrapped: `bias_initializer` cannot initialize"):
        layer.build((2, 5, 4))


def test_an_error_of_the_layer_itself_is_unchanged():
    with pytest.raises(ValueError, match=r"^ElmanRNN: `return_state` must be True or False"):
        keras_rnnkit.ElmanRNN(3, return_state="no")
