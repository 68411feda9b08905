"""AR/TAR, weight elimination, the spectral-norm constraint and the recurrent initializers.

Expected values come from NumPy, written from the equations in the docstrings
(float64); the constraint is checked by its invariant, np.linalg.norm(U, 2) <= c
after every update, and by leaving a kernel inside the bound untouched.
"""

import inspect
import re

import keras
import numpy as np
import pytest

import keras_rnnkit
from keras_rnnkit.constraints import SpectralNormConstraint
from keras_rnnkit.initializers import IdentityRecurrent
from keras_rnnkit.initializers import ScaledOrthogonal
from keras_rnnkit.regularizers import ActivationRegularizer
from keras_rnnkit.regularizers import ActivationTemporalRegularizer
from keras_rnnkit.regularizers import TemporalActivationRegularizer
from keras_rnnkit.regularizers import WeightElimination
from tests.autodiff import gradients
from tests.autodiff import to_numpy

# A float32 SVD and rescaling land on the bound up to a few ulps; 1e-5 relative
# is ~100 ulps, far below any real violation.
RELATIVE_TOLERANCE = 1e-5


def _hidden(batch=3, steps=5, units=4):
    return np.random.default_rng(0).normal(size=(batch, steps, units)).astype("float32")


# The equations, in NumPy (float64), "mean" over all elements.
def numpy_ar(h, alpha):
    return alpha * np.mean(np.asarray(h, np.float64) ** 2)


def numpy_tar(h, beta):
    return beta * np.mean(np.diff(np.asarray(h, np.float64), axis=1) ** 2)


ACTIVITY = {
    "AR": (lambda: ActivationRegularizer(0.7), lambda h: numpy_ar(h, 0.7)),
    "TAR": (lambda: TemporalActivationRegularizer(0.3), lambda h: numpy_tar(h, 0.3)),
    "AR+TAR": (
        lambda: ActivationTemporalRegularizer(alpha=0.7, beta=0.3),
        lambda h: numpy_ar(h, 0.7) + numpy_tar(h, 0.3),
    ),
}
ACTIVITY_CASES = pytest.mark.parametrize("name", list(ACTIVITY))


# ----------------------------------------------------------------- AR and TAR


@ACTIVITY_CASES
def test_value_is_the_equation(name):
    make, expected = ACTIVITY[name]
    h = _hidden()
    np.testing.assert_allclose(float(to_numpy(make()(h))), expected(h), rtol=1e-5)


@pytest.mark.parametrize("name", ["TAR", "AR+TAR"])
def test_temporal_difference_is_along_axis_1_for_any_rank(name):
    make, expected = ACTIVITY[name]
    h = np.random.default_rng(1).normal(size=(2, 4, 3, 2)).astype("float32")
    np.testing.assert_allclose(float(to_numpy(make()(h))), expected(h), rtol=1e-5)


def test_tar_of_a_single_step_is_zero_not_nan():
    assert float(to_numpy(TemporalActivationRegularizer(1.0)(_hidden(steps=1)))) == 0.0
    h = _hidden(steps=1)
    value = float(to_numpy(ActivationTemporalRegularizer(0.7, 1.0)(h)))
    np.testing.assert_allclose(value, numpy_ar(h, 0.7), rtol=1e-5)


def test_zero_weights_give_zero():
    h = _hidden()
    assert float(to_numpy(ActivationTemporalRegularizer(alpha=0, beta=0)(h))) == 0.0


@ACTIVITY_CASES
def test_float16_activations_are_penalized_in_float32(name):
    make, expected = ACTIVITY[name]
    h = _hidden().astype("float16")
    value = make()(keras.ops.convert_to_tensor(h))
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(to_numpy(value)), expected(h), rtol=1e-5)


@ACTIVITY_CASES
def test_as_activity_regularizer_adds_one_loss_the_equation_over_batch(name):
    make, expected = ACTIVITY[name]
    x = np.random.default_rng(2).normal(size=(3, 6, 2)).astype("float32")
    layer = keras_rnnkit.ElmanRNN(4, return_sequences=True, activity_regularizer=make())
    outputs = to_numpy(layer(x))
    assert len(layer.losses) == 1
    # Keras divides every activity-regularizer value by the batch size.
    np.testing.assert_allclose(
        float(to_numpy(layer.losses[0])), expected(outputs) / x.shape[0], rtol=1e-5
    )


@pytest.mark.parametrize("name", ["TAR", "AR+TAR"])
def test_temporal_penalty_on_states_says_how_to_fix_the_layer(name):
    make, _ = ACTIVITY[name]
    # Refused when the layer is made, not at its first call.
    with pytest.raises(ValueError, match="`return_state=False`"):
        keras_rnnkit.ElmanRNN(
            4, return_sequences=True, return_state=True, activity_regularizer=make()
        )


def test_training_loss_includes_the_penalty():
    x = _hidden(batch=4, steps=5, units=2)
    y = np.zeros((4, 5, 4), "float32")
    regularized = keras.Sequential(
        [
            keras.Input((5, 2)),
            keras_rnnkit.ElmanRNN(
                4, return_sequences=True, activity_regularizer=ActivationRegularizer(3.0)
            ),
        ]
    )
    plain = keras.Sequential([keras.Input((5, 2)), keras_rnnkit.ElmanRNN(4, return_sequences=True)])
    plain.set_weights(regularized.get_weights())
    for model in (regularized, plain):
        model.compile(keras.optimizers.SGD(0.0), "mse")
    outputs = to_numpy(plain(x))
    penalty = regularized.evaluate(x, y, verbose=0) - plain.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(penalty, numpy_ar(outputs, 3.0) / 4, rtol=1e-4)


@pytest.mark.parametrize("regularizer", ["l1", WeightElimination(0.1)])
def test_a_float64_layers_weight_penalty_is_the_equation_in_floatx(regularizer):
    # Keras sums the penalties with the loss in floatx; a float64 weight's is cast.
    layer = keras_rnnkit.ElmanRNN(3, kernel_regularizer=regularizer, dtype="float64")
    layer(np.ones((2, 4, 2)))
    (penalty,) = layer.losses
    assert keras.backend.standardize_dtype(penalty.dtype) == keras.config.floatx()
    expected = keras.regularizers.get(regularizer)(to_numpy(layer.cell.kernel))
    np.testing.assert_allclose(to_numpy(penalty), to_numpy(expected), rtol=1e-6)


# ------------------------------------------------------- spectral constraint


def _matrix(seed, size=6, norm=None):
    w = np.random.default_rng(seed).normal(size=(size, size))
    if norm is not None:
        w *= norm / np.linalg.norm(w, 2)
    return w.astype("float32")


def test_constraint_rescales_onto_the_bound():
    w = _matrix(0, norm=2.5)
    constrained = to_numpy(SpectralNormConstraint(0.9)(w))
    np.testing.assert_allclose(
        constrained, w * (0.9 / np.linalg.norm(w.astype(np.float64), 2)), rtol=1e-5
    )
    np.testing.assert_allclose(np.linalg.norm(constrained, 2), 0.9, rtol=RELATIVE_TOLERANCE)


@pytest.mark.parametrize("norm", [0.3, 0.89], ids=["well-inside", "just-inside"])
def test_constraint_leaves_a_kernel_inside_the_bound_unchanged(norm):
    w = _matrix(1, norm=norm)
    np.testing.assert_array_equal(to_numpy(SpectralNormConstraint(0.9)(w)), w)


def test_constraint_treats_a_higher_rank_kernel_as_a_matrix():
    w = np.random.default_rng(3).normal(size=(3, 4, 5)).astype("float32")
    constrained = to_numpy(SpectralNormConstraint(1.0)(w))
    assert constrained.shape == w.shape
    np.testing.assert_allclose(
        np.linalg.norm(constrained.reshape(12, 5), 2), 1.0, rtol=RELATIVE_TOLERANCE
    )


def _constrained_model(recurrent_initializer, max_norm):
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras_rnnkit.ElmanRNN(
                8,
                recurrent_constraint=SpectralNormConstraint(max_norm),
                recurrent_initializer=recurrent_initializer,
            ),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.5), "mse")
    return model


def _recurrent_kernel(model):
    return to_numpy(model.layers[0].weights[1])


def test_spectral_norm_stays_under_the_bound_after_every_update():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 5, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = _constrained_model(ScaledOrthogonal(1.5, seed=0), 0.9)
    # Initializers are not constrained: the kernel starts outside the bound.
    np.testing.assert_allclose(np.linalg.norm(_recurrent_kernel(model), 2), 1.5, rtol=1e-5)
    for _ in range(5):
        before = _recurrent_kernel(model)
        model.train_on_batch(x, y)
        after = _recurrent_kernel(model)
        assert not np.array_equal(before, after)
        assert np.linalg.norm(after, 2) <= 0.9 * (1 + RELATIVE_TOLERANCE)


def test_a_constraint_that_never_binds_changes_no_update():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    constrained = _constrained_model(ScaledOrthogonal(0.5, seed=0), 100.0)
    plain = keras.Sequential([keras.Input((5, 3)), keras_rnnkit.ElmanRNN(8), keras.layers.Dense(1)])
    plain.compile(keras.optimizers.SGD(0.5), "mse")
    plain.set_weights(constrained.get_weights())
    for _ in range(3):
        constrained.train_on_batch(x, y)
        plain.train_on_batch(x, y)
    np.testing.assert_allclose(
        _recurrent_kernel(constrained), _recurrent_kernel(plain), rtol=1e-6, atol=1e-7
    )


# -------------------------------------------------------------- initializers


@pytest.mark.parametrize("gain", [1.0, 0.5])
@pytest.mark.parametrize("size", [1, 5])
def test_identity_recurrent_is_gain_times_identity(gain, size):
    value = IdentityRecurrent(gain)((size, size))
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_array_equal(to_numpy(value), gain * np.eye(size, dtype="float32"))


def test_identity_recurrent_in_an_irnn():
    layer = keras_rnnkit.ElmanRNN(
        4, activation="relu", recurrent_initializer=IdentityRecurrent(0.9)
    )
    layer.build((None, None, 2))
    np.testing.assert_array_equal(to_numpy(layer.weights[1]), 0.9 * np.eye(4, dtype="float32"))


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_scaled_orthogonal_eigenvalues_have_modulus_the_radius(radius):
    u = to_numpy(ScaledOrthogonal(radius, seed=7)((8, 8))).astype(np.float64)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(u)), radius, rtol=1e-5)
    np.testing.assert_allclose(u.T @ u, radius**2 * np.eye(8), atol=1e-5 * radius**2)


def test_scaled_orthogonal_same_seed_same_matrix():
    first = to_numpy(ScaledOrthogonal(1.2, seed=3)((6, 6)))
    np.testing.assert_array_equal(to_numpy(ScaledOrthogonal(1.2, seed=3)((6, 6))), first)
    assert not np.allclose(to_numpy(ScaledOrthogonal(1.2, seed=4)((6, 6))), first)


def test_scaled_orthogonal_as_recurrent_initializer():
    layer = keras_rnnkit.ElmanRNN(6, recurrent_initializer=ScaledOrthogonal(0.8, seed=1))
    layer.build((None, None, 2))
    np.testing.assert_allclose(np.linalg.norm(to_numpy(layer.weights[1]), 2), 0.8, rtol=1e-5)


# -------------------------------------------------------- weight elimination


def numpy_weight_elimination(w, strength, scale):
    ratio = (np.asarray(w, np.float64) / scale) ** 2
    return strength * np.sum(ratio / (1.0 + ratio))


def numpy_weight_elimination_gradient(w, strength, scale):
    w = np.asarray(w, np.float64)
    return 2.0 * strength * w / scale**2 / (1.0 + (w / scale) ** 2) ** 2


@pytest.mark.parametrize("strength, scale", [(1e-3, 1.0), (0.5, 0.3), (2.0, 4.0)])
def test_weight_elimination_value_and_gradient_match_the_equation(strength, scale):
    w = np.random.default_rng(3).normal(scale=2.0, size=(4, 5)).astype("float32")
    penalty = WeightElimination(strength, scale=scale)
    value, (gradient,) = gradients(lambda t: penalty(t), [w])
    np.testing.assert_allclose(value, numpy_weight_elimination(w, strength, scale), rtol=1e-5)
    np.testing.assert_allclose(
        gradient, numpy_weight_elimination_gradient(w, strength, scale), rtol=1e-4, atol=1e-8
    )


def test_weight_elimination_is_l2_for_small_weights_and_bounded_for_large_ones():
    penalty = WeightElimination(1.0, scale=1.0)
    small = np.full(3, 1e-3, "float32")
    np.testing.assert_allclose(float(to_numpy(penalty(small))), 3e-6, rtol=1e-5)
    # Each huge weight costs at most `strength`: the penalty counts weights.
    assert 2.99 < float(to_numpy(penalty(np.full(3, 1e3, "float32")))) <= 3.0


def test_weight_elimination_adds_its_penalty_to_a_recurrent_layer():
    layer = keras_rnnkit.ElmanRNN(3, kernel_regularizer=WeightElimination(0.1))
    layer(np.ones((2, 4, 2), "float32"))
    kernel = to_numpy(layer.cell.kernel)
    np.testing.assert_allclose(
        float(to_numpy(layer.losses[0])), numpy_weight_elimination(kernel, 0.1, 1.0), rtol=1e-5
    )


# ------------------------------------------------------------- serialization

INSTANCES = {
    "ActivationRegularizer": ActivationRegularizer(0.25),
    "TemporalActivationRegularizer": TemporalActivationRegularizer(0.5),
    "ActivationTemporalRegularizer": ActivationTemporalRegularizer(alpha=0.25, beta=0.5),
    "SpectralNormConstraint": SpectralNormConstraint(0.9),
    "WeightElimination": WeightElimination(0.01, scale=0.5),
    "IdentityRecurrent": IdentityRecurrent(0.5),
    "ScaledOrthogonal": ScaledOrthogonal(1.5, seed=11),
}
KINDS = {
    "ActivationRegularizer": keras.regularizers,
    "TemporalActivationRegularizer": keras.regularizers,
    "ActivationTemporalRegularizer": keras.regularizers,
    "SpectralNormConstraint": keras.constraints,
    "WeightElimination": keras.regularizers,
    "IdentityRecurrent": keras.initializers,
    "ScaledOrthogonal": keras.initializers,
}
SERIALIZABLE = pytest.mark.parametrize("name", list(INSTANCES))


@SERIALIZABLE
def test_registered_under_the_package_name(name):
    cls = type(INSTANCES[name])
    assert keras.saving.get_registered_name(cls) == f"keras_rnnkit>{name}"
    assert keras.saving.get_registered_object(f"keras_rnnkit>{name}") is cls
    # Public in the keras_rnnkit namespace named like Keras's: keras.initializers
    # -> keras_rnnkit.initializers, and so on.
    namespace = getattr(keras_rnnkit, KINDS[name].__name__.split(".")[-1])
    assert getattr(namespace, name) is cls


@SERIALIZABLE
def test_config_holds_every_constructor_argument(name):
    instance = INSTANCES[name]
    arguments = set(inspect.signature(type(instance).__init__).parameters) - {"self"}
    assert set(instance.get_config()) == arguments


@SERIALIZABLE
def test_config_round_trip(name):
    instance = INSTANCES[name]
    clone = type(instance).from_config(instance.get_config())
    assert type(clone) is type(instance)
    assert clone.get_config() == instance.get_config()


@SERIALIZABLE
def test_keras_serialize_round_trip(name):
    instance, kind = INSTANCES[name], KINDS[name]
    for serialize, deserialize in [
        (kind.serialize, kind.deserialize),
        (keras.saving.serialize_keras_object, keras.saving.deserialize_keras_object),
    ]:
        clone = deserialize(serialize(instance))
        assert type(clone) is type(instance)
        assert clone.get_config() == instance.get_config()


def test_seeded_scaled_orthogonal_clone_draws_the_same_matrix():
    instance = INSTANCES["ScaledOrthogonal"]
    clone = keras.initializers.deserialize(keras.initializers.serialize(instance))
    np.testing.assert_array_equal(to_numpy(clone((5, 5))), to_numpy(instance((5, 5))))


def test_keras_file_with_all_of_them_loads_with_identical_predictions(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            keras_rnnkit.ElmanRNN(
                8,
                return_sequences=True,
                recurrent_initializer=ScaledOrthogonal(1.5, seed=2),
                recurrent_constraint=SpectralNormConstraint(0.9),
                activity_regularizer=ActivationTemporalRegularizer(0.1, 0.2),
            ),
            keras_rnnkit.ElmanRNN(
                4,
                activation="relu",
                return_sequences=True,
                recurrent_initializer=IdentityRecurrent(0.5),
                activity_regularizer=ActivationRegularizer(0.3),
            ),
            keras_rnnkit.ElmanRNN(
                2, return_sequences=True, activity_regularizer=TemporalActivationRegularizer(0.4)
            ),
        ]
    )
    x = _hidden(batch=4, steps=6, units=3)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)))
    for original, restored in zip(model.layers, loaded.layers):
        assert type(restored.activity_regularizer) is type(original.activity_regularizer)
        assert restored.activity_regularizer.get_config() == (
            original.activity_regularizer.get_config()
        )
    first = loaded.layers[0].cell
    assert isinstance(first.recurrent_constraint, SpectralNormConstraint)
    assert first.recurrent_constraint.max_norm == 0.9
    assert isinstance(first.recurrent_initializer, ScaledOrthogonal)
    assert isinstance(loaded.layers[1].cell.recurrent_initializer, IdentityRecurrent)
    assert len(loaded.losses) == len(model.losses) == 3
    np.testing.assert_allclose(
        [float(to_numpy(v)) for v in loaded.losses],
        [float(to_numpy(v)) for v in model.losses],
        rtol=1e-6,
    )


# ------------------------------------------------------------------- errors

BAD_ARGUMENTS = [
    (
        lambda: ActivationRegularizer(-0.5),
        "ActivationRegularizer: `alpha` must be a non-negative number. Received: alpha=-0.5",
    ),
    (
        lambda: ActivationRegularizer(float("nan")),
        "ActivationRegularizer: `alpha` must be a non-negative number. Received: alpha=nan",
    ),
    (
        lambda: ActivationRegularizer("0.1"),
        "ActivationRegularizer: `alpha` must be a non-negative number. Received: alpha='0.1'",
    ),
    (
        lambda: TemporalActivationRegularizer(True),
        "TemporalActivationRegularizer: `beta` must be a non-negative number. Received: beta=True",
    ),
    (
        lambda: TemporalActivationRegularizer(float("inf")),
        "TemporalActivationRegularizer: `beta` must be a non-negative number. Received: beta=inf",
    ),
    (
        lambda: ActivationTemporalRegularizer(alpha=None),
        "ActivationTemporalRegularizer: `alpha` must be a non-negative number. "
        "Received: alpha=None",
    ),
    (
        lambda: ActivationTemporalRegularizer(beta=-1),
        "ActivationTemporalRegularizer: `beta` must be a non-negative number. Received: beta=-1",
    ),
    (
        lambda: SpectralNormConstraint(0),
        "SpectralNormConstraint: `max_norm` must be a positive number. Received: max_norm=0",
    ),
    (
        lambda: SpectralNormConstraint(-1.0),
        "SpectralNormConstraint: `max_norm` must be a positive number. Received: max_norm=-1.0",
    ),
    (
        lambda: WeightElimination(-1e-3),
        "WeightElimination: `strength` must be a non-negative number. Received: strength=-0.001",
    ),
    (
        lambda: WeightElimination(scale=0),
        "WeightElimination: `scale` must be a positive number. Received: scale=0",
    ),
    (
        lambda: IdentityRecurrent(0.0),
        "IdentityRecurrent: `gain` must be a positive number. Received: gain=0.0",
    ),
    (
        lambda: ScaledOrthogonal(-1.5),
        "ScaledOrthogonal: `spectral_radius` must be a positive number. "
        "Received: spectral_radius=-1.5",
    ),
    (
        lambda: ScaledOrthogonal(1.0, seed=1.5),
        "ScaledOrthogonal: `seed` must be None or an integer in [0, 2147483647] (the seeds "
        "every backend takes). Received: seed=1.5",
    ),
    (
        lambda: ScaledOrthogonal(1.0, seed=-1),
        "ScaledOrthogonal: `seed` must be None or an integer in [0, 2147483647] (the seeds "
        "every backend takes). Received: seed=-1",
    ),
    (
        lambda: ScaledOrthogonal(1.0, seed=True),
        "ScaledOrthogonal: `seed` must be None or an integer in [0, 2147483647] (the seeds "
        "every backend takes). Received: seed=True",
    ),
    (
        lambda: IdentityRecurrent()((3, 4)),
        "IdentityRecurrent: the recurrent kernel to initialize must be square, (H, H). "
        "Received: shape=(3, 4)",
    ),
    (
        lambda: ScaledOrthogonal()((2, 3, 3)),
        "ScaledOrthogonal: the recurrent kernel to initialize must be square, (H, H). "
        "Received: shape=(2, 3, 3)",
    ),
    (
        lambda: SpectralNormConstraint()(np.ones(3, "float32")),
        "SpectralNormConstraint: the constrained weight must have rank >= 2 (a kernel). "
        "Received: shape=(3,)",
    ),
    (
        lambda: TemporalActivationRegularizer()(np.ones((2, 3), "float32")),
        "TemporalActivationRegularizer: the input must have rank >= 3, (B, T, H)",
    ),
    (
        lambda: ActivationTemporalRegularizer()(np.ones((2, 3), "float32")),
        "ActivationTemporalRegularizer: the input must have rank >= 3",
    ),
]


def _error_id(case):
    return re.sub(r"\W+", "-", case[1].split(":")[0] + "-" + case[1].split("Received: ")[-1])


@pytest.mark.parametrize("factory, message", BAD_ARGUMENTS, ids=map(_error_id, BAD_ARGUMENTS))
def test_bad_arguments_raise_naming_class_argument_and_value(factory, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        factory()
