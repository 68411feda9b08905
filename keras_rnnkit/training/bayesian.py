r"""Bayesian regularisation as MATLAB's `trainbr`: the evidence sets the weight decay.

After each `update_every` epochs, for each model (Foresee & Hagan 1997, after
MacKay 1992), with the residuals $e$ (N values), the Jacobian $J$ of the
outputs by the P weights that carry a `BayesianWeightDecay`, and the current
ratio $r = \alpha / \beta$:

$$\gamma = \sum_{k=1}^{P} \frac{\lambda_k}{\lambda_k + r}
        = P - r \operatorname{tr}\big((J^\top J + r I)^{-1}\big),
\qquad \alpha = \frac{\gamma}{2 E_W}, \qquad \beta = \frac{N - \gamma}{2 E_D},$$

with $\lambda_k$ the eigenvalues of $J^\top J$ (the Gauss-Newton Hessian of
$E_D$ is $2 J^\top J$), $E_W = \sum w_i^2$ over those weights and
$E_D = \sum e_n^2$. $\gamma$ is the effective number of parameters: how many
of the P weights the data determine. The decay becomes
$\lambda = \alpha / (\beta N)$, the strength for a mean-squared-error loss.
"""

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit.backend.gradients import output_jacobian
from keras_rnnkit.regularizers.bayesian import BayesianWeightDecay


def evidence_update(jacobian, residuals, weights, ratio):
    r"""One evidence step: `(gamma, alpha, beta)` from $J$, $e$, $w$ and $r = \alpha/\beta$.

    Example:

    >>> import numpy as np
    >>> from keras_rnnkit.training.bayesian import evidence_update
    >>> J = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # eigenvalues 1, 1
    >>> gamma, alpha, beta = evidence_update(J, np.ones(3), np.ones(2), ratio=1.0)
    >>> gamma, alpha, beta  # gamma = 1/2 + 1/2; alpha = 1 / (2 * 2); beta = 2 / (2 * 3)
    (1.0, 0.25, 0.3333333333333333)
    """
    jacobian = np.asarray(jacobian, "float64")
    residuals = np.asarray(residuals, "float64").reshape(-1)
    weights = np.asarray(weights, "float64").reshape(-1)
    eigenvalues = np.clip(np.linalg.eigvalsh(jacobian.T @ jacobian), 0.0, None)
    if ratio > 0:
        gamma = float(np.sum(eigenvalues / (eigenvalues + ratio)))
    else:
        gamma = float(np.sum(eigenvalues > eigenvalues.max(initial=0.0) * 1e-12))
    # A data set no larger than the determined weights leaves no noise to estimate.
    gamma = min(gamma, residuals.size - 1.0)
    alpha = gamma / (2.0 * max(float(np.sum(weights**2)), 1e-12))
    beta = (residuals.size - gamma) / (2.0 * max(float(np.sum(residuals**2)), 1e-12))
    return gamma, alpha, beta


def _residual_scale(model):
    """The scale the loss divides the residuals by (a `ScaledMeanSquaredError`'s sd), else 1."""
    variance = getattr(model.loss, "variance", None)
    if variance is None:
        return 1.0
    return np.sqrt(np.asarray(keras.ops.convert_to_numpy(variance), "float64").reshape(-1))


class BayesianRegularization(keras.callbacks.Callback):
    r"""Sets each `BayesianWeightDecay` of the models from the evidence as they train.

    The models' loss must be the mean squared error (or
    `keras_rnnkit.forecasting.ScaledMeanSquaredError`, whose scale is taken
    into account) over the training data `x, y`, and their weights to be
    regularised must carry `BayesianWeightDecay` (`build_model(...,
    weight_penalty="bayesian")`). The logs gain `effective_parameters`
    ($\gamma$, the mean over the models) and `weight_decay` ($\lambda$, their
    mean); `history` keeps every model's values per update.

    Args:
        x, y: The training inputs and targets (the data the models fit).
        models: The models to regularise, or None for the model being
            trained. Give the members of `fit_members` here.
        update_every: Positive int, epochs between updates. Default: `1`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.regularizers import BayesianWeightDecay
    >>> from keras_rnnkit.training import BayesianRegularization
    >>> keras.utils.set_random_seed(0)
    >>> x = np.random.rand(64, 3); y = x @ np.array([[1.0], [-2.0], [0.0]])
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
    ...     1, kernel_regularizer=BayesianWeightDecay())])
    >>> model.compile("adam", "mse")
    >>> evidence = BayesianRegularization(x, y)
    >>> _ = model.fit(x, y, epochs=3, verbose=0, callbacks=[evidence])
    >>> 0 < evidence.history[-1]["effective_parameters"][0] <= 3
    True
    """

    def __init__(self, x, y, models=None, update_every=1):
        super().__init__()
        self.x = np.asarray(x, "float32")
        self.y = np.asarray(y, "float64")
        self.models = None if models is None else list(models)
        self.update_every = arguments.positive_int(
            type(self).__name__, "update_every", update_every
        )
        self.history = []
        self._targets = None

    def _regularised(self, model):
        pairs = [
            (v, v.regularizer)
            for v in model.trainable_variables
            if isinstance(v.regularizer, BayesianWeightDecay)
        ]
        if not pairs:
            raise ValueError(
                f"BayesianRegularization: model {model.name!r} has no weight with a "
                "BayesianWeightDecay regularizer (build it with weight_penalty='bayesian', "
                "or pass kernel_regularizer=BayesianWeightDecay())"
            )
        return pairs

    def on_train_begin(self, logs=None):
        models = self.models if self.models is not None else [self.model]
        self._targets = []
        for model in models:
            pairs = self._regularised(model)
            variables = [v for v, _ in pairs]
            self._targets.append((pairs, output_jacobian(model, variables), _residual_scale(model)))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.update_every:
            return
        record = {"epoch": epoch + 1, "effective_parameters": [], "weight_decay": []}
        for pairs, jacobian_of, scale in self._targets:
            outputs, jacobian = jacobian_of(self.x)
            shape = self.y.reshape(len(self.x), -1).shape
            residuals = (self.y.reshape(shape) - outputs.reshape(shape)) / scale
            jacobian = jacobian / np.broadcast_to(scale, shape).reshape(-1, 1)
            weights = np.concatenate(
                [np.asarray(keras.ops.convert_to_numpy(v), "float64").ravel() for v, _ in pairs]
            )
            strength = float(keras.ops.convert_to_numpy(pairs[0][1].strength))
            count = residuals.size
            gamma, alpha, beta = evidence_update(jacobian, residuals, weights, strength * count)
            strength = alpha / (beta * count)
            for _, regularizer in pairs:
                regularizer.strength.assign(strength)
            record["effective_parameters"].append(gamma)
            record["weight_decay"].append(strength)
        self.history.append(record)
        if logs is not None:
            logs["effective_parameters"] = float(np.mean(record["effective_parameters"]))
            logs["weight_decay"] = float(np.mean(record["weight_decay"]))
