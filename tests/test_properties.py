"""Properties of the layers: each test computes one thing two ways and compares.

Expected values come from tests/reference.py or from an invariant (a padded batch
against each sequence alone, chunks against one call, a wrapper against a
hand-made equivalent), never from pasted numbers. Only the public `keras` API is
used, so every test runs on every backend. Shapes are tiny and few and layer
calls are counted, because JAX traces and compiles each recurrent loop it runs.
"""

import itertools
from typing import NamedTuple

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import gradients
from tests.autodiff import to_numpy

TOL = dict(rtol=1e-5, atol=1e-5)
B, T, D = 2, 5, 2  # batch, time steps, input features of most tests
LENGTHS = (5, 4, 3)  # real lengths in the padded batches (batch 3, length T)


class Kind(NamedTuple):
    """One recurrent kind: a layer class, or a cell class wrapped in keras.layers.RNN;
    its cell arguments; the registered family whose NumPy reference it must match."""

    factory: type
    cell_kwargs: dict
    family: str


RNN_KINDS = {
    "ElmanRNN": Kind(keras_rnnkit.ElmanRNN, dict(units=3), "elman"),
    "JordanRNN": Kind(
        keras_rnnkit.JordanRNN, dict(units=4, output_units=2, context_decay=0.5), "jordan"
    ),
    "RNN(ElmanCell)": Kind(keras_rnnkit.ElmanCell, dict(units=3), "elman"),
    "RNN(JordanCell)": Kind(
        keras_rnnkit.JordanCell, dict(units=4, output_units=2, context_decay=0.5), "jordan"
    ),
    "RNN(TDNNCell)": Kind(keras_rnnkit.TDNNCell, dict(units=3, context=(-2, -1, 0)), "tdnn"),
    "NARX": Kind(
        keras_rnnkit.NARX,
        dict(units=3, output_units=2, input_delays=(0, 2), feedback_delays=(1, 2)),
        "narx",
    ),
}
RECURRENT = ["ElmanRNN", "JordanRNN", "RNN(ElmanCell)", "RNN(JordanCell)"]  # with dropout
SEQUENCE_KINDS = [*RNN_KINDS, "TDNN"]


def make_rnn(kind, cell_kwargs=None, **loop_kwargs):
    """A fresh, unbuilt layer of `kind`; `cell_kwargs` override the cell's arguments."""
    factory, base, _ = RNN_KINDS[kind]
    cell_kwargs = {**base, **(cell_kwargs or {})}
    if kind.startswith("RNN("):
        return keras.layers.RNN(factory(**cell_kwargs), **loop_kwargs)
    return factory(**cell_kwargs, **loop_kwargs)


def make_sequence_layer(kind):
    """A layer of `kind` that returns one output per input step."""
    if kind == "TDNN":
        return keras_rnnkit.TDNN(3, context=(-1, 0, 1))
    return make_rnn(kind, return_sequences=True)


def randomize(layer, rng, input_shape=(B, None, D), scale=0.5):
    """Builds `layer` if needed and gives it random weights (zero biases are too easy)."""
    if not layer.built:
        layer.build(input_shape)
    layer.set_weights(
        [rng.normal(scale=scale, size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def copy_weights(layer, source, input_shape=(B, None, D)):
    layer.build(input_shape)
    layer.set_weights(source.get_weights())
    return layer


def set_weight(layer, name, make):
    """Sets every weight called `name` to `make(shape)`."""
    for variable in layer.weights:
        if variable.path.split("/")[-1] == name:
            variable.assign(make(variable.shape).astype("float32"))


def reverse_time(array):
    # A copy: torch refuses NumPy arrays with negative strides.
    return np.ascontiguousarray(np.asarray(array)[:, ::-1])


def _elman_reference(layer, weights, x, state):
    outputs = reference.elman(x, *weights, h0=state)
    return outputs, [outputs[:, -1]]


def _jordan_reference(layer, weights, x, state):
    outputs, contexts = reference.jordan(
        x, *weights, context_decay=layer.cell.context_decay, c0=state
    )
    return outputs, [contexts[:, -1]]


def _tdnn_cell_reference(layer, weights, x, state):
    # TDNNCell: the last output, then, for each of the next m outputs, what the
    # inputs seen so far add to it: the linear, bias-free TDNN of x followed by
    # m zeros.
    context = layer.cell.context
    outputs = reference.tdnn(x, *weights, context=context)
    m = layer.cell.delay
    padded = np.concatenate([x, np.zeros((x.shape[0], m, x.shape[2]))], axis=1)
    pending = reference.tdnn(padded, weights[0], None, context, activation=None)
    return outputs, [outputs[:, -1], pending[:, -m:].reshape(x.shape[0], -1)]


def _narx_reference(layer, weights, x, state):
    # Only the feedback line as an initial state (tests/test_narx.py starts both lines).
    cell = layer.cell
    delays = {"input_delays": cell.input_delays, "feedback_delays": cell.feedback_delays}
    y0 = None if state is None else state.reshape(x.shape[0], -1, cell.output_units)
    outputs, fed = reference.narx(x, *weights, **delays, y0=y0)
    return outputs, reference.narx_states(x, fed, weights[0], **delays, y0=y0)


# The NumPy reference of each built-in family (tests/reference.py, from the equations).
REFERENCES = {
    "elman": _elman_reference,
    "jordan": _jordan_reference,
    "narx": _narx_reference,
    "tdnn": _tdnn_cell_reference,
}


def reference_run(kind, layer, x, state=None):
    """(outputs (B, T, O), [last states]) of the NumPy reference with `layer`'s weights."""
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    return REFERENCES[RNN_KINDS[kind].family](layer, weights, np.asarray(x, np.float64), state)


def test_every_built_in_family_has_a_reference_and_a_kind():
    from keras_rnnkit.models import FAMILIES

    assert set(FAMILIES) == set(REFERENCES) == {kind.family for kind in RNN_KINDS.values()}


def mark_keras_jax_masking_limitation(kind, request):
    """A known Keras limitation, documented in the README: not our layers'.

    Keras's JAX loop (keras/src/backend/jax/rnn.py, unroll=False) repeats the
    *first state* as the output of a masked step. A Jordan cell's state is its
    context, not its output, so a plain `keras.layers.RNN(JordanCell(...))` on
    JAX repeats the context after right padding. `JordanRNN` applies the mask
    itself and is right on every backend. Strict: the test fails if Keras
    ever fixes it, so that this mark and the README note go.
    """
    if kind == "RNN(JordanCell)" and keras.backend.backend() == "jax":
        request.applymarker(
            pytest.mark.xfail(strict=True, reason=mark_keras_jax_masking_limitation.__doc__)
        )


def padded_batch(rng, side):
    """Sequences of LENGTHS, padded with zeros on `side` to T, and their mask."""
    sequences = [rng.normal(size=(n, D)).astype("float32") for n in LENGTHS]
    x = np.zeros((len(sequences), T, D), "float32")
    mask = np.zeros((len(sequences), T), bool)
    for i, sequence in enumerate(sequences):
        real = slice(0, len(sequence)) if side == "right" else slice(T - len(sequence), T)
        x[i, real] = sequence
        mask[i, real] = True
    return sequences, x, mask


def with_masking_layer(layer):
    """`layer` in a model whose mask comes from keras.layers.Masking (zero steps)."""
    return keras.Sequential([keras.Input((T, D)), keras.layers.Masking(0.0), layer])


def tdnn_output_mask(mask, context, padding, stride=1):
    """The output mask from its definition: "valid" outputs need their whole window real."""
    if padding == "same":
        out = mask
    else:
        lo, hi = context[0], context[-1]
        out = np.array(
            [
                [all(row[t - lo + c] for c in context) for t in range(mask.shape[1] - (hi - lo))]
                for row in mask
            ]
        )
    return out[:, ::stride]


# 1. Masking ---------------------------------------------------------------------


def expected_padded_outputs(alone, row_mask):
    """Where `alone` lands in a masked row: real steps in order; a masked step
    repeats the previous output (zeros before the first real one), the Keras rule
    without `zero_output_for_mask`, as for keras.layers.SimpleRNN."""
    expected, previous, real = [], np.zeros_like(alone[0]), iter(alone)
    for keep in row_mask:
        previous = next(real) if keep else previous
        expected.append(previous)
    return np.stack(expected)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_padded_batch_equals_each_sequence_alone(kind, side, rng, request):
    if side == "right":
        mark_keras_jax_masking_limitation(kind, request)
    sequences, x, mask = padded_batch(rng, side)
    layer = randomize(make_rnn(kind, return_sequences=True), rng)
    last_only = copy_weights(make_rnn(kind), layer)
    alone = [to_numpy(layer(sequence[None]))[0] for sequence in sequences]
    # The mask passed directly, then made by keras.layers.Masking in a model.
    for source, outputs, last in [
        ("mask=", layer(x, mask=mask), last_only(x, mask=mask)),
        ("Masking", with_masking_layer(layer)(x), with_masking_layer(last_only)(x)),
    ]:
        outputs, last = to_numpy(outputs), to_numpy(last)
        for i in range(len(sequences)):
            message = f"sequence {i}, mask from {source}"
            np.testing.assert_allclose(outputs[i][mask[i]], alone[i], **TOL, err_msg=message)
            np.testing.assert_allclose(
                outputs[i], expected_padded_outputs(alone[i], mask[i]), **TOL, err_msg=message
            )
            # return_sequences=False: the last real step's output.
            np.testing.assert_allclose(last[i], alone[i][-1], **TOL, err_msg=message)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_tdnn_padded_batch_equals_each_sequence_alone(padding, side, rng):
    context = (-1, 0, 1)  # receptive field 3 <= the shortest length
    sequences, x, mask = padded_batch(rng, side)
    layer = randomize(keras_rnnkit.TDNN(3, context, padding=padding, activation="tanh"), rng)
    output_mask = tdnn_output_mask(mask, context, padding)
    np.testing.assert_array_equal(to_numpy(layer.compute_mask(x, mask)), output_mask)
    by_argument = to_numpy(layer(x, mask=mask))
    by_masking_layer = to_numpy(with_masking_layer(layer)(x))
    for i, sequence in enumerate(sequences):
        alone = to_numpy(layer(sequence[None]))[0]
        for outputs in (by_argument, by_masking_layer):
            # "same": padding counts as the zeros beyond either end of a lone
            # sequence; "valid": the fully real windows are the lone sequence's.
            np.testing.assert_allclose(outputs[i][output_mask[i]], alone, **TOL)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_tdnn_compute_mask_follows_the_definition(padding, stride, rng):
    context = (-2, 0, 1)
    _, x, mask = padded_batch(rng, "left")
    mask[1, 2] = False  # a hole inside: every window over it is masked
    layer = keras_rnnkit.TDNN(3, context, padding=padding, strides=stride)
    expected = tdnn_output_mask(mask, context, padding, stride)
    got = to_numpy(layer.compute_mask(x, mask))
    np.testing.assert_array_equal(got, expected)
    assert got.shape == layer.compute_output_shape(x.shape)[:2]


@pytest.mark.parametrize("side", ["right", "left"])
def test_embedding_mask_zero_feeds_elman(side, rng):
    sequences = [rng.integers(1, 10, size=n) for n in LENGTHS]
    tokens = np.zeros((len(sequences), T), "int32")
    for i, sequence in enumerate(sequences):
        real = slice(0, len(sequence)) if side == "right" else slice(T - len(sequence), T)
        tokens[i, real] = sequence
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(10, D, mask_zero=True),
            keras_rnnkit.ElmanRNN(3, return_sequences=True),
        ]
    )
    outputs = to_numpy(model(tokens))
    for i, sequence in enumerate(sequences):
        alone = to_numpy(model(sequence[None].astype("int32")))[0]
        np.testing.assert_allclose(outputs[i][tokens[i] != 0], alone, **TOL)


# 2. Fully masked sequences -----------------------------------------------------


@pytest.mark.parametrize("masked_rows", ["one_row", "whole_batch"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_fully_masked_sequence_gives_zeros(kind, masked_rows, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = np.zeros((B, T), bool)
    if masked_rows == "one_row":
        mask[1] = True
    layer = randomize(make_rnn(kind, return_sequences=True, return_state=True), rng)
    outputs, *states = (to_numpy(t) for t in layer(x, mask=mask))
    # Nothing real was seen: the outputs and states stay the initial zeros.
    assert np.all(np.isfinite(outputs)) and all(np.all(np.isfinite(s)) for s in states)
    np.testing.assert_array_equal(outputs[0], np.zeros_like(outputs[0]))
    for state in states:
        np.testing.assert_array_equal(state[0], np.zeros_like(state[0]))
    if masked_rows == "one_row":
        alone = to_numpy(layer(x[1:])[0])[0]
        np.testing.assert_allclose(outputs[1], alone, **TOL)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_tdnn_fully_masked_sequence_gives_zeros(padding, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = np.array([[False] * T, [True] * T])
    layer = keras_rnnkit.TDNN(3, (-1, 0, 1), padding=padding, activation="tanh")
    layer.build(x.shape)
    # Random kernel, zero bias (its initial value): masked inputs count as zeros,
    # so the outputs are activation(bias) = 0. Random bias: the reference's value.
    set_weight(layer, "kernel", lambda shape: rng.normal(size=shape))
    outputs = to_numpy(layer(x, mask=mask))
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(outputs[0], np.zeros_like(outputs[0]))
    np.testing.assert_allclose(outputs[1], to_numpy(layer(x[1:]))[0], **TOL)
    assert not np.any(to_numpy(layer.compute_mask(x, mask))[0])
    kernel, bias = randomize(layer, rng).get_weights()
    expected = reference.tdnn(x, kernel, bias, layer.context, padding, activation="tanh", mask=mask)
    np.testing.assert_allclose(to_numpy(layer(x, mask=mask)), expected, **TOL)


# 3. Statefulness ---------------------------------------------------------------


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_stateful_chunks_equal_one_call_and_reset_starts_over(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    stateful = randomize(make_rnn(kind, stateful=True, return_sequences=True), rng)
    whole = to_numpy(copy_weights(make_rnn(kind, return_sequences=True), stateful)(x))
    chunks = [to_numpy(stateful(x[:, a:b])) for a, b in ((0, 2), (2, 3), (3, T))]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, **TOL)
    # Without a reset the state carries on, so the same input gives other outputs.
    assert not np.allclose(to_numpy(stateful(x)), whole, **TOL)
    stateful.reset_state()
    np.testing.assert_allclose(to_numpy(stateful(x)), whole, **TOL)


# 4. TDNNCell streaming ---------------------------------------------------------


@pytest.mark.parametrize("context", [(-2, -1, 0), (-3, -1)], ids=str)
def test_tdnn_cell_step_by_step_equals_tdnn_same(context, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    tdnn = randomize(keras_rnnkit.TDNN(3, context, padding="same"), rng)
    expected = to_numpy(tdnn(x))
    stream = keras.layers.RNN(
        keras_rnnkit.TDNNCell(3, context), stateful=True, return_sequences=True
    )
    copy_weights(stream, tdnn, input_shape=(B, 1, D))
    steps = [to_numpy(stream(x[:, t : t + 1])) for t in range(T)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), expected, **TOL)

    # The same with the cell driven by hand.
    cell = stream.cell
    states = cell.get_initial_state(B)
    outputs = []
    for t in range(T):
        y, states = cell(x[:, t], states)
        outputs.append(to_numpy(y))
    np.testing.assert_allclose(np.stack(outputs, axis=1), expected, **TOL)


# 5. Bidirectional --------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("kind", ["ElmanRNN", "JordanRNN", "NARX"])
def test_bidirectional_equals_hand_made_pair(kind, return_sequences, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    bidirectional = randomize(
        keras.layers.Bidirectional(make_rnn(kind, return_sequences=return_sequences)), rng
    )
    forward = copy_weights(
        make_rnn(kind, return_sequences=return_sequences), bidirectional.forward_layer
    )
    backward = copy_weights(
        make_rnn(kind, return_sequences=return_sequences), bidirectional.backward_layer
    )
    backward_outputs = to_numpy(backward(reverse_time(x)))
    if return_sequences:
        # Keras re-reverses the backward outputs so that step t lines up with x_t.
        backward_outputs = reverse_time(backward_outputs)
    expected = np.concatenate([to_numpy(forward(x)), backward_outputs], axis=-1)
    np.testing.assert_allclose(to_numpy(bidirectional(x)), expected, **TOL)


@pytest.mark.parametrize("kind", ["ElmanRNN", "JordanRNN", "NARX"])
def test_bidirectional_backward_layer_is_ours_and_config_round_trips(kind, rng):
    cls = RNN_KINDS[kind].factory
    layer = make_rnn(kind, dict(dropout=0.25, seed=3), return_sequences=True)
    bidirectional = keras.layers.Bidirectional(layer)
    assert type(bidirectional.backward_layer) is cls
    assert bidirectional.backward_layer.go_backwards and not layer.go_backwards
    # Apart from the direction and the name, the backward layer is the forward one.
    forward_config = bidirectional.forward_layer.get_config()
    backward_config = bidirectional.backward_layer.get_config()
    for config in (forward_config, backward_config):
        del config["name"], config["go_backwards"]
    assert backward_config == forward_config

    config = keras.saving.serialize_keras_object(bidirectional)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone.forward_layer) is cls and type(clone.backward_layer) is cls
    assert clone.backward_layer.go_backwards
    assert clone.get_config() == bidirectional.get_config()
    x = rng.normal(size=(B, T, D)).astype("float32")
    randomize(bidirectional, rng)
    copy_weights(clone, bidirectional)
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(bidirectional(x)), **TOL)


# 6. go_backwards ---------------------------------------------------------------


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_go_backwards_equals_reversed_input(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    backwards = randomize(make_rnn(kind, go_backwards=True, return_sequences=True), rng)
    backwards_last = copy_weights(make_rnn(kind, go_backwards=True), backwards)
    forwards = copy_weights(make_rnn(kind, return_sequences=True), backwards)
    expected = to_numpy(forwards(reverse_time(x)))
    # Outputs come in processing order (not re-reversed), as in keras.layers.SimpleRNN.
    np.testing.assert_allclose(to_numpy(backwards(x)), expected, **TOL)
    np.testing.assert_allclose(to_numpy(backwards_last(x)), expected[:, -1], **TOL)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
def test_elman_go_backwards_matches_simple_rnn(return_sequences, masked, rng):
    _, x, mask = padded_batch(rng, "right")
    kwargs = dict(go_backwards=True, return_sequences=return_sequences)
    simple = randomize(keras.layers.SimpleRNN(3, **kwargs), rng)
    elman = copy_weights(keras_rnnkit.ElmanRNN(3, **kwargs), simple)
    mask = mask if masked else None
    np.testing.assert_allclose(to_numpy(elman(x, mask=mask)), to_numpy(simple(x, mask=mask)), **TOL)


# 7. unroll ---------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_unroll_equals_loop(kind, masked, rng, request):
    if masked:
        mark_keras_jax_masking_limitation(kind, request)
    _, x, mask = padded_batch(rng, "right")
    mask = mask if masked else None
    unrolled = randomize(make_rnn(kind, unroll=True, return_sequences=True), rng)
    looped = copy_weights(make_rnn(kind, return_sequences=True), unrolled)
    np.testing.assert_allclose(
        to_numpy(unrolled(x, mask=mask)), to_numpy(looped(x, mask=mask)), **TOL
    )


# 8. return_state and initial_state ---------------------------------------------


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_states_match_reference(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = randomize(make_rnn(kind, return_sequences=True, return_state=True), rng)
    outputs, *states = layer(x)
    expected_outputs, expected_states = reference_run(kind, layer, x)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, **TOL)
    assert len(states) == len(expected_states)
    for state, expected in zip(states, expected_states):
        np.testing.assert_allclose(to_numpy(state), expected, **TOL)
    if len(expected_states) > 1:
        return  # no reference with an initial buffer: see the next test (NARX: test_narx.py)
    initial = rng.normal(size=expected_states[0].shape).astype("float32")
    outputs, state = layer(x, initial_state=[initial])
    expected_outputs, expected_states = reference_run(kind, layer, x, state=initial)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, **TOL)
    np.testing.assert_allclose(to_numpy(state), expected_states[0], **TOL)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_last_state_as_initial_state_continues_the_sequence(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = randomize(make_rnn(kind, return_sequences=True, return_state=True), rng)
    whole, *whole_states = layer(x)
    first, *states = layer(x[:, :2])
    second, *second_states = layer(x[:, 2:], initial_state=list(states))
    np.testing.assert_allclose(
        np.concatenate([to_numpy(first), to_numpy(second)], axis=1), to_numpy(whole), **TOL
    )
    for got, want in zip(second_states, whole_states, strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), **TOL)


# 9. Dropout --------------------------------------------------------------------

RATES = dict(dropout=0.3, recurrent_dropout=0.3, seed=7)


@pytest.mark.parametrize("kind", RECURRENT)
def test_dropout_only_while_training_and_seeded(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = randomize(make_rnn(kind, RATES, return_sequences=True), rng)
    plain = to_numpy(copy_weights(make_rnn(kind, return_sequences=True), layer)(x))
    for outputs in (layer(x), layer(x, training=False), layer(x, training=False)):
        np.testing.assert_allclose(to_numpy(outputs), plain, **TOL)

    # Two fresh layers, same seed and weights: the same masks.
    first = copy_weights(make_rnn(kind, RATES, return_sequences=True), layer)
    second = copy_weights(make_rnn(kind, RATES, return_sequences=True), layer)
    trained = to_numpy(first(x, training=True))
    np.testing.assert_allclose(to_numpy(second(x, training=True)), trained, **TOL)
    assert not np.allclose(trained, plain, **TOL)
    # A new call draws new masks.
    assert not np.allclose(to_numpy(first(x, training=True)), trained, **TOL)


def _linear_without_feedback(kind, rng, **cell_kwargs):
    """A linear layer whose recurrent kernel is zero: y_t depends on x_t only."""
    layer = randomize(
        make_rnn(kind, dict(activation=None, seed=5, **cell_kwargs), return_sequences=True),
        rng,
    )
    set_weight(layer, "recurrent_kernel", np.zeros)
    return layer


@pytest.mark.parametrize("kind", RECURRENT)
def test_one_input_dropout_mask_per_sequence(kind, rng):
    # The same x_t at every step: equal outputs at every step mean the same mask.
    x = np.repeat(rng.normal(size=(8, 1, D)), T, axis=1).astype("float32")
    layer = _linear_without_feedback(kind, rng, dropout=0.5)
    outputs = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(outputs, np.repeat(outputs[:, :1], T, axis=1), **TOL)
    assert not np.allclose(outputs, to_numpy(layer(x)), **TOL)  # the mask did act


def test_one_input_dropout_mask_per_sequence_under_teacher_forcing(rng):
    # Teacher forcing widens each step's input with the target: the input mask
    # must still be one per sequence, over the real features only.
    x = np.repeat(rng.normal(size=(8, 1, D)), T, axis=1).astype("float32")
    targets = rng.normal(size=(8, T, 2)).astype("float32")
    layer = _linear_without_feedback("JordanRNN", rng, dropout=0.5)
    outputs = to_numpy(layer(x, targets=targets, training=True))
    np.testing.assert_allclose(outputs, np.repeat(outputs[:, :1], T, axis=1), **TOL)
    assert not np.allclose(outputs, to_numpy(layer(x)), **TOL)


@pytest.mark.parametrize("kind", RECURRENT)
def test_one_recurrent_dropout_mask_per_sequence(kind, rng):
    # Zero kernel, identity feedback, unit bias, linear: h_t = m * h_{t-1} + 1 with
    # h_0 = 0 for each unit's mask value m. With rate 0.5, m is 0 (h_t = 1) or 2
    # (h_t = 2^t - 1) for the whole sequence.
    x = np.zeros((8, T, D), "float32")
    no_decay = dict(context_decay=0.0) if "Jordan" in kind else {}
    cell_kwargs = dict(activation=None, recurrent_dropout=0.5, seed=5, **no_decay)
    layer = make_rnn(kind, cell_kwargs, return_sequences=True)
    layer.build(x.shape)
    set_weight(layer, "kernel", np.zeros)
    set_weight(layer, "recurrent_kernel", lambda shape: np.eye(*shape))
    set_weight(layer, "output_kernel", lambda shape: np.eye(*shape))
    set_weight(layer, "bias", np.ones)
    set_weight(layer, "output_bias", np.zeros)
    outputs = to_numpy(layer(x, training=True))
    without_dropout = np.broadcast_to(np.arange(1.0, T + 1)[None, :, None], outputs.shape)
    np.testing.assert_allclose(to_numpy(layer(x)), without_dropout, **TOL)  # m = 1
    m = outputs[:, 1] - 1.0  # h_2 = m + 1
    assert set(np.round(m, 4).ravel()) == {0.0, 2.0}  # both kept and dropped units
    expected = np.stack([sum(m**k for k in range(t)) for t in range(1, T + 1)], axis=1)
    np.testing.assert_allclose(outputs, expected, **TOL)


# 10. Jordan teacher forcing and generation -------------------------------------


def _jordan(rng, **kwargs):
    layer = keras_rnnkit.JordanRNN(4, 2, context_decay=0.5, return_sequences=True, **kwargs)
    return randomize(layer, rng)


def _jordan_reference(layer, x, **kwargs):
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    return reference.jordan(np.asarray(x, np.float64), *weights, context_decay=0.5, **kwargs)


def test_teacher_forcing_matches_reference(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    targets = rng.normal(size=(B, T, 2)).astype("float32")
    layer = _jordan(rng)
    free_running = _jordan_reference(layer, x)[0]
    forced = _jordan_reference(layer, x, targets=targets)[0]
    cases = {
        "forced": (dict(training=True), forced),
        "tensor probability 0": (
            dict(training=True, sampling_probability=keras.ops.convert_to_tensor(0.0)),
            forced,
        ),
        "probability 1": (dict(training=True, sampling_probability=1.0), free_running),
        "inference ignores targets": (dict(training=False), free_running),
    }
    for name, (kwargs, expected) in cases.items():
        got = to_numpy(layer(x, targets=targets, **kwargs))
        np.testing.assert_allclose(got, expected, **TOL, err_msg=name)
    np.testing.assert_allclose(to_numpy(layer(x)), free_running, **TOL)


def test_scheduled_sampling_feeds_back_target_or_own_output_per_step(rng):
    # With probability 0.5, each sample's outputs must be the reference's for some
    # choice, per step, of own output or target (the last step's choice is unseen).
    x = rng.normal(size=(4, T, D)).astype("float32")
    targets = rng.normal(size=(4, T, 2)).astype("float32")
    layer = _jordan(rng, seed=11)
    got = to_numpy(layer(x, targets=targets, training=True, sampling_probability=0.5))
    chosen = []
    for choice in itertools.product([0.0, 1.0], repeat=T - 1):
        use_own = np.array([*choice, 0.0])[None, :, None].repeat(4, axis=0)
        expected = _jordan_reference(layer, x, targets=targets, use_own=use_own)[0]
        chosen.append(np.all(np.isclose(got, expected, **TOL), axis=(1, 2)))
    assert np.all(np.any(chosen, axis=0))


@pytest.mark.parametrize("with_initial_state", [False, True], ids=["zero_context", "context"])
def test_generate_equals_reference_loop(with_initial_state, rng):
    primer = rng.normal(size=(B, 3, 2)).astype("float32")
    context = rng.normal(size=(B, 2)).astype("float32") if with_initial_state else None
    layer = keras_rnnkit.JordanRNN(4, 2, context_decay=0.5)  # unbuilt: generate builds it
    steps = 3
    got = to_numpy(
        layer.generate(primer, steps, initial_state=None if context is None else [context])
    )
    # By hand: run the primer, then feed each output back as the next input.
    ys, cs = _jordan_reference(layer, primer, c0=context)
    y, c = ys[:, -1], cs[:, -1]
    expected = []
    for _ in range(steps):
        expected.append(y)
        ys, cs = _jordan_reference(layer, y[:, None], c0=c)
        y, c = ys[:, 0], cs[:, 0]
    np.testing.assert_allclose(got, np.stack(expected, axis=1), **TOL)


def test_teacher_forcing_drops_the_features_only(rng):
    # Input dropout while teacher forced: one mask of the features' width (the targets
    # travel beside them). With W = 0 the mask changes nothing, so the reference holds.
    x = rng.normal(size=(B, T, D)).astype("float32")
    targets = rng.normal(size=(B, T, 2)).astype("float32")
    layer = _jordan(rng, dropout=0.5, seed=3)
    kernel, *rest = layer.get_weights()
    forced = to_numpy(layer(x, targets=targets, training=True))
    assert not np.allclose(forced, to_numpy(layer(x, targets=targets, training=False)))
    layer.set_weights([np.zeros_like(kernel), *rest])
    expected = _jordan_reference(layer, x, targets=targets)[0]
    np.testing.assert_allclose(to_numpy(layer(x, targets=targets, training=True)), expected, **TOL)


def test_training_after_generate_takes_any_batch_size(rng):
    # generate() runs without dropout; it must leave nothing that ties the next
    # training call to the primer's batch size.
    layer = _jordan(rng, dropout=0.5, recurrent_dropout=0.5, seed=3)
    layer.generate(rng.normal(size=(3, 2, D)).astype("float32"), 2)
    x = rng.normal(size=(B, T, D)).astype("float32")
    assert to_numpy(layer(x, training=True)).shape == (B, T, 2)


def test_training_after_generate_draws_a_mask_per_sample(rng):
    # Identical samples with input dropout: each sample gets its own mask, so the
    # outputs differ between samples, with or without a generate() call before.
    x = np.repeat(rng.normal(size=(1, T, D)), 8, axis=0).astype("float32")
    layer = _jordan(rng, dropout=0.5, seed=3)
    for generated_before in (False, True):
        if generated_before:
            layer.generate(x[:1, :2], 2)
        outputs = to_numpy(layer(x, training=True))
        assert not np.allclose(outputs, outputs[:1]), f"{generated_before=}"


def test_generate_needs_output_units_equal_to_features():
    layer = keras_rnnkit.JordanRNN(4, output_units=3)
    with pytest.raises(ValueError, match="output_units"):
        layer.generate(np.zeros((1, 2, 2), "float32"), 2)


# 11. Models --------------------------------------------------------------------


class Tagger(keras.Model):
    """A subclassed model holding every sequence layer side by side, then a Dense head."""

    def __init__(self, sequence_layers, **kwargs):
        super().__init__(**kwargs)
        self.sequence_layers = sequence_layers
        self.head = keras.layers.TimeDistributed(keras.layers.Dense(1))

    def call(self, inputs):
        features = [layer(inputs) for layer in self.sequence_layers]
        return self.head(keras.ops.concatenate(features, axis=-1))


def _model(style, layers):
    head = keras.layers.TimeDistributed(keras.layers.Dense(1))
    if style == "Sequential":
        return keras.Sequential([keras.Input((T, D)), *layers, head])  # stacked
    if style == "functional":
        inputs = keras.Input((T, D))
        features = [layer(inputs) for layer in layers]  # side by side
        return keras.Model(inputs, head(keras.layers.Concatenate()(features)))
    return Tagger(layers)


# The Sequential model stacks every kind; the functional and subclassed ones hold
# the three public layers side by side (fewer layers: each one adds compile time).
MODEL_KINDS = {
    "Sequential": SEQUENCE_KINDS,
    "functional": ["ElmanRNN", "JordanRNN", "NARX", "TDNN"],
    "subclassed": ["ElmanRNN", "JordanRNN", "NARX", "TDNN"],
}


@pytest.mark.parametrize("style", MODEL_KINDS)
def test_model_trains_one_step(style, rng):
    x = rng.normal(size=(4, T, D)).astype("float32")
    y = rng.normal(size=(4, T, 1)).astype("float32")
    kinds = MODEL_KINDS[style]
    layers = [make_sequence_layer(kind) for kind in kinds]
    model = _model(style, layers)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model(x)  # builds the subclassed model too
    before = [[w.copy() for w in layer.get_weights()] for layer in layers]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Every layer's weights moved: the gradient reached each of them.
    for kind, layer, old in zip(kinds, layers, before):
        changed = [not np.allclose(a, b) for a, b in zip(old, layer.get_weights())]
        assert any(changed), f"{kind} did not train"
    assert to_numpy(model(x)).shape == (4, T, 1)


# 12. Gradients -----------------------------------------------------------------


@pytest.mark.parametrize("kind", RECURRENT)
def test_gradient_reaches_the_first_step(kind, rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = randomize(make_rnn(kind), rng)  # last output only: x_0 acts through the loop
    _, (grad,) = gradients(lambda x: keras.ops.sum(layer(x)), [x])
    assert np.all(np.isfinite(grad))
    assert np.all(np.abs(grad[:, 0]).sum(axis=-1) > 0)


@pytest.mark.parametrize("kind", ["TDNN", "RNN(TDNNCell)"])
def test_gradient_stays_inside_the_receptive_field(kind, rng):
    # y_t = act(b + sum_i x_{t + context[i]} W_i): only those steps get a gradient.
    x = rng.normal(size=(B, T, D)).astype("float32")
    context = (-3, -1, 0) if kind == "RNN(TDNNCell)" else (-2, 0, 1)
    if kind == "TDNN":
        layer = keras_rnnkit.TDNN(3, context, activation="tanh")
    else:
        layer = keras.layers.RNN(
            keras_rnnkit.TDNNCell(3, context, activation="tanh"), return_sequences=True
        )
    randomize(layer, rng)
    t = 3
    _, (grad,) = gradients(lambda x: keras.ops.sum(layer(x)[:, t]), [x])
    reached = np.abs(grad).sum(axis=-1) > 0
    expected = np.zeros(T, bool)
    expected[[t + c for c in context if 0 <= t + c < T]] = True
    np.testing.assert_array_equal(reached, np.repeat(expected[None], B, axis=0))
