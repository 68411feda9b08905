"""Layers whose variables are 16-bit floats build and run on every backend: their weights
are drawn in float32 and cast (JAX's and PyTorch's QR, which the orthogonal initializer
uses, have no 16-bit kernels)."""

import keras
import numpy as np
import pytest

import keras_rnnkit

LAYERS = {
    "ElmanRNN": lambda dtype: keras_rnnkit.ElmanRNN(3, dtype=dtype, seed=0),
    "JordanRNN": lambda dtype: keras_rnnkit.JordanRNN(3, output_units=2, dtype=dtype),
    "NARX": lambda dtype: keras_rnnkit.NARX(3, output_units=2, dtype=dtype),
    "TDNN": lambda dtype: keras_rnnkit.TDNN(3, context=(-1, 0), dtype=dtype),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_half_precision_layer_draws_the_float32_weights_cast(name, dtype):
    # JordanCell(..., dtype="float16") failed on JAX in the orthogonal initializer.
    x = np.ones((2, 4, 2), "float32")
    keras.utils.set_random_seed(1)
    half = LAYERS[name](dtype)
    outputs = half(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype
    keras.utils.set_random_seed(1)
    full = LAYERS[name]("float32")
    full(x)
    for low, high in zip(half.weights, full.weights):
        assert keras.backend.standardize_dtype(low.dtype) == dtype
        expected = keras.ops.convert_to_numpy(keras.ops.cast(high, dtype)).astype("float32")
        got = keras.ops.convert_to_numpy(keras.ops.cast(low, "float32"))
        np.testing.assert_array_equal(got, expected, err_msg=low.path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras_rnnkit.ElmanCell(2, dropout=0.1, recurrent_dropout=0.2, dtype="float16"),
        lambda: keras_rnnkit.JordanCell(2, 1, dropout=0.1, dtype="bfloat16"),
    ],
    ids=["ElmanCell-float16", "JordanCell-bfloat16"],
)
def test_a_half_precision_cell_with_dropout_trains_inside_keras_rnn(make):
    # Keras's float32 loop draws the dropout masks in float32: JAX's scan then failed, the
    # state promoted from the cell's dtype to float32.
    model = keras.Sequential(
        [keras.Input((3, 2), batch_size=2), keras.layers.RNN(make(), return_sequences=True)]
    )
    model.compile("sgd", "mse", run_eagerly=True)
    loss = model.train_on_batch(
        np.ones((2, 3, 2), "float32"),
        np.zeros((2, 3, 2), "float32")[..., : model.outputs[0].shape[-1]],
    )
    assert np.isfinite(loss)
