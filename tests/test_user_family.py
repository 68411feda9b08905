"""A family of a user's own, defined here without touching the package, through everything a
family name reaches: the registry, the model builder, `rnnkit train` and `rnnkit gradients`,
a tuning search, saving and loading, and streaming export.

The family is NARX-style: an Elman network whose output also feeds back,

    h_t = tanh(x_t W + h_{t-1} U + y_{t-1} R + b),    y_t = h_t V + c,

written with public API only, as a user would (keras_rnnkit's own NARX, with delay lines, is the
built-in family "narx"; this one, "user_narx", shows that a family can come from outside): a
cell of keras_rnnkit's recurrence protocol
(`state_size`, `output_size`, `step`, `get_initial_state`), run by
`keras_rnnkit.layers.Recurrent`, which gives it per-step gradient clipping, truncated BPTT
and the gradient-flow monitor; the tests check each against a NumPy reference.
"""

import json

import keras
import numpy as np
import pytest

import keras_rnnkit_cli
from keras_rnnkit.export import to_streaming
from keras_rnnkit.layers import Recurrent
from keras_rnnkit.models import FAMILIES
from keras_rnnkit.models import Family
from keras_rnnkit.models import Hyperparameter
from keras_rnnkit.models import build_model
from keras_rnnkit.models import get_family
from keras_rnnkit.models import register_family
from keras_rnnkit.models import registered_families
from keras_rnnkit.models import unregister_family
from keras_rnnkit.training import GradientFlowMonitor
from tests import family_harness
from tests.autodiff import layer_gradients
from tests.autodiff import to_numpy


@keras.saving.register_keras_serializable(package="user_narx")
class NarxCell(keras.layers.Layer):
    """The NARX-style cell above: states [h (B, H), y (B, O)], output y (B, O)."""

    def __init__(self, units, output_units, kernel_regularizer=None, **kw):
        super().__init__(**kw)
        self.units = units
        self.output_units = output_units
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.state_size = [units, output_units]
        self.output_size = output_units

    def build(self, input_shape):
        d, h, o = input_shape[-1], self.units, self.output_units
        penalty = self.kernel_regularizer
        self.kernel = self.add_weight(shape=(d, h), name="kernel", regularizer=penalty)
        self.recurrent_kernel = self.add_weight(
            shape=(h, h), name="recurrent_kernel", regularizer=penalty
        )
        self.feedback_kernel = self.add_weight(
            shape=(o, h), name="feedback_kernel", regularizer=penalty
        )
        self.bias = self.add_weight(shape=(h,), initializer="zeros", name="bias")
        self.output_kernel = self.add_weight(
            shape=(h, o), name="output_kernel", regularizer=penalty
        )
        self.output_bias = self.add_weight(shape=(o,), initializer="zeros", name="output_bias")

    def step(self, inputs, states, training=False):
        h, y = states
        ops = keras.ops
        h = ops.tanh(
            ops.matmul(inputs, self.kernel)
            + ops.matmul(h, self.recurrent_kernel)
            + ops.matmul(y, self.feedback_kernel)
            + self.bias
        )
        y = ops.matmul(h, self.output_kernel) + self.output_bias
        return y, [h, y]

    def call(self, inputs, states, training=False):
        return self.step(inputs, list(states), training)

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, size)) for size in self.state_size]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "output_units": self.output_units,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


def make_narx(
    units, *, return_sequences, regularizer, seed, gradient_clip, gradient_clip_mode, output_units
):
    # `seed` seeds dropout masks: this family has no dropout, and searches none (below).
    cell = NarxCell(units, output_units, kernel_regularizer=regularizer)
    return Recurrent(
        cell,
        gradient_clip=gradient_clip,
        gradient_clip_mode=gradient_clip_mode,
        return_sequences=return_sequences,
    )


NARX = Family(
    "user_narx",
    make_narx,
    recurrent=True,
    small_model=lambda units, output_units, sequence_output: (
        units,
        {"output_units": max(2, output_units)},
    ),
    options_from_values=lambda values: (
        values["units"],
        {"output_units": values["user_narx_output_units"]},
    ),
    hyperparameters=(
        Hyperparameter(
            "user_narx_output_units",
            "choice",
            2,
            {"values": [1, 2, 3]},
            ("user_narx",),
            "fed-back outputs",
        ),
    ),
    # No activation choice, layer norm or dropout: the cell has none of them.
    layer_hyperparameters=(),
    description="NARX: Elman with the output fed back too",
)


@pytest.fixture
def narx():
    register_family(NARX)
    yield NARX
    unregister_family("user_narx")


def _nested_layers(layer):
    """Every layer inside `layer` (models in models, cells in RNN layers)."""
    parts = ("cell", "forward_layer", "backward_layer")  # RNN, Bidirectional
    inside = [getattr(layer, name, None) for name in parts]
    for inner in [*getattr(layer, "layers", []), *filter(None, inside)]:
        yield inner
        yield from _nested_layers(inner)


def numpy_narx(x, weights):
    """The recurrence above in plain NumPy, from the equations."""
    w, u, r, b, v, c = weights
    h = np.zeros((x.shape[0], u.shape[0]))
    y = np.zeros((x.shape[0], v.shape[1]))
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ w + h @ u + y @ r + b)
        y = h @ v + c
        outputs.append(y)
    return np.stack(outputs, axis=1)


def test_registration_rules(narx):
    assert registered_families()[: len(FAMILIES)] == FAMILIES
    assert registered_families()[-1] == "user_narx"
    assert get_family("user_narx") is NARX
    assert register_family(NARX) is NARX  # the same family again: nothing changes
    other = Family("user_narx", make_narx, recurrent=True)
    with pytest.raises(ValueError, match="registered already; pass overwrite=True"):
        register_family(other)
    assert register_family(other, overwrite=True) is other
    assert register_family(NARX, overwrite=True) is NARX
    # The built-in families take the same path: taken names are refused without overwrite.
    with pytest.raises(ValueError, match="'elman' is registered already"):
        register_family(Family("elman", make_narx, recurrent=True))
    with pytest.raises(ValueError, match="lowercase letters"):
        register_family(Family("Bad-Name", make_narx, recurrent=True))
    with pytest.raises(ValueError, match="must be one of elman, jordan, narx, tdnn, .*user_narx"):
        build_model("nope", (5, 1))


def test_unregistered_family_is_gone():
    assert "user_narx" not in registered_families()
    with pytest.raises(ValueError, match="Received: family='user_narx'"):
        build_model("user_narx", (5, 1))


def test_the_builder_makes_the_family_and_it_matches_its_equations(narx):
    model = build_model("user_narx", (7, 3), 1, units=5, sequence_output=True)
    (rnn,) = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert isinstance(rnn.cell, NarxCell) and rnn.cell.output_units == 2
    x = np.random.default_rng(0).normal(size=(4, 7, 3)).astype("float32")
    expected = numpy_narx(x, [to_numpy(w) for w in rnn.cell.weights])
    np.testing.assert_allclose(to_numpy(rnn(x)), expected, atol=1e-5)


@pytest.mark.parametrize("check", family_harness.CHECKS, ids=lambda check: check.__name__)
def test_the_family_harness(narx, check, tmp_path):
    check(narx, tmp_path)


def numpy_narx_gradients(x, weights, grad_outputs, clip=None, truncate=None):
    """dL/dx and the weights' gradients of the recurrence above, for dL/dy_t = `grad_outputs`,
    with keras_rnnkit's loop around it: the gradient step t sends back into (h, y)_{t-1}
    clipped elementwise to `clip`, and none at all where truncated BPTT cuts (every
    `truncate` steps)."""
    w, u, r, b, v, c = weights
    steps = x.shape[1]
    h = [np.zeros((x.shape[0], u.shape[0]))]
    y = [np.zeros((x.shape[0], v.shape[1]))]
    for t in range(steps):
        h.append(np.tanh(x[:, t] @ w + h[-1] @ u + y[-1] @ r + b))
        y.append(h[-1] @ v + c)
    grads = [np.zeros_like(a) for a in weights]
    grad_x = np.zeros_like(x)
    grad_h_next, grad_y_next = np.zeros_like(h[0]), np.zeros_like(y[0])
    for t in range(steps - 1, -1, -1):
        grad_y = grad_outputs[:, t] + grad_y_next
        grad_h = grad_h_next + grad_y @ v.T
        grad_z = grad_h * (1 - h[t + 1] ** 2)
        for index, (left, right) in enumerate(
            [(x[:, t], grad_z), (h[t], grad_z), (y[t], grad_z), (None, grad_z), (h[t + 1], grad_y)]
        ):
            grads[index] += right.sum(axis=0) if left is None else left.T @ right
        grads[5] += grad_y.sum(axis=0)
        grad_x[:, t] = grad_z @ w.T
        grad_h_next, grad_y_next = grad_z @ u.T, grad_z @ r.T
        if clip is not None:
            grad_h_next, grad_y_next = (np.clip(g, -clip, clip) for g in (grad_h_next, grad_y_next))
        if truncate and t % truncate == 0:
            grad_h_next, grad_y_next = np.zeros_like(grad_h_next), np.zeros_like(grad_y_next)
    return grad_x, grads


@pytest.mark.parametrize(
    ("clip", "truncate"), [(None, None), (0.02, None), (None, 3), (0.02, 3)], ids=str
)
def test_the_loop_clips_and_truncates_the_familys_gradients_as_the_numpy_reference(clip, truncate):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 7, 2)).astype("float32") * 2.0
    layer = Recurrent(
        NarxCell(4, 2), gradient_clip=clip, truncate_gradient=truncate, return_sequences=True
    )
    layer(x)
    arrays = [rng.normal(size=a.shape).astype("float32") * 0.8 for a in layer.get_weights()]
    layer.set_weights(arrays)
    loss_weights = rng.normal(size=(3, 7, 2)).astype("float32") * 5.0
    _, got_x, got_weights = layer_gradients(layer, x, arrays, loss_weights)
    weights64 = [a.astype(np.float64) for a in arrays]
    want_x, want_weights = numpy_narx_gradients(
        x.astype(np.float64), weights64, loss_weights, clip, truncate
    )
    np.testing.assert_allclose(got_x, want_x, rtol=1e-4, atol=1e-5)
    for got, want in zip(got_weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if clip or truncate:  # the loop's controls did act
        plain = numpy_narx_gradients(x.astype(np.float64), weights64, loss_weights)[0]
        assert not np.allclose(plain, want_x, atol=1e-3)


def test_the_gradient_flow_monitor_follows_the_family(narx):
    model = build_model("user_narx", (6, 2), 1, units=4)
    x = np.random.default_rng(4).normal(size=(8, 6, 2)).astype("float32")
    y = np.ones((8, 1), "float32")
    monitor = GradientFlowMonitor(x, y)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    (rows,) = [np.asarray(r) for r in monitor.state_gradient_norms.values()]
    # One row per epoch, one norm per step (h and y together). The last step's states feed
    # nothing (the output is y_T as the step computed it, not the state): no gradient there.
    assert rows.shape == (2, 6) and np.all(np.isfinite(rows))
    assert np.all(rows[:, :-1] > 0) and np.all(rows[:, -1] == 0)


def test_save_and_load_round_trip(narx, tmp_path):
    model = build_model("user_narx", (6, 2), 1, units=4, gradient_clip=1.0)
    x = np.random.default_rng(1).normal(size=(3, 6, 2)).astype("float32")
    model.save(tmp_path / "user_narx.keras")
    loaded = keras.saving.load_model(tmp_path / "user_narx.keras")
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


def test_streaming_export_step_by_step_equals_the_whole_sequence(narx):
    model = build_model("user_narx", (None, 2), 1, units=4, sequence_output=True)
    x = np.random.default_rng(2).normal(size=(2, 5, 2)).astype("float32")
    stream = to_streaming(model, batch_size=2)
    steps = [to_numpy(stream(x[:, t : t + 1]))[:, 0] for t in range(5)]
    np.testing.assert_allclose(np.stack(steps, axis=1), to_numpy(model(x)), atol=1e-5)


def test_rnnkit_train_and_gradients_take_the_family(narx, tmp_path, capsys):
    out = tmp_path / "train"
    argv = ["train", "--model", "user_narx", "--task", "adding", "--window", "6", "--epochs", "1"]
    assert keras_rnnkit_cli.main([*argv, "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "user_narx" and np.isfinite(metrics["test"]["loss"])
    loaded = keras.saving.load_model(out / "model.keras")
    assert loaded.count_params() == metrics["parameters"]
    assert any(isinstance(layer, NarxCell) for layer in _nested_layers(loaded))
    # `rnnkit gradients` follows its state gradient: keras_rnnkit's loop runs the cell.
    flow = tmp_path / "flow"
    argv[0] = "gradients"
    assert keras_rnnkit_cli.main([*argv, "--quiet", "--probe", "8", "--out", str(flow)]) == 0
    norms = json.loads((flow / "gradient_norms.json").read_text())["state_gradient_norms"]
    (rows,) = norms.values()
    assert np.asarray(rows).shape == (1, 6)


@pytest.mark.slow
def test_a_tuning_search_tries_the_family_and_its_own_hyperparameter(narx, tmp_path):
    pytest.importorskip("keras_tuner")
    from keras_rnnkit.tuning import run_search

    result = run_search(
        "adding",
        families=("user_narx",),
        max_trials=2,
        epochs=1,
        window=6,
        samples=64,
        directory=str(tmp_path / "tuning"),
        folds=None,
    )
    assert result.best_hyperparameters["family"] == "user_narx"
    assert result.best_hyperparameters["user_narx_output_units"] in (1, 2, 3)
    # The builder's shared values and the family's own: nothing of Jordan's or TDNN's, and
    # none of the layer options NARX does not take.
    tried = set(result.best_hyperparameters)
    assert {"units", "depth", "learning_rate", "gradient_clip", "bidirectional"} <= tried
    assert not {"context_decay", "context_width", "dropout", "activation"} & tried
    cells = [layer for layer in _nested_layers(result.model) if isinstance(layer, NarxCell)]
    assert len(cells) == result.best_hyperparameters["depth"] * (
        2 if result.best_hyperparameters["bidirectional"] else 1
    )
    for cell in cells:
        assert cell.output_units == result.best_hyperparameters["user_narx_output_units"]
