"""Inference that returns the last step only: a loop that stacks nothing.

A fused ElmanRNN or JordanRNN called with `return_sequences=False` and not
training needs the last step's output and state only. On TensorFlow and JAX
the engine then runs the backend's `feedback_last`, whose loop carries the
state and the held output (Keras's masking rule) instead of stacking every
step's. Its gradient, for a caller that differentiates an inference call,
is `feedback`'s (TensorFlow reruns the stacking scan; JAX runs `feedback`'s
forward rule), from the last step's gradients (`engine.last_step_gradients`).
PyTorch has no such loop: the engine slices the stacked outputs.

Values and gradients against the step loop, for the options and masks of
test_fused_paths.py ("last-output", "tanh-output", "zeros-last-output",
masked), run through this path already; these tests check which path runs,
the gradient rule on its own (every backend), and the path in a traced
graph and under XLA.
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import engine
from tests.autodiff import gradients
from tests.autodiff import to_numpy
from tests.fused_equality import layer_pair
from tests.fused_equality import masks

B, T, D = 3, 8, 4

LAYERS = {
    "elman": lambda **kw: keras_rnnkit.ElmanRNN(5, **kw),
    "elman-relu-no-bias": lambda **kw: keras_rnnkit.ElmanRNN(
        5, activation="relu", use_bias=False, **kw
    ),
    "jordan": lambda **kw: keras_rnnkit.JordanRNN(
        5, 3, context_decay=0.4, output_activation="tanh", **kw
    ),
}
OPTIONS = {
    "elman": engine.Feedback("tanh"),
    "jordan-decay": engine.Feedback("tanh", "sigmoid", 0.4),
    "jordan": engine.Feedback("relu", "linear"),
}


@pytest.mark.parametrize("options", sorted(OPTIONS))
@pytest.mark.parametrize("rule", [None, "previous", "zeros"])
def test_last_step_gradients_are_those_of_the_last_outputs(options, rule, rng):
    """`last_step_gradients` against autodiff of the last step's output and c_T.

    The stacked tensors are random: the rule is the gradient of
    `engine.last_of` of their last step, whatever the recurrence gave (the
    masking rule is in the loop, so the last stacked output is the one shown).
    Without an output layer the loops carry a 0/1 flag instead of the output:
    a function of the mask alone, whose gradient no one reads.
    """
    feedback = OPTIONS[options]._replace(mask_rule=rule)
    width = 3
    returned = [rng.normal(size=(T, B, width)).astype("float32")]
    if feedback.shows_flag:
        returned.insert(0, rng.integers(0, 2, size=(T, B, 1)).astype("float32"))
    elif feedback.stacks_outputs:
        returned.insert(0, rng.normal(size=(T, B, width)).astype("float32"))
    grad_output, grad_context = rng.normal(size=(2, B, width)).astype("float32")

    def weighted(*stacked):
        output, context = engine.last_of(feedback, tuple(r[-1] for r in stacked))
        by_output = output * keras.ops.convert_to_tensor(grad_output)
        by_context = context * keras.ops.convert_to_tensor(grad_context)
        return keras.ops.sum(by_output) + keras.ops.sum(by_context)

    _, want = gradients(weighted, returned)
    got = engine.last_step_gradients(
        feedback,
        [keras.ops.convert_to_tensor(r) for r in returned],
        keras.ops.convert_to_tensor(grad_output),
        keras.ops.convert_to_tensor(grad_context),
    )
    assert len(got) == len(want)
    compared = slice(-1, None) if feedback.shows_flag else slice(None)
    for g, w in zip(got[compared], want[compared], strict=True):
        np.testing.assert_allclose(to_numpy(g), w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_no_gradient_for_one_of_the_two_is_zeros(name, rng):
    """Differentiating the output alone (the state unused), or the state alone."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    fast, generic = layer_pair(
        lambda: LAYERS[name](use_fused=True, return_state=True),
        lambda: LAYERS[name](use_fused=False, return_state=True),
        x.shape,
    )
    for index in (0, 1):

        def loss(layer, index=index):
            return lambda x: keras.ops.sum(layer(x, training=False)[index] ** 2)

        got = gradients(loss(fast), [x])[1][0]
        want = gradients(loss(generic), [x])[1][0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# The path taken (TensorFlow and JAX); in a traced graph and under XLA (TensorFlow).

tensorflow_only = pytest.mark.tensorflow_only
has_last_loop = pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"),
    reason="only TensorFlow and JAX have an inference loop of the last step",
)


@pytest.fixture
def engine_calls(monkeypatch):
    """Calls of the backend's stacking `feedback` and of its `feedback_last`, by name."""
    module = engine.backend_module()
    calls = {"feedback": 0, "feedback_last": 0}
    for name in calls:
        function = getattr(module, name)

        def counted(*args, _name=name, _function=function, **kwargs):
            calls[_name] += 1
            return _function(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


@has_last_loop
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
def test_inference_of_the_last_step_stacks_nothing(name, masked, engine_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = masks(T)["gaps"] if masked else None
    layer = LAYERS[name](use_fused=True, return_state=True)
    layer(x, mask=mask, training=False)
    assert engine_calls == {"feedback": 0, "feedback_last": 1}


@has_last_loop
@pytest.mark.parametrize(
    ("options", "training"),
    [({"return_sequences": True}, False), ({}, True)],
    ids=["sequences", "training"],
)
def test_sequences_and_training_run_the_stacking_scan(options, training, engine_calls, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    LAYERS["jordan"](use_fused=True, **options)(x, training=training)
    assert engine_calls == {"feedback": 1, "feedback_last": 0}


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="a JAX program")
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_jax_inference_scan_of_the_last_step_stacks_nothing(name, rng):
    """In the traced program every scan's outputs are its carry: no stacked array."""
    import jax

    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = LAYERS[name](use_fused=True, return_state=True)
    layer.build(x.shape)
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def call(x):
        return layer.stateless_call(trainable, non_trainable, x, training=False)[0]

    def scans_in(jaxpr):
        found = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
        for equation in jaxpr.eqns:
            for param in equation.params.values():
                inner = getattr(param, "jaxpr", param)  # a ClosedJaxpr's, or a Jaxpr
                if hasattr(inner, "eqns"):
                    found += scans_in(inner)
        return found

    scans = scans_in(jax.make_jaxpr(call)(x).jaxpr)
    assert scans
    assert all(len(e.outvars) == e.params["num_carry"] for e in scans)


@tensorflow_only
def test_gradient_of_an_inference_call_reruns_the_stacking_scan(engine_calls, rng):
    import tensorflow as tf

    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    layer = LAYERS["elman"](use_fused=True)
    with tf.GradientTape() as tape:
        tape.watch(x)
        output = layer(x, training=False)
    assert engine_calls == {"feedback": 0, "feedback_last": 1}
    tape.gradient(output, x)
    assert engine_calls == {"feedback": 0, "feedback_last": 1}, "feedback is not called again"


@tensorflow_only
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_traced_values_and_gradients_equal_step_loop(name, jit_compile, rng):
    """In a `tf.function` (XLA-compiled or not), with a mask: the step loop's numbers."""
    import tensorflow as tf

    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = masks(T)["empty-row"]
    fast, generic = layer_pair(
        lambda: LAYERS[name](use_fused=True, return_state=True),
        lambda: LAYERS[name](use_fused=False, return_state=True),
        x.shape,
    )
    weights = rng.normal(size=(2, B, 3 if name == "jordan" else 5)).astype("float32")

    def traced(layer):
        @tf.function(jit_compile=jit_compile)
        def value_and_gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                output, state = layer(x, mask=tf.constant(mask), training=False)
                loss = tf.reduce_sum(output * weights[0]) + tf.reduce_sum(state * weights[1])
            return output, state, tape.gradient(loss, [x, *layer.trainable_variables])

        return value_and_gradient(tf.constant(x))

    got, want = traced(fast), traced(generic)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want), strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-5)


@tensorflow_only
def test_predict_under_xla_equals_step_loop(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    predictions = []
    for use_fused in (True, False):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((T, D))
        hidden = keras.layers.Masking(0.0)(inputs)
        hidden = LAYERS["jordan"](use_fused=use_fused, return_sequences=True)(hidden)
        model = keras.Model(inputs, LAYERS["elman"](use_fused=use_fused)(hidden))
        model.compile(jit_compile=True)
        padded = x.copy()
        padded[1, 5:] = 0.0
        predictions.append(model.predict_on_batch(padded))
    np.testing.assert_allclose(predictions[0], predictions[1], rtol=1e-5, atol=1e-5)
