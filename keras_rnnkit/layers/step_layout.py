"""What a layer's loop hands each step beyond its inputs, packed and unpacked in one place.

Keras's loop carries one tensor per step, the input, and reverses it with
`go_backwards`; everything else a step needs travels as channels of it:

    [x_t | target_t, use_own_t | probe_t | zoneout_t | keep_t | cut_t]

the teacher-forced target and where to use the own output instead (JordanRNN);
the gradient-flow monitor's probe (zeros added to the state); zoneout's 0/1 draws
per state unit; the 0/1 mask; 1 where truncated BPTT cuts.
"""

from typing import NamedTuple

import keras

MASK_RULES = (None, "previous", "zeros")


class StepInputs(NamedTuple):
    """One step's input, unpacked: the features, then each control (None where absent)."""

    features: object
    target: object = None
    use_own: object = None
    probe: object = None
    zoneout: object = None
    keep: object = None
    cut: object = None


class StepLayout(NamedTuple):
    """Which channels follow the features of each step's input, in `pack`'s order.

    `teacher`: the target's size (0: no teacher forcing). `probe` and
    `zoneout`: the number of state units (0: absent). `mask`: None,
    "previous" or "zeros" (`zero_output_for_mask`). `truncate`: whether the
    cut channel is there.
    """

    teacher: int = 0
    probe: int = 0
    zoneout: int = 0
    mask: str | None = None
    truncate: bool = False

    @property
    def empty(self):
        return self == StepLayout()

    def pack(
        self, sequences, *, target=None, use_own=None, probe=None, zoneout=None, keep=None, cut=None
    ):
        """(B, T, D) inputs and (B, T, .) controls, in this layout's order, as one tensor."""
        given = {
            "target": (target, self.teacher),
            "use_own": (use_own, 1 if self.teacher else 0),
            "probe": (probe, self.probe),
            "zoneout": (zoneout, self.zoneout),
            "keep": (keep, 1 if self.mask else 0),
            "cut": (cut, 1 if self.truncate else 0),
        }
        channels = [sequences]
        for name, (value, size) in given.items():
            if (value is None) != (size == 0):
                raise ValueError(f"StepLayout.pack: `{name}` does not match the layout {self}")
            if value is not None:
                channels.append(keras.ops.cast(value, sequences.dtype))
        return keras.ops.concatenate(channels, axis=-1) if len(channels) > 1 else sequences

    def unpack(self, step_input):
        """A (B, width) step input as `StepInputs`: the reverse of `pack`, from the end."""
        end = step_input.shape[-1]
        values = {}
        for name, size in (
            ("cut", 1 if self.truncate else 0),
            ("keep", 1 if self.mask else 0),
            ("zoneout", self.zoneout),
            ("probe", self.probe),
            ("use_own", 1 if self.teacher else 0),
            ("target", self.teacher),
        ):
            if size:
                values[name] = step_input[:, end - size : end]
                end -= size
        return StepInputs(features=step_input[:, :end], **values)
