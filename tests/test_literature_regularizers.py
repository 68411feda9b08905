"""Soft weight-sharing, Bayesian regularisation and pruning by saliency, against their papers.

The references are NumPy, written from the equations (Nowlan & Hinton 1992;
MacKay 1992 and Foresee & Hagan 1997; LeCun, Denker & Solla 1990), not from
the library's code: a mixture density and its responsibilities, the evidence
fixed point of Bayesian ridge regression in closed form, and Jacobians by
central differences.
"""

import math

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.backend.gradients import output_jacobian
from keras_rnnkit.models import build_model
from keras_rnnkit.regularizers import BayesianWeightDecay
from keras_rnnkit.regularizers import SoftWeightSharing
from keras_rnnkit.regularizers import per_weight
from keras_rnnkit.training import BayesianRegularization
from keras_rnnkit.training import PruningMask
from keras_rnnkit.training import keep_pruned
from keras_rnnkit.training import levenberg_marquardt
from keras_rnnkit.training import prunable_weights
from keras_rnnkit.training import prune_least_salient
from keras_rnnkit.training import saliencies
from keras_rnnkit.training.bayesian import evidence_update
from tests.autodiff import gradients
from tests.autodiff import to_numpy

# ------------------------------------------------------------ soft weight-sharing


def numpy_mixture_penalty(w, strength, means, sds, proportions):
    """-strength * sum_i log sum_j pi_j N(w_i | mu_j, sd_j^2), and d/dw, d/dmu (float64)."""
    w = np.asarray(w, "float64").reshape(-1, 1)
    densities = np.exp(-0.5 * ((w - means) / sds) ** 2) / (np.sqrt(2 * math.pi) * sds) * proportions
    total = densities.sum(axis=1, keepdims=True)
    responsibilities = densities / total
    value = -strength * np.sum(np.log(total))
    d_w = strength * np.sum(responsibilities * (w - means) / sds**2, axis=1)
    d_means = -strength * np.sum(responsibilities * (w - means) / sds**2, axis=0)
    return value, d_w, d_means


def _set_mixture(prior, means, sds, logits):
    prior.means.assign(np.asarray(means, "float32"))
    prior.log_sds.assign(np.log(np.asarray(sds, "float32")))
    prior.logits.assign(np.asarray(logits, "float32"))


def test_soft_weight_sharing_is_the_negative_log_mixture_prior_and_its_gradient():
    prior = SoftWeightSharing(strength=0.3, components=3, zero_component=False)
    means, sds, logits = [-0.8, 0.1, 1.2], [0.2, 0.5, 0.3], [0.4, -0.3, 0.0]
    _set_mixture(prior, means, sds, logits)
    proportions = np.exp(logits) / np.exp(logits).sum()
    w = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    expected, d_w, d_means = numpy_mixture_penalty(
        w, 0.3, np.array(means), np.array(sds), proportions
    )
    value, (grad_w,) = gradients(lambda w_: prior(w_), [w])
    np.testing.assert_allclose(float(to_numpy(value)), expected, rtol=1e-5)
    np.testing.assert_allclose(grad_w.ravel(), d_w, rtol=1e-4, atol=1e-6)
    # By the means, which the optimizer trains: central differences of the layer's own value.
    step, by_means = 1e-2, []
    for j in range(3):
        shifted = []
        for sign in (1.0, -1.0):
            moved = np.array(means, "float64")
            moved[j] += sign * step
            prior.means.assign(moved.astype("float32"))
            shifted.append(float(to_numpy(prior(w))))
        by_means.append((shifted[0] - shifted[1]) / (2 * step))
    np.testing.assert_allclose(by_means, d_means, rtol=1e-3, atol=1e-4)


def test_a_zero_component_stays_at_zero_and_the_floor_bounds_the_sds():
    prior = SoftWeightSharing(strength=1.0, components=2, min_sd=0.1, initial_sd=0.01)
    means, sds, proportions = (to_numpy(t) for t in prior.mixture())
    assert means.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(sds, [0.1, 0.1])
    np.testing.assert_allclose(proportions, [0.5, 0.5])
    expected, _, _ = numpy_mixture_penalty(np.array([0.05]), 1.0, means, sds, proportions)
    np.testing.assert_allclose(float(to_numpy(prior(np.array([0.05])))), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "argument, value",
    [("strength", -1.0), ("components", 0), ("spread", 0.0), ("min_sd", -0.1)],
)
def test_soft_weight_sharing_refuses_bad_arguments(argument, value):
    with pytest.raises(ValueError, match=f"SoftWeightSharing.*`{argument}`.*Received"):
        SoftWeightSharing(**{argument: value})


def _toy(seed=0, rows=64, features=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]])[:features] + 0.1 * rng.normal(size=(rows, 1))
    return x, y.astype("float32")


def test_the_mixture_trains_with_the_weights_and_round_trips(tmp_path):
    keras.utils.set_random_seed(1)
    x, y = _toy()
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, kernel_regularizer=SoftWeightSharing(0.05)),
            keras.layers.Dense(1, kernel_regularizer=SoftWeightSharing(0.05)),
        ]
    )
    prior = model.layers[0].kernel_regularizer
    before = to_numpy(prior.means).copy()
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert not np.allclose(to_numpy(prior.means), before)  # learned with the weights
    path = tmp_path / "sws.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    for original, copy in zip(model.layers, loaded.layers, strict=True):
        for a, b in zip(
            original.kernel_regularizer.weights, copy.kernel_regularizer.weights, strict=True
        ):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    config = prior.get_config()
    assert SoftWeightSharing.from_config(config).get_config() == config


# -------------------------------------------------------- Bayesian regularisation


def numpy_evidence_ridge(x, y, iterations=500):
    """MacKay's evidence fixed point for y = x w + noise: `(w, gamma, alpha, beta)` (float64).

    Minimises beta * sum e^2 + alpha * sum w^2, then gamma = sum l / (l + alpha / beta)
    over the eigenvalues l of x^T x, alpha = gamma / (2 E_W), beta = (N - gamma) / (2 E_D).
    """
    x, y = np.asarray(x, "float64"), np.asarray(y, "float64").ravel()
    alpha, beta = 1e-3, 1.0
    eigenvalues = np.linalg.eigvalsh(x.T @ x)
    for _ in range(iterations):
        w = np.linalg.solve(x.T @ x + (alpha / beta) * np.eye(x.shape[1]), x.T @ y)
        gamma = np.sum(eigenvalues / (eigenvalues + alpha / beta))
        alpha = gamma / (2 * np.sum(w**2))
        beta = (len(y) - gamma) / (2 * np.sum((y - x @ w) ** 2))
    return w, gamma, alpha, beta


def test_evidence_update_matches_its_trace_form():
    rng = np.random.default_rng(2)
    jacobian, residuals, weights = rng.normal(size=(30, 5)), rng.normal(size=30), rng.normal(size=5)
    ratio = 0.7
    gamma, alpha, beta = evidence_update(jacobian, residuals, weights, ratio)
    trace = np.trace(np.linalg.inv(jacobian.T @ jacobian + ratio * np.eye(5)))
    assert gamma == pytest.approx(5 - ratio * trace, rel=1e-10)
    assert alpha == pytest.approx(gamma / (2 * np.sum(weights**2)), rel=1e-12)
    assert beta == pytest.approx((30 - gamma) / (2 * np.sum(residuals**2)), rel=1e-12)


def test_bayesian_regularisation_reaches_the_evidence_fixed_point_of_ridge_regression():
    """A linear model, whose Gauss-Newton Hessian is exact: the trained weights, decay and
    effective number of parameters are those of the closed-form evidence iteration."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = x @ np.array([[0.8], [-0.5], [0.05], [0.0]]) + 0.5 * rng.normal(size=(40, 1))
    y = y.astype("float32")
    w, gamma, alpha, beta = numpy_evidence_ridge(x, y)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(1, use_bias=False, kernel_regularizer=BayesianWeightDecay()),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "mse")
    evidence = BayesianRegularization(x, y)
    model.fit(x, y, epochs=300, batch_size=40, verbose=0, callbacks=[evidence])
    np.testing.assert_allclose(model.get_weights()[0].ravel(), w, rtol=0.02, atol=2e-3)
    last = evidence.history[-1]
    assert last["effective_parameters"][0] == pytest.approx(gamma, rel=0.02)
    assert last["weight_decay"][0] == pytest.approx(alpha / (beta * len(y)), rel=0.05)
    assert 0 < gamma < 4  # the noise-level weights are not all determined


def test_bayesian_weight_decay_saves_its_strength(tmp_path):
    decay = BayesianWeightDecay(0.25)
    np.testing.assert_allclose(float(to_numpy(decay(np.array([1.0, 3.0])))), 2.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_regularizer=decay)])
    decay.strength.assign(0.125)
    model.save(tmp_path / "decay.keras")
    loaded = keras.saving.load_model(tmp_path / "decay.keras")
    assert float(to_numpy(loaded.layers[0].kernel_regularizer.strength)) == 0.125
    assert BayesianWeightDecay.from_config(decay.get_config()).get_config() == decay.get_config()


def test_bayesian_regularisation_names_a_model_without_its_regularizer():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="plain")
    model.compile("sgd", "mse")
    x = np.zeros((4, 2), "float32")
    with pytest.raises(ValueError, match="BayesianRegularization: model 'plain' has no weight"):
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[BayesianRegularization(x, x)])
    with pytest.raises(ValueError, match="`update_every` must be a positive int"):
        BayesianRegularization(x, x, update_every=0)


# ---------------------------------------------------------------- Jacobians and OBD


def _tiny_jordan(seed=0):
    keras.utils.set_random_seed(seed)
    return build_model("jordan", (5, 1), units=3, name=f"jordan_{seed}")


def _central_difference_jacobian(model, x, variables, step=1e-3):
    """d outputs / d weights by central differences, one weight at a time (float32 model)."""
    columns = []
    for variable in variables:
        original = to_numpy(variable).astype("float64")
        for index in np.ndindex(original.shape):
            shifted = []
            for sign in (1.0, -1.0):
                values = original.copy()
                values[index] += sign * step
                variable.assign(values.astype("float32"))
                shifted.append(to_numpy(model(x, training=False)).astype("float64").ravel())
            columns.append((shifted[0] - shifted[1]) / (2 * step))
        variable.assign(original.astype("float32"))
    return np.stack(columns, axis=1)


def test_output_jacobian_of_a_jordan_network_matches_central_differences():
    model = _tiny_jordan()
    x = np.random.default_rng(4).normal(size=(6, 5, 1)).astype("float32")
    variables = prunable_weights(model)
    outputs, jacobian = output_jacobian(model, variables)(x)
    np.testing.assert_allclose(outputs, to_numpy(model(x)).ravel(), rtol=1e-5, atol=1e-6)
    expected = _central_difference_jacobian(model, x, variables)
    assert jacobian.shape == expected.shape == (6, sum(int(np.prod(v.shape)) for v in variables))
    np.testing.assert_allclose(jacobian, expected, rtol=2e-2, atol=2e-3)


def test_saliency_is_half_the_gauss_newton_diagonal_times_the_squared_weight():
    model = _tiny_jordan(1)
    x = np.random.default_rng(5).normal(size=(8, 5, 1)).astype("float32")
    variables = prunable_weights(model)
    expected_jacobian = _central_difference_jacobian(model, x, variables)
    weights = np.concatenate([to_numpy(v).ravel() for v in variables]).astype("float64")
    expected = 0.5 * (2 * np.sum(expected_jacobian**2, axis=0)) * weights**2
    got = np.concatenate([s.ravel() for s in saliencies(model, x)])
    np.testing.assert_allclose(got, expected, rtol=5e-2, atol=1e-5)


def test_pruned_weights_stay_zero_through_training_and_after_loading(tmp_path):
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 5, 1)).astype("float32")
    y = x[:, -1] * 0.5 + x[:, -2] * 0.25
    model = build_model("jordan", (5, 1), units=3)
    model.fit(x, y, epochs=2, verbose=0)
    total = sum(int(np.prod(v.shape)) for v in prunable_weights(model))
    scores = np.concatenate([s.ravel() for s in saliencies(model, x)])
    assert prune_least_salient(model, x, 5) == 5
    values = np.concatenate([to_numpy(v).ravel() for v in prunable_weights(model)])
    # The five of least saliency went, and nothing else.
    assert set(np.flatnonzero(values == 0)) == set(np.argsort(scores, kind="stable")[:5])
    model.fit(x, y, epochs=3, verbose=0)
    zeros = [to_numpy(v) == 0 for v in prunable_weights(model)]
    assert sum(int(z.sum()) for z in zeros) == 5
    assert prune_least_salient(model, x, 4) == 9  # the already pruned are not counted again
    model.save(tmp_path / "pruned.keras")
    loaded = keras.saving.load_model(tmp_path / "pruned.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert keep_pruned(loaded) == 9
    loaded.fit(x, y, epochs=2, verbose=0)
    assert sum(int((to_numpy(v) == 0).sum()) for v in prunable_weights(loaded)) == 9
    assert total > 9


def test_pruning_mask_round_trips_and_refuses_what_is_not_a_mask():
    mask = PruningMask([[1, 0]], constraint=keras.constraints.NonNeg())
    copy = PruningMask.from_config(mask.get_config())
    assert to_numpy(copy(np.array([[-1.0, 2.0]]))).tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="PruningMask: `mask` must be an array of 0s and 1s"):
        PruningMask([[0.5, 1.0]])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="`count` must be a non-negative int"):
        prune_least_salient(model, np.zeros((2, 2)), -1)


# ------------------------------------------------------ through build_model, saved


@pytest.mark.parametrize(
    "penalty, expected", [("soft_sharing", SoftWeightSharing), ("bayesian", BayesianWeightDecay)]
)
def test_each_kernel_gets_its_own_prior_and_the_model_round_trips(penalty, expected, tmp_path):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(7)
    x = 50 + 10 * rng.normal(size=(40, 6, 1)).astype("float32")
    y = x[:, -1] * 0.8 + 5
    model = build_model(
        "jordan", (6, 1), training_data=(x, y), weight_decay=1e-3, weight_penalty=penalty
    )
    core = model.get_layer("jordan")
    (jordan,) = [layer for layer in core.layers if isinstance(layer, keras_rnnkit.JordanRNN)]
    regularizers = [
        jordan.cell.kernel_regularizer,
        jordan.cell.recurrent_regularizer,
        jordan.cell.output_kernel_regularizer,
        core.layers[-1].kernel_regularizer,
    ]
    assert all(isinstance(r, expected) for r in regularizers)
    assert len({id(r) for r in regularizers}) == 4
    callbacks = [BayesianRegularization(x, y)] if penalty == "bayesian" else []
    model.fit(x, y, epochs=3, verbose=0, callbacks=callbacks)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    np.testing.assert_allclose(
        sum(float(to_numpy(loss)) for loss in model.losses),
        sum(float(to_numpy(loss)) for loss in loaded.losses),
        rtol=1e-6,
    )


def test_per_weight_copies_only_regularizers_with_variables():
    prior = SoftWeightSharing(0.1, components=4)
    copy = per_weight(prior)
    assert copy is not prior and copy.get_config() == {
        **prior.get_config(),
        "name": copy.name,
    }
    l2 = keras.regularizers.L2(0.1)
    assert per_weight(l2) is l2 and per_weight(None) is None


# ------------------------------------------------------------ Levenberg-Marquardt


def _linear_model(regularizer):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, use_bias=False, kernel_regularizer=regularizer)]
    )
    model.compile("sgd", "mse")
    return model


def _linear_data():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = x @ np.array([[0.8], [-0.5], [0.05], [0.0]]) + 0.5 * rng.normal(size=(40, 1))
    return x, y.astype("float32")


def test_levenberg_marquardt_solves_ridge_regression():
    x, y = _linear_data()
    model = _linear_model(keras.regularizers.L2(0.01))
    history = levenberg_marquardt(model, x, y, iterations=20)
    # mean(e^2) + 0.01 |w|^2 is least at (x^T x + 40 * 0.01 I) w = x^T y.
    expected = np.linalg.solve(
        x.T.astype("float64") @ x + 0.4 * np.eye(4), x.T.astype("float64") @ y
    )
    # Float32 predictions decide whether a step lowered the loss: that bounds the precision.
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-3, atol=1e-4)
    assert history["loss"][-1] <= history["loss"][0]


def test_levenberg_marquardt_with_bayesian_decay_is_the_evidence_fixed_point():
    x, y = _linear_data()
    w, gamma, alpha, beta = numpy_evidence_ridge(x, y)
    model = _linear_model(BayesianWeightDecay())
    history = levenberg_marquardt(model, x, y, iterations=100)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), w, rtol=1e-3, atol=1e-4)
    assert history["effective_parameters"][-1] == pytest.approx(gamma, rel=1e-3)
    assert history["weight_decay"][-1] == pytest.approx(alpha / (beta * len(y)), rel=1e-3)


def test_levenberg_marquardt_keeps_the_weights_of_the_best_validation_error():
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(60, 5, 1)).astype("float32")
    y = np.tanh(x[:, -1] - x[:, -3]) + 0.3 * rng.normal(size=(60, 1))
    model = build_model("elman", (5, 1), units=6)
    history = levenberg_marquardt(
        model, x[:40], y[:40], iterations=50, validation_data=(x[40:], y[40:]), patience=3
    )
    final = float(np.mean((model.predict(x[40:], verbose=0) - y[40:]) ** 2))
    assert final == pytest.approx(min(history["val_loss"]), rel=1e-4)


def test_levenberg_marquardt_refuses_penalties_that_are_not_squares():
    model = _linear_model(SoftWeightSharing(0.1))
    with pytest.raises(ValueError, match="has a SoftWeightSharing regularizer; Levenberg"):
        levenberg_marquardt(model, *_linear_data())
    with pytest.raises(ValueError, match="`iterations` must be a positive int"):
        levenberg_marquardt(_linear_model(None), *_linear_data(), iterations=0)
