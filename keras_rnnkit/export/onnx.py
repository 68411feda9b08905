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
    return pathlib.Path(path)
