"""SavedModel, TFLite / LiteRT and ONNX artefacts equal the Keras model (TensorFlow only)."""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit._model_layers import walk_layers
from keras_rnnkit.export import export_onnx
from keras_rnnkit.export import export_saved_model
from keras_rnnkit.export import export_tflite
from tests import export_models
from tests.autodiff import to_numpy
from tests.serving import serve_without_keras

pytestmark = [pytest.mark.tensorflow_only, pytest.mark.slow]

tf = pytest.importorskip("tensorflow")

# (batch, length): two lengths (and batch sizes) where the format allows them.
SHAPES = [(3, 6), (2, 11)]
TOLERANCE = dict(rtol=1e-5, atol=2e-5)  # float32, different kernels


def _sequences(rng, batch, length, padded=False):
    x = rng.normal(size=(batch, length, export_models.D)).astype("float32")
    if padded:  # right padding, which the Masking of `bidirectional` hides
        x[0, length - 2 :] = 0.0
    return x


def _stepped(model, x):
    """The whole-sequence model's output at every step t, for the prefix x[:, :t+1]."""
    outputs = []
    for t in range(x.shape[1]):
        y = to_numpy(model(x[:, : t + 1]))
        outputs.append(y[:, -1] if y.ndim == 3 else y)
    return np.stack(outputs, axis=1)


# --------------------------------------------------------------------------
# SavedModel
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(export_models.STREAMABLE))
def test_saved_model_serve_and_step(kind, tmp_path, rng):
    model = export_models.STREAMABLE[kind]()
    path = export_saved_model(model, tmp_path / "model", streaming=True)
    served = tf.saved_model.load(str(path))
    # Keras also names the first endpoint serving_default (TF Serving's default).
    assert set(served.signatures) == {"serve", "serving_default", "step", "initial_state"}
    for batch, length in SHAPES:
        x = _sequences(rng, batch, length)
        np.testing.assert_allclose(served.serve(x).numpy(), to_numpy(model(x)), **TOLERANCE)
    x = _sequences(rng, 2, 5)
    states = served.initial_state(tf.constant(2))
    stepped = []
    for t in range(x.shape[1]):
        y_t, *states = served.step(x[:, t], *states)
        stepped.append(y_t.numpy())
    np.testing.assert_allclose(np.stack(stepped, axis=1), _stepped(model, x), **TOLERANCE)


def test_saved_model_serves_without_keras(tmp_path, rng):
    model = export_models.stacked()
    path = export_saved_model(model, tmp_path / "model", streaming=True)
    inputs = [_sequences(rng, batch, length) for batch, length in SHAPES]
    for x, result in zip(inputs, serve_without_keras(path, inputs, tmp_path)):
        np.testing.assert_allclose(result["served"], to_numpy(model(x)), **TOLERANCE)
        np.testing.assert_allclose(result["stepped"], _stepped(model, x), **TOLERANCE)


def test_saved_model_bidirectional_with_masking(tmp_path, rng):
    model = export_models.bidirectional()
    served = tf.saved_model.load(str(export_saved_model(model, tmp_path / "model")))
    for batch, length in SHAPES:
        x = _sequences(rng, batch, length, padded=True)
        np.testing.assert_allclose(served.serve(x).numpy(), to_numpy(model(x)), **TOLERANCE)
    with pytest.raises(ValueError, match="future offsets.*cannot stream"):
        export_saved_model(model, tmp_path / "streaming", streaming=True)
    assert not (tmp_path / "streaming").exists()


# --------------------------------------------------------------------------
# TFLite / LiteRT
# --------------------------------------------------------------------------


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path))


def _ops(interpreter):
    # The operator list is what shows "built-in only" and "unrolled".
    return {op["op_name"] for op in interpreter._get_ops_details()}


def _run_tflite(path, x):
    interpreter = _interpreter(path)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), _ops(interpreter)


def _check_builtin_only(ops):
    assert not any(op.lower().startswith("flex") for op in ops), ops


@pytest.mark.parametrize("kind", sorted(export_models.ALL))
def test_tflite_while_loop_any_length(kind, tmp_path, rng):
    model = export_models.ALL[kind]()
    path = export_tflite(model, tmp_path / "model.tflite", batch_size=2)
    for length in (6, 11):
        x = _sequences(rng, 2, length, padded=kind == "bidirectional")
        got, ops = _run_tflite(path, x)
        _check_builtin_only(ops)
        assert "WHILE" in ops
        np.testing.assert_allclose(got, to_numpy(model(x)), **TOLERANCE)


# A Sequential model and two functional ones.
@pytest.mark.parametrize("kind", ["elman", "stacked", "bidirectional"])
def test_tflite_unrolled_fixed_length(kind, tmp_path, rng):
    model = export_models.ALL[kind]()
    path = export_tflite(model, tmp_path / "model.tflite", batch_size=3, time_steps=7)
    x = _sequences(rng, 3, 7, padded=kind == "bidirectional")
    got, ops = _run_tflite(path, x)
    _check_builtin_only(ops)
    assert "WHILE" not in ops
    np.testing.assert_allclose(got, to_numpy(model(x)), **TOLERANCE)
    # The unrolling was only for the export: the model still takes any length.
    assert not any(getattr(layer, "unroll", False) for layer in model.layers)


class _UnrollSpy(keras.layers.SimpleRNN):
    """A SimpleRNN that records its `unroll` each time it runs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unroll_seen = []

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self.unroll_seen.append(self.unroll)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)


def _every_kind_of_loop():
    """Our three families and Keras's, nested in a Sequential and in Bidirectional."""
    inner = keras.Sequential(
        [
            keras.Input((None, 4)),
            keras.layers.GRU(3, return_sequences=True),
            keras_rnnkit.JordanRNN(4, 2, return_sequences=True),
        ]
    )
    inputs = keras.Input((None, export_models.D))
    hidden = keras_rnnkit.TDNN(4, context=(-1, 0), activation="tanh")(inputs)
    hidden = inner(hidden)
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(hidden)
    hidden = _UnrollSpy(3, return_sequences=True, name="spy")(hidden)
    return keras.Model(inputs, keras_rnnkit.ElmanRNN(5)(hidden))


def test_tflite_unrolled_leaves_the_model_as_it_was(tmp_path, rng):
    model = _every_kind_of_loop()
    layers = list(walk_layers(model))
    spy = next(layer for layer in layers if isinstance(layer, _UnrollSpy))
    attributes = [dict(vars(layer)) for layer in layers]
    configs = [layer.get_config() for layer in layers]
    weights = model.get_weights()

    path = export_tflite(model, tmp_path / "model.tflite", batch_size=2, time_steps=5)

    # The export traced a copy: the user's layer never ran unrolled.
    assert not any(spy.unroll_seen)
    # The same layer objects, each with the same attribute objects and config.
    assert [id(layer) for layer in walk_layers(model)] == [id(layer) for layer in layers]
    for layer, before in zip(layers, attributes):
        after = vars(layer)
        assert after.keys() == before.keys(), layer.name
        assert all(after[name] is value for name, value in before.items()), layer.name
    assert [layer.get_config() for layer in layers] == configs
    assert not any(getattr(layer, "unroll", False) for layer in layers)
    for got, expected in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, expected)
    x = _sequences(rng, 2, 5)
    got, ops = _run_tflite(path, x)
    _check_builtin_only(ops)
    assert "WHILE" not in ops
    np.testing.assert_allclose(got, to_numpy(model(x)), **TOLERANCE)


@pytest.mark.parametrize("kind", sorted(export_models.STREAMABLE))
def test_tflite_streaming_step(kind, tmp_path, rng):
    model = export_models.STREAMABLE[kind]()
    path = export_tflite(model, tmp_path / "step.tflite", batch_size=2, streaming=True)
    interpreter = _interpreter(path)
    step = interpreter.get_signature_runner("step")
    inputs = interpreter.get_signature_list()["step"]["inputs"]
    states = {
        name: np.zeros(step.get_input_details()[name]["shape"], "float32")
        for name in inputs
        if name != "x_t"
    }
    x = _sequences(rng, 2, 5)
    stepped = []
    for t in range(x.shape[1]):
        outputs = step(x_t=x[:, t], **states)
        stepped.append(outputs["output_0"])
        # Outputs: y_t, then the new states in the order of the state inputs.
        states = {f"state_{i}": outputs[f"output_{i + 1}"] for i in range(len(states))}
    _check_builtin_only(_ops(interpreter))
    np.testing.assert_allclose(np.stack(stepped, axis=1), _stepped(model, x), **TOLERANCE)


# --------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(export_models.ALL))
# tf2onnx and onnx use APIs that their dependencies deprecate.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:tf2onnx.*")
@pytest.mark.filterwarnings("ignore::FutureWarning:tf2onnx.*")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:onnx.*")
def test_onnx_dynamic_batch_and_length(kind, tmp_path, rng):
    import onnxruntime

    model = export_models.ALL[kind]()
    path = export_onnx(model, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    name = session.get_inputs()[0].name
    for batch, length in SHAPES:
        x = _sequences(rng, batch, length, padded=kind == "bidirectional")
        np.testing.assert_allclose(session.run(None, {name: x})[0], to_numpy(model(x)), **TOLERANCE)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_onnx_refuses_a_graph_that_would_demand_a_layers_tensors(tmp_path):
    # Normalization holds a given mean and variance as tensors: tf2onnx makes them inputs.
    inputs = keras.Input((None, export_models.D))
    scaled = keras.layers.Normalization(mean=[1.0] * 3, variance=[4.0] * 3)(inputs)
    model = keras.Model(inputs, keras_rnnkit.ElmanRNN(2)(scaled))
    with pytest.raises(ValueError, match=r"export_onnx: the ONNX graph would take 3 inputs "):
        export_onnx(model, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_export_serving_example_smoke(tmp_path):
    import importlib.util
    import pathlib

    script = pathlib.Path(__file__).resolve().parent.parent / "examples" / "export_serving.py"
    spec = importlib.util.spec_from_file_location("export_serving", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = module.main(["--smoke", "--out", str(tmp_path / "out")])
    assert len(errors) == 6
    assert all(error < 1e-4 for error in errors.values()), errors
    with pytest.raises(SystemExit):  # refuses to overwrite the folder
        module.main(["--smoke", "--out", str(tmp_path / "out")])
