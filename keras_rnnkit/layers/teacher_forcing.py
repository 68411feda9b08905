"""Teacher forcing for a layer whose cell feeds back its outputs (`JordanRNN`, `NARX`).

While training, such a layer may take the true outputs as `targets` (B, T, O) and feed them
back in place of its own (open loop); outside training it feeds back its own outputs (closed
loop). The targets reach the loop's step (`loop.run_step`) as channels after the features,
with one use-own channel (1 where the own output is fed back: scheduled sampling), packed in
`TeacherForcedLayer.call` and unpacked in its `_step_inputs`; the cell's `step` receives them
as `teacher=(target_t, use_own_t)`.
"""

import inspect
import numbers

import keras

from keras_rnnkit.layers.base import RecurrentLayer
from keras_rnnkit.layers.base import as_compute_dtype


def _checked_probability(owner, value):
    """`sampling_probability` as given if it is a number or scalar in [0, 1], or raises."""
    message = (
        f"{owner}: `sampling_probability` must be a number or a scalar tensor in [0, 1]. "
        f"Received: sampling_probability={value!r}"
    )
    if isinstance(value, bool) or isinstance(value, (list, tuple, str)) or value is None:
        raise ValueError(message)
    if isinstance(value, numbers.Real):
        if not 0.0 <= float(value) <= 1.0:  # also refuses NaN
            raise ValueError(message)
        return value
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) != 0:
        raise ValueError(message)
    try:
        concrete = float(keras.ops.convert_to_numpy(value))
    except Exception:  # noqa: BLE001 - a symbolic tensor has no value to check yet
        return value
    if not 0.0 <= concrete <= 1.0:
        raise ValueError(message)
    return value


def check_targets(owner, targets, sequences, output_units):
    """Raises unless `targets` is (B, T, O) with the batch and time of `sequences`."""
    shape, reference = tuple(targets.shape), tuple(sequences.shape)
    same = len(shape) == 3 and shape[2] == output_units
    for got, want in zip(shape[:2], reference[:2]):
        same = same and (got is None or want is None or got == want)
    if not same:
        raise ValueError(
            f"{owner}: `targets` must have shape (batch, time, output_units) = "
            f"({reference[0]}, {reference[1]}, {output_units}), like `sequences` "
            f"{reference}. Received: targets.shape={shape}"
        )


class TeacherForcedLayer(RecurrentLayer):
    """A `RecurrentLayer` whose call takes `targets` and `sampling_probability` (see the
    module); its cell has `output_units` and a `step` that takes `teacher`."""

    def compute_output_spec(self, *args, **kwargs):
        # A symbolic call never runs `call` (see RecurrentLayer.compute_output_spec):
        # the teacher-forcing arguments are checked here too, bound as `call` binds them.
        bound = inspect.signature(self.call).bind(*args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        self._checked_teacher_arguments(
            given["sequences"], given.pop("targets"), given.pop("sampling_probability")
        )
        return super().compute_output_spec(**given)

    def _checked_teacher_arguments(self, sequences, targets, sampling_probability):
        """Checks and returns `(targets, sampling_probability)`; targets as a tensor."""
        owner = type(self).__name__
        sampling_probability = _checked_probability(owner, sampling_probability)
        if targets is not None:
            if not isinstance(targets, keras.KerasTensor):
                targets = keras.ops.convert_to_tensor(targets)
            check_targets(owner, targets, sequences, self.cell.output_units)
        return targets, sampling_probability

    def call(
        self,
        sequences,
        initial_state=None,
        mask=None,
        training=False,
        targets=None,
        sampling_probability=0.0,
    ):
        sequences = as_compute_dtype(self, sequences)
        targets, sampling_probability = self._checked_teacher_arguments(
            sequences, targets, sampling_probability
        )
        if targets is None or not training:
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        targets = keras.ops.cast(targets, sequences.dtype)
        batch_time = keras.ops.shape(targets)[:2]
        if isinstance(sampling_probability, (int, float)) and sampling_probability == 0:
            use_own = keras.ops.zeros((*batch_time, 1), dtype=sequences.dtype)
        else:
            draws = keras.random.uniform(
                (*batch_time, 1), dtype=sequences.dtype, seed=self.cell.seed_generator
            )
            use_own = keras.ops.cast(draws < sampling_probability, sequences.dtype)
        # The targets travel as channels after the features (see `_step_inputs`); the
        # dropout mask, drawn here, is the features' only.
        self.cell.get_dropout_mask(sequences[:, 0])
        augmented = keras.ops.concatenate([sequences, targets, use_own], axis=-1)
        return super().call(augmented, initial_state=initial_state, mask=mask, training=training)

    def _step_inputs(self, sequences):
        # Beyond the features the layer was built for: the targets, then one use-own channel.
        width = self.input_spec.axes[-1]
        if sequences.shape[-1] == width:
            return {"features": sequences}
        features, target, use_own = (
            sequences[..., :width],
            sequences[..., width:-1],
            sequences[..., -1:],
        )
        return {"features": features, "target": target, "use_own": use_own}
