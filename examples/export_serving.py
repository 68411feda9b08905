"""Train a small recurrent model, export it in every format, and check each artefact.

Trains a causal TDNN -> Elman -> Jordan stack on the adding problem
(`keras_rnnkit.data.adding_problem`), then writes into a new folder (`--out`,
refused if it exists): a SavedModel with `serve`, `step` and `initial_state`
signatures, a TFLite file with a while loop, the single-step streaming model
as TFLite, and an ONNX file; each is run (TensorFlow, LiteRT, ONNX Runtime)
and compared with the Keras model. Needs the TensorFlow backend and the
`export` extra.

Run: `python examples/export_serving.py --out exported`, or with `--smoke` in seconds.
"""

import argparse
import os
import pathlib
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_rnnkit  # noqa: E402
from keras_rnnkit.data import adding_problem  # noqa: E402
from keras_rnnkit.export import export_onnx  # noqa: E402
from keras_rnnkit.export import export_saved_model  # noqa: E402
from keras_rnnkit.export import export_tflite  # noqa: E402
from keras_rnnkit.export import to_streaming  # noqa: E402


def build_model(units):
    inputs = keras.Input((None, 2))
    hidden = keras_rnnkit.TDNN(units, context=(-2, -1, 0), activation="tanh")(inputs)
    hidden = keras_rnnkit.ElmanRNN(units, return_sequences=True)(hidden)
    hidden = keras_rnnkit.JordanRNN(units, 4, context_decay=0.5)(hidden)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def _max_error(got, want):
    return float(np.max(np.abs(np.asarray(got) - np.asarray(want))))


def check_artefacts(model, out, x):
    """Runs every artefact on `x` (B, T, 2); the largest difference from Keras per artefact."""
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    want = keras.ops.convert_to_numpy(model(x))
    errors = {}
    served = tf.saved_model.load(str(out / "saved_model"))
    errors["saved_model serve"] = _max_error(served.serve(x), want)
    states = served.initial_state(tf.constant(x.shape[0]))
    for t in range(x.shape[1]):
        y_t, *states = served.step(x[:, t], *states)
    errors["saved_model step"] = _max_error(y_t, want)

    stream = to_streaming(model, batch_size=x.shape[0])
    for t in range(x.shape[1]):
        y_t = stream(x[:, t : t + 1])
    errors["to_streaming"] = _max_error(keras.ops.convert_to_numpy(y_t), want)

    interpreter = Interpreter(model_path=str(out / "model.tflite"))
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    errors["tflite"] = _max_error(got, want)

    step = Interpreter(model_path=str(out / "step.tflite")).get_signature_runner("step")
    names = sorted(name for name in step.get_input_details() if name != "x_t")
    states = {name: np.zeros(step.get_input_details()[name]["shape"], "float32") for name in names}
    for t in range(x.shape[1]):
        outputs = step(x_t=x[:, t], **states)
        states = {f"state_{i}": outputs[f"output_{i + 1}"] for i in range(len(names))}
    errors["tflite step"] = _max_error(outputs["output_0"], want)

    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    errors["onnx"] = _max_error(session.run(None, {session.get_inputs()[0].name: x})[0], want)
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exported", help="a new folder for the artefacts")
    parser.add_argument("--overwrite", action="store_true", help="replace the artefacts")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, in seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    if out.exists() and not args.overwrite:
        parser.error(f"{out} already exists; pass --overwrite to replace its artefacts")
    samples, length, units = (64, 10, 4) if args.smoke else (2000, 30, 16)
    epochs = 1 if args.smoke else args.epochs

    keras.utils.set_random_seed(args.seed)
    x, y = adding_problem(samples, length, seed=args.seed)
    model = build_model(units)
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0), "mse")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)

    batch = 2
    overwrite = args.overwrite
    export_saved_model(model, out / "saved_model", streaming=True, overwrite=overwrite)
    export_tflite(model, out / "model.tflite", batch_size=batch, overwrite=overwrite)
    export_tflite(model, out / "step.tflite", batch_size=batch, streaming=True, overwrite=overwrite)
    with warnings.catch_warnings():
        # tf2onnx uses APIs its dependencies deprecate.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        export_onnx(model, out / "model.onnx", overwrite=overwrite)

    errors = check_artefacts(model, out, x[:batch].astype("float32"))
    for name, error in errors.items():
        print(f"{name:18s} max |difference from Keras| = {error:.2e}")
    return errors


if __name__ == "__main__":
    main()
