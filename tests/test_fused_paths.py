"""The fused recurrences equal the generic step loop, and are taken when they should be.

Every family with a fused recurrence (`keras_rnnkit.backend.engine.run`, its
cell's `fused_form`, chosen by `use_fused`) runs through the
same checks, one row of `FAMILIES` each: values and gradients against
`use_fused=False` on the same backend with the same weights, and against the
NumPy reference written from the equations; a spy proves which path ran; the
configurations the fused code cannot run take the step loop, by a named reason.
`use_fused=True` forces the fused path (where the configuration allows);
`"auto"` takes it where it is measured to be faster (see each family's row).

The fused kernels: ElmanRNN runs PyTorch's RNN kernel on torch (where the mask
allows) and cuDNN's on TensorFlow with a GPU; everything else runs the engine's
one output-feedback recurrence, scans with a hand-written backward pass (JAX,
TensorFlow) or one `torch.autograd.Function`. The checks of the native kernels
are at the end.
"""

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend import engine
from keras_rnnkit.layers import fused_policy
from tests import reference
from tests.autodiff import gradients
from tests.autodiff import to_numpy
from tests.fused_equality import assert_same
from tests.fused_equality import layer_pair
from tests.fused_equality import masks

B, T, D = 3, 7, 4
BACKEND = keras.backend.backend()
ON_TORCH = BACKEND == "torch"
ON_TENSORFLOW = BACKEND == "tensorflow"
# Masks the fused recurrences apply step by step (see `masks`).
MASKS = masks(T)
STEPS = np.arange(T)[None, :]


def _elman_reference(x, weights, initial, mask, options):
    states = reference.elman(x, *weights, h0=initial, mask=mask, **options)
    return states, states


def _jordan_reference(x, weights, initial, mask, options):
    return reference.jordan(x, *weights, c0=initial, mask=mask, **options)


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """One family with a fused recurrence, and the cases its checks run."""

    name: str
    layer: type
    # The function of `keras_rnnkit.backend.engine` that runs the family (the spy's target).
    engine_function: str
    # Constructor arguments of every layer in these tests.
    constructor: dict
    # The size of one output step, and of the state (they are equal in both families).
    output_size: int
    # Whether the fused recurrence takes any mask here (else only some, tested separately).
    fuses_any_mask: bool
    # An option of the family that the initial-state, chunked and fit checks turn on.
    extra: dict
    # Options the fused recurrence runs (checked training and inference).
    fused_options: dict
    # Configurations the fused recurrence cannot run: (options, call arguments).
    step_loop_options: dict
    # Constructor options `use_fused=True` refuses, with the reason the error names.
    forced_errors: dict
    # Obstacles only a call reveals, with use_fused=True: (options, call arguments, message).
    call_errors: dict
    masked_options: dict
    # (x, weights, initial state, mask, options) -> (outputs, states), all float64.
    reference: Callable
    # Reference checks: mask name (or None) and the options of layer and reference.
    reference_cases: dict
    # The switch of the fit checks, and the two layers' options there.
    fit_switch: object
    fit_layers: tuple
    # Mixed precision: the switch, and whether the fused recurrence is then taken.
    mixed_precision: tuple

    def make(self, **options):
        return self.layer(**self.constructor, **options)

    def __str__(self):
        return self.name


ELMAN = Family(
    name="elman",
    layer=keras_rnnkit.ElmanRNN,
    engine_function="run",
    constructor={"units": 5},
    output_size=5,
    # The engine takes any mask (on torch, PyTorch's kernel takes right-padded ones).
    fuses_any_mask=True,
    extra={},
    fused_options={
        "last-output": {},
        "sequences": {"return_sequences": True},
        "state": {"return_sequences": True, "return_state": True},
        "backwards": {"return_sequences": True, "go_backwards": True},
        "relu-no-bias": {"activation": "relu", "use_bias": False, "return_sequences": True},
        "input-dropout": {"return_sequences": True, "dropout": 0.3, "seed": 3},
        # Recurrent dropout acts only while training: at inference it is fused too.
        "recurrent-dropout-inference": {"return_sequences": True, "recurrent_dropout": 0.3},
    },
    step_loop_options={
        "use_fused=False": ({"use_fused": False}, {}),
        "sigmoid": ({"activation": "sigmoid"}, {}),
        "recurrent-dropout-training": ({"recurrent_dropout": 0.3}, {"training": True}),
        "zoneout": ({"zoneout": 0.2}, {}),
        "layer-norm": ({"layer_norm": True}, {}),
        "gradient-clip": ({"gradient_clip": 1.0}, {}),
        "truncate": ({"truncate_gradient": 2}, {}),
        "unroll": ({"unroll": True}, {}),
    },
    forced_errors={
        "sigmoid": ({"activation": "sigmoid"}, "the activation is not tanh or relu"),
        "zoneout": ({"zoneout": 0.1}, "zoneout acts inside the step"),
        "recurrent-dropout": ({"recurrent_dropout": 0.1}, "recurrent dropout acts inside the step"),
        "unroll": ({"unroll": True}, "unroll=True"),
    },
    # Nothing a call can bring stops the fused path (any mask runs the engine).
    call_errors={},
    masked_options={
        "last-output": {},
        "sequences-state": {"return_sequences": True, "return_state": True},
        "zeros": {"return_sequences": True, "zero_output_for_mask": True},
        "zeros-last-output": {"zero_output_for_mask": True},
        "backwards": {"return_sequences": True, "return_state": True, "go_backwards": True},
        "relu-dropout": {"activation": "relu", "return_sequences": True, "dropout": 0.3, "seed": 2},
    },
    reference=_elman_reference,
    reference_cases={
        "no-mask": (None, {}),
        "relu-no-mask": (None, {"activation": "relu"}),
        **{name: (name, {}) for name in MASKS},
    },
    fit_switch="auto",
    fit_layers=({"return_sequences": True}, {"go_backwards": True}),
    # PyTorch's CPU kernel has no bfloat16 path: there the engine runs.
    mixed_precision=("auto", True),
)

JORDAN = Family(
    name="jordan",
    layer=keras_rnnkit.JordanRNN,
    engine_function="run",
    constructor={"units": 6, "output_units": 2},
    output_size=2,
    fuses_any_mask=True,
    extra={"context_decay": 0.5},
    fused_options={
        "last-output": {},
        "sequences": {"return_sequences": True},
        "state": {"return_sequences": True, "return_state": True},
        "decay": {"return_sequences": True, "return_state": True, "context_decay": 0.6},
        "backwards": {"return_sequences": True, "go_backwards": True, "context_decay": 0.3},
        "relu-no-bias": {"activation": "relu", "use_bias": False, "return_sequences": True},
        "tanh-output": {"output_activation": "tanh", "return_state": True, "context_decay": 0.5},
        "sigmoid-output": {"output_activation": "sigmoid", "return_sequences": True},
        "input-dropout": {"return_sequences": True, "dropout": 0.3, "seed": 3},
        "recurrent-dropout-inference": {"return_sequences": True, "recurrent_dropout": 0.3},
    },
    step_loop_options={
        "use_fused=False": ({"use_fused": False}, {}),
        "sigmoid": ({"activation": "sigmoid"}, {}),
        "softmax-output": ({"output_activation": "softmax"}, {}),
        "recurrent-dropout-training": ({"recurrent_dropout": 0.3}, {"training": True}),
        "zoneout": ({"zoneout": 0.2}, {}),
        "layer-norm": ({"layer_norm": True}, {}),
        "gradient-clip": ({"gradient_clip": 1.0}, {}),
        "truncate": ({"truncate_gradient": 2}, {}),
        "unroll": ({"unroll": True}, {}),
        "teacher-forcing": ({}, {"training": True, "targets": np.zeros((B, T, 2), "float32")}),
    },
    forced_errors={
        "sigmoid": ({"activation": "sigmoid"}, "the activation is not tanh or relu"),
        "relu-output": (
            {"output_activation": "relu"},
            "the output activation is not linear, tanh or sigmoid",
        ),
        "zoneout": ({"zoneout": 0.1}, "zoneout acts inside the step"),
        "recurrent-dropout": ({"recurrent_dropout": 0.1}, "recurrent dropout acts inside the step"),
        "unroll": ({"unroll": True}, "unroll=True"),
    },
    call_errors={
        "teacher-forcing": (
            {"return_sequences": True},
            {"targets": np.zeros((B, T, 2), "float32"), "training": True},
            "teacher forcing",
        )
    },
    masked_options={
        "last-output": {"context_decay": 0.5},
        "sequences-state": {"return_sequences": True, "return_state": True, "context_decay": 0.5},
        "no-decay-tanh": {"return_sequences": True, "output_activation": "tanh"},
        "zeros": {"return_sequences": True, "zero_output_for_mask": True, "context_decay": 0.3},
        "zeros-last-output": {"zero_output_for_mask": True, "return_state": True},
        "backwards": {"return_sequences": True, "go_backwards": True, "context_decay": 0.5},
    },
    reference=_jordan_reference,
    reference_cases={
        "no-mask": (None, {"output_activation": "tanh", "context_decay": 0.4}),
        **{name: (name, {"context_decay": 0.4}) for name in MASKS},
    },
    fit_switch=True,
    fit_layers=(
        {"return_sequences": True, "context_decay": 0.5},
        {"go_backwards": True, "output_activation": "tanh"},
    ),
    mixed_precision=(True, True),
)

FAMILIES = [ELMAN, JORDAN]
# The fast tier keeps one case of each check per family; the grids are slow.
SLOW = pytest.mark.slow


def each_family(*, where=lambda family: True):
    return pytest.mark.parametrize("family", [f for f in FAMILIES if where(f)], ids=str)


def family_cases(table, *, where=lambda family: True, fast=None):
    """`family, name` for every case of `family.<table>`, with ids `family-name`.

    `fast` ({family name: case names}) keeps those cases in the fast tier and
    marks the others slow; without it every case is fast.
    """
    return pytest.mark.parametrize(
        "family, name",
        [
            pytest.param(
                family,
                name,
                id=f"{family}-{name}",
                marks=() if fast is None or name in fast.get(family.name, ()) else SLOW,
            )
            for family in FAMILIES
            if where(family)
            for name in getattr(family, table)
        ],
    )


def tiered(argname, values, fast, ids=None):
    """Parametrizes `argname` by `values`; those not in `fast` are marked slow."""
    ids = ids or [str(value) for value in values]
    return pytest.mark.parametrize(
        argname,
        [
            pytest.param(value, id=id_, marks=() if value in fast else SLOW)
            for value, id_ in zip(values, ids, strict=True)
        ],
    )


@pytest.fixture
def fused_calls(family, monkeypatch):
    """Counts the calls of the family's fused recurrence (at trace time inside compiled code)."""
    calls = []
    run = getattr(engine, family.engine_function)

    def spy(*args, **kwargs):
        calls.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(engine, family.engine_function, spy)
    return calls


def _inputs(rng, batch=B):
    return rng.normal(size=(batch, T, D)).astype("float32")


@family_cases("fused_options", fast={"elman": {"state"}, "jordan": {"decay"}})
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_fused_recurrence_equals_step_loop(family, name, training, fused_calls, rng):
    options = family.fused_options[name]
    if training and options.get("recurrent_dropout"):
        pytest.skip("recurrent dropout while training is not fused (see the step-loop test)")
    # use_fused=True refuses recurrent dropout (training could not fuse); "auto"
    # fuses it at inference, where it fuses eagerly at all.
    switch = "auto" if options.get("recurrent_dropout") else True
    x = _inputs(rng)
    fast, generic = layer_pair(
        lambda: family.make(use_fused=switch, **options),
        lambda: family.make(use_fused=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training)
    assert fused_calls, "the fused recurrence was not taken"
    assert all(call[0].shape[1] == T for call in fused_calls)


@each_family()
def test_initial_state_values_and_gradients_equal_step_loop(family, fused_calls, rng):
    x = _inputs(rng)
    initial = rng.normal(size=(B, family.output_size)).astype("float32")
    loss_weights = rng.normal(size=(B, family.output_size)).astype("float32")
    fast, generic = layer_pair(
        lambda: family.make(use_fused=True, return_state=True, **family.extra),
        lambda: family.make(use_fused=False, return_state=True, **family.extra),
        x.shape,
    )
    for got, want in zip(fast(x, initial_state=[initial]), generic(x, initial_state=[initial])):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 1

    def loss(layer):
        def value(x_tensor, initial_tensor):
            outputs, state = layer(x_tensor, initial_state=[initial_tensor])
            weighted = (outputs + 2.0 * state) * keras.ops.convert_to_tensor(loss_weights)
            return keras.ops.sum(weighted)

        return value

    got = gradients(loss(fast), [x, initial])
    assert len(fused_calls) > 1, "the gradient did not go through the fused recurrence"
    want = gradients(loss(generic), [x, initial])
    for g, w in zip([got[0], *got[1]], [want[0], *want[1]], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@family_cases("reference_cases", fast={"elman": {"no-mask", "gaps"}, "jordan": {"no-mask", "gaps"}})
def test_fused_recurrence_matches_the_numpy_reference(family, name, fused_calls, rng):
    mask_name, options = family.reference_cases[name]
    mask = None if mask_name is None else MASKS[mask_name]
    x = _inputs(rng)
    initial = rng.normal(size=(B, family.output_size)).astype("float32")
    layer = family.make(use_fused=True, return_sequences=True, return_state=True, **options)
    layer.build(x.shape)
    for weight in layer.weights:  # non-zero biases, so that every weight matters
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    call_mask = None if mask is None else keras.ops.convert_to_tensor(mask)
    outputs, state = layer(x, initial_state=[initial], mask=call_mask)
    weights = [to_numpy(w).astype("float64") for w in layer.weights]
    ys, states = family.reference(x.astype("float64"), weights, initial, mask, options)
    want = ys
    if mask is not None:
        # Keras's rule: a masked step repeats the last unmasked step's output, zeros before it.
        held, want = np.zeros((B, family.output_size)), np.zeros_like(ys)
        for t in range(T):
            held = np.where(mask[:, t, None], ys[:, t], held)
            want[:, t] = held
    np.testing.assert_allclose(to_numpy(outputs), want, atol=1e-5)
    np.testing.assert_allclose(to_numpy(state), states[:, -1], atol=1e-5)
    assert len(fused_calls) == 1


@family_cases("step_loop_options")
def test_unsupported_configurations_take_the_step_loop(family, name, fused_calls, rng):
    options, call_kwargs = family.step_loop_options[name]
    layer = family.make(**{"use_fused": "auto", "return_sequences": True, **options})
    outputs = layer(_inputs(rng), **call_kwargs)
    assert tuple(outputs.shape) == (B, T, family.output_size)
    assert not fused_calls


@each_family()
def test_unsupported_reason_names_the_obstacle(family):
    layer = family.make(zoneout=0.1)
    assert fused_policy.fused_reason(layer, training=False) == "zoneout acts inside the step"
    assert fused_policy.fused_reason(family.make(), training=True) is None


@each_family()
def test_auto_takes_the_fused_recurrence_where_supported(family, fused_calls, rng):
    x = _inputs(rng)
    layer = family.make(use_fused="auto")
    layer(x)
    assert fused_calls
    if ON_TENSORFLOW:
        import tensorflow as tf

        tf.function(lambda t: layer(t), jit_compile=True)(x)  # under XLA: fused
        assert len(fused_calls) == 2
        tf.function(lambda t: layer(t))(x)  # a graph without XLA: fused too
        assert len(fused_calls) == 3


@family_cases("forced_errors")
def test_use_fused_true_with_an_unsupported_configuration_raises(family, name):
    options, message = family.forced_errors[name]
    layer_name = family.layer.__name__
    with pytest.raises(ValueError, match=f"{layer_name}: `use_fused=True` needs .*{message}"):
        family.make(use_fused=True, **options)


@family_cases("call_errors")
def test_use_fused_true_with_an_obstacle_in_the_call_raises_there(family, name, rng):
    options, call_kwargs, message = family.call_errors[name]
    layer = family.make(use_fused=True, **options)
    x = _inputs(rng)
    layer(x)  # nothing in the way: fused
    with pytest.raises(ValueError, match=f"use_fused=True.*{message}"):
        layer(x, **call_kwargs)


@family_cases(
    "masked_options",
    where=lambda family: family.fuses_any_mask,
    fast={"elman": {"sequences-state"}, "jordan": {"sequences-state"}},
)
@tiered("mask_name", list(MASKS), fast={"gaps"})
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_masked_fused_recurrence_equals_step_loop(
    family, name, mask_name, training, fused_calls, rng
):
    options = family.masked_options[name]
    x = _inputs(rng)
    fast, generic = layer_pair(
        lambda: family.make(use_fused=True, **options),
        lambda: family.make(use_fused=False, **options),
        x.shape,
    )
    mask = keras.ops.convert_to_tensor(MASKS[mask_name])
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls, "the fused recurrence was not taken"


@SLOW
@each_family(where=lambda family: family.fuses_any_mask)
def test_masked_fused_recurrence_in_a_compiled_fit_equals_step_loop(family, fused_calls, rng):
    x = _inputs(rng, batch=8)
    x[:4, 5:] = 0.0  # padding, masked by the Masking layer
    y = rng.normal(size=(8, 1)).astype("float32")

    def trained(use_fused):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((T, D)),
                keras.layers.Masking(0.0),
                family.make(use_fused=use_fused),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="sgd", loss="mse", jit_compile=not ON_TORCH)
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return history.history["loss"], [to_numpy(w) for w in model.get_weights()]

    fast_loss, fast_weights = trained(True)
    assert fused_calls, "the fused recurrence was not taken"
    calls = len(fused_calls)
    loop_loss, loop_weights = trained(False)
    assert len(fused_calls) == calls
    np.testing.assert_allclose(fast_loss, loop_loss, rtol=1e-5)
    for got, want in zip(fast_weights, loop_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@each_family()
def test_padded_batch_equals_each_sequence_alone(family, fused_calls, rng):
    lengths = [T, 4, 1]
    x = _inputs(rng)
    mask = keras.ops.convert_to_tensor(STEPS < np.array(lengths)[:, None])
    layer = family.make(use_fused=True, return_state=True)
    outputs, state = layer(x, mask=mask)
    for row, length in enumerate(lengths):
        alone, alone_state = layer(x[row : row + 1, :length])
        np.testing.assert_allclose(to_numpy(outputs)[row], to_numpy(alone)[0], atol=1e-6)
        np.testing.assert_allclose(to_numpy(state)[row], to_numpy(alone_state)[0], atol=1e-6)
    assert len(fused_calls) == 1 + len(lengths)


@pytest.mark.parametrize("value", ["yes", 1, None])
@each_family()
def test_use_fused_must_be_auto_true_or_false(family, value):
    with pytest.raises(ValueError, match=r"`use_fused` must be one of 'auto', True, False"):
        family.make(use_fused=value)


@pytest.mark.parametrize("value", ["auto", True, False])
@each_family()
def test_use_fused_round_trips_through_config(family, value):
    layer = family.make(use_fused=value)
    assert layer.get_config()["use_fused"] == value
    assert family.layer.from_config(layer.get_config()).use_fused == value
    wrapped = keras.layers.Bidirectional(layer)
    assert wrapped.forward_layer.use_fused == value
    assert wrapped.backward_layer.use_fused == value


def _fit(family, use_fused, x, y, stateful=False, jit_compile="auto"):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((T, D), batch_size=B) if stateful else keras.Input((None, D))
    first, second = family.fit_layers
    model = keras.Sequential(
        [
            inputs,
            family.make(use_fused=use_fused, stateful=stateful, **first),
            family.make(use_fused=use_fused, stateful=stateful, **second),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit_compile)
    # Stateful: each batch starts from the state the previous one left in the layer's variable.
    history = model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"], model.get_weights()


@SLOW
@each_family()
@pytest.mark.parametrize(
    "variant",
    [
        "default",
        # Regression: a stateful layer writes the new state into its variable in
        # place before the backward pass that needs h_0 / c_0 (PyTorch's kernel
        # kept h_0; see torch_rnn.jordan): forced, so that it is fused everywhere.
        "stateful",
        # jit_compile="auto" compiles a recurrent model without XLA on TensorFlow.
        pytest.param("jit", marks=pytest.mark.tensorflow_only),
    ],
)
def test_training_in_fit_equals_step_loop(family, variant, fused_calls, rng):
    switch = True if variant == "stateful" else family.fit_switch
    stateful, jit_compile = variant == "stateful", (True if variant == "jit" else "auto")
    x = _inputs(rng, batch=2 * B)
    y = rng.normal(size=(2 * B, 1)).astype("float32")
    loss, weights = _fit(family, switch, x, y, stateful, jit_compile)
    assert fused_calls  # "auto" and True both fuse these configurations
    calls = len(fused_calls)
    want_loss, want_weights = _fit(family, False, x, y, stateful, jit_compile)
    assert len(fused_calls) == calls
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@each_family()
def test_stateful_chunks_equal_one_call(family, fused_calls, rng):
    x = _inputs(rng)
    options = {"return_sequences": True, **family.extra}
    stateful, whole = layer_pair(
        lambda: family.make(use_fused=True, stateful=True, **options),
        lambda: family.make(use_fused=False, **options),
        x.shape,
    )
    chunks = np.concatenate([to_numpy(stateful(x[:, :3])), to_numpy(stateful(x[:, 3:]))], axis=1)
    np.testing.assert_allclose(chunks, to_numpy(whole(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


@each_family()
def test_bidirectional_runs_both_directions_fused(family, fused_calls, rng):
    x = _inputs(rng)
    fast, generic = layer_pair(
        lambda: keras.layers.Bidirectional(family.make(use_fused=True, return_sequences=True)),
        lambda: keras.layers.Bidirectional(family.make(use_fused=False, return_sequences=True)),
        x.shape,
    )
    np.testing.assert_allclose(to_numpy(fast(x)), to_numpy(generic(x)), rtol=1e-5, atol=1e-5)
    assert len(fused_calls) == 2


@each_family()
def test_mixed_precision(family, fused_calls, rng):
    # float16 matrix products are not implemented on the CPU by every backend.
    keras.config.set_dtype_policy("mixed_bfloat16")
    switch, fused = family.mixed_precision
    x = _inputs(rng)
    fast, generic = layer_pair(
        lambda: family.make(use_fused=switch, return_sequences=True),
        lambda: family.make(use_fused=False, return_sequences=True),
        x.shape,
    )
    got, want = fast(x), generic(x)
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa: agreement to a few units of 2^-8.
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(got, "float32")),
        to_numpy(keras.ops.cast(want, "float32")),
        atol=0.05,
    )
    assert bool(fused_calls) == fused


@each_family(where=lambda family: family is JORDAN)
def test_targets_outside_training_are_ignored_and_fused(family, fused_calls, rng):
    x = _inputs(rng)
    layer = family.make(use_fused=True, return_sequences=True)
    free = to_numpy(layer(x))
    targets = np.ones((B, T, family.output_size), "float32")
    np.testing.assert_array_equal(to_numpy(layer(x, targets=targets, training=False)), free)
    assert len(fused_calls) == 2


# ElmanRNN's kernels: PyTorch's RNN kernel (right-padded masks, as lengths), and
# cuDNN's RNN_TANH / RNN_RELU through TensorFlow with a GPU.
H = ELMAN.output_size


@pytest.mark.skipif(not ON_TORCH, reason="only PyTorch's kernel takes masks (as lengths)")
@pytest.mark.parametrize("family", [ELMAN], ids=str)
@tiered("zero_output_for_mask", [False, True], fast={True}, ids=["repeat", "zeros"])
@tiered("sequences", [True, False], fast={True}, ids=["sequences", "last-output"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_right_padded_mask_is_fused_as_lengths_on_torch(
    family, zero_output_for_mask, sequences, training, fused_calls, rng
):
    x = _inputs(rng)
    mask = keras.ops.convert_to_tensor(STEPS < np.array([[4], [T], [1]]))
    options = {
        "return_sequences": sequences,
        "return_state": True,
        "zero_output_for_mask": zero_output_for_mask,
        "dropout": 0.2,
        "seed": 4,
    }
    fast, generic = layer_pair(
        lambda: family.make(use_fused=True, **options),
        lambda: family.make(use_fused=False, **options),
        x.shape,
    )
    assert_same(fast, generic, x, training=training, mask=mask)
    assert fused_calls


@pytest.mark.skipif(not ON_TORCH, reason="PyTorch's kernel")
@pytest.mark.parametrize(
    "case",
    [
        ("no-mask", {}, None, True),
        ("right-padded", {}, STEPS < np.array([[4], [T], [1]]), True),
        ("left-padded", {}, STEPS >= np.array([[0], [3], [5]]), False),
        ("mask-with-a-gap", {}, STEPS % np.array([[T], [3], [T]]) != 1, False),
        ("empty-row", {}, STEPS < np.array([[T], [0], [2]]), False),
        (
            "right-padded-backwards",
            {"go_backwards": True},
            STEPS < np.array([[T], [4], [2]]),
            False,
        ),
        ("bfloat16", {"dtype": "mixed_bfloat16"}, None, False),
    ],
    ids=lambda case: case[0],
)
def test_torch_runs_its_kernel_where_it_can_and_the_engine_elsewhere(case, monkeypatch, rng):
    """PyTorch's kernel takes right-padded masks as lengths, forwards, in float32/64;
    every other fused call runs the engine's recurrence, with the same values."""
    from keras_rnnkit.backend import torch_rnn

    _, options, mask, native = case
    calls = []
    kernel = torch_rnn.native_rnn
    monkeypatch.setattr(torch_rnn, "native_rnn", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    x = _inputs(rng)
    options = {"return_sequences": True, "return_state": True, **options}
    fast, generic = layer_pair(
        lambda: ELMAN.make(use_fused=True, **options),
        lambda: ELMAN.make(use_fused=False, **options),
        x.shape,
    )
    if "dtype" in options:
        np.testing.assert_allclose(
            to_numpy(keras.ops.cast(fast(x)[0], "float32")),
            to_numpy(keras.ops.cast(generic(x)[0], "float32")),
            atol=0.05,
        )
    else:
        mask = None if mask is None else keras.ops.convert_to_tensor(mask)
        assert_same(fast, generic, x, training=True, mask=mask)
    assert bool(calls) == native


@pytest.mark.skipif(not ON_TORCH, reason="PyTorch's kernel")
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_packed_and_padded_kernels_agree_on_torch(activation, rng):
    """The two ways to run right-padded sequences through PyTorch's kernel:
    packed (taken on a GPU) and over the padded batch (on the CPU)."""
    import torch

    from keras_rnnkit.backend import torch_rnn

    lengths = torch.tensor([T, 4, 1, 6])
    arrays = [
        rng.normal(size=shape).astype("float32")
        for shape in ((4, T, D), (4, H), (D, H), (H, H), (H,))
    ]
    results = []
    for run in (torch_rnn._packed_kernel, torch_rnn._padded_kernel):
        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        outputs, state = run(*tensors, activation, lengths)
        real = (torch.arange(T)[None, :] < lengths[:, None])[..., None]
        loss = (torch.where(real, outputs, 0.0) * 0.3).sum() + (state * 0.7).sum()
        loss.backward()
        results.append([torch.where(real, outputs, 0.0), state, *(t.grad for t in tensors)])
    for packed, padded in zip(*results, strict=True):
        np.testing.assert_allclose(to_numpy(packed), to_numpy(padded), rtol=1e-5, atol=1e-6)


# cuDNN's op has no CPU kernel: here the layout of its weights is checked
# against cuDNN's documented equation, and the choice of path with a simulated GPU.
def _cudnn_equation(params, x, units, activation):
    """cuDNN's RNN mode from its flat canonical buffer: h_t = act(W x_t + R h_{t-1} + b_W + b_R).

    The buffer holds W (H, D) and R (H, H), each row-major, then b_W and b_R
    (cudnnGetRNNLinLayerMatrixParams / ...BiasParams, for one layer).
    """
    inputs = x.shape[-1]
    sizes = [units * inputs, units * units, units, units]
    w, r, b_w, b_r = np.split(params, np.cumsum(sizes)[:-1])
    w, r = w.reshape(units, inputs), r.reshape(units, units)
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))
    h, states = np.zeros((x.shape[0], units)), []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ w.T + h @ r.T + b_w + b_r)
        states.append(h)
    return np.stack(states, axis=1)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
def test_cudnn_parameters_follow_cudnns_canonical_layout(activation, use_bias, rng):
    from keras_rnnkit.backend import tensorflow_rnn

    x = _inputs(rng)
    layer = ELMAN.make(
        activation=activation, use_bias=use_bias, return_sequences=True, use_fused=False
    )
    expected = to_numpy(layer(x))
    if use_bias:
        layer.cell.bias.assign(rng.normal(size=(H,)).astype("float32"))
        expected = to_numpy(layer(x))
    params = tensorflow_rnn.cudnn_parameters(
        layer.cell.kernel.value,
        layer.cell.recurrent_kernel.value,
        layer.cell.bias.value if use_bias else None,
    )
    assert params.shape == (H * D + H * H + 2 * H,)
    got = _cudnn_equation(to_numpy(params).astype(float), x.astype(float), H, activation)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.fixture
def simulated_gpu(monkeypatch):
    """TensorFlow sees a GPU; cuDNN's op (no CPU kernel) is replaced by the scan, with a record."""
    import tensorflow as tf

    from keras_rnnkit.backend import tensorflow_rnn

    list_devices = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: ["GPU:0"] if kind == "GPU" else list_devices(kind),
    )
    calls = []
    run = engine.run  # the engine itself, not a spy installed after this fixture

    def native_rnn(inputs, h0, kernel, recurrent_kernel, bias, activation, **options):
        calls.append(activation)
        assert options["lengths"] is None  # cuDNN's path takes no mask
        form = engine.FusedForm(
            engine.Feedback(activation), kernel, bias, engine.Weights(recurrent_kernel)
        )
        return run(inputs, h0, form, go_backwards=options["go_backwards"])

    monkeypatch.setattr(tensorflow_rnn, "native_rnn", native_rnn)
    return calls


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_no_gpu_means_no_cudnn():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("TensorFlow sees a GPU here")
    assert not fused_policy.uses_tensorflow_native(engine.Feedback("tanh"), "float32")
    assert ELMAN.make().supports_jit


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
@pytest.mark.parametrize("family", [ELMAN], ids=str)
def test_with_a_gpu_auto_takes_cudnn_outside_xla(family, simulated_gpu, fused_calls, rng):
    import tensorflow as tf

    x = _inputs(rng)
    layer = family.make(go_backwards=True)
    assert not layer.supports_jit  # Model.compile then leaves XLA off, as for GRU
    layer(x)
    assert len(simulated_gpu) == 1
    # A mask, bfloat16 or XLA: the scan (cuDNN's op has no XLA kernel).
    layer(x, mask=MASKS["gaps"])
    tf.function(lambda t: layer(t), jit_compile=True)(x)
    assert len(simulated_gpu) == 1 and len(fused_calls) == 3
    bf16 = family.make(dtype="mixed_bfloat16")
    assert bf16.supports_jit
    bf16(x)
    # No cuDNN for bfloat16: as without a GPU, "auto" takes the engine's compiled scans.
    assert len(simulated_gpu) == 1 and len(fused_calls) == 4
    # Configurations cuDNN cannot run, and use_fused=False, keep XLA and the step loop.
    assert family.make(zoneout=0.1).supports_jit
    assert family.make(use_fused=False).supports_jit


@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
def test_with_a_gpu_a_compiled_model_leaves_xla_off(simulated_gpu):
    model = keras.Sequential([keras.Input((T, D)), ELMAN.make(), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is False


@SLOW
@pytest.mark.skipif(not ON_TENSORFLOW, reason="TensorFlow's cuDNN op")
@pytest.mark.parametrize("family", [ELMAN], ids=str)
def test_with_a_gpu_exports_trace_no_cudnn_op(family, simulated_gpu, fused_calls, tmp_path, rng):
    """A SavedModel written on a GPU machine must serve on a CPU: cuDNN's op has no CPU kernel."""
    import tensorflow as tf

    from keras_rnnkit.export import export_saved_model

    x = _inputs(rng)
    model = keras.Sequential([keras.Input((T, D)), family.make(), keras.layers.Dense(1)])
    model(x)
    assert len(simulated_gpu) == 1  # a plain call takes cuDNN (simulated)
    before = len(fused_calls)
    export_saved_model(model, tmp_path / "model")
    # The export traces the engine's scan (once per traced signature), never cuDNN.
    assert len(simulated_gpu) == 1 and len(fused_calls) > before
    served = tf.saved_model.load(str(tmp_path / "model"))
    graph = served.signatures["serve"].graph.as_graph_def()
    graph_ops = {node.op for node in graph.node}
    graph_ops |= {node.op for function in graph.library.function for node in function.node_def}
    assert not any(op.startswith("CudnnRNN") for op in graph_ops)
    np.testing.assert_allclose(
        to_numpy(served.serve(x)),
        to_numpy(model.predict_on_batch(x)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("use_bias", [False, True])
def test_a_float64_jordan_layer_runs_fused_in_float64_with_or_without_biases(use_bias):
    # Keras's PyTorch matmul gives float32 from float64 operands; without a bias to
    # add, the fused loop met a float32 projection and a float64 recurrent kernel.
    if BACKEND == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX computes float64 in float32 unless jax_enable_x64 is set")
    x = np.random.default_rng(0).normal(size=(B, T, D))
    fused = keras_rnnkit.layers.JordanRNN(
        2, output_units=1, use_bias=use_bias, dtype="float64", use_fused=True
    )
    loop = keras_rnnkit.layers.JordanRNN(
        2, output_units=1, use_bias=use_bias, dtype="float64", use_fused=False
    )
    outputs = fused(x)
    loop(x)
    loop.set_weights(fused.get_weights())
    assert keras.backend.standardize_dtype(outputs.dtype) == "float64"
    # The step loop's own products go through the same matmul (float32 on PyTorch).
    np.testing.assert_allclose(to_numpy(outputs), to_numpy(loop(x)), rtol=1e-6, atol=1e-7)
