r"""Levenberg-Marquardt training for small networks, as MATLAB's `trainlm` and `trainbr`.

For a network with a few hundred weights $w$ and a squared-error loss, each
iteration solves for the step

$$\big(J^\top J + N D + \mu I\big)\,\delta = -\big(J^\top e + N D w\big),$$

with $e$ the N residuals (scaled as the model's loss scales them), $J$ their
Jacobian by the weights, $D$ the diagonal of the L2 strengths that the
weights' regularizers give (`keras.regularizers.L2`, `BayesianWeightDecay`)
and $\mu$ the damping: the step is taken and $\mu$ shrinks tenfold if it
lowers $F = \sum e^2 + N \sum_i D_{ii} w_i^2$ (N times the compiled loss);
otherwise $\mu$ grows tenfold and the step is solved again. Small $\mu$ is
Gauss-Newton, large $\mu$ gradient descent with a short step.

With `BayesianWeightDecay` on the weights, the decay is re-estimated from the
evidence after every accepted step (`evidence_update`; Foresee & Hagan
1997): that is `trainbr`.
"""

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.backend.gradients import output_jacobian
from keras_rnnkit.regularizers.bayesian import BayesianWeightDecay
from keras_rnnkit.training.bayesian import _residual_scale
from keras_rnnkit.training.bayesian import evidence_update


def _l2_strength(variable):
    regularizer = variable.regularizer
    if regularizer is None:
        return 0.0
    if isinstance(regularizer, BayesianWeightDecay):
        return float(keras.ops.convert_to_numpy(regularizer.strength))
    if isinstance(regularizer, keras.regularizers.L2):
        return float(regularizer.l2)
    raise ValueError(
        f"levenberg_marquardt: the weight {variable.path!r} has a "
        f"{type(regularizer).__name__} regularizer; Levenberg-Marquardt takes squared "
        "penalties only (keras.regularizers.L2, BayesianWeightDecay). Train it with "
        "a gradient optimizer instead"
    )


def _flat(variables):
    return np.concatenate(
        [np.asarray(keras.ops.convert_to_numpy(v), "float64").ravel() for v in variables]
    )


def _assign(variables, values):
    start = 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        variable.assign(
            values[start : start + size].reshape(tuple(variable.shape)).astype(variable.dtype)
        )
        start += size


def levenberg_marquardt(
    model,
    x,
    y,
    *,
    iterations=100,
    validation_data=None,
    patience=6,
    initial_damping=1e-3,
    max_damping=1e10,
):
    r"""Trains `model` by Levenberg-Marquardt; returns the history, a dict of lists.

    The model's loss must be the mean squared error (or
    `keras_rnnkit.forecasting.ScaledMeanSquaredError`), its weights' penalties
    squared ones (`keras.regularizers.L2`, `BayesianWeightDecay`) or none. Each
    iteration costs one Jacobian (see `output_jacobian`) and a few forward
    passes. With `validation_data`, training stops when the validation error
    has not improved for `patience` iterations, and the weights of the best
    validation error are kept (MATLAB's `max_fail`).

    Args:
        model: A built, compiled `keras.Model` with a few hundred weights.
        x, y: The training inputs and targets, all of them (one batch).
        iterations: Positive int, the most accepted steps. Default: `100`.
        validation_data: `(x_val, y_val)`, a later block of the series, or None.
        patience: Positive int, iterations without a better validation error
            before stopping. Default: `6`.
        initial_damping: Positive float, $\mu$ at the start. Default: `1e-3`.
        max_damping: Training stops when $\mu$ passes this (no step lowers
            $F$ any more). Default: `1e10`.

    Returns:
        `{"loss": [...], "damping": [...]}` per accepted step (the loss is
        $F / N$, the compiled loss with its penalties), with `val_loss` given
        validation data and `effective_parameters` and `weight_decay` with
        `BayesianWeightDecay`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.training import levenberg_marquardt
    >>> keras.utils.set_random_seed(0)
    >>> x = np.random.rand(50, 2); y = np.tanh(x @ np.array([[1.0], [-2.0]]))
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, "tanh"),
    ...                           keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = levenberg_marquardt(model, x, y, iterations=30)
    >>> bool(history["loss"][-1] < 1e-3 < history["loss"][0])
    True
    """
    iterations = arguments.positive_int("levenberg_marquardt", "iterations", iterations)
    patience = arguments.positive_int("levenberg_marquardt", "patience", patience)
    variables = list(model.trainable_variables)
    strengths = np.concatenate([np.full(int(np.prod(v.shape)), _l2_strength(v)) for v in variables])
    bayesian = [
        (index, v.regularizer)
        for index, v in enumerate(variables)
        if isinstance(v.regularizer, BayesianWeightDecay)
    ]
    bayesian_mask = np.concatenate(
        [
            np.full(int(np.prod(v.shape)), isinstance(v.regularizer, BayesianWeightDecay))
            for v in variables
        ]
    )
    jacobian_of = output_jacobian(model, variables)
    x = np.asarray(x, "float32")
    y = np.asarray(y, "float64").reshape(len(x), -1)
    scale = np.broadcast_to(_residual_scale(model), y.shape)
    count = y.size

    def residuals_at(outputs):
        return ((outputs.reshape(y.shape) - y) / scale).ravel()

    def objective(weights, residuals):
        return float(residuals @ residuals + count * np.sum(strengths * weights**2))

    def validation_error():
        x_val, y_val = validation_data
        outputs = np.asarray(model.predict_on_batch(np.asarray(x_val, "float32")), "float64")
        errors = (outputs - np.asarray(y_val, "float64").reshape(outputs.shape)) / np.broadcast_to(
            _residual_scale(model), outputs.shape
        )
        return float(np.mean(errors**2))

    weights = _flat(variables)
    history = {"loss": [], "damping": []}
    if validation_data is not None:
        history["val_loss"] = []
        best = (validation_error(), weights.copy())
        waited = 0
    damping = initial_damping
    outputs, jacobian = jacobian_of(x)
    for _ in range(iterations):
        residuals = residuals_at(outputs)
        jacobian = jacobian / scale.reshape(-1, 1)
        current = objective(weights, residuals)
        gradient = jacobian.T @ residuals + count * strengths * weights
        curvature = jacobian.T @ jacobian + count * np.diag(strengths)
        while damping <= max_damping:
            step = np.linalg.solve(curvature + damping * np.eye(len(weights)), -gradient)
            _assign(variables, weights + step)
            trial = np.asarray(model.predict_on_batch(x), "float64")
            if objective(weights + step, residuals_at(trial)) < current:
                damping = max(damping * 0.1, 1e-20)
                break
            damping *= 10.0
        else:
            _assign(variables, weights)
            break
        weights = weights + step
        outputs, jacobian = jacobian_of(x)
        if bayesian:
            reduced = jacobian[:, bayesian_mask] / scale.reshape(-1, 1)
            ratio = count * strengths[bayesian_mask][0]
            gamma, alpha, beta = evidence_update(
                reduced, residuals_at(outputs), weights[bayesian_mask], ratio
            )
            strength = alpha / (beta * count)
            strengths[bayesian_mask] = strength
            for _, regularizer in bayesian:
                regularizer.strength.assign(strength)
            history.setdefault("effective_parameters", []).append(gamma)
            history.setdefault("weight_decay", []).append(strength)
        history["loss"].append(objective(weights, residuals_at(outputs)) / count)
        history["damping"].append(damping)
        if validation_data is not None:
            error = validation_error()
            history["val_loss"].append(error)
            if error < best[0]:
                best, waited = (error, weights.copy()), 0
            else:
                waited += 1
                if waited >= patience:
                    break
    if validation_data is not None:
        _assign(variables, best[1])
    return history
