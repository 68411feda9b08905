"""`to_streaming` on every backend: step by step it equals the whole-sequence model."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.export import to_streaming
from tests import export_models
from tests.autodiff import to_numpy

B, T = 2, 5


def _sequences(rng, batch=B, length=T):
    return rng.normal(size=(batch, length, export_models.D)).astype("float32")


def _streamed(stream, x):
    """Feeds x one step at a time; the outputs stacked on a new time axis."""
    return np.stack([to_numpy(stream(x[:, t : t + 1])) for t in range(x.shape[1])], axis=1)


def _whole_sequence_at_each_step(model, x):
    """What the model gives for every prefix x[:, :t+1], at its last step."""
    outputs = []
    for t in range(x.shape[1]):
        y = to_numpy(model(x[:, : t + 1]))
        outputs.append(y[:, -1:] if y.ndim == 3 else y)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("kind", sorted(export_models.STREAMABLE))
def test_streaming_equals_whole_sequence(kind, rng):
    model = export_models.STREAMABLE[kind]()
    x = _sequences(rng)
    stream = to_streaming(model, batch_size=B)
    np.testing.assert_allclose(
        _streamed(stream, x), _whole_sequence_at_each_step(model, x), rtol=1e-5, atol=1e-5
    )
    # A new sequence after reset_state() starts from zero states again.
    stream.reset_state()
    x2 = _sequences(rng)
    np.testing.assert_allclose(
        _streamed(stream, x2), _whole_sequence_at_each_step(model, x2), rtol=1e-5, atol=1e-5
    )


def test_sequence_output_streams_one_step_of_the_sequence(rng):
    # For a model that returns sequences, the streamed steps put together are
    # the whole output sequence.
    model = export_models.elman()
    x = _sequences(rng, length=7)
    streamed = _streamed(to_streaming(model, batch_size=B), x)[:, :, 0]
    np.testing.assert_allclose(streamed, to_numpy(model(x)), rtol=1e-5, atol=1e-5)


def test_streaming_shares_the_weights(rng):
    model = export_models.stacked()
    stream = to_streaming(model, batch_size=B)
    x = _sequences(rng)
    model.set_weights([w + 0.1 for w in model.get_weights()])  # e.g. more training
    np.testing.assert_allclose(
        _streamed(stream, x), _whole_sequence_at_each_step(model, x), rtol=1e-5, atol=1e-5
    )
    state_variables = stream.non_trainable_weights
    assert len(state_variables) == 4  # TDNN: output, buffer; Elman: h; Jordan: context
    assert all(tuple(v.shape)[0] == B for v in state_variables)


def test_masking_passes_steps_through(rng):
    # A stream has no padding: Masking lets every step through, so the stream
    # equals the model on the real steps.
    inputs = keras.Input((None, export_models.D))
    masked = keras.layers.Masking(0.0)(inputs)
    model = keras.Model(inputs, keras_rnnkit.ElmanRNN(3, return_sequences=True)(masked))
    x = _sequences(rng)
    np.testing.assert_allclose(
        _streamed(to_streaming(model, batch_size=B), x)[:, :, 0],
        to_numpy(model(x)),
        rtol=1e-5,
        atol=1e-5,
    )


def _refusal(layers):
    return keras.Sequential([keras.Input((None, export_models.D)), *layers])


@pytest.mark.parametrize(
    "layers,message",
    [
        ([keras.layers.Bidirectional(keras_rnnkit.ElmanRNN(3))], "reads the sequence backwards"),
        ([keras_rnnkit.ElmanRNN(3, go_backwards=True)], "reads the sequence backwards"),
        ([keras_rnnkit.TDNN(3, context=(-1, 0, 1))], "future offsets"),
        ([keras_rnnkit.TDNN(3, context=(-1, 0), padding="valid")], "padding='valid'"),
        ([keras_rnnkit.TDNN(3, context=(0,), strides=2)], "strides=2"),
        ([keras.layers.GlobalAveragePooling1D()], "may combine different time steps"),
        ([keras.layers.Conv1D(2, 3)], "may combine different time steps"),
    ],
    ids=[
        "bidirectional",
        "go_backwards",
        "future_tdnn",
        "valid_tdnn",
        "strided_tdnn",
        "pooling",
        "conv",
    ],
)
def test_refuses_what_cannot_stream(layers, message):
    with pytest.raises(ValueError, match=message):
        to_streaming(_refusal(layers))


def test_refuses_teacher_forced_inputs():
    x = keras.Input((None, export_models.D))
    targets = keras.Input((None, 1))
    model = keras.Model([x, targets], keras_rnnkit.JordanRNN(4, 1)(x, targets=targets))
    with pytest.raises(
        ValueError, match=r"rebuild the model for inference as keras.Model\(x, jordan\(x\)\)"
    ):
        to_streaming(model)


def test_unbuilt_model_and_bad_arguments():
    unbuilt = keras.Sequential([keras_rnnkit.ElmanRNN(3)])
    with pytest.raises(ValueError, match="has never been built.*Call it once on a batch"):
        to_streaming(unbuilt)
    with pytest.raises(
        ValueError, match="`batch_size` must be a positive integer. Received: batch_size=0"
    ):
        to_streaming(export_models.elman(), batch_size=0)
    stream = to_streaming(export_models.elman(), batch_size=2)
    with pytest.raises(ValueError, match=r"shape \(2, 1, 3\)\. Received: inputs.shape=\(2, 4, 3\)"):
        stream(np.zeros((2, 4, 3), "float32"))
