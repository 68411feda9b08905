"""Serve an export in a fresh interpreter where keras and keras_rnnkit cannot be imported.

A SavedModel is served by TensorFlow; a TFLite file by LiteRT and an ONNX file by
ONNX Runtime, where TensorFlow cannot be imported either.
"""

import os
import subprocess
import sys

import numpy as np

# Run in a fresh interpreter. The finder answers for keras, keras_rnnkit and
# tf_keras with a spec that has no origin and whose loader refuses to create the
# module: TensorFlow probes for keras with `importlib.util.find_spec` while it
# imports and must see it as absent, and every real import of them fails, just
# as on a serving machine where they are not installed.
SERVE_WITHOUT_KERAS = r"""
import importlib.abc
import importlib.machinery
import sys

form, artifact, *stems = sys.argv[1:]
BLOCKED = ("keras", "keras_rnnkit", "tf_keras")
if form != "savedmodel":
    BLOCKED += ("tensorflow",)


class Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} is not available when serving")

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is not available when serving")


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            return importlib.machinery.ModuleSpec(name, Refuse())
        return None


sys.meta_path.insert(0, Block())

import numpy as np

for blocked in BLOCKED:
    try:
        __import__(blocked)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{blocked} could be imported")

if form == "onnx":
    import onnxruntime

    session = onnxruntime.InferenceSession(artifact)
    name = session.get_inputs()[0].name
    serve = lambda x: session.run(None, {name: x})[0]
elif form == "tflite":
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=artifact).get_signature_runner("serve")
    key = next(iter(runner.get_input_details()))
    # Its batch is fixed (1 by default): one sample at a time.
    serve = lambda x: np.concatenate(
        [list(runner(**{key: x[i : i + 1]}).values())[0] for i in range(len(x))]
    )
else:
    import tensorflow as tf

    served = tf.saved_model.load(artifact)
    serve = lambda x: served.serve(tf.constant(x)).numpy()

for stem in stems:
    x = np.load(stem + ".x.npy")
    np.save(stem + ".served.npy", serve(x))
    if form == "savedmodel" and hasattr(served, "step"):
        # One step at a time, the states carried by the caller.
        states = served.initial_state(tf.constant(x.shape[0]))
        outputs = []
        for t in range(x.shape[1]):
            y_t, *states = served.step(tf.constant(x[:, t]), *states)
            outputs.append(y_t.numpy())
        np.save(stem + ".stepped.npy", np.stack(outputs, axis=1))

leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
if leaked:
    raise SystemExit(f"serving imported {leaked}")
"""


def serve_without_keras(artifact, inputs, workdir, form="savedmodel"):
    """Serves `artifact` on each array of `inputs` in a process without keras.

    `form` is "savedmodel" (served by TensorFlow), "tflite" or "onnx" (served
    where TensorFlow cannot be imported either).

    Returns one dict per input: "served" (the `serve` signature's output) and,
    when the SavedModel has a `step` signature, "stepped": (B, T, ...) the
    outputs of `step` fed one time step at a time from `initial_state`.
    """
    stems = []
    for index, x in enumerate(inputs):
        stem = os.path.join(str(workdir), f"input_{index}")
        np.save(stem + ".x.npy", x)
        stems.append(stem)
    # cwd=workdir so that the checkout is not on sys.path either.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_KERAS, form, str(artifact), *stems],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = []
    for stem in stems:
        result = {"served": np.load(stem + ".served.npy")}
        if os.path.exists(stem + ".stepped.npy"):
            result["stepped"] = np.load(stem + ".stepped.npy")
        results.append(result)
    return results
