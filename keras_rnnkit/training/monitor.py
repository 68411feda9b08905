"""Seeing gradient flow through time: `GradientFlowMonitor`."""

import pathlib
import warnings

import keras
import numpy as np

from keras_rnnkit import _arguments as arguments
from keras_rnnkit import _atomic
from keras_rnnkit._model_layers import walk_layers
from keras_rnnkit.backend.gradients import value_and_gradients
from keras_rnnkit.layers import state_probes
from keras_rnnkit.training import summaries


class GradientFlowWarning(UserWarning):
    """Gradients vanish through time, or are not finite."""


class GradientFlowMonitor(keras.callbacks.Callback):
    r"""Records how the loss gradient flows back through time, once per epoch.

    On a fixed probe batch it computes, for every recurrent layer of
    keras_rnnkit (`ElmanRNN`, `JordanRNN`, also inside `Bidirectional`), the
    norm of the loss gradient with respect to the layer's state at each step,
    $\lVert \partial L / \partial s_t \rVert$ over the batch and the state's
    units, and for every layer the norms of its weight gradients. It runs with
    `training=False` (no dropout or zoneout), on a copy of nothing: the state
    gradients come from zero-valued probes added to the states, which leave the
    forward pass unchanged.

    Results, kept as attributes:

    - `state_gradient_norms`: `{layer name: array (epochs, T)}`, one row per
      epoch, one non-negative norm per time step (in time order).
    - `weight_gradient_norms`: `{layer name: {weight name: [norm per epoch]}}`.

    Each epoch it also adds scalars to the logs (so to `History`):
    `gradient_flow/<layer>/first_step`, `.../last_step` and `.../weights` (the
    layer's total weight-gradient norm).

    With `log_dir` it writes them to TensorBoard itself, whatever the order
    of the callbacks, as the run `gradient_flow` of that log directory (beside
    Keras's `train` and `validation`), with the per-step profile of each epoch:
    a histogram `gradient_flow/<layer>/log10_state_gradient` of the log10
    norms over the time steps, and (with matplotlib) the figure of `figure()`
    as the image `gradient_flow/profile`. Pass the directory of your
    `keras.callbacks.TensorBoard`, or the callback itself. Needs TensorFlow
    installed (any backend), as Keras's `TensorBoard` callback does.
    It warns (`GradientFlowWarning`) when the gradient at the first step is
    smaller than at the last by more than `vanishing_factor`, and when a norm
    is not finite (exploding).

    Works on TensorFlow, JAX and PyTorch alike (the gradient itself is taken by
    `keras_rnnkit.backend.gradients`, one short branch per backend).

    Args:
        x_probe: inputs of the probe batch (what the model takes).
        y_probe: its targets.
        loss: loss used for the gradients; default: the model's compiled loss.
        vanishing_factor: warn when first-step norm * factor < last-step norm.
            Default: `1e3`.
        plot_path: if given, `plot(plot_path, overwrite=True)` at the end of
            training: the plot of the latest training replaces the file.
        log_dir: `None`, a TensorBoard log directory, or a
            `keras.callbacks.TensorBoard` (its `log_dir`). Default: `None`.

    Example:

    >>> import numpy as np, keras, keras_rnnkit
    >>> from keras_rnnkit.training import GradientFlowMonitor
    >>> x = np.random.rand(8, 10, 2).astype("float32"); y = x[:, :1, 0]
    >>> model = keras.Sequential([keras.Input((10, 2)), keras_rnnkit.ElmanRNN(4, name="elman"),
    ...                           keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> monitor = GradientFlowMonitor(x, y, vanishing_factor=1e9)
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    >>> monitor.state_gradient_norms["elman"].shape
    (2, 10)
    """

    def __init__(
        self, x_probe, y_probe, loss=None, vanishing_factor=1e3, plot_path=None, log_dir=None
    ):
        super().__init__()
        owner = type(self).__name__
        if (
            isinstance(vanishing_factor, bool)
            or not isinstance(vanishing_factor, (int, float))
            or vanishing_factor <= 1
        ):
            raise ValueError(
                f"{owner}: `vanishing_factor` must be a number > 1. "
                f"Received: vanishing_factor={vanishing_factor!r}"
            )
        self.x_probe = x_probe
        self.y_probe = y_probe
        self.loss = None if loss is None else keras.losses.get(loss)
        self.vanishing_factor = float(vanishing_factor)
        self.plot_path = plot_path
        self.log_dir = None if log_dir is None else summaries.log_directory(owner, log_dir)
        self._writer = None
        self.state_gradient_norms = {}
        self.weight_gradient_norms = {}

    def _recurrent_layers(self):
        # Imported here: the layers import `keras_rnnkit.training` (clipping).
        from keras_rnnkit.layers.base import RecurrentLayer

        return [layer for layer in walk_layers(self.model) if isinstance(layer, RecurrentLayer)]

    def _loss_function(self):
        if self.loss is not None:
            return self.loss
        compiled = getattr(self.model, "loss", None)
        if compiled is None:
            raise ValueError(
                "GradientFlowMonitor: the model has no compiled loss; compile it or pass `loss=`."
            )
        return keras.losses.get(compiled)

    def measure(self):
        """Gradient norms on the probe batch now: (state norms, weight norms) by layer."""
        model = self.model
        loss_fn = self._loss_function()
        x = self.x_probe
        y = keras.ops.convert_to_tensor(self.y_probe)

        # Pass 1: learn which layers run (and how often), with which probe shapes.
        shapes = {}

        def record(layer, call, zeros):
            shapes[(layer, call)] = tuple(zeros.shape)
            return zeros

        with state_probes.probing(record):
            model(x, training=False)
        keys = list(shapes)
        probes = [np.zeros(shapes[key], "float32") for key in keys]
        trainable = list(model.trainable_variables)
        non_trainable = [v.value for v in model.non_trainable_variables]

        def scalar_loss(*flat):
            # Each layer's probe by (layer, call), whatever order the model calls them in.
            given = dict(zip(keys, flat[: len(probes)], strict=True))

            def inject(layer, call, zeros):
                return keras.ops.cast(given[(layer, call)], zeros.dtype)

            with state_probes.probing(inject):
                y_pred, _ = model.stateless_call(
                    list(flat[len(probes) :]), non_trainable, x, training=False
                )
            return keras.ops.mean(loss_fn(y, y_pred))

        _, grads = value_and_gradients(
            scalar_loss, probes + [keras.ops.convert_to_tensor(v) for v in trainable]
        )
        state_norms = {}
        for (layer, _), grad in zip(keys, grads[: len(probes)], strict=True):
            grad = np.asarray(keras.ops.convert_to_numpy(grad), np.float64)
            state_norms[layer.name] = np.sqrt(np.sum(grad**2, axis=(0, 2)))
        # A weight belongs to the innermost layer listing it (a cell's weights
        # to its RNN layer; a Bidirectional's to its forward or backward layer).
        owner = {}
        for layer in walk_layers(model):
            for variable in layer.trainable_weights:
                owner[id(variable)] = layer.name
        weight_norms = {}
        for variable, grad in zip(trainable, grads[len(probes) :], strict=True):
            grad = np.asarray(keras.ops.convert_to_numpy(grad), np.float64)
            weights = weight_norms.setdefault(owner.get(id(variable), model.name), {})
            weights[variable.name] = float(np.sqrt(np.sum(grad**2)))
        return state_norms, weight_norms

    def on_train_begin(self, logs=None):
        if not self._recurrent_layers():
            # Before any epoch, not "nothing recorded" after the whole training.
            others = sorted(
                {type(layer).__name__ for layer in walk_layers(self.model)}
                & {"RNN", "SimpleRNN", "LSTM", "GRU", "Bidirectional"}
            )
            found = f" (it has {', '.join(others)}, whose steps it cannot probe)" if others else ""
            raise ValueError(
                "GradientFlowMonitor: the model has no layer whose state gradient it can "
                "follow: ElmanRNN, JordanRNN or another keras_rnnkit RecurrentLayer" + found
            )
        if self.log_dir is not None and self._writer is None:
            self._writer = summaries.EpochWriter(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        state_norms, weight_norms = self.measure()
        logs = logs if logs is not None else {}
        scalars_before = set(logs)
        for name, norms in state_norms.items():
            previous = self.state_gradient_norms.get(name, np.empty((0, len(norms))))
            self.state_gradient_norms[name] = np.vstack([previous, norms])
            logs[f"gradient_flow/{name}/first_step"] = float(norms[0])
            logs[f"gradient_flow/{name}/last_step"] = float(norms[-1])
            self._warn(name, epoch, norms)
        for name, weights in weight_norms.items():
            record = self.weight_gradient_norms.setdefault(name, {})
            for weight, norm in weights.items():
                record.setdefault(weight, []).append(norm)
            total = float(np.sqrt(sum(n**2 for n in weights.values())))
            logs[f"gradient_flow/{name}/weights"] = total
            if not np.isfinite(total):
                self._warn_not_finite(name, epoch, "weight")
        if self._writer is not None:
            self._write_summaries(epoch, {k: logs[k] for k in set(logs) - scalars_before})

    def _write_summaries(self, epoch, scalars):
        histograms = {
            f"gradient_flow/{name}/log10_state_gradient": np.log10(
                np.maximum(rows[-1], np.finfo("float64").tiny)
            )
            for name, rows in self.state_gradient_norms.items()
        }
        image = None
        try:
            image = summaries.figure_pixels(self.figure())
        except ImportError:
            pass  # no matplotlib: scalars and histograms only (documented)
        self._writer.write(epoch, scalars, histograms, image)

    def _warn_not_finite(self, name, epoch, what):
        warnings.warn(
            f"GradientFlowMonitor: epoch {epoch + 1}, layer '{name}': the {what} gradient is "
            "not finite (exploding); try per-step `gradient_clip` or the optimizer's "
            "`clipnorm`.",
            GradientFlowWarning,
            stacklevel=3,
        )

    def _warn(self, name, epoch, norms):
        if not np.all(np.isfinite(norms)):
            self._warn_not_finite(name, epoch, "state")
        elif norms[0] * self.vanishing_factor < norms[-1]:
            warnings.warn(
                f"GradientFlowMonitor: epoch {epoch + 1}, layer '{name}': the state gradient "
                f"at the first step ({norms[0]:.3g}) is more than {self.vanishing_factor:g} "
                f"times smaller than at the last ({norms[-1]:.3g}): it vanishes through time.",
                GradientFlowWarning,
                stacklevel=2,
            )

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.plot_path is not None:
            self.plot(self.plot_path, overwrite=True)

    def figure(self, title=None):
        r"""The gradient-flow figure: one panel per layer, one curve per epoch.

        Each panel shows $\lVert \partial L / \partial h_t \rVert$ against the
        time step t on a log scale; the curves are coloured from the first
        epoch to the last, read on the colour bar. Needs matplotlib
        (`pip install matplotlib`).

        Args:
            title: Title of the figure, above the panels, which are then
                titled with their layer's name. Default: each panel is titled
                "Gradient flow through time: <model name> / <layer name>".

        Returns:
            A `matplotlib.figure.Figure` (not shown; `plot` saves it).
        """
        try:
            import matplotlib.cm
            import matplotlib.colors
            import matplotlib.figure
            import matplotlib.ticker
        except ImportError as error:
            raise ImportError(
                "GradientFlowMonitor.figure needs matplotlib: pip install matplotlib"
            ) from error
        if not self.state_gradient_norms:
            raise ValueError("GradientFlowMonitor.figure: nothing recorded yet; train first.")
        names = list(self.state_gradient_norms)
        model_name = getattr(self.model, "name", None) or "model"
        # A Figure without pyplot: no global state, nothing left open to close.
        figure = matplotlib.figure.Figure(figsize=(7.5, 3.2 * len(names)), layout="constrained")
        axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
        colormap = matplotlib.colormaps["viridis"]
        for axis, name in zip(axes, names, strict=True):
            rows = self.state_gradient_norms[name]
            epochs = np.arange(1, len(rows) + 1)
            # Integer epochs as the colour bar's ticks: each epoch's colour sits on its tick.
            norm = matplotlib.colors.Normalize(vmin=1, vmax=max(len(rows), 2))
            steps = np.arange(1, rows.shape[1] + 1)
            for epoch, row in zip(epochs, rows, strict=True):
                axis.plot(steps, row, color=colormap(norm(epoch)), linewidth=1.2)
            axis.set_yscale("log")
            axis.set_xlim(1, max(rows.shape[1], 2))
            axis.set_xlabel("time step")
            axis.set_ylabel("‖∂L/∂h_t‖ (log scale)")
            axis.set_title(
                name if title is not None else f"Gradient flow through time: {model_name} / {name}"
            )
            axis.grid(True, which="major", alpha=0.3)
            colorbar = figure.colorbar(
                matplotlib.cm.ScalarMappable(norm=norm, cmap=colormap), ax=axis
            )
            colorbar.set_label("epoch")
            colorbar.locator = matplotlib.ticker.MaxNLocator(integer=True)
            colorbar.update_ticks()
        if title is not None:
            figure.suptitle(title)
        return figure

    def plot(self, path, title=None, overwrite=False):
        """Saves `figure(title)` as an image (PNG unless `path`'s suffix says otherwise).

        The image is written beside `path` and renamed into place
        (`keras_rnnkit._atomic`), so a kill at any moment leaves the old file or the
        new one, whole, never a part.

        Args:
            path: File to write.
            title: Title of the figure; see `figure`.
            overwrite: If True, an existing `path` is replaced. Default: False.

        Returns:
            `path`.

        Raises:
            FileExistsError: If `path` exists and `overwrite` is False.
            IsADirectoryError: If `path` is a folder (even with `overwrite`).
        """
        owner = "GradientFlowMonitor.plot"
        arguments.boolean(owner, "overwrite", overwrite)
        target = pathlib.Path(path)
        _atomic.recover(target)  # a file a killed write left aside counts as existing
        if target.is_dir():
            # Never replace a folder by a picture, even with overwrite=True.
            raise IsADirectoryError(
                f"{owner}: `path` must be a file path, not a folder. Received: path={str(path)!r}"
            )
        if not overwrite and (target.exists() or target.is_symlink()):
            raise FileExistsError(
                f"{owner}: `path` exists; choose another, or pass overwrite=True to replace it. "
                f"Received: path={str(path)!r}"
            )
        figure = self.figure(title=title)  # before anything is written: needs matplotlib
        with _atomic.replacing(target) as new:
            figure.savefig(new, dpi=100)
        return path
