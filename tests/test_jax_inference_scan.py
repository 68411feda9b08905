"""JAX: the fused recurrence projects x_t inside the scan where nothing differentiates it.

`jax_rnn.feedback` is a `jax.custom_vjp`: JAX runs the function itself only
when no gradient is taken (inference), and its forward rule under
differentiation. The first scans the (T, B, D) inputs and multiplies x_t W
inside each step; the second scans the (T, B, H) projection computed before
it. These tests check which scan runs, by the scanned arrays' shapes in the
traced program, and that both give the same values (gradients against the
step loop and the NumPy references are in test_fused_paths.py and
test_reference_equations.py).
"""

import keras
import numpy as np
import pytest

import keras_rnnkit

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="needs the JAX backend")

B, T, D, UNITS = 3, 9, 4, 6  # D != UNITS: the scanned arrays tell the two scans apart

LAYERS = {
    "elman": lambda **kw: keras_rnnkit.ElmanRNN(UNITS, use_fused=True, **kw),
    "jordan": lambda **kw: keras_rnnkit.JordanRNN(
        UNITS, 2, context_decay=0.3, use_fused=True, **kw
    ),
}


def _layer_and_call(name, rng, **options):
    layer = LAYERS[name](return_sequences=True, **options)
    layer.build((B, T, D))
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def call(x, mask=None):
        return layer.stateless_call(trainable, non_trainable, x, mask=mask)[0]

    return call


def _scanned_widths(jaxpr):
    """The last dimension of every array the program's scans iterate over."""
    widths = []
    for equation in jaxpr.eqns:
        if equation.primitive.name == "scan":
            consts = equation.params["num_consts"] + equation.params["num_carry"]
            widths += [v.aval.shape[-1] for v in equation.invars[consts:]]
        for param in equation.params.values():
            inner = getattr(param, "jaxpr", param)  # a ClosedJaxpr's, or a Jaxpr
            if hasattr(inner, "eqns"):
                widths += _scanned_widths(inner)
    return widths


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inference_scans_the_inputs_and_training_the_projection(name, rng):
    import jax

    call = _layer_and_call(name, rng)
    x = rng.normal(size=(B, T, D)).astype("float32")
    inference = _scanned_widths(jax.make_jaxpr(call)(x).jaxpr)
    assert D in inference and UNITS not in inference
    forward_and_back = jax.make_jaxpr(jax.grad(lambda x: call(x).sum()))(x).jaxpr
    # The forward scan takes the projection; the reverse scan the gradients.
    assert D not in _scanned_widths(forward_and_back)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
def test_inference_scan_equals_the_differentiated_one(name, go_backwards, masked, rng):
    import jax

    call = _layer_and_call(name, rng, go_backwards=go_backwards, use_bias=name == "elman")
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = None
    if masked:
        mask = np.arange(T)[None, :] < np.array([[T], [4], [0]])  # one row without a step
    inference = np.asarray(jax.jit(call)(x, mask))
    differentiated, _ = jax.vjp(lambda x: call(x, mask), x)  # its forward rule's values
    np.testing.assert_allclose(inference, np.asarray(differentiated), rtol=1e-6, atol=1e-6)
