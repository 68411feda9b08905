"""The step of keras_rnnkit's loop: what it does around any cell's `step`, written once.

For a cell of the recurrence protocol (`protocol.py`), one step of the loop is

    states  <- stop_gradient(states)            where truncated BPTT cuts (Williams & Peng)
    states  <- clip_gradient(states)            per-step gradient clipping (identity forward)
    y, new  =  cell.step(x_t, states)           the cell's math
    new     <- zoneout(new, states)             Krueger et al. 2016
    new     <- new + probe_t                    the gradient-flow monitor's probe (zeros)
    new, y  <- Keras's masking rule             `engine.masked`

`run_step` is that step. The layer (`base.RecurrentLayer`) runs it through Keras's loop,
which hands each step its slice of the features x_t and of the controls it uses.
"""

import itertools
from typing import NamedTuple

import keras

from keras_rnnkit.backend import engine
from keras_rnnkit.layers import protocol
from keras_rnnkit.layers.clipping import clip_gradient


class StepControls(NamedTuple):
    """The per-step options of one layer: the gradient clip into the states (None or
    c > 0, "value" or "norm") and zoneout's probability that a unit keeps its value."""

    gradient_clip: float | None = None
    gradient_clip_mode: str = "value"
    zoneout: float = 0.0


def controls_of(owner):
    """The `StepControls` that `owner` (a cell or a layer) declares, by attribute."""
    defaults = StepControls._field_defaults
    return StepControls(**{name: getattr(owner, name, d) for name, d in defaults.items()})


def per_state(values, states):
    """Splits `values` (B, sum of the state sizes) into one slice per state."""
    sizes = [int(state.shape[-1]) for state in states]
    return [values[:, end - size : end] for size, end in zip(sizes, itertools.accumulate(sizes))]


def _zoned_out(owner, rate, new_states, states, draws, training):
    """Zoneout: each unit keeps its previous value where its 0/1 draw (all states side by
    side) is 1 while training; at inference the expectation `rate old + (1 - rate) new`."""
    if draws is None:
        if training:
            raise ValueError(
                f"{owner}: zoneout draws its masks outside the step loop, which only "
                "keras_rnnkit's layers do (ElmanRNN, JordanRNN, Recurrent); a plain "
                "keras.layers.RNN cannot train with `zoneout` > 0."
            )
        return [rate * old + (1.0 - rate) * new for new, old in zip(new_states, states)]
    return [
        keep * old + (1.0 - keep) * new
        for new, old, keep in zip(new_states, states, per_state(draws, states))
    ]


def run_step(cell, controls, step_input, states, training=False, mask_rule=None):
    """One step of the loop around `cell.step`: `(output, new_states)`.

    `step_input`: x_t, or a dict of it (`"features"`) and the step's controls, (B, .)
    each: `target` and `use_own` (teacher forcing: 1 where the own output is fed back),
    `probe` and `zoneout` (0/1 draws; per state unit), `keep` (the 0/1 mask) and `cut`
    (1 where truncated BPTT cuts). With a `mask_rule` ("previous" or "zeros") the
    states end with the held output.
    """
    step = step_input if isinstance(step_input, dict) else {"features": step_input}
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    held = None
    if mask_rule:
        *states, held = states
    if "cut" in step:
        cut = step["cut"] > 0.5
        states = [keras.ops.where(cut, keras.ops.stop_gradient(s), s) for s in states]
    if controls.gradient_clip is not None:
        states = [
            clip_gradient(s, controls.gradient_clip, controls.gradient_clip_mode) for s in states
        ]
    teacher = {"teacher": (step["target"], step["use_own"])} if "target" in step else {}
    output, new_states = cell.step(step["features"], states, training=training, **teacher)
    new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
    if controls.zoneout:
        owner = type(cell).__name__
        draws = step.get("zoneout")
        new_states = _zoned_out(owner, controls.zoneout, new_states, states, draws, training)
    if "probe" in step:
        new_states = [s + p for s, p in zip(new_states, per_state(step["probe"], new_states))]
    if protocol.output_is_state(cell) and (controls.zoneout or "probe" in step):
        output = new_states[0]
    if not mask_rule:
        return output, new_states
    new_states, output = engine.masked(
        engine.KERAS_OPS, step["keep"], new_states, states, output, held, mask_rule == "zeros"
    )
    return output, [*new_states, output]
