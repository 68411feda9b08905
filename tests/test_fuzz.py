"""Property-based fuzzing (hypothesis) of every public layer and cell, on every backend.

Constructor fuzz: each drawn configuration, valid, with one invalid argument, with a size
no memory holds, with an unusual valid value, or with a regularizer or constraint where
it cannot act, either builds, trains a step, and round-trips through a `.keras` file
with equal outputs and an equal config, or raises a `ValueError` (or `TypeError`) that
names the class the user constructed and the argument (`classify`). Call-time fuzz:
shapes, masks (all-False rows included), input dtypes and `initial_state`.

The fast tier draws 150 configurations and 150 calls; the `slow` tier 1,000
configurations (in two shards) and 1,000 calls. Every draw comes from `SUITE_SEED`, so
CI is reproducible; `tests/fuzz_counts.py` tallies the outcomes of any number of draws.
Only the public `keras` API is used.
"""

import math
import pathlib
import tempfile

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st

import keras_rnnkit

# Without its 64-bit mode, JAX computes a float64 layer in float32 and warns, as it does
# for Keras's own layers (Dense(dtype="float64")); the layer still builds, trains and
# round-trips, which is what the suite checks.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Explicitly requested dtype float64.* is not available:UserWarning"
)

# The seed of every draw: the same examples on every run, so CI is reproducible
# (`tests/fuzz_counts.py` counts the outcomes of as many draws as it is asked for).
SUITE_SEED = 20261207
# The slow tier's draws per backend, in two shards that the two CI workers share (each
# takes 0.1 s on TensorFlow, 0.5 s on PyTorch and 0.7 s on JAX, on 2 cores).
SLOW_EXAMPLES = 1000
SHARDS = 2
FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(FAST, max_examples=SLOW_EXAMPLES // SHARDS)
B, T, D = 2, 3, 2  # batch, time steps, features of the constructor fuzz

# Values that every argument of one kind accepts, and some it must refuse.
RATES = st.sampled_from([0.0, 0.1, 0.5, 0.9])
BAD_RATES = st.sampled_from([1.0, -0.1, 1.5, math.nan, "0.1", None, True])
VALID = {
    "activation": st.sampled_from(["tanh", "relu", "sigmoid", "linear", None]),
    "use_bias": st.booleans(),
    "initializer": st.sampled_from(["zeros", "ones", "glorot_uniform", "orthogonal", "he_normal"]),
    "regularizer": st.sampled_from([None, "l1", "l2", "l1_l2"]),
    "constraint": st.sampled_from([None, "non_neg", "unit_norm", "max_norm"]),
    "rate": RATES,
    "seed": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    "gradient_clip": st.one_of(st.none(), st.sampled_from([0.1, 1.0, 5.0])),
    "gradient_clip_mode": st.sampled_from(["value", "norm"]),
    "flag": st.booleans(),
    "fused": st.sampled_from(["auto", False, True]),
    "truncate_gradient": st.one_of(st.none(), st.integers(1, 3)),
}
INVALID = {
    "units": st.sampled_from([0, -1, 2.5, True, "3", None]),
    "activation": st.sampled_from(["tanhh", 3, [1]]),
    "use_bias": st.sampled_from([1, "yes", None]),
    "initializer": st.sampled_from(
        [
            "junk",
            3,
            {"class_name": "Nope", "config": {}},
            # Another kind of Keras object, or a config whose values have the wrong type.
            keras.regularizers.L2(0.1),
            keras.constraints.NonNeg(),
            {"class_name": "RandomNormal", "config": {"stddev": "big"}},
        ]
    ),
    "regularizer": st.sampled_from(
        ["junk", 3, keras.initializers.Zeros(), keras.constraints.NonNeg()]
    ),
    "constraint": st.sampled_from(
        ["junk", 3, keras.regularizers.L1(0.1), keras.initializers.Ones()]
    ),
    "rate": BAD_RATES,
    "seed": st.sampled_from([True, 1.5, "7", [1], -1, 2**31, 2**40]),
    "gradient_clip": st.sampled_from([0, -1.0, math.nan, math.inf, "1"]),
    "gradient_clip_mode": st.sampled_from(["clip", None, 1]),
    "flag": st.sampled_from([1, 0, "True", None]),
    "fused": st.sampled_from(["yes", 1, None]),
    "truncate_gradient": st.sampled_from([0, -2, 1.5, True, 10**18]),
    "context": st.sampled_from([(), 3, (0, 0), (1, 0), (0, 1.5), "01", (-(2**40), 0)]),
    "padding": st.sampled_from(["full", "SAME", None]),
    "strides": st.sampled_from([0, -1, 1.5, True]),
    "dtype": st.sampled_from(["int32", "bool", "string", "nope", 3]),
}
# Sizes no memory holds: refused with an error naming the argument, before any allocation.
HUGE = {
    "units": st.sampled_from([2**35, 10**12, 2**62]),
}
# Valid values far beyond the usual: they build and train, or are refused by name.
LARGE = {
    "truncate_gradient": st.sampled_from([2**31 - 1]),
    "seed": st.sampled_from([0, 2**31 - 1]),
    "strides": st.sampled_from([10**9]),
    "context": st.sampled_from([(-(2**31 - 1), 0), (-(10**9), 0, 10**9)]),
    "dtype": st.sampled_from(["float64", "float16", "bfloat16", "mixed_float16"]),
}
WEIGHTS = {
    "ElmanCell": ("kernel", "recurrent", "bias"),
    "JordanCell": ("kernel", "recurrent", "bias", "output_kernel", "output_bias"),
    "TDNN": ("kernel", "bias"),
    "TDNNCell": ("kernel", "bias"),
}


def _kind_of(name):
    """The kind of value argument `name` takes (a key of VALID / INVALID / HUGE / LARGE)."""
    for suffix in ("initializer", "regularizer", "constraint"):
        if name.endswith(suffix):
            return suffix
    if name in ("dropout", "recurrent_dropout", "zoneout", "context_decay"):
        return "rate"
    if name in ("layer_norm", "return_sequences", "go_backwards", "unroll", "return_state"):
        return "flag"
    if name == "use_fused":
        return "fused"
    if name == "zero_output_for_mask":
        return "flag"
    if name == "output_activation":
        return "activation"
    if name == "output_units":
        return "units"
    return name


def _arguments(cell_name, layer):
    """The fuzzed arguments of a family, beyond the required ones."""
    names = ["activation", "use_bias"]
    for weight in WEIGHTS[cell_name]:
        names += [f"{weight}_{kind}" for kind in ("initializer", "regularizer", "constraint")]
    if cell_name in ("ElmanCell", "JordanCell"):
        names += ["dropout", "recurrent_dropout", "seed", "zoneout", "layer_norm"]
        names += ["gradient_clip", "gradient_clip_mode"]
    if cell_name == "JordanCell":
        names += ["context_decay", "output_activation"]
    if cell_name == "TDNNCell":
        names += ["gradient_clip", "gradient_clip_mode", "layer_norm"]
    if cell_name == "TDNN":
        names += ["layer_norm"]
    if layer in ("ElmanRNN", "JordanRNN"):
        names += ["return_sequences", "go_backwards", "unroll", "truncate_gradient"]
        names += ["use_fused"]
    return names


FAMILIES = {
    # public name: (cell class name, factory(**kwargs), required arguments)
    "ElmanRNN": ("ElmanCell", keras_rnnkit.ElmanRNN, {"units": st.integers(1, 3)}),
    "JordanRNN": (
        "JordanCell",
        keras_rnnkit.JordanRNN,
        {"units": st.integers(1, 3), "output_units": st.integers(1, 3)},
    ),
    "ElmanCell": ("ElmanCell", keras_rnnkit.ElmanCell, {"units": st.integers(1, 3)}),
    "JordanCell": (
        "JordanCell",
        keras_rnnkit.JordanCell,
        {"units": st.integers(1, 3), "output_units": st.integers(1, 3)},
    ),
    "TDNN": (
        "TDNN",
        keras_rnnkit.TDNN,
        {
            "units": st.integers(1, 3),
            "context": st.sampled_from([(0,), (-1, 0), (-1, 0, 1), (-2, 0, 2), (0, 1)]),
            "padding": st.sampled_from(["same", "valid", "causal"]),
            "strides": st.integers(1, 2),
        },
    ),
    "TDNNCell": (
        "TDNNCell",
        keras_rnnkit.TDNNCell,
        {"units": st.integers(1, 3), "context": st.sampled_from([(0,), (-1, 0), (-2, 0)])},
    ),
}


@st.composite
def configurations(draw):
    """(family, kwargs, the argument that must be refused or None).

    A third of the draws are valid throughout; the rest change one argument to an
    invalid value, to a size no memory holds (`HUGE`), or to a valid but unusual one
    (`LARGE`: it builds, or is refused by name).
    """
    family = draw(st.sampled_from(sorted(FAMILIES)))
    cell_name, _, required = FAMILIES[family]
    kwargs = {name: draw(strategy) for name, strategy in required.items()}
    for name in draw(st.sets(st.sampled_from(_arguments(cell_name, family)), max_size=6)):
        kwargs[name] = draw(VALID[_kind_of(name)])
    change = draw(st.sampled_from(["none", "invalid", "huge", "large", "misplaced"]))
    if change == "none":
        return family, kwargs, None
    if change == "misplaced":
        return _misplaced(draw, family, kwargs)
    table = {"invalid": INVALID, "huge": HUGE, "large": LARGE}[change]
    names = [*_arguments(cell_name, family), *required, "dtype"]
    names = sorted(n for n in set(names) if _kind_of(n) in table)
    if not names:
        return family, kwargs, None
    name = draw(st.sampled_from(names))
    kwargs[name] = draw(table[_kind_of(name)])
    return family, kwargs, None if change == "large" else name


def _misplaced(draw, family, kwargs):
    """A regularizer or constraint given where it cannot act: a spectral-norm constraint
    on a bias, or an activity regularizer over time on a layer that returns one step."""
    cell_name = FAMILIES[family][0]
    names = [w + "_constraint" for w in WEIGHTS[cell_name] if w.endswith("bias")]
    if family in ("ElmanRNN", "JordanRNN"):
        names.append("activity_regularizer")
    name = draw(st.sampled_from(names))
    if name == "activity_regularizer":
        kwargs[name] = draw(
            st.sampled_from(
                [
                    keras_rnnkit.regularizers.TemporalActivationRegularizer(0.1),
                    keras_rnnkit.regularizers.ActivationTemporalRegularizer(),
                ]
            )
        )
        kwargs["return_sequences"] = False
    else:
        kwargs[name] = keras_rnnkit.regularizers.spectral.SpectralNormConstraint()
    return family, kwargs, name


def _model(family, kwargs):
    """A functional model around the layer (a cell inside keras.layers.RNN)."""
    _, factory, _ = FAMILIES[family]
    layer = factory(**kwargs)
    if family.endswith("Cell"):
        layer = keras.layers.RNN(layer, return_sequences=True)
    inputs = keras.Input((T, D), batch_size=B)
    return keras.Model(inputs, layer(inputs)), layer


def _names_layer_and_argument(error, family, kwargs):
    """Whether `error` names the class the user constructed and an argument given: the bad
    one, or another that was refused first."""
    message = str(error)
    named = any(f"`{name}`" in message or f"{name}=" in message for name in kwargs)
    return f"{family}:" in message and named


# The outcomes a configuration may have; any other is a fault.
HELD = ("built", "refused")


def classify(configuration, tmp_path):
    """`(outcome, detail)` of one configuration: "built" (trained a step, and a `.keras`
    round trip gives equal outputs and config) or "refused" (a ValueError or TypeError
    naming the constructed class and an argument); else a fault: "crashed" (another
    exception), "unnamed" (an error naming not both), "accepted" (a value that must be
    refused was taken) or "wrong" (a non-finite loss, or a round trip that differs)."""
    family, kwargs, bad = configuration
    try:
        model, layer = _model(family, kwargs)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(B, T, D)).astype("float32")
        y = np.zeros(tuple(model.output.shape), "float32")
        model.compile(keras.optimizers.SGD(0.01), "mse", run_eagerly=True)
        loss = model.train_on_batch(x, y)
    except (ValueError, TypeError) as error:
        if _names_layer_and_argument(error, family, kwargs):
            return "refused", None
        return "unnamed", f"{type(error).__name__}: {error}"[:500]
    except Exception as error:  # noqa: BLE001 - every other exception is the fault counted
        return "crashed", f"{type(error).__name__}: {error}"[:500]
    if bad is not None:
        return "accepted", f"{bad}={kwargs[bad]!r}"
    if not np.isfinite(loss):
        return "wrong", f"loss {loss}"
    try:
        path = tmp_path / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        got = keras.ops.convert_to_numpy(loaded(x))
        expected = keras.ops.convert_to_numpy(model(x))
    except Exception as error:  # noqa: BLE001
        return "crashed", f"round trip: {type(error).__name__}: {error}"[:500]
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-6, equal_nan=True):
        return "wrong", "a loaded model's outputs differ"
    if _without_names(loaded.layers[-1].get_config()) != _without_names(layer.get_config()):
        return "wrong", "a loaded model's config differs"
    return "built", None


def check_configuration(configuration, tmp_path):
    outcome, detail = classify(configuration, tmp_path)
    assert outcome in HELD, (outcome, detail, configuration)
    return outcome


def _without_names(config):
    """A config without the auto-generated layer names (a loaded cell gets a new one).

    Tuples become lists, as in the JSON of a `.keras` file (Keras's `build_config`).
    """
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


@seed(SUITE_SEED)
@FAST
@given(configuration=configurations())
def test_every_configuration_builds_trains_and_round_trips_or_is_refused(configuration, tmp_path):
    check_configuration(configuration, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_configuration_builds_trains_and_round_trips_or_is_refused_slow(shard):
    @seed(SUITE_SEED + 1 + shard)
    @SLOW
    @given(configuration=configurations())
    def check(configuration):
        with tempfile.TemporaryDirectory() as directory:
            event(check_configuration(configuration, pathlib.Path(directory)))
        keras.backend.clear_session()

    check()


CALL_LAYERS = {
    "ElmanRNN": lambda **kw: keras_rnnkit.ElmanRNN(3, **kw),
    "JordanRNN": lambda **kw: keras_rnnkit.JordanRNN(3, 2, **kw),
    "TDNN": lambda **kw: keras_rnnkit.TDNN(3, (-1, 0, 1)),
}
STATE_SIZE = {"ElmanRNN": 3, "JordanRNN": 2}


@st.composite
def calls(draw):
    """(layer kind, loop options, inputs, mask or None, initial_state kind)."""
    kind = draw(st.sampled_from(sorted(CALL_LAYERS)))
    options = {}
    if kind != "TDNN":
        options = {
            "return_sequences": draw(st.booleans()),
            "go_backwards": draw(st.booleans()),
            "zero_output_for_mask": draw(st.booleans()),
        }
    b, t, d = draw(st.integers(0, 3)), draw(st.integers(0, 4)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(["float32", "float64", "int32", "int64", "bool"]))
    values = np.asarray(draw(st.lists(st.integers(0, 2), min_size=b * t * d, max_size=b * t * d)))
    x = values.reshape(b, t, d).astype(dtype)
    mask = None
    if draw(st.booleans()):
        rows = draw(
            st.lists(st.lists(st.booleans(), min_size=t, max_size=t), min_size=b, max_size=b)
        )
        mask = np.asarray(rows, bool).reshape(b, t)
    state = (
        "none"
        if kind == "TDNN"
        else draw(st.sampled_from(["none", "good", "two", "units", "batch", "rank"]))
    )
    return kind, options, x, mask, state


def _initial_state(kind, state, batch):
    size = STATE_SIZE[kind]
    shapes = {
        "good": [(batch, size)],
        "two": [(batch, size), (batch, size)],
        "units": [(batch, size + 1)],
        "batch": [(batch + 1, size)],
        "rank": [(size,)],
    }[state]
    return [np.full(shape, 0.5, "float32") for shape in shapes]


def check_call(case):
    kind, options, x, mask, state = case
    layer = CALL_LAYERS[kind](**options)
    kwargs = {} if mask is None else {"mask": mask}
    if state != "none":
        kwargs["initial_state"] = _initial_state(kind, state, len(x))
    if kind != "TDNN" and x.shape[1] == 0:
        with pytest.raises(ValueError, match=f"{kind}: `sequences` must have at least one"):
            layer(x, **kwargs)
        return "no step refused"
    if state not in ("none", "good"):
        with pytest.raises(ValueError, match=f"{kind}: `initial_state` must be a list of 1"):
            layer(x, **kwargs)
        return "bad initial_state refused"
    got = keras.ops.convert_to_numpy(layer(x, **kwargs))
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    assert np.all(np.isfinite(got)), (case, got)
    # Any input dtype computes what the same values as float32 compute.
    expected = keras.ops.convert_to_numpy(layer(x.astype("float32"), **kwargs))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    if kind != "TDNN" and mask is not None and state == "none":
        # A row with every step masked keeps the zero state and outputs zeros.
        empty = ~mask.any(axis=1)
        np.testing.assert_array_equal(got[empty], np.zeros_like(got[empty]))
    return "computed"


@seed(SUITE_SEED)
@FAST
@given(case=calls())
def test_calls_with_any_shape_mask_dtype_and_initial_state(case):
    event(check_call(case))


@pytest.mark.slow
@seed(SUITE_SEED)
@settings(FAST, max_examples=1000)
@given(case=calls())
def test_calls_with_any_shape_mask_dtype_and_initial_state_slow(case):
    event(check_call(case))
