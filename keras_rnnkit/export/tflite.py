"""`export_tflite`: a TFLite / LiteRT flatbuffer with built-in operators only."""

import pathlib
import tempfile

import keras

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._model_layers import walk_layers
from keras_rnnkit.export import checks
from keras_rnnkit.export import signatures
from keras_rnnkit.export.paths import staged
from keras_rnnkit.export.portable import device_independent
from keras_rnnkit.export.program import StepProgram

OWNER = "export_tflite"


@device_independent
def export_tflite(model, path, *, batch_size=1, time_steps=None, streaming=False, overwrite=False):
    """Writes `model` as a `.tflite` file that runs with built-in operators only.

    No Flex delegate (`SELECT_TF_OPS`) is needed, so it runs in the plain
    LiteRT interpreter (`ai_edge_litert.interpreter.Interpreter`) and on
    devices. Three forms:

    - `time_steps=None`: signature `serve`, input (batch_size, T, D), the
      recurrences as TFLite `WHILE` loops; T is dynamic (resize the input
      with `resize_tensor_input` before `allocate_tensors`).
    - `time_steps=T`: signature `serve`, input (batch_size, T, D), every loop
      unrolled for exactly T steps (no control flow at all).
    - `streaming=True`: signature `step`, one time step: inputs `x_t`
      (batch_size, D) and `state_0`, `state_1`, ... (batch_size, S_i) in
      graph order (zeros to start a sequence); outputs `output_0` (y_t) then
      the new states, `output_1`, ... See `to_streaming` for which models
      can stream.

    The batch size is fixed in every form. Masking inside the model is
    exported with the whole-sequence forms.

    Args:
        model: A built Keras model with stateful=False layers.
        path: The `.tflite` file to create.
        batch_size: Positive integer, the fixed batch size. Default: `1`.
        time_steps: None (a while loop, any length) or a positive integer
            (unrolled for that length). Default: `None`.
        streaming: Export the single-step model instead. Default: `False`.
        overwrite: Replace an existing `path`. Default: `False`.

    Returns:
        `path`, as a `pathlib.Path`.
    """
    checks.require_tensorflow(OWNER)
    checks.require_built(OWNER, model)
    checks.refuse_stateful(OWNER, model)
    batch_size = arguments.positive_int(OWNER, "batch_size", batch_size)
    if time_steps is not None:
        time_steps = arguments.positive_int(OWNER, "time_steps", time_steps)
    if not isinstance(streaming, bool):
        raise ValueError(
            f"{OWNER}: `streaming` must be True or False. Received: streaming={streaming!r}"
        )
    if streaming and time_steps is not None:
        raise ValueError(
            f"{OWNER}: a streaming model takes one step per call, so `time_steps` does "
            f"not apply; pass one or the other. Received: time_steps={time_steps}"
        )
    archive = keras.export.ExportArchive()
    if streaming:
        archive.track(model)
        program = StepProgram(model, owner=OWNER)
        name = "step"
        archive.add_endpoint(
            name, signatures.step_function(program), signatures.step_signature(program, batch_size)
        )
    else:
        name = "serve"
        if time_steps is None:
            # An unrolled copy is not tracked: saving a tracked model traces its
            # layers again with an unknown length, which an unrolled loop
            # refuses. `add_endpoint` tracks the variables `serve` reads anyway.
            archive.track(model)
        archive.add_endpoint(name, _serve(model, batch_size, time_steps))
    flatbuffer = _convert(archive, name)
    with staged(OWNER, path, overwrite) as staging:
        staging.write_bytes(flatbuffer)
    return pathlib.Path(path)


def _convert(archive, signature):
    """SavedModel -> TFLite, as Keras's LiteRT export does, but built-in ops only."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model, signature_keys=[signature]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert()


def _serve(model, batch_size, time_steps):
    """The traced `serve` function: of `model`, or with `time_steps` of an unrolled copy.

    A copy is unrolled, not `model`, so the user's model stays as it was
    built, its `unroll` settings included.
    """
    import tensorflow as tf

    traced = model if time_steps is None else _unrolled_copy(model)
    serve = tf.function(
        signatures.serve_function(traced),
        input_signature=signatures.serve_signature(OWNER, traced, batch_size, time_steps),
        autograph=False,
    )
    serve.get_concrete_function()
    return serve


def _unrolled_copy(model):
    """A copy of `model`, weights included, with every `keras.layers.RNN` unrolled.

    Cloning calls each new layer on the model's inputs, whose time axis is
    usually unknown, which an unrolled loop refuses; so the copy's loops are
    unrolled once it is built. The copy is ours alone: the user's model and
    its layers are only read.
    """
    copy = keras.models.clone_model(model, recursive=True)
    copy.set_weights(model.get_weights())
    for layer in walk_layers(copy):
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = True
    return copy
