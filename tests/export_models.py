"""Small models of each family for the export tests (built with keras.Input((None, D)))."""

import keras

import keras_rnnkit

D = 3  # input features


def elman():
    """Sequence output: (B, T, 2)."""
    return keras.Sequential(
        [
            keras.Input((None, D)),
            keras_rnnkit.ElmanRNN(5, return_sequences=True),
            keras.layers.Dense(2),
        ]
    )


def jordan():
    """Last output: (B, 1)."""
    return keras.Sequential(
        [
            keras.Input((None, D)),
            keras_rnnkit.JordanRNN(6, 2, context_decay=0.5, output_activation="tanh"),
            keras.layers.Dense(1),
        ]
    )


def tdnn():
    """A causal TDNN and a TDNNCell stream; sequence output (B, T, 1)."""
    return keras.Sequential(
        [
            keras.Input((None, D)),
            keras_rnnkit.TDNN(4, context=(-2, -1, 0), activation="tanh"),
            keras.layers.RNN(
                keras_rnnkit.TDNNCell(3, context=(-1, 0), activation="tanh"), return_sequences=True
            ),
            keras.layers.Dense(1),
        ]
    )


def stacked():
    """All three families and per-step layers between them; last output (B, 2)."""
    inputs = keras.Input((None, D))
    hidden = keras_rnnkit.TDNN(4, context=(-3, -1, 0), padding="causal", activation="tanh")(inputs)
    elman = keras_rnnkit.ElmanRNN(5, return_sequences=True)(hidden)
    hidden = keras.layers.Concatenate()([keras.layers.Dense(3)(elman), hidden])
    hidden = keras.layers.LayerNormalization()(hidden)
    hidden = keras_rnnkit.JordanRNN(4, 3, context_decay=0.3)(hidden)
    return keras.Model(inputs, keras.layers.Dense(2, activation="tanh")(hidden))


def bidirectional():
    """Masking, a TDNN with future offsets and Bidirectional: exports whole, cannot stream."""
    inputs = keras.Input((None, D))
    hidden = keras.layers.Masking(0.0)(inputs)
    hidden = keras_rnnkit.TDNN(4, context=(-1, 0, 1), activation="tanh")(hidden)
    hidden = keras.layers.Bidirectional(keras_rnnkit.ElmanRNN(4, return_sequences=True))(hidden)
    outputs = keras_rnnkit.JordanRNN(4, 2, context_decay=0.5)(hidden)
    return keras.Model(inputs, outputs)


STREAMABLE = {"elman": elman, "jordan": jordan, "tdnn": tdnn, "stacked": stacked}
ALL = {**STREAMABLE, "bidirectional": bidirectional}
