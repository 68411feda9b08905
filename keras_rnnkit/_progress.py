"""A Keras progress bar over epochs, for runs of many short epochs (`rnnkit demo`)."""

import keras


class EpochProgress(keras.callbacks.Callback):
    """Prints `name`, then one `keras.utils.Progbar` advancing once per epoch, with the loss."""

    def __init__(self, name, epochs):
        super().__init__()
        self.name, self.epochs = name, epochs

    def on_train_begin(self, logs=None):
        print(self.name)
        self.bar = keras.utils.Progbar(self.epochs, unit_name="epoch")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(epoch + 1, values=[("loss", logs["loss"])])
