"""Choosing a forecaster's settings on rolling-origin folds of its training samples.

One validation block of a short series is too few samples to choose by: the
choice follows its noise. Here each candidate setting is trained K times, each
time on the samples before one of K consecutive blocks at the end of the
training samples and scored on that block (see
`keras_rnnkit.data.splits.rolling_origin_splits`); the candidate with the lowest
mean MSE wins. The validation and test samples are never seen.
"""

import keras
import numpy as np

from keras_rnnkit.data.splits import rolling_origin_splits


def fold_scores(
    build, candidates, x, y, *, folds=3, block=None, patience=10, on_score=None, **fit_options
):
    """`{name: mean MSE over the folds}` of each candidate, in raw units.

    Args:
        build: `build(settings, x_train, y_train)`: a compiled model of one
            candidate's `settings`, whose scaling (if any) is fitted on
            `x_train, y_train` (the fold's training samples).
        candidates: `{name: settings}`.
        x, y: The training samples, in time order.
        folds: K, the number of blocks. Default: 3.
        block: Samples per block. Default: `len(x) // (2 * folds)`, at least 1
            (half the samples train the first fold).
        patience: Each fold stops after this many epochs without a better
            block MSE, and keeps its best epoch's weights. Default: 10.
        on_score: Called as `on_score(name, score)` as each candidate's score is
            known (to show progress), or None.
        **fit_options: Passed to `Model.fit` (`epochs`, `batch_size`, ...).

    Returns:
        A dict, in the order of `candidates`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnkit.forecasting.selection import fold_scores
    >>> def build(settings, x_train, y_train):
    ...     model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=settings)])
    ...     model.compile(keras.optimizers.Adam(0.5), "mse")
    ...     return model
    >>> x = np.linspace(0, 1, 40)[:, None]
    >>> candidates = {"bias": True, "none": False}
    >>> scores = fold_scores(build, candidates, x, 2 * x + 5, folds=2, epochs=40, verbose=0)
    >>> min(scores, key=scores.get)  # only a bias reaches the offset 5
    'bias'
    """
    block = max(1, len(x) // (2 * folds)) if block is None else block
    splits = rolling_origin_splits(len(x), block, folds)
    scores = {}
    for name, settings in candidates.items():
        errors = []
        for train_end, block_end in splits:
            model = build(settings, x[:train_end], y[:train_end])
            held = (x[train_end:block_end], y[train_end:block_end])
            stopping = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
            model.fit(
                x[:train_end],
                y[:train_end],
                validation_data=held,
                callbacks=[keras.callbacks.TerminateOnNaN(), stopping],
                **fit_options,
            )
            errors.append(float(np.mean((model.predict(held[0], verbose=0) - held[1]) ** 2)))
        # A candidate that diverged on a fold scores inf: never chosen.
        scores[name] = float(np.mean(errors)) if np.all(np.isfinite(errors)) else float("inf")
        if on_score is not None:
            on_score(name, scores[name])
    return scores
