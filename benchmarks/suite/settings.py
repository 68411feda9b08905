"""What a benchmark run measures: the sizes, the groups of cases, the repetitions."""

import dataclasses
import re
from typing import NamedTuple


class Size(NamedTuple):
    """One problem size: B batch, T time steps, D input features, H units."""

    batch: int
    steps: int
    features: int
    units: int

    @property
    def label(self):
        return f"B{self.batch}_T{self.steps}_D{self.features}_H{self.units}"

    def as_dict(self):
        return {"B": self.batch, "T": self.steps, "D": self.features, "H": self.units}


# The two sizes of issue 4's measurements, and a long sequence (T = 2000) with
# a batch and width small enough that one training step takes well under a
# second on 2 CPU cores.
PRESETS = {
    "small": Size(64, 100, 32, 128),
    "medium": Size(32, 500, 16, 256),
    "long": Size(16, 2000, 16, 128),
    # Issue 4's GPU size (B=256, T=1000, H=512); D is not fixed there.
    "gpu": Size(256, 1000, 64, 512),
    "tiny": Size(4, 8, 3, 8),
}
DEFAULT_SIZES = ("small", "medium", "long")
# Time against sequence length: these T at a fixed B, D, H.
SWEEP_SIZE = Size(32, 0, 16, 128)
DEFAULT_LENGTHS = (50, 200, 1000)
GROUPS = ("elman", "jordan", "masked", "tdnn", "stream")
TDNN_CONTEXTS = ("contiguous", "dilated", "offsets")
BACKENDS = ("tensorflow", "jax", "torch")


def parse_size(text):
    """A preset name (`small`, `medium`, `long`, `gpu`, `tiny`) or `BxTxDxH`.

    >>> parse_size("32x500x16x256").label
    'B32_T500_D16_H256'
    """
    if text in PRESETS:
        return PRESETS[text]
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)x(\d+)", text)
    if not match or any(int(n) < 1 for n in match.groups()):
        raise ValueError(
            f"a size must be one of {sorted(PRESETS)} or BxTxDxH with positive integers, "
            f"e.g. 64x100x32x128. Received: {text!r}"
        )
    return Size(*(int(n) for n in match.groups()))


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything one backend's process needs to know (travels as JSON)."""

    sizes: tuple = tuple(PRESETS[name] for name in DEFAULT_SIZES)
    lengths: tuple = DEFAULT_LENGTHS
    groups: tuple = GROUPS
    warmup: int = 3
    # None: 20 repetitions, 10 from T = 1000 on (each such step is long, and
    # its spread small).
    repeats: int | None = None
    # The TDNNCell streaming latency is a short call: many more repetitions.
    stream_repeats: int = 200
    # Which TDNN contexts (benchmarks.suite.models.CONTEXTS) to time.
    contexts: tuple = TDNN_CONTEXTS
    # A smoke run checks that everything runs; its times mean nothing.
    smoke: bool = False

    def repeats_for(self, size):
        if self.repeats is not None:
            return self.repeats
        return 10 if size.steps >= 1000 else 20

    def to_json(self):
        data = dataclasses.asdict(self)
        data["sizes"] = [list(size) for size in self.sizes]
        data["lengths"] = list(self.lengths)
        data["groups"] = list(self.groups)
        data["contexts"] = list(self.contexts)
        return data

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["sizes"] = tuple(Size(*size) for size in data["sizes"])
        data["lengths"] = tuple(data["lengths"])
        data["groups"] = tuple(data["groups"])
        data["contexts"] = tuple(data["contexts"])
        return cls(**data)


# Every group and comparison once, at the least cost: each model costs a
# compilation, so only the dilated TDNN context (Conv1D and the gather
# implementation both express it).
SMOKE = Settings(
    sizes=(PRESETS["tiny"],),
    lengths=(4, 8),
    warmup=1,
    repeats=3,
    stream_repeats=3,
    contexts=("dilated",),
    smoke=True,
)
