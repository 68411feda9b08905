"""NARX against the NumPy reference of tests/reference.py: open and closed loop, generation,
initial delay lines, streaming, masking, saving, and its argument checks.

(Forward values and gradients of both loops: tests/test_reference_equations.py; masking,
statefulness, go_backwards and unroll of every recurrent kind: tests/test_properties.py.)
"""

import keras
import numpy as np
import pytest

import keras_rnnkit
from tests import reference
from tests.autodiff import to_numpy

TOL = dict(rtol=1e-5, atol=1e-5)
B, T, D, OUT = 2, 6, 3, 2
INPUT_DELAYS, FEEDBACK_DELAYS = (0, 2), (1, 3)


def _narx(rng, d=D, o=OUT, **kwargs):
    """A built NARX with random weights (zero biases are too easy)."""
    kwargs = {"input_delays": INPUT_DELAYS, "feedback_delays": FEEDBACK_DELAYS, **kwargs}
    layer = keras_rnnkit.NARX(4, output_units=o, return_sequences=True, **kwargs)
    layer.build((B, None, d))
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def _reference(layer, x, **kwargs):
    """`reference.narx` with the layer's weights and delays: (outputs, fed back)."""
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    cell = layer.cell
    return reference.narx(
        np.asarray(x, np.float64),
        *weights,
        input_delays=cell.input_delays,
        feedback_delays=cell.feedback_delays,
        **kwargs,
    )


def test_open_loop_feeds_back_the_targets_closed_loop_the_outputs(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    targets = rng.normal(size=(B, T, OUT)).astype("float32")
    layer = _narx(rng)
    closed = _reference(layer, x)[0]
    opened = _reference(layer, x, targets=np.float64(targets))[0]
    assert not np.allclose(closed, opened, atol=1e-3)  # the two loops do differ
    np.testing.assert_allclose(closed[:, 0], opened[:, 0], **TOL)  # nothing fed back yet
    cases = {
        "open loop while training": (dict(targets=targets, training=True), opened),
        "scheduled sampling, probability 1": (
            dict(targets=targets, training=True, sampling_probability=1.0),
            closed,
        ),
        "targets ignored outside training": (dict(targets=targets, training=False), closed),
        "closed loop without targets": (dict(training=True), closed),
    }
    for name, (kwargs, expected) in cases.items():
        np.testing.assert_allclose(to_numpy(layer(x, **kwargs)), expected, **TOL, err_msg=name)


def test_scheduled_sampling_mixes_targets_and_own_outputs(rng):
    # With probability 0.5 some steps feed back the target and some the own output: the
    # outputs are the reference's for the drawn choices, recovered from the fed-back line.
    x = rng.normal(size=(4, T, D)).astype("float32")
    targets = rng.normal(size=(4, T, OUT)).astype("float32")
    layer = _narx(rng, seed=3, return_state=True)
    outputs, line, _ = layer(x, targets=targets, training=True, sampling_probability=0.5)
    outputs, line = to_numpy(outputs), to_numpy(line)
    # The last step's choice shows in the feedback line: own output or target.
    last_own = np.all(np.isclose(line[:, :OUT], outputs[:, -1], atol=1e-5), axis=-1)
    last_target = np.all(np.isclose(line[:, :OUT], targets[:, -1], atol=1e-5), axis=-1)
    assert np.all(last_own | last_target)
    # Each sample equals the reference for one choice per step among the 2^(T-1) that matter.
    for i in range(4):
        matches = 0
        for code in range(2 ** (T - 1)):
            own = np.array([(code >> t) & 1 for t in range(T - 1)] + [0], float)
            expected = _reference(
                layer,
                x[i : i + 1],
                targets=np.float64(targets[i : i + 1]),
                use_own=own[None, :, None],
            )[0]
            matches += np.allclose(outputs[i : i + 1], expected, atol=1e-5)
        assert matches >= 1, i


def test_generate_nar_reading_matches_the_reference_loop(rng):
    # A NAR network: the input is the series itself, y_t forecasts x_{t+1}. Over the primer
    # the observed next values are fed back (open loop), then its own forecasts (closed).
    primer = rng.normal(size=(B, 5, 1)).astype("float32")
    layer = _narx(rng, d=1, o=1)
    steps = 4
    generated = to_numpy(layer.generate(primer, steps))
    assert generated.shape == (B, steps, 1)
    # The reference, one call per step on the series extended by its forecasts so far.
    series = np.asarray(primer, np.float64)
    for _ in range(steps):
        targets = np.concatenate([series[:, 1:], np.zeros_like(series[:, :1])], axis=1)
        use_own = np.zeros(series.shape[:2] + (1,))
        use_own[:, primer.shape[1] - 1 :] = 1.0  # from the primer's last step on
        outputs = _reference(layer, series, targets=targets, use_own=use_own)[0]
        series = np.concatenate([series, outputs[:, -1:]], axis=1)
    np.testing.assert_allclose(generated, series[:, primer.shape[1] :], **TOL)


@pytest.mark.parametrize("observed", [True, False], ids=["open_primer", "closed_primer"])
def test_generate_narx_reading_matches_the_reference(observed, rng):
    primer = rng.normal(size=(B, 4, D)).astype("float32")
    future = rng.normal(size=(B, 3, D)).astype("float32")
    targets = rng.normal(size=(B, 4, OUT)).astype("float32") if observed else None
    layer = _narx(rng)
    generated = to_numpy(layer.generate(primer, 3, targets=targets, inputs=future))
    x = np.concatenate([primer, future], axis=1)
    padded = None
    if observed:
        padded = np.concatenate([targets, np.zeros((B, 3, OUT), "float32")], axis=1)
    use_own = np.concatenate([np.zeros((B, 4, 1)), np.ones((B, 3, 1))], axis=1)
    expected = _reference(layer, x, targets=padded, use_own=use_own if observed else None)[0]
    np.testing.assert_allclose(generated, expected[:, 4:], **TOL)


def test_initial_delay_lines_are_past_inputs_and_outputs(rng):
    # Initial states made from a history x_{-1}, ..., x_{-m} and yhat_{-1}, ..., yhat_{-n}
    # (MATLAB's initial input and layer delay states) continue that history.
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = _narx(rng, return_state=True)
    x0 = rng.normal(size=(B, max(INPUT_DELAYS), D))
    y0 = rng.normal(size=(B, max(FEEDBACK_DELAYS), OUT))
    kernel = np.asarray(layer.get_weights()[0], np.float64)
    empty = np.zeros((B, 0, D))
    initial = reference.narx_states(
        empty, np.zeros((B, 0, OUT)), kernel, INPUT_DELAYS, FEEDBACK_DELAYS, x0=x0, y0=y0
    )
    outputs, *states = layer(x, initial_state=[s.astype("float32") for s in initial])
    expected, fed = _reference(layer, x, x0=x0, y0=y0)
    np.testing.assert_allclose(to_numpy(outputs), expected, **TOL)
    want = reference.narx_states(
        np.asarray(x, np.float64), fed, kernel, INPUT_DELAYS, FEEDBACK_DELAYS, x0=x0, y0=y0
    )
    for got, wanted in zip(states, want, strict=True):
        np.testing.assert_allclose(to_numpy(got), wanted, **TOL)


def test_step_by_step_equals_the_whole_sequence(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    whole = _narx(rng)
    expected = to_numpy(whole(x))
    stateful = keras_rnnkit.NARX.from_config({**whole.get_config(), "stateful": True})
    stateful.build((B, 1, D))
    stateful.set_weights(whole.get_weights())
    steps = [to_numpy(stateful(x[:, t : t + 1])) for t in range(T)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), expected, **TOL)
    # The cell driven by hand, one step at a time.
    cell = whole.cell
    states = cell.get_initial_state(B)
    outputs = []
    for t in range(T):
        y, states = cell(x[:, t], states)
        outputs.append(to_numpy(y))
    np.testing.assert_allclose(np.stack(outputs, axis=1), expected, **TOL)


def test_teacher_forced_masked_batch_equals_each_sequence_alone(rng):
    lengths = (6, 4)
    x = np.zeros((2, T, D), "float32")
    targets = np.zeros((2, T, OUT), "float32")
    mask = np.zeros((2, T), bool)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.normal(size=(n, D))
        targets[i, :n] = rng.normal(size=(n, OUT))
        mask[i, :n] = True
    layer = _narx(rng)
    padded = to_numpy(layer(x, mask=mask, targets=targets, training=True))
    expected = _reference(layer, x, targets=np.float64(targets), mask=mask)[0]
    for i, n in enumerate(lengths):
        alone = to_numpy(layer(x[i : i + 1, :n], targets=targets[i : i + 1, :n], training=True))
        np.testing.assert_allclose(padded[i, :n], alone[0], **TOL)
        np.testing.assert_allclose(padded[i, :n], expected[i, :n], **TOL)


def test_keras_file_round_trip_of_a_teacher_forced_model(rng, tmp_path):
    # The functional model of the docstring: open loop in training, saved and loaded.
    x, y_true = keras.Input((None, D)), keras.Input((None, OUT))
    narx = keras_rnnkit.NARX(5, OUT, input_delays=(0, 1), feedback_delays=(1, 3), dropout=0.2)
    model = keras.Model([x, y_true], narx(x, targets=y_true))
    model.compile("adam", "mse")
    inputs = rng.normal(size=(4, T, D)).astype("float32")
    targets = rng.normal(size=(4, T, OUT)).astype("float32")
    model.fit([inputs, targets], targets[:, -1], epochs=1, verbose=0)
    path = tmp_path / "narx.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        to_numpy(loaded([inputs, targets])), to_numpy(model([inputs, targets]))
    )
    (twin,) = [layer for layer in loaded.layers if isinstance(layer, keras_rnnkit.NARX)]
    assert twin.get_config() == narx.get_config()


def test_the_family_layer_is_a_window_narx():
    # build_model's NARX sees the window's last input (delay 0) and runs closed loop.
    from keras_rnnkit.models import build_model

    model = build_model("narx", (12, 1), 1)
    (layer,) = [layer for layer in model.layers if isinstance(layer, keras_rnnkit.NARX)]
    assert layer.cell.input_delays == (0, 1) and layer.cell.feedback_delays == (1, 2)
    assert layer.cell.output_units == 4 and not layer.return_sequences


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(input_delays=()), "NARX: `input_delays` must be a non-empty sequence"),
        (dict(input_delays=(-1, 0)), r"`input_delays` must be .* >= 0"),
        (dict(input_delays=(2, 1)), "distinct integer delays >= 0 in increasing order"),
        (dict(input_delays=(1, 1)), "Received: input_delays=\\(1, 1\\)"),
        (dict(input_delays=(0.5, 1)), "Received: input_delays=\\(0.5, 1\\)"),
        (dict(input_delays=(True,)), "Received: input_delays=\\(True,\\)"),
        (dict(input_delays=3), "Received: input_delays=3"),
        (dict(feedback_delays=(0, 1)), r"`feedback_delays` must be .* >= 1"),
        (dict(feedback_delays=[]), "Received: feedback_delays=\\[\\]"),
        (dict(feedback_delays="12"), "Received: feedback_delays='12'"),
        (dict(output_units=0), "NARX: `output_units` must be a positive integer"),
        (dict(dropout=1.0), "NARX: `dropout` must be in \\[0, 1\\)"),
    ],
    ids=str,
)
def test_bad_arguments_name_the_layer_and_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_rnnkit.NARX(**{"units": 3, "output_units": 2, **kwargs})


def test_bad_call_and_generate_arguments(rng):
    layer = _narx(rng)
    x = rng.normal(size=(B, T, D)).astype("float32")
    with pytest.raises(ValueError, match=r"NARX: `targets` must have shape \(batch, time, "):
        layer(x, targets=np.zeros((B, T, OUT + 1), "float32"), training=True)
    with pytest.raises(ValueError, match="NARX: `sampling_probability` must be"):
        layer(x, targets=np.zeros((B, T, OUT), "float32"), sampling_probability=2.0)
    with pytest.raises(ValueError, match=r"NARX.generate: without `inputs`, `primer` must"):
        layer.generate(x, 3)
    with pytest.raises(ValueError, match=r"NARX.generate: `steps` must be a positive"):
        layer.generate(x, 0, inputs=x[:, :0])
    with pytest.raises(ValueError, match=r"NARX.generate: `inputs` must have shape"):
        layer.generate(x, 3, inputs=x)
    with pytest.raises(ValueError, match=r"NARX.generate: `targets` go with `inputs`"):
        layer.generate(x[..., :OUT], 3, targets=x[..., :OUT])
    with pytest.raises(ValueError, match=r"NARX.generate: `targets` must have shape"):
        layer.generate(x, 2, targets=np.zeros((B, T, 1)), inputs=x[:, :2])
    with pytest.raises(ValueError, match=r"NARX.generate: `primer` must have shape"):
        layer.generate(x[:, :0], 2, inputs=x[:, :2])
    with pytest.raises(ValueError, match=r"NARX.generate: `initial_state` must be a list of 2"):
        layer.generate(x, 2, inputs=x[:, :2], initial_state=[np.zeros((B, 6))])


def test_input_dropout_acts_while_training_one_mask_per_sequence(rng):
    # The same x_t at every step, no feedback, one input tap: one mask per sequence gives
    # the same output at every step.
    x = np.repeat(rng.normal(size=(8, 1, D)), T, axis=1).astype("float32")
    layer = _narx(rng, input_delays=(0,), dropout=0.5, seed=5)
    layer.cell.recurrent_kernel.assign(np.zeros(layer.cell.recurrent_kernel.shape, "float32"))
    trained = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(trained, np.repeat(trained[:, :1], T, axis=1), **TOL)
    assert not np.allclose(trained, to_numpy(layer(x)), atol=1e-3)  # the mask did act
    np.testing.assert_allclose(to_numpy(layer(x)), _reference(layer, x)[0], **TOL)


def test_recurrent_dropout_acts_on_the_fed_back_values_while_training(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    first = _narx(rng, recurrent_dropout=0.5, seed=7)
    second = _narx(rng, recurrent_dropout=0.5, seed=7)
    second.set_weights(first.get_weights())
    trained = to_numpy(first(x, training=True))
    np.testing.assert_allclose(to_numpy(second(x, training=True)), trained, **TOL)  # seeded
    # Nothing is fed back before step 0 and its output is the undropped one; later it is not.
    expected = _reference(first, x)[0]
    np.testing.assert_allclose(trained[:, 0], expected[:, 0], **TOL)
    assert not np.allclose(trained, expected, atol=1e-3)
    np.testing.assert_allclose(to_numpy(first(x)), expected, **TOL)
