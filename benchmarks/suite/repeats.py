"""Whole benchmark runs repeated: each ratio's median and range over the runs.

One run's ratio moves by about ±0.2 from run to run on a busy 2-core machine (a background
process, the CPU's clock); the median over several whole runs, each backend in a fresh
process every time, is steadier, and the range shows how far to trust it.
"""

import statistics


def _key(comparison):
    return (comparison["ours"], comparison["alternative"])


def summarize(runs):
    """`{backend: [summary, ...]}` from `runs`, a list of `{backend: result}`, one per run.

    Each summary names a comparison of the first run and holds its ratio in every run
    (`ratios`, in run order), their median, min and max, and whether the median meets
    the target. A comparison missing from some run is summarized over the runs that have it.
    """
    summaries = {}
    for backend, first in runs[0].items():
        rows = []
        for comparison in first["comparisons"]:
            ratios = [
                c["ratio"]
                for run in runs
                for c in run.get(backend, {}).get("comparisons", [])
                if _key(c) == _key(comparison)
            ]
            median = statistics.median(ratios)
            target = comparison["target"]
            rows.append(
                {
                    "ours": comparison["ours"],
                    "alternative": comparison["alternative"],
                    "phase": comparison["phase"],
                    "size_label": comparison["size_label"],
                    "target": target,
                    "ratios": ratios,
                    "median": median,
                    "min": min(ratios),
                    "max": max(ratios),
                    "met": None if target is None else median <= target,
                }
            )
        summaries[backend] = rows
    return summaries
