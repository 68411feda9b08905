"""TensorFlow outside XLA: the fused recurrence runs its scans as XLA-compiled functions.

`tensorflow_rnn.compiles_scans` decides: outside a graph that XLA compiles,
and not while an exporter traces (`engine.portable()`). These tests check the
decision by the graph itself (a call with TensorFlow's `_XlaMustCompile`
attribute), and that the compiled and the plain scans give the same values
and gradients: with masks, backwards, eagerly under a gradient tape, and in
a graph traced with `None` batch and time dimensions.
"""

import contextlib

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import engine
from keras_rnnkit.export import export_saved_model

pytestmark = pytest.mark.tensorflow_only

tf = pytest.importorskip("tensorflow")

B, T, D = 3, 7, 4

LAYERS = {
    "elman": lambda **kw: keras_rnnkit.ElmanRNN(5, use_fused=True, **kw),
    "jordan": lambda **kw: keras_rnnkit.JordanRNN(5, 3, context_decay=0.4, use_fused=True, **kw),
}


def _compiles(graph_def):
    """Whether a graph (or a function in its library) calls an XLA-compiled function."""
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    return any(node.attr["_XlaMustCompile"].b for node in nodes)


def _assert_close(got, want):
    # XLA fuses the step's elementwise operations: float32 rounding differs,
    # in proportion to the size of the values.
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))


def _values_and_gradients(layer, x, mask):
    """A traced function's outputs and the gradients of a weighted loss."""

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(y * y * tf.range(1.0, T + 1.0)[None, :, None])
        return [y, *tape.gradient(loss, [x, *layer.trainable_variables])]

    values = [v.numpy() for v in run(x)]
    return values, _compiles(run.get_concrete_function(x).graph.as_graph_def())


@pytest.mark.parametrize("family", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_compiled_scans_equal_the_plain_ones(family, masked, go_backwards, rng):
    layer = LAYERS[family](return_sequences=True, go_backwards=go_backwards)
    layer.build((B, T, D))
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    mask = None
    if masked:
        mask = tf.constant(rng.random((B, T)) > 0.3)
    compiled, took_compiled = _values_and_gradients(layer, x, mask)
    with engine.portable():
        plain, took_plain = _values_and_gradients(layer, x, mask)
    assert took_compiled and not took_plain
    for got, want in zip(compiled, plain, strict=True):
        _assert_close(got, want)


def test_not_compiled_again_inside_xla(rng):
    layer = LAYERS["elman"](return_sequences=True)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    under_xla = tf.function(lambda t: layer(t), jit_compile=True)
    # One XLA cluster, the caller's: no nested compiled call in its graph.
    assert not _compiles(under_xla.get_concrete_function(x).graph.as_graph_def())
    np.testing.assert_allclose(under_xla(x), layer(x), rtol=1e-5, atol=1e-6)


def test_exported_model_holds_no_compiled_call(tmp_path, rng):
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, LAYERS["jordan"]()(inputs))
    x = rng.normal(size=(B, T, D)).astype("float32")
    path = str(tmp_path / "served")
    export_saved_model(model, path)
    served = tf.saved_model.load(path)
    signature = served.signatures["serving_default"]
    assert not _compiles(signature.graph.as_graph_def())
    (outputs,) = signature(tf.constant(x)).values()
    np.testing.assert_allclose(outputs, model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", sorted(LAYERS))
def test_eager_calls_under_a_tape_and_new_shapes(family, rng):
    # Eagerly the tape records the compiled call too; the layer must not
    # ask TensorFlow for that call's own gradient (XLA cannot give it).
    layer = LAYERS[family](return_sequences=True)
    reference = LAYERS[family](return_sequences=True)
    for batch, steps in ((2, 5), (3, 5), (2, 9)):
        x = tf.constant(rng.normal(size=(batch, steps, D)).astype("float32"))
        if not layer.built:
            layer.build(x.shape)
            reference.build(x.shape)
            reference.set_weights(layer.get_weights())
        grads = []
        for current, portable in ((layer, False), (reference, True)):
            with engine.portable() if portable else contextlib.nullcontext():
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(current(x) ** 2)
                grads.append(tape.gradient(loss, [x, *current.trainable_variables]))
        for got, want in zip(*grads, strict=True):
            _assert_close(got, want)


def test_one_trace_serves_every_batch_size_and_length(rng):
    layer = LAYERS["jordan"](return_sequences=True)
    layer.build((None, None, D))

    @tf.function(input_signature=[tf.TensorSpec((None, None, D))])
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, x)

    for batch, steps in ((2, 5), (4, 1), (1, 11)):
        x = rng.normal(size=(batch, steps, D)).astype("float32")
        got = gradient(tf.constant(x))
        with engine.portable():
            with tf.GradientTape() as tape:
                xt = tf.constant(x)
                tape.watch(xt)
                loss = tf.reduce_sum(layer(xt) ** 2)
            want = tape.gradient(loss, xt)
        _assert_close(got, want)
    assert len(gradient._list_all_concrete_functions()) == 1


def test_static_shapes_survive_a_generalised_trace(rng):
    # After calls with several shapes the compiled functions' trace is
    # generalised (`reduce_retracing`); the layer's outputs keep the static
    # shape their inputs give, which the next layer's build relies on.
    layer = LAYERS["jordan"](return_sequences=True)
    for batch, steps in ((2, 3), (3, 4), (4, 6), (5, 2)):
        layer(rng.normal(size=(batch, steps, D)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec((None, 6, D))])
    def outputs(x):
        return layer(x)

    assert outputs.get_concrete_function().structured_outputs.shape.as_list() == [None, 6, 3]
