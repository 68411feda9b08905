"""What the built-in tasks and families are: names and one-line descriptions, with no framework.

The `rnnkit` command line lists these in its help without importing keras (which would import
a backend); `keras_rnnkit.data.TASKS` and `keras_rnnkit.models.FAMILIES` are these same objects.
"""

import dataclasses

# The model families, in the order the demo and the help list them.
FAMILIES = ("elman", "jordan", "tdnn")
# Those with a recurrent state, whose gradient can be followed back through time.
RECURRENT_FAMILIES = ("elman", "jordan")


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What a built-in task is, for a model builder.

    Attributes:
        description: One line: the task, its source and what `window` means.
        problem: `"regression"` (MSE), `"classification"` (integer labels,
            softmax) or `"binary"` (0/1 targets, sigmoid).
        sequence_output: Whether targets have a time axis (many-to-many).
        default_window: The sequence length used when none is given, or
            `None` where the length is fixed by the data.
    """

    description: str
    problem: str
    sequence_output: bool
    default_window: int | None


TASKS = {
    "sunspots": TaskInfo(
        "yearly sunspots, `window` years -> the next year; train to 1900, validate "
        "1901-1920, test 1921-1955",
        "regression",
        False,
        12,
    ),
    "adding": TaskInfo(
        "the adding problem (Hochreiter & Schmidhuber 1997), sequences of `window` steps",
        "regression",
        False,
        50,
    ),
    "digits": TaskInfo(
        "scikit-learn's 8x8 digits read row by row (8 steps of 8 pixels) -> the digit",
        "classification",
        False,
        None,
    ),
    "shifted": TaskInfo(
        "time-shifted patterns (Waibel et al. 1989), `window` frames -> one of 3 classes",
        "classification",
        False,
        40,
    ),
    "xor": TaskInfo(
        "Elman's temporal XOR (1990): predict the next bit of `window` bits (a multiple of 3)",
        "binary",
        True,
        30,
    ),
    "copy": TaskInfo(
        "copy task: `window` symbols, a delay of `window` steps, then reproduce them",
        "classification",
        True,
        5,
    ),
    "plans": TaskInfo(
        "Jordan's sequence production (1986): 4 plans -> their `window`-step bit sequences",
        "binary",
        True,
        8,
    ),
}
