"""Forecasters that carry their own scaling, their members, and the baselines beside them."""

import warnings

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.forecasting import LastObserved
from keras_rnnkit.forecasting import LeastSquaresAR
from keras_rnnkit.forecasting import ScaledMeanSquaredError
from keras_rnnkit.forecasting import average
from keras_rnnkit.forecasting import fit_members
from keras_rnnkit.forecasting import in_raw_units
from keras_rnnkit.forecasting import persistence
from keras_rnnkit.forecasting import regression_baselines
from keras_rnnkit.models import build_model
from keras_rnnkit.regularizers import WeightElimination


def _raw_windows(samples=40, steps=6, features=2, seed=0):
    rng = np.random.default_rng(seed)
    # Features on very different scales, far from zero: what a user's CSV holds.
    x = rng.normal([500.0, -3.0], [80.0, 0.01], size=(samples, steps, features))
    y = 2.0 * x[:, -1, :1] + rng.normal(0, 5.0, (samples, 1))
    return x.astype("float32"), y.astype("float32")


def _core(steps, features, outputs=1):
    return keras.Sequential(
        [keras.Input((steps, features)), keras.layers.Flatten(), keras.layers.Dense(outputs)]
    )


def _standardized(values, reference):
    flat = reference.reshape(-1, reference.shape[-1]).astype("float64")
    return (values - flat.mean(0)) / flat.std(0)


def test_in_raw_units_is_the_core_between_standardisation_and_its_inverse():
    x, y = _raw_windows()
    core = _core(6, 2)
    model, _ = in_raw_units(core, x, y)
    z = core.predict(_standardized(x, x).astype("float32"), verbose=0)
    expected = z * y.astype("float64").std() + y.astype("float64").mean()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4)


def test_predict_change_adds_the_last_observed_value_to_the_unscaled_change():
    x, y = _raw_windows()
    core = _core(6, 2)
    model, _ = in_raw_units(core, x, y, predict_change=True, target_index=0)
    change = y.astype("float64") - x[:, -1, :1]
    z = core.predict(_standardized(x, x).astype("float32"), verbose=0)
    expected = x[:, -1, :1] + z * change.std() + change.mean()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4)


@pytest.mark.parametrize("predict_change", [False, True])
def test_the_loss_is_the_mse_of_standardised_values(predict_change):
    # Training on raw values with the returned loss is training the core on
    # standardised targets: the two losses are equal, hence their gradients.
    x, y = _raw_windows()
    core = _core(6, 2)
    model, loss = in_raw_units(core, x, y, predict_change=predict_change)
    z = core.predict(_standardized(x, x).astype("float32"), verbose=0).astype("float64")
    target = y.astype("float64") - (x[:, -1, :1] if predict_change else 0.0)
    standardized_target = (target - target.mean()) / target.std()
    expected = np.mean((z - standardized_target) ** 2)
    actual = float(loss(y, model.predict(x, verbose=0)))
    assert actual == pytest.approx(expected, rel=1e-4)


def test_a_saved_forecaster_needs_no_secret_scale(tmp_path):
    x, y = _raw_windows()
    model = build_model("elman", (6, 2), training_data=(x, y), predict_change=True)
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "forecaster.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.loss, ScaledMeanSquaredError)


def test_scaling_statistics_come_from_the_training_split_only():
    x, y = _raw_windows()
    model = build_model("tdnn", (6, 2), training_data=(x[:20], y[:20]))
    centre, scale = model.get_layer("input_standardization").layers
    flat = x[:20].reshape(-1, 2).astype("float64")
    np.testing.assert_allclose(centre.get_config()["offset"], -flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale.get_config()["scale"], 1 / flat.std(0), rtol=1e-6)


@pytest.mark.slow
def test_a_trending_series_beats_the_mean_and_keeps_near_persistence():
    # A level the test split never saw in training: 100 + 0.5 t, plus a cycle.
    t = np.arange(400.0)
    series = 100 + 0.5 * t + 10 * np.sin(t / 4) + np.random.default_rng(0).normal(0, 1, 400)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], 8)[..., None]
    x, y = windows.astype("float32"), series[8:, None].astype("float32")
    train, test = slice(0, 300), slice(300, None)
    keras.utils.set_random_seed(0)
    model = build_model("elman", (8, 1), training_data=(x[train], y[train]), predict_change=True)
    model.fit(x[train], y[train], epochs=40, batch_size=32, verbose=0)
    mse = np.mean((model.predict(x[test], verbose=0) - y[test]) ** 2)
    mean_mse = np.mean((y[train].mean() - y[test]) ** 2)
    persistence_mse = np.mean((persistence(x[test]) - y[test]) ** 2)
    assert mse < mean_mse / 100
    assert mse < 2 * persistence_mse


@pytest.mark.parametrize("family", ["elman", "jordan", "tdnn"])
def test_linear_skip_adds_a_linear_function_of_the_standardised_window(family):
    x, y = _raw_windows()
    model = build_model(family, (6, 2), training_data=(x, y), linear_skip=True)
    skip = model.get_layer(family).get_layer("linear_skip")
    with_skip = model.predict(x, verbose=0)
    # The skip's share of the standardised output, by hand:
    weights = skip.get_weights()[0]
    share = _standardized(x, x).reshape(len(x), -1) @ weights
    skip.set_weights([np.zeros_like(weights)])
    without_skip = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        with_skip - without_skip, share * y.astype("float64").std(), rtol=1e-3, atol=1e-3
    )


@pytest.mark.parametrize(
    "penalty, expected",
    [("l2", keras.regularizers.L2), ("elimination", WeightElimination)],
)
def test_weight_penalty_reaches_every_kernel(penalty, expected):
    x, y = _raw_windows()
    model = build_model(
        "jordan", (6, 2), training_data=(x, y), weight_decay=0.1, weight_penalty=penalty
    )
    core = model.get_layer("jordan")
    (jordan,) = [layer for layer in core.layers if isinstance(layer, keras_rnnkit.JordanRNN)]
    head = core.layers[-1]
    for regularizer in (
        jordan.cell.kernel_regularizer,
        jordan.cell.recurrent_regularizer,
        jordan.cell.output_kernel_regularizer,
        head.kernel_regularizer,
    ):
        assert isinstance(regularizer, expected)
    assert len(model.losses) == 4


def test_build_model_refuses_a_skip_it_cannot_build_and_an_unknown_penalty():
    with pytest.raises(ValueError, match="`linear_skip` needs one output per sequence"):
        build_model("elman", (None, 2), linear_skip=True)
    with pytest.raises(ValueError, match="`linear_skip` needs one output per sequence"):
        build_model("elman", (6, 2), sequence_output=True, linear_skip=True)
    with pytest.raises(ValueError, match="`weight_penalty` must be one of l2, elimination"):
        build_model("elman", (6, 2), weight_decay=0.1, weight_penalty="l1")


@pytest.mark.slow
def test_members_trained_side_by_side_equal_members_trained_alone():
    x, y = _raw_windows()

    def members():
        keras.utils.set_random_seed(3)
        built = [
            build_model("elman", (6, 2), training_data=(x, y), units=4, name=f"m{i}")
            for i in range(2)
        ]
        return built

    alone = members()
    for model in alone:
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    together = members()
    fit_members(together, x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for one, other in zip(alone, together):
        for a, b in zip(one.get_weights(), other.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    ensemble = average(together)
    mean = np.mean([m.predict(x, verbose=0) for m in together], axis=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), mean, rtol=1e-5)


def test_an_average_saved_untrained_loads_without_warnings(tmp_path):
    x, y = _raw_windows()
    members = [build_model("elman", (6, 2), training_data=(x, y), name=f"m{i}") for i in range(2)]
    ensemble = average(members)
    ensemble.save(tmp_path / "ensemble.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Skipping variable loading for optimizer"
        loaded = keras.saving.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ensemble.predict(x, verbose=0))


def test_regression_baselines_by_hand():
    series = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 6.0, 8.0, 7.0, 9.0, 10.0])
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], 3)[..., None]
    y = series[3:, None]
    task = {"x_train": x[:5], "y_train": y[:5], "x_test": x[5:], "y_test": y[5:]}
    # Training targets 3, 5, 6, 8, 7 (mean 5.8); test targets 9, 10.
    expected = (3.2**2 + 4.2**2) / 2
    assert regression_baselines(task) == {"training mean": pytest.approx(expected)}
    task["target_feature_index"] = 0
    scores = regression_baselines(task)
    # Persistence: windows (6, 8, 7) -> 9 and (8, 7, 9) -> 10: errors 2 and 1.
    assert scores["persistence"] == pytest.approx((4 + 1) / 2)
    ar = LeastSquaresAR(3).fit(x[:5], y[:5])
    assert scores["AR(3)"] == pytest.approx(np.mean((ar.predict(x[5:]) - y[5:]) ** 2))


def test_values_beyond_float32_are_refused_by_name():
    x, y = _raw_windows()
    with pytest.raises(ValueError, match=r"input_standardization: `x_train` is too large for"):
        build_model("elman", (6, 2), training_data=(x.astype("float64") * 1e30, y))
    with pytest.raises(ValueError, match=r"output_unscaling: `targets` is too large for float32"):
        build_model("elman", (6, 2), training_data=(x, y.astype("float64") * 1e30))


def test_last_observed_and_loss_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"LastObserved: `feature_indices` must be a non-empty"):
        LastObserved(0)
    with pytest.raises(ValueError, match=r"below the number of input features, 2"):
        LastObserved([2])(np.zeros((1, 3, 2), "float32"))
    with pytest.raises(ValueError, match=r"`variance` must be a positive number"):
        ScaledMeanSquaredError(0.0)
    with pytest.raises(ValueError, match=r"LeastSquaresAR: `order` must be at most the window"):
        LeastSquaresAR(5).fit(np.zeros((4, 3, 1)), np.zeros((4, 1)))
    x, y = _raw_windows()
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"input_standardization: `x_train` holds NaN"):
        in_raw_units(_core(6, 2), x, y)
    with pytest.raises(
        ValueError, match=r"`predict_change` and `ar_order` need problem='regression'"
    ):
        build_model("elman", (6, 2), problem="binary", predict_change=True)


# --- the residual of a linear autoregression ----------------------------------------------


def _ar_reference(x, coefficients, intercepts, indices):
    """y_o = c_o + sum_k a[k-1, o] x[T-k, i_o], written from the equation, loop by loop."""
    samples, steps, _ = x.shape
    y = np.zeros((samples, len(indices)))
    for n in range(samples):
        for o, i in enumerate(indices):
            y[n, o] = intercepts[o]
            for k in range(1, len(coefficients) + 1):
                y[n, o] += coefficients[k - 1][o] * x[n, steps - k, i]
    return y


def test_linear_autoregression_follows_its_equation_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6, 3)).astype("float32")
    coefficients, intercepts, indices = [[0.5, -1.0], [0.25, 2.0], [-0.1, 0.0]], [3.0, -2.0], [2, 0]
    layer = keras_rnnkit.forecasting.LinearAutoregression(coefficients, intercepts, indices)
    expected = _ar_reference(x.astype("float64"), coefficients, intercepts, indices)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5)
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "ar.keras")
    loaded = keras.saving.load_model(tmp_path / "ar.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not model.trainable_weights  # fixed: training never moves the coefficients


def test_linear_autoregression_fit_is_least_squares_ar():
    x, y = _raw_windows()
    layer = keras_rnnkit.forecasting.LinearAutoregression.fit(x, y, order=4, feature_indices=0)
    reference = LeastSquaresAR(4, 0).fit(x, y)
    np.testing.assert_allclose(np.asarray(layer.coefficients)[:, 0], reference.coefficients[:-1, 0])
    np.testing.assert_allclose(layer.intercepts, reference.coefficients[-1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"`order` must be an integer from 1 to the window"):
        keras_rnnkit.forecasting.LinearAutoregression.fit(x, y, order=7)
    with pytest.raises(ValueError, match=r"`coefficients` must be a \(p, 1\) nested list"):
        keras_rnnkit.forecasting.LinearAutoregression([0.5], [0.0], [0])


def test_a_forecaster_of_the_residual_adds_its_network_to_the_ar():
    x, y = _raw_windows()
    core = _core(6, 2)
    for weight in core.weights:
        weight.assign(np.zeros(weight.shape))  # the network says 0: the standardised mean
    model, loss = in_raw_units(core, x, y, ar_order=3)
    ar = LeastSquaresAR(3, 0).fit(x, y)
    residuals = y - ar.predict(x)
    # z = 0 un-scales to the mean residual: the forecast is AR + that mean.
    expected = ar.predict(x) + residuals.mean(axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4)
    np.testing.assert_allclose(loss.variance, residuals.var(axis=0), rtol=1e-3)
    with pytest.raises(ValueError, match=r"`predict_change` and `ar_order` are two bases"):
        in_raw_units(core, x, y, predict_change=True, ar_order=3)


def test_fold_scores_train_on_the_past_and_score_each_later_block():
    from keras_rnnkit.forecasting.selection import fold_scores

    x = np.arange(30.0)[:, None].astype("float32")
    y = 3.0 * x
    seen = []

    def build(settings, x_train, y_train):
        seen.append((settings, x_train[:, 0].tolist(), y_train[:, 0].tolist()))
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
        model.compile(keras.optimizers.SGD(0.0), "mse")  # never moves: the score is known
        model.layers[0].kernel.assign([[settings]])
        return model

    scores = fold_scores(
        build, {"exact": 3.0, "half": 1.5}, x, y, folds=3, block=4, epochs=1, verbose=0
    )
    # Folds train on samples [0, 18), [0, 22), [0, 26) and score the 4 samples after each.
    assert [len(prefix) for _, prefix, _ in seen] == [18, 22, 26] * 2
    assert all(prefix == list(range(len(prefix))) for _, prefix, _ in seen)
    blocks = [x[18:22], x[22:26], x[26:30]]
    expected = np.mean([np.mean((1.5 * b) ** 2) for b in blocks])
    assert scores == {"exact": 0.0, "half": pytest.approx(expected)}
