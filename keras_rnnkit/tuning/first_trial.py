"""An oracle whose first trial is a configuration already validated, not a random draw."""

from keras_rnnkit.tuning._dependency import keras_tuner


class FirstTrialValues:
    """An `Oracle` mix-in: the first trial takes `first_values`, the others the oracle's own.

    `first_values` maps hyperparameter names to values (those it leaves out
    take their defaults, and only the hyperparameters active for them are
    recorded); None leaves the oracle as it is. A search that resumes has
    trials already and draws as usual.
    """

    first_values = None

    def populate_space(self, trial_id):
        if self.first_values is None or self.trials:
            return super().populate_space(trial_id)
        hps = self.hyperparameters.copy()
        for hp in hps.space:
            hps.values[hp.name] = self.first_values.get(hp.name, hp.default)
        values = {hp.name: hps.values[hp.name] for hp in hps.space if hps.is_active(hp)}
        return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}
