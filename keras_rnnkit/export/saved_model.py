"""`export_saved_model`: a TensorFlow SavedModel through Keras's `ExportArchive`."""

import pathlib

from keras_rnnkit.export import checks
from keras_rnnkit.export import signatures
from keras_rnnkit.export.paths import staged
from keras_rnnkit.export.portable import device_independent
from keras_rnnkit.export.program import StepProgram

OWNER = "export_saved_model"


@device_independent
def export_saved_model(model, path, *, streaming=False, overwrite=False, input_signature=None):
    """Writes `model` as a TensorFlow SavedModel that serves without keras_rnnkit.

    Built on `keras.export.ExportArchive`. Signatures (B batch, T time, D
    features, all float32 as the model's input):

    - `serve(x)`: x (B, T, D) with B and T dynamic, returns what
      `model(x, training=False)` returns. Masking inside the model works.
    - with `streaming=True`, also `step(x_t, *states) -> (y_t, *states)`:
      one time step, x_t (B, D) and the states (B, S_i) in graph order, y_t
      the model's output for the sequence so far (without a time axis); and
      `initial_state(batch_size) -> states`, zeros of the right shapes. The
      caller carries the states between calls (see `to_streaming` for which
      models can stream).

    The SavedModel is written beside `path` and moved into place when
    complete, so a failing export leaves `path` as it was.

    Args:
        model: A built Keras model (called once, or started with
            `keras.Input`), with stateful=False layers.
        path: Folder to create.
        streaming: Also add the `step` and `initial_state` signatures.
            Default: `False`.
        overwrite: Replace an existing `path`. Default: `False`.
        input_signature: For a subclassed model (no `model.inputs`): a list
            of `keras.InputSpec` / `tf.TensorSpec` for `serve`. Default: `None`,
            the model's own inputs with a dynamic batch.

    Returns:
        `path`, as a `pathlib.Path`.

    Raises:
        ValueError: an unbuilt or stateful model, or (streaming) a layer that
            cannot stream. FileExistsError: `path` exists and `overwrite` is False.

    Example (served with TensorFlow alone, no keras import needed):

    ```python
    served = tf.saved_model.load(path)
    y = served.serve(x)
    states = served.initial_state(tf.constant(batch))
    y_t, *states = served.step(x[:, 0], *states)
    ```
    """
    import keras

    checks.require_tensorflow(OWNER)
    checks.require_built(OWNER, model)
    checks.refuse_stateful(OWNER, model)
    if not isinstance(streaming, bool):
        raise ValueError(
            f"{OWNER}: `streaming` must be True or False. Received: streaming={streaming!r}"
        )
    if input_signature is None:
        input_signature = signatures.serve_signature(OWNER, model)
    program = StepProgram(model, owner=OWNER) if streaming else None

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", signatures.serve_function(model), input_signature)
    if program is not None:
        import tensorflow as tf

        archive.add_endpoint(
            "step", signatures.step_function(program), signatures.step_signature(program)
        )
        archive.add_endpoint(
            "initial_state",
            signatures.initial_state_function(program, program.input_dtype),
            [tf.TensorSpec((), tf.int32, name="batch_size")],
        )
    with staged(OWNER, path, overwrite) as staging:
        archive.write_out(str(staging), verbose=False)
    return pathlib.Path(path)
