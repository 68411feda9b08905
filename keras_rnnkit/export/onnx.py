"""`export_onnx`: an ONNX file through Keras's own ONNX export (tf2onnx)."""

import pathlib

from keras_rnnkit.export import checks
from keras_rnnkit.export import signatures
from keras_rnnkit.export.paths import staged
from keras_rnnkit.export.portable import device_independent

OWNER = "export_onnx"


@device_independent
def export_onnx(model, path, *, overwrite=False, opset_version=None):
    """Writes `model` as an ONNX file, with a dynamic batch and sequence length.

    Goes through `model.export(path, format="onnx")` (Keras's exporter, which
    uses tf2onnx on TensorFlow: install the `export` extra). The graph's input
    is (B, T, D) with B and T dynamic, and the recurrent loops become ONNX
    `Loop`s; masking inside the model is exported too. Run it in ONNX Runtime:
    `onnxruntime.InferenceSession(path).run(None, {name: x})`.

    Args:
        model: A built Keras model with stateful=False layers.
        path: The `.onnx` file to create.
        overwrite: Replace an existing `path`. Default: `False`.
        opset_version: ONNX opset, or `None` for tf2onnx's default.

    Returns:
        `path`, as a `pathlib.Path`.
    """
    checks.require_tensorflow(OWNER)
    checks.require_built(OWNER, model)
    checks.refuse_stateful(OWNER, model)
    input_signature = signatures.serve_signature(OWNER, model)
    with staged(OWNER, path, overwrite) as staging:
        model.export(
            str(staging),
            format="onnx",
            verbose=False,
            input_signature=input_signature,
            opset_version=opset_version,
        )
        _refuse_extra_inputs(staging, len(input_signature))
    return pathlib.Path(path)


def _refuse_extra_inputs(onnx_path, expected):
    """A tensor that a layer holds (not a weight, not a constant of its call) becomes a graph
    input in tf2onnx; ONNX Runtime would then demand it. Refused, so no such file is written."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initialized = {tensor.name for tensor in graph.initializer}
    names = [value.name for value in graph.input if value.name not in initialized]
    if len(names) > expected:
        raise ValueError(
            f"{OWNER}: the ONNX graph would take {len(names)} inputs where the model takes "
            f"{expected}; the others ({names[expected]!r} first) are tensors that a layer "
            "holds as attributes (for example a "
            "keras.layers.Normalization given its mean and variance), which tf2onnx turns into "
            "inputs. Hold them as weights (add_weight) or make them in `call` (as "
            "keras.layers.Rescaling does: keras_rnnkit.forecasting.input_standardization); "
            "nothing was written"
        )
