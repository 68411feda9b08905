"""Export and deployment: SavedModel, streaming, TFLite / LiteRT and ONNX.

`to_streaming` works on every backend; the file formats need TensorFlow.
Nothing is lost: an existing path is replaced only with `overwrite=True`, and
every artefact is written beside its path and moved into place when complete.
"""

from keras_rnnkit.export.onnx import export_onnx as export_onnx
from keras_rnnkit.export.program import StepProgram as StepProgram
from keras_rnnkit.export.saved_model import export_saved_model as export_saved_model
from keras_rnnkit.export.stateful import StreamingModel as StreamingModel
from keras_rnnkit.export.stateful import to_streaming as to_streaming
from keras_rnnkit.export.tflite import export_tflite as export_tflite
