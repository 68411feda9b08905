"""The switch between a layer's fused recurrence and its generic step loop."""

import keras

SWITCH_VALUES = ("auto", True, False)


class FusedLoop:
    """Mixin for a `RecurrentLayer` with a fused recurrence.

    The switch is the argument `use_fused` (kept in the subclass's
    `layer_defaults` with the default `"auto"`); the subclass names the
    backend module of its recurrence (`fused_recurrence`, with `unsupported_reason` and
    `auto_prefers_fused`). The switch is `"auto"`, `True` or `False`:
    `False` always runs the step loop; `True` runs the fused recurrence and
    raises where the configuration does not allow it; `"auto"` runs it where
    it is supported and `auto_prefers_fused()` says it is faster.
    """

    # One name on every layer (ElmanRNN's was `use_cudnn`, JordanRNN's
    # `use_fused`): most of these kernels are not cuDNN's.
    fused_switch = "use_fused"
    fused_recurrence = None

    def _check_fused_switch(self):
        """Validates the switch; with `True`, what can be known before a call (all but the mask)."""
        value = getattr(self, self.fused_switch)
        if not (value == "auto" or value is True or value is False):
            raise ValueError(
                f"{type(self).__name__}: `{self.fused_switch}` must be one of 'auto', True, "
                f"False. Received: {self.fused_switch}={value!r}"
            )
        if value is True:
            self._fused_unsupported(training=True, mask=None, raise_if_forced=True)

    def _fused_unsupported(self, training, mask, raise_if_forced=False):
        """Why the fused recurrence does not run this call, or None when it does."""
        switch = getattr(self, self.fused_switch)
        if switch is False:
            return f"{self.fused_switch}=False"
        reason = self.fused_recurrence.unsupported_reason(
            self.cell,
            compute_dtype=self.compute_dtype,
            training=training,
            mask=mask,
            unroll=self.unroll,
            truncate=self.truncate_gradient,
            probes=getattr(self, "_state_probe_hook", None) is not None,
            go_backwards=self.go_backwards,
        )
        if reason is None and switch == "auto" and not self.fused_recurrence.auto_prefers_fused():
            # True on each backend: the measurement behind `auto_prefers_fused`.
            backend = keras.backend.backend()
            where = "TensorFlow without XLA" if backend == "tensorflow" else f"on {backend}"
            return f"the step loop is faster here ({where})"
        if reason is not None and raise_if_forced and switch is True:
            raise ValueError(
                f"{type(self).__name__}: `{self.fused_switch}=True` needs a configuration "
                f"that the fused recurrence supports, but {reason} on the "
                f"{keras.backend.backend()} backend. Pass {self.fused_switch}='auto' to fall "
                f"back to the step loop. Received: {self.fused_switch}=True"
            )
        return reason

    def _input_dropout_once(self, sequences, training):
        """The cell's input dropout, one mask per sequence as in the step loop."""
        dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
        if training and dropout_mask is not None:
            sequences = sequences * keras.ops.expand_dims(dropout_mask, 1)
        return sequences
