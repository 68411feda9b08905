"""Progress of the command line's training runs: a bar on a terminal, plain lines elsewhere.

A progress bar redraws itself with carriage returns and escape sequences; written to a
file or a pipe (a log, CI), those pile up. Where stdout is not a terminal the commands
print plain lines instead.
"""

import sys

import keras

# Plain lines: about this many per run of epochs, and the last epoch.
PLAIN_LINES = 10


def on_terminal():
    """Whether stdout is a terminal (where a progress bar can redraw itself)."""
    return sys.stdout.isatty()


def fit_verbosity(quiet):
    """Keras's `verbose` for `fit`: 0 with `quiet`, the progress bar (1) on a terminal,
    else one plain line per epoch (2)."""
    if quiet:
        return 0
    return 1 if on_terminal() else 2


class EpochProgress(keras.callbacks.Callback):
    """Prints `name`, then the epochs and the loss: a `keras.utils.Progbar` advancing
    once per epoch on a terminal, else about `PLAIN_LINES` plain lines.

    `epochs` counts passes over the data; `passes_per_epoch` is how many of them
    each of `fit`'s epochs makes (full-batch training runs several per epoch)."""

    def __init__(self, name, epochs, passes_per_epoch=1):
        super().__init__()
        self.name, self.epochs, self.passes_per_epoch = name, epochs, passes_per_epoch

    def on_train_begin(self, logs=None):
        print(self.name)
        self.bar = keras.utils.Progbar(self.epochs, unit_name="epoch") if on_terminal() else None

    def on_epoch_end(self, epoch, logs=None):
        done = (epoch + 1) * self.passes_per_epoch
        if self.bar is not None:
            self.bar.update(done, values=[("loss", logs["loss"])])
            return
        every = max(1, self.epochs // PLAIN_LINES)
        if done % every < self.passes_per_epoch or done == self.epochs:
            print(f"  epoch {done}/{self.epochs}, loss {logs['loss']:.4g}", flush=True)
