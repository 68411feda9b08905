"""GradientFlowMonitor against hand-written BPTT, and its warnings, logs, plot and TensorBoard."""

import pathlib
import warnings

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.training import GradientFlowMonitor
from keras_rnnkit.training import GradientFlowWarning
from tests import reference
from tests.autodiff import to_numpy

B, T, D, H = 4, 7, 2, 3


def _flow_warnings(run):
    """The GradientFlowWarnings that `run()` emits.

    Not `pytest.warns`: it re-raises every other warning recorded meanwhile,
    including third-party deprecations the project's filters ignore.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]


def _elman_model(rng, recurrent_scale=1.0, **kwargs):
    model = keras.Sequential(
        [
            keras.Input((T, D)),
            keras_rnnkit.ElmanRNN(H, return_sequences=True, name="elman", **kwargs),
        ]
    )
    layer = model.layers[0]
    layer.set_weights(
        [
            rng.normal(size=(D, H)).astype("float32"),
            (recurrent_scale * rng.normal(size=(H, H)) / np.sqrt(H)).astype("float32"),
            rng.normal(scale=0.1, size=(H,)).astype("float32"),
        ]
    )
    return model


def test_state_and_weight_gradients_equal_hand_written_bptt(rng):
    model = _elman_model(rng)
    x = rng.normal(size=(B, T, D)).astype("float32")
    loss_weights = rng.normal(size=(B, T, H)).astype("float32")
    weighted_sum = keras.ops.convert_to_tensor(loss_weights)
    monitor = GradientFlowMonitor(
        x, np.zeros((B, T, H), "float32"), loss=lambda y, p: keras.ops.sum(p * weighted_sum)
    )
    monitor.set_model(model)
    before = to_numpy(model(x))
    state_norms, weight_norms = monitor.measure()
    np.testing.assert_array_equal(to_numpy(model(x)), before)  # probes leave no trace

    kernel, recurrent, bias = (w.astype(float) for w in model.get_weights())
    d_kernel, d_recurrent, d_bias, _, into_state = reference.elman_bptt(
        x.astype(float), kernel, recurrent, bias, loss_weights.astype(float)
    )
    # dL/dh_t: its own output's weight plus what step t+1 sends back.
    total = [loss_weights[:, t] + (into_state[t + 1] if t + 1 < T else 0) for t in range(T)]
    expected = [np.linalg.norm(g) for g in total]
    np.testing.assert_allclose(state_norms["elman"], expected, rtol=1e-4)
    np.testing.assert_allclose(
        [weight_norms["elman"][n] for n in ("kernel", "recurrent_kernel", "bias")],
        [np.linalg.norm(g) for g in (d_kernel, d_recurrent, d_bias)],
        rtol=1e-4,
    )


@pytest.mark.slow
def test_records_one_row_per_epoch_and_logs_scalars(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = rng.normal(size=(B, 1)).astype("float32")
    inputs = keras.Input((T, D))
    hidden = keras.layers.Bidirectional(
        keras_rnnkit.ElmanRNN(H, return_sequences=True, name="elman"), name="bi"
    )(inputs)
    outputs = keras.layers.Dense(1)(keras_rnnkit.JordanRNN(H, 2, name="jordan")(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    monitor = GradientFlowMonitor(x, y, vanishing_factor=1e12)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[monitor])
    names = set(monitor.state_gradient_norms)
    assert {"jordan"} < names and len(names) == 3  # forward, backward, jordan
    for rows in monitor.state_gradient_norms.values():
        assert rows.shape == (3, T)
        assert np.all(rows >= 0) and np.all(np.isfinite(rows))
    assert set(monitor.weight_gradient_norms["jordan"]) == {
        "kernel",
        "recurrent_kernel",
        "bias",
        "output_kernel",
        "output_bias",
    }
    assert len(history.history["gradient_flow/jordan/first_step"]) == 3
    assert history.history["gradient_flow/jordan/last_step"][-1] == pytest.approx(
        monitor.state_gradient_norms["jordan"][-1, -1]
    )


def test_warns_when_the_gradient_vanishes_through_time(rng):
    model = _elman_model(rng, recurrent_scale=0.05)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = np.zeros((B, T, H), "float32")
    # Only the last step's output carries a loss: its gradient shrinks ~0.05^t going back.
    only_last = np.zeros((B, T, H), "float32")
    only_last[:, -1] = 1.0
    weights = keras.ops.convert_to_tensor(only_last)
    monitor = GradientFlowMonitor(
        x, y, loss=lambda y, p: keras.ops.sum(p * weights), vanishing_factor=100
    )
    messages = _flow_warnings(lambda: model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor]))
    assert len(messages) == 1 and "vanishes through time" in messages[0]


def test_warns_when_the_gradient_is_not_finite(rng):
    model = _elman_model(rng)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[0, 0, 0] = np.inf
    monitor = GradientFlowMonitor(x, np.zeros((B, T, H), "float32"))
    monitor.set_model(model)
    messages = _flow_warnings(lambda: monitor.on_epoch_end(0, {}))
    assert messages and all("not finite" in m for m in messages)


def _trained_with_plot_path(rng, path, epochs):
    """A monitor with `plot_path=path`, after one fit of an Elman model per entry of
    `epochs`, each of that many epochs."""
    model = _elman_model(rng)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = np.zeros((B, T, H), "float32")
    monitor = GradientFlowMonitor(x, y, vanishing_factor=1e12, plot_path=path)
    for count in epochs:
        model.fit(x, y, epochs=count, verbose=0, callbacks=[monitor])
    return monitor


def test_saves_a_plot(rng, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "flow.png"
    _trained_with_plot_path(rng, path, epochs=(2,))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_refuses_an_existing_file_unless_overwrite_and_renames_into_place(
    rng, tmp_path, monkeypatch
):
    # plot(path) used to write over an existing file, in place.
    matplotlib = pytest.importorskip("matplotlib")
    path = tmp_path / "flow.png"
    # The second fit's end replaces the first's plot at plot_path.
    monitor = _trained_with_plot_path(rng, path, epochs=(1, 1))
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="`path` exists; choose another, or pass overwrite"):
        monitor.plot(path)
    assert path.read_bytes() == b"mine"

    written = []
    savefig = matplotlib.figure.Figure.savefig

    def recording_savefig(figure, target, **kwargs):
        written.append(pathlib.Path(target))
        return savefig(figure, target, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", recording_savefig)
    assert monitor.plot(path, overwrite=True) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Written beside the file, in a staging folder, then renamed over it.
    (staged,) = written
    assert staged.name == path.name and staged.parent.parent == tmp_path
    assert staged.parent.name.startswith(".flow.png.rnnkit-staging-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.png"]
    with pytest.raises(IsADirectoryError, match="not a folder"):
        monitor.plot(tmp_path, overwrite=True)
    with pytest.raises(ValueError, match="`overwrite` must be True or False"):
        monitor.plot(tmp_path / "other.png", overwrite="yes")


def test_plot_colours_epochs_on_a_colour_bar_and_names_model_and_layer(rng):
    pytest.importorskip("matplotlib")
    model = _elman_model(rng)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    monitor = GradientFlowMonitor(x, np.zeros((B, T, H), "float32"), vanishing_factor=1e12)
    model.fit(x, np.zeros((B, T, H), "float32"), epochs=3, verbose=0, callbacks=[monitor])

    figure = monitor.figure()
    curves, colour_bar = figure.axes  # matplotlib adds the colour bar as an axes of its own
    assert curves.get_title() == f"Gradient flow through time: {model.name} / elman"
    assert curves.get_xlabel() == "time step"
    assert curves.get_ylabel() == "‖∂L/∂h_t‖ (log scale)"
    assert curves.get_yscale() == "log"
    assert colour_bar.get_ylabel() == "epoch"
    assert curves.get_legend() is None  # epochs are read on the colour bar
    colours = [tuple(line.get_color()) for line in curves.get_lines()]
    assert len(colours) == 3 and len(set(colours)) == 3  # one curve, one colour per epoch

    titled = monitor.figure(title="IRNN on the adding problem")
    assert titled.get_suptitle() == "IRNN on the adding problem"
    assert titled.axes[0].get_title() == "elman"


def test_bad_vanishing_factor():
    with pytest.raises(ValueError, match="`vanishing_factor` must be a number > 1"):
        GradientFlowMonitor(np.zeros((1, 2, 1)), np.zeros((1, 1)), vanishing_factor=0.5)


def _event_tags(directory):
    """`{tag: [step, ...]}` of every event file under `directory`, read back with tf."""
    tf = pytest.importorskip("tensorflow")
    tags = {}
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault((path.parent.name, value.tag), []).append(event.step)
    return tags


@pytest.mark.parametrize("monitor_first", [True, False])
def test_tensorboard_gets_scalars_and_profile_whatever_the_callback_order(
    rng, tmp_path, monitor_first
):
    pytest.importorskip("tensorflow")
    pytest.importorskip("matplotlib")
    model = _elman_model(rng)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = np.zeros((B, T, H), "float32")
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tmp_path))
    monitor = GradientFlowMonitor(x, y, vanishing_factor=1e12, log_dir=tensorboard)
    callbacks = [monitor, tensorboard] if monitor_first else [tensorboard, monitor]
    model.fit(x, y, epochs=3, verbose=0, callbacks=callbacks)

    tags = _event_tags(tmp_path)
    for tag in [
        "gradient_flow/elman/first_step",
        "gradient_flow/elman/last_step",
        "gradient_flow/elman/log10_state_gradient",
        "gradient_flow/profile",
    ]:
        assert tags[("gradient_flow", tag)] == [0, 1, 2], tag
    weights = [tag for run, tag in tags if run == "gradient_flow" and tag.endswith("/weights")]
    assert weights, tags
    assert ("train", "epoch_loss") in tags  # Keras's own run is untouched


def test_tensorboard_histogram_holds_the_per_step_profile(rng, tmp_path):
    tf = pytest.importorskip("tensorflow")
    model = _elman_model(rng)
    model.compile("sgd", "mse")
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = np.zeros((B, T, H), "float32")
    monitor = GradientFlowMonitor(x, y, vanishing_factor=1e12, log_dir=tmp_path)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    (path,) = (tmp_path / "gradient_flow").glob("events.out.tfevents.*")
    histograms = [
        value
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
        if value.tag == "gradient_flow/elman/log10_state_gradient"
    ]
    (histogram,) = histograms
    buckets = tf.make_ndarray(histogram.tensor)  # rows: (left edge, right edge, count)
    assert buckets[:, 2].sum() == T
    profile = np.log10(monitor.state_gradient_norms["elman"][0])
    assert buckets[0, 0] == pytest.approx(profile.min(), rel=1e-6)
    assert buckets[-1, 1] == pytest.approx(profile.max(), rel=1e-6)


def test_bad_log_dir():
    with pytest.raises(ValueError, match=r"`log_dir` must be None, a directory or a keras"):
        GradientFlowMonitor(np.zeros((1, 2, 1)), np.zeros((1, 1)), log_dir=3)


@keras.saving.register_keras_serializable(package="tests")
class _TwoBranches(keras.Model):
    """Two recurrent layers on the same inputs, called in an order that alternates per call."""

    def __init__(self, alternate):
        super().__init__()
        self.first = keras_rnnkit.ElmanRNN(H, return_sequences=True, name="first")
        self.second = keras_rnnkit.JordanRNN(
            4, output_units=2, return_sequences=True, name="second"
        )
        self.alternate = alternate
        self.calls = 0

    def call(self, x, training=False):
        order = [self.first, self.second]
        if self.alternate and self.calls % 2:
            order.reverse()
        self.calls += 1
        outputs = {layer.name: layer(x, training=training) for layer in order}
        return keras.ops.concatenate([outputs["first"], outputs["second"]], axis=-1)


def test_measurement_does_not_depend_on_the_order_layers_are_called_in(rng):
    """Probes are matched by layer and call, not by order: a model that calls its
    layers in another order on each pass measures what a fixed order does."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    y = rng.normal(size=(B, T, H + 2)).astype("float32")
    results, weights = [], None
    for alternate in (False, True):
        model = _TwoBranches(alternate)
        model(x)
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        monitor = GradientFlowMonitor(x, y, loss="mse")
        monitor.set_model(model)
        results.append(monitor.measure()[0])
    assert set(results[0]) == {"first", "second"}
    for name in results[0]:
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-5)
