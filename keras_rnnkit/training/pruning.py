r"""Pruning by saliency: Optimal Brain Damage (LeCun, Denker & Solla 1990).

The saliency of weight $w_i$ is the rise of the training error
$E = \sum_n e_n^2$ when it is set to zero, to second order with a diagonal
Hessian (at a minimum, where the gradient vanishes):

$$s_i = \tfrac12 h_{ii} w_i^2, \qquad h_{ii} \approx 2 \sum_n
  \Big(\frac{\partial \hat y_n}{\partial w_i}\Big)^2$$

(the Gauss-Newton, or Levenberg-Marquardt, diagonal that LeCun et al. use).
OBD removes the weights of least saliency, retrains, and repeats; Svarer,
Hansen & Larsen (1993) pruned sunspot networks so and chose the size on a
validation set.
"""

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit._api import export
from keras_rnnkit.backend.gradients import output_jacobian


@export
class PruningMask(keras.constraints.Constraint):
    """Keeps pruned weights at zero: `w * mask` after every update.

    `prune_least_salient` and `keep_pruned` attach it to the weights they
    prune; any weight of the same shape can take one.

    Args:
        mask: An array of 0s and 1s, the weight's shape (1 keeps a weight).
        constraint: Another constraint, applied before the mask, or None.
            Default: None.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.training import PruningMask
    >>> keras.ops.convert_to_numpy(PruningMask([[1, 0], [0, 1]])(np.full((2, 2), 3.0))).tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    """

    def __init__(self, mask, constraint=None):
        values = np.asarray(mask, "float32")
        if values.ndim == 0 or not np.all((values == 0) | (values == 1)):
            raise ValueError(
                "PruningMask: `mask` must be an array of 0s and 1s of the weight's shape. "
                f"Received: mask with shape {values.shape}"
            )
        self.mask = values
        self.constraint = keras.constraints.get(constraint)

    def __call__(self, w):
        if self.constraint is not None:
            w = self.constraint(w)
        w = keras.ops.convert_to_tensor(w)
        return keras.ops.multiply(w, keras.ops.cast(self.mask, w.dtype))

    def get_config(self):
        return {
            "mask": self.mask.tolist(),
            "constraint": keras.constraints.serialize(self.constraint),
        }


def prunable_weights(model):
    """The weights OBD may remove: trainable matrices (kernels), not biases or priors.

    Example:

    >>> import keras
    >>> from keras_rnnkit.training import prunable_weights
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> [v.name for v in prunable_weights(model)]
    ['kernel']
    """
    return [v for v in model.trainable_variables if len(v.shape) >= 2]


def saliencies(model, x, variables=None):
    r"""The OBD saliency $\frac12 h_{ii} w_i^2$ of each weight, one array per variable.

    $h_{ii}$ is the Gauss-Newton diagonal of $\sum_n e_n^2$ over the outputs
    of `model(x)` (so the targets are not needed).

    Args:
        model: A built `keras.Model`.
        x: The training inputs.
        variables: The weights to score. Default: `prunable_weights(model)`.

    Returns:
        A list of arrays, each of its variable's shape.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.training import saliencies
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    >>> model.set_weights([np.array([[1.0], [3.0]])])
    >>> x = np.array([[1.0, 1.0], [2.0, 0.0]])
    >>> # h = 2 * sum_n x_ni^2 = [10, 2]; s = h w^2 / 2 = [5, 9]
    >>> saliencies(model, x)[0].ravel().tolist()
    [5.0, 9.0]
    """
    variables = prunable_weights(model) if variables is None else list(variables)
    _, jacobian = output_jacobian(model, variables)(np.asarray(x, "float32"))
    diagonal = 2.0 * np.sum(jacobian**2, axis=0)
    weights = np.concatenate(
        [np.asarray(keras.ops.convert_to_numpy(v), "float64").ravel() for v in variables]
    )
    scores = 0.5 * diagonal * weights**2
    sizes = np.cumsum([0] + [int(np.prod(v.shape)) for v in variables])
    return [
        scores[start:end].reshape(tuple(v.shape))
        for v, start, end in zip(variables, sizes[:-1], sizes[1:], strict=True)
    ]


def keep_pruned(model, variables=None):
    """Attaches a `PruningMask` of its zeros to each weight, so that retraining keeps them zero.

    The masks are not part of a saved model (its zeros are): call this again
    on a loaded model before training it further. Resets the model's compiled
    training function, which would not see the new constraints.

    Returns:
        The number of weights held at zero.
    """
    variables = prunable_weights(model) if variables is None else list(variables)
    pruned = 0
    for variable in variables:
        mask = (keras.ops.convert_to_numpy(variable) != 0).astype("float32")
        if mask.min() == 0:
            pruned += int(mask.size - mask.sum())
            other = variable.constraint
            if isinstance(other, PruningMask):
                other = other.constraint
            variable.constraint = PruningMask(mask, constraint=other)
    # A compiled training step keeps the constraints it was traced with.
    model.train_function = None
    return pruned


def prune_least_salient(model, x, count, variables=None):
    """Sets the `count` least salient weights that are not yet zero to zero; keeps them there.

    Args:
        model: A built `keras.Model`.
        x: The training inputs (for the saliencies).
        count: How many more weights to remove.
        variables: The weights that may go. Default: `prunable_weights(model)`.

    Returns:
        The number of weights now at zero among `variables`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.training import prune_least_salient
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    >>> model.compile("sgd", "mse")
    >>> model.set_weights([np.array([[1.0], [3.0]])])
    >>> prune_least_salient(model, np.array([[1.0, 1.0], [2.0, 0.0]]), 1)
    1
    >>> model.get_weights()[0].ravel().tolist()  # saliencies 5 and 9: the first goes
    [0.0, 3.0]
    """
    variables = prunable_weights(model) if variables is None else list(variables)
    count = arguments.non_negative_int("prune_least_salient", "count", count)
    scores = saliencies(model, x, variables)
    flat = np.concatenate([s.ravel() for s in scores])
    values = np.concatenate([np.asarray(keras.ops.convert_to_numpy(v)).ravel() for v in variables])
    alive = np.flatnonzero(values != 0)
    remove = alive[np.argsort(flat[alive], kind="stable")[:count]]
    values = values.copy()
    values[remove] = 0
    start = 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        variable.assign(values[start : start + size].reshape(tuple(variable.shape)))
        start += size
    return keep_pruned(model, variables)
