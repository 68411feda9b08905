"""Two repeated benchmark runs side by side: did a change make any ratio worse?

`python benchmarks/compare.py BEFORE AFTER` reads the `results.json` of two
`benchmarks/run.py --runs N` folders (N >= 2) and prints one markdown row per
comparison found in both: each ratio's median and range over the runs, before and
after, and a verdict. A median that moved by less than the larger of the two
ranges' half-widths is "within noise"; otherwise "faster" or "slower" (a lower
ratio is faster). Run-to-run noise on a 2-core machine is about ±0.2 on a ratio
(see repeats.py), which is why the ranges, not single runs, decide.
"""

import argparse
import json
import pathlib


def _rows(data, source):
    repeated = data.get("repeated")
    if not repeated:
        raise ValueError(f"{source} holds a single run: compare folders of `--runs 2` or more")
    return {
        (backend, row["ours"], row["alternative"], row["size_label"], row["phase"]): row
        for backend, rows in repeated["ratios"].items()
        for row in rows
    }


def verdict(before, after):
    """'within noise', 'faster' or 'slower' for two summaries (median, min, max)."""
    noise = max(before["max"] - before["min"], after["max"] - after["min"]) / 2
    change = after["median"] - before["median"]
    if abs(change) <= noise:
        return "within noise"
    return "slower" if change > 0 else "faster"


def _spread(row):
    return f"{row['median']:.2f} ({row['min']:.2f}–{row['max']:.2f})"


def compare(before, after):
    """Markdown lines comparing two `results.json` dicts (each with repeated runs)."""
    old, new = _rows(before, "BEFORE"), _rows(after, "AFTER")
    lines = [
        "| backend | ours | alternative | size | phase | before: median (range) "
        "| after: median (range) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in [k for k in old if k in new]:
        a, b = old[key], new[key]
        cells = [*key, _spread(a), _spread(b), verdict(a, b)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None, prog="benchmarks/compare.py"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=pathlib.Path, help="a `--runs N` output folder")
    parser.add_argument("after", type=pathlib.Path, help="another, after the change")
    args = parser.parse_args(argv)
    try:
        data = [
            json.loads((folder / "results.json").read_text())
            for folder in (args.before, args.after)
        ]
        print("\n".join(compare(*data)))
    except (OSError, ValueError) as error:
        print(f"{prog}: error: {error}")
        return 1
    return 0
