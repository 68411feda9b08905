"""Rewrites the tables that quote measured figures in README.md and docs/*.md from results files.

A quoted table sits between two markers in a page:

    <!-- results: NAME -->
    (the rendered text)
    <!-- /results -->

and its text is `RENDERERS[NAME](results_dir)`: a function of the JSON files
in benchmarks/results that returns Markdown. No figure between the markers is
typed by hand; `tests/test_quoted_figures.py` fails when a block differs from
its rendering or names no renderer. To quote a new table, write its renderer
here, register it in `RENDERERS`, put the markers in the page and run this.

Run: `python benchmarks/render.py` rewrites every marked block; `--check`
only lists the stale ones (exit status 1 if any).
"""

import argparse
import json
import pathlib
import re
import statistics
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # from a checkout, without `pip install`

from benchmarks.reproductions import ROWS  # noqa: E402

RESULTS = HERE / "results"
START = re.compile(r"<!-- results: (?P<name>\S+) -->\n")
END = "<!-- /results -->"


# Numbers.


def mean_sd(values, digits=3):
    """`mean ± sd` of `values` (the sample standard deviation), or the value alone if one.

    Example:

    >>> mean_sd([0.1, 0.2, 0.3], digits=2)
    '0.20 ± 0.10'
    >>> mean_sd([0.25])
    '0.250'
    """
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def duration(seconds):
    """Mean ± sd of wall times, in seconds under two minutes, else minutes.

    Example:

    >>> duration([50.0, 70.0]), duration([300.0, 420.0])
    ('60 ± 14 s', '6.0 ± 1.4 min')
    """
    if statistics.fmean(seconds) < 120:
        return mean_sd(seconds, digits=0) + " s"
    return mean_sd([s / 60 for s in seconds], digits=1) + " min"


def _span(values):
    low, high = min(values), max(values)
    return f"{low:.1e}" if low == high else f"{low:.1e} – {high:.1e}"


def _seeds(runs):
    seeds = ", ".join(str(run["seed"]) for run in runs)
    return f"{len(runs)} seed{'s' if len(runs) > 1 else ''}: {seeds}"


def _with_seeds(values, digits=3):
    """Mean ± sd, then each seed's value: a mean alone hides a seed that failed."""
    if len(values) == 1:
        return mean_sd(values, digits)
    return f"{mean_sd(values, digits)} ({', '.join(f'{v:.{digits}f}' for v in values)})"


# Results files.


def load(results_dir, name):
    """The results file `name` of `results_dir`, parsed; says how to make it if missing."""
    path = pathlib.Path(results_dir) / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run the benchmark that writes it "
            f"(e.g. `python benchmarks/reproductions.py` for reproductions.json)"
        )
    return json.loads(path.read_text())


def _entry(results, name, file_name):
    entry = results.get(name)
    if entry is not None and entry.get("smoke"):
        raise ValueError(f"{file_name}: row '{name}' holds a --smoke run; it is not quoted")
    return entry


def _values(entry, key):
    return [run["figures"][key] for run in entry["runs"]]


def _stamps(entries):
    """One line per distinct (commit, machine, software) the entries were measured with."""
    groups = {}
    for name, entry in entries.items():
        s = entry["stamp"]
        dirty = ", uncommitted changes" if s.get("uncommitted_changes") else ""
        where = (
            f"commit {s['commit']}{dirty}, {s['machine']}, Keras {s['keras']} on "
            f"{s['backend']}, Python {s['python']}"
        )
        groups.setdefault(where, []).append((name, s["date"]))
    return [
        f"Measured at {where}; {', '.join(n for n, _ in rows)} on "
        + " to ".join(sorted({min(d for _, d in rows), max(d for _, d in rows)}))
        + "."
        for where, rows in groups.items()
    ]


# Renderers: results_dir -> Markdown.


def render_reproductions(results_dir):
    """docs/reproductions.md: one row per `benchmarks.reproductions.ROWS` entry."""
    results = load(results_dir, "reproductions.json")
    lines = [
        "| result | published | ours: mean ± sd over seeds (each seed) "
        "| command; wall time per seed | where ours falls short, and why |",
        "|---|---|---|---|---|",
    ]
    measured = {}
    for name, row in ROWS.items():
        entry = _entry(results, name, "reproductions.json") if row.example else None
        if entry is None:
            ours = "not measured yet"
            command = f"`python benchmarks/reproductions.py --only {name}`" if row.example else "–"
        else:
            measured[name] = entry
            ours = "; ".join(
                f"{figure.label} {_with_seeds(_values(entry, figure.key), figure.digits)}"
                for figure in row.figures
            )
            ours += f" [{_seeds(entry['runs'])}]"
            wall = duration([run["seconds"] for run in entry["runs"]])
            command = f"`{entry['command']}`; {wall}"
        lines.append(f"| {row.title} | {row.published} | {ours} | {command} | {row.shortfall} |")
    demo = _sunspot_demo(results_dir)
    lines.append(_sunspot_row(demo))
    stamps = _stamps(measured)
    if demo is not None:
        stamps.append(f"Sunspots: {_stamp_line(demo['stamp'])}.")
    return "\n".join([*lines, "", *stamps])


def render_adding(results_dir):
    """README's adding-problem table (section "Training through time"), from reproductions.json."""
    results = load(results_dir, "reproductions.json")
    entry = _entry(results, "adding", "reproductions.json")
    if entry is None:
        raise ValueError(
            "reproductions.json has no 'adding' row: run "
            "`python benchmarks/reproductions.py --only adding`"
        )
    settings = entry["settings"]
    header = (
        f"`{entry['command']}` (the adding problem, T = {settings['length']}, "
        f"{settings['train']:,} training sequences, {settings['units']} units, Adam "
        f"{settings['learning_rate']:g}, {settings['epochs']} epochs, batch "
        f"{settings['batch_size']}); mean ± sd over {_seeds(entry['runs'])} (each seed's value "
        "in parentheses), and the state gradient after the last epoch, its range over the seeds:"
    )
    lines = [
        header,
        "",
        "| model | test MSE | training time | ‖∂L/∂h_t‖ at t = 1 | at t = T | over all t |",
        "|---|---|---|---|---|---|",
        "| always predict 1 (trivial) | 0.167 (= 1/6) | – | – | – | – |",
    ]
    models = {
        "tanh": "tanh `ElmanRNN`",
        "irnn": "IRNN: ReLU `ElmanRNN`, `IdentityRecurrent` kernel, `gradient_clip=1.0` (norm), "
        "`clipnorm=1.0`",
    }
    for kind, label in models.items():
        lowest = _values(entry, f"{kind}_smallest_gradient")
        highest = _values(entry, f"{kind}_largest_gradient")
        lines.append(
            f"| {label} | {_with_seeds(_values(entry, f'{kind}_test_mse'))} "
            f"| {duration(_values(entry, f'{kind}_seconds'))} "
            f"| {_span(_values(entry, f'{kind}_first_step_gradient'))} "
            f"| {_span(_values(entry, f'{kind}_last_step_gradient'))} "
            f"| {min(lowest):.1e} – {max(highest):.1e} |"
        )
    return "\n".join([*lines, "", *_stamps({"adding": entry})])


# The sunspot benchmark: `rnnkit demo` runs (sunspot_demo.json) and the
# choice of its settings (sunspot_selection.json).

PERIODS = ("1921-1955", "1956-1979")
# Written after the run of sunspot_demo.json; the figures it cites are in that row.
SUNSPOT_SHORTFALL = (
    "Not reached. On 1921–1955 every family is ahead of AR(12) (full-batch Adam, chosen on "
    "validation, moved Elman and NARX from 0.14 to 0.10); Jordan, the best (weight elimination, "
    "the penalty Weigend et al. used, and half its weights pruned by OBD), is level with "
    "threshold AR there (0.097) but not at 0.086. On 1956–1979 every family is behind AR(12), "
    "Jordan by the least: "
    "that period's largest cycle (190 in 1957) is far above anything in training (at most 154), "
    "and the level forecasters, chosen with strong penalties on validation years that hold no "
    "such level, fall short of its peaks. Soft weight-sharing and Bayesian regularisation "
    "validated worse than L2 and weight elimination; forecasting the residual of an AR(12) "
    "validated worst of all (0.19–0.20) though it does best on the test years (see the two "
    "tables below), so choices made on the training years do not take it."
)
SUNSPOT_PUBLISHED = (
    "ARV 0.086 (1921–1955) / 0.35 (1956–1979): a 12-8-1 network with weight elimination "
    "(Weigend, Huberman & Rumelhart 1990); threshold AR 0.097 / 0.28 (Tong & Lim 1980); "
    "Nowlan & Hinton (1992) 0.072 ± 0.002 on 1921–1955 (about 0.081 on this scale)"
)


def _stamp_line(stamp):
    dirty = ", uncommitted changes" if stamp.get("uncommitted_changes") else ""
    load = stamp.get("load_average_1min")
    busy = f" (load average {load:g} at the start)" if load is not None else ""
    return (
        f"measured at commit {stamp['commit']}{dirty}, {stamp['machine']}{busy}, Keras "
        f"{stamp['keras']} on {stamp['backend']}, Python {stamp['python']}, {stamp['date']}"
    )


def _sunspot_demo(results_dir):
    path = pathlib.Path(results_dir) / "sunspot_demo.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("smoke"):
        raise ValueError("sunspot_demo.json holds a --smoke run; it is not quoted")
    return record


def _sunspot_row(record):
    title = "Weigend, Huberman & Rumelhart (1990): yearly sunspots, one year ahead"
    if record is None:
        return (
            f"| {title} | {SUNSPOT_PUBLISHED} | not measured yet "
            "| `python benchmarks/sunspot_demo.py --seeds 0 1 2` | – |"
        )
    runs = [record["runs"][seed] for seed in sorted(record["runs"], key=int)]
    seeds = ", ".join(sorted(record["runs"], key=int))
    families = runs[0]["metrics"]["models"]
    ours = []
    for family in families:
        cells = [
            _with_seeds([run["metrics"]["models"][family]["arv"][p] for run in runs])
            for p in PERIODS
        ]
        ours.append(f"{family} (average of its members) {cells[0]} / {cells[1]}")
    baseline = runs[0]["metrics"]["baselines"]["AR(12)"]
    ours.append(f"AR(12) {baseline[PERIODS[0]]:.3f} / {baseline[PERIODS[1]]:.3f}")
    command = f"`rnnkit demo --seed S`; {duration([run['wall_s'] for run in runs])}"
    return (
        f"| {title} | {SUNSPOT_PUBLISHED} | ARV 1921–1955 / 1956–1979: {'; '.join(ours)} "
        f"[{len(runs)} seeds: {seeds}] | {command} | {SUNSPOT_SHORTFALL} |"
    )


def render_sunspot_demo(results_dir):
    """README's sunspot table: `rnnkit demo` (seed 0) from sunspot_demo.json."""
    record = load(results_dir, "sunspot_demo.json")
    if record.get("smoke"):
        raise ValueError("sunspot_demo.json holds a --smoke run; it is not quoted")
    run = record["runs"]["0"]
    metrics = run["metrics"]
    lines = [
        f"`{run['command']}`: {run['wall_s']:.0f} s in all on the machine below (the command, "
        "training and scoring). Test ARV = MSE / variance of 1700–1979; lower is better.",
        "",
        "| model | parameters | training time | ARV 1921–1955 | ARV 1956–1979 |",
        "|---|---|---|---|---|",
    ]
    parameters = {"AR(12)": 13, "AR(9)": 10, "persistence": 0}
    for name, scores in metrics["baselines"].items():
        label = f"{name}, least squares" if name.startswith("AR") else f"{name} (last year)"
        cells = " | ".join(f"{scores[p]:.3f}" for p in PERIODS)
        lines.append(f"| {label} | {parameters[name]} | – | {cells} |")
    for family, model in metrics["models"].items():
        settings = model["settings"]
        members = settings["members"]
        cells = " | ".join(f"{model['arv'][p]:.3f}" for p in PERIODS)
        counts = model["parameters_per_member"]
        counts = counts if isinstance(counts, list) else [counts]
        count = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
        lines.append(
            f"| {family}: average of {members} members | {members} × "
            f"{count} | {model['seconds']:.0f} s | {cells} |"
        )
        spread = " | ".join(
            f"{model['members_mean_sd'][p]['mean']:.3f} ± {model['members_mean_sd'][p]['sd']:.3f}"
            for p in PERIODS
        )
        lines.append(f"| {family}: one member, mean ± sd over the {members} | | | {spread} |")
    line = _stamp_line(record["stamp"])
    lines += ["", line[0].upper() + line[1:] + "."]
    return "\n".join(lines)


def render_sunspot_selection(results_dir):
    """docs/reproductions.md's ablation: each candidate's rolling-origin validation ARV."""
    results = load(results_dir, "sunspot_selection.json")
    lines = [
        "| family | weight penalty | forecasts | training (Adam) | units | validation ARV, "
        "average of 5 members | one member (mean of 5) |",
        "|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(
        results.items(), key=lambda item: (item[1]["family"], item[1]["validation_arv_average"])
    )
    for name, entry in ordered:
        s = entry["settings"]
        if s is None:  # a linear baseline, on the same folds
            score = f"{entry['validation_arv_average']:.3f}"
            label = f"{name}, least squares" if name.startswith("AR") else f"{name} (last year)"
            lines.append(f"| {label} | – | – | – | – | {score} | – |")
            continue
        # Entries from before these options existed ran with their defaults.
        penalty = {
            "l2": "L2",
            "elimination": "weight elimination",
            "soft_sharing": "soft weight-sharing",
            "bayesian": "Bayesian (evidence)",
        }[s.get("weight_penalty", "l2")]
        forecasts = "change" if s["predict_change"] else "level"
        if s.get("linear_skip"):
            forecasts += " + linear AR(12) term"
        if s.get("ar_order"):
            forecasts = f"residual of AR({s['ar_order']})"
        strength = f"{penalty} {s['weight_decay']:g}" if s["weight_decay"] else "none"
        if s.get("weight_penalty") == "bayesian":
            strength = penalty
        if s.get("prune"):
            strength += f", {s['prune']:.0%} pruned (OBD)"
        if s.get("batch_size", 32) is None:
            training = f"{s['epochs']} full-batch steps"
        else:
            training = f"{s['epochs']} epochs, batches of {s.get('batch_size', 32)}"
        lines.append(
            f"| {entry['family']} | {strength} | "
            f"{forecasts} | {training} | {s['units']} | "
            f"{entry['validation_arv_average']:.3f} | {entry['validation_arv_members']:.3f} |"
        )
    commits = sorted({e["stamp"]["commit"] for e in results.values()})
    machines = sorted({e["stamp"]["machine"] for e in results.values()})
    dates = sorted(e["stamp"]["date"] for e in results.values())
    return "\n".join(
        [
            *lines,
            "",
            f"Measured at commits {', '.join(commits)} (the candidates ran as the work went on; "
            f"the model code did not change between them), {'; '.join(machines)}, "
            f"{dates[0]} to {dates[-1]}.",
        ]
    )


# The figures each regulariser's paper published on the sunspots, with their normalisation.
SUNSPOT_REGULARISER_PUBLISHED = {
    "weight elimination": "0.086 / 0.35, 12-8-1 network (Weigend, Huberman & Rumelhart 1990); "
    "ARV on the whole series' variance, as ours",
    "soft weight-sharing": "0.072 ± 0.002 on 1921–1955 (Nowlan & Hinton 1992), on that "
    "period's own variance: about 0.081 on ours",
}


def _mean_sd(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.3f} ± {sd:.3f}"


def render_sunspot_regularisers(results_dir):
    """docs/reproductions.md: each regulariser's best validated forecaster on the test years."""
    results = load(results_dir, "sunspot_regularisers.json")
    lines = [
        "| regulariser | chosen on the training years (validation ARV) | published, "
        "1921–1955 / 1956–1979 | ours: ARV 1921–1955 / 1956–1979, average of 5 members, "
        "mean ± sd over seeds | weights per member |",
        "|---|---|---|---|---|",
    ]
    for name, entry in results.items():
        runs = list(entry["runs"].values())
        scores = " / ".join(_mean_sd([run["arv"][p] for run in runs]) for p in PERIODS)
        counts = [c for run in runs for c in run["parameters_per_member"]]
        count = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
        lines.append(
            f"| {name} | {entry['candidate']} ({entry['validation_arv_average']:.3f}) | "
            f"{SUNSPOT_REGULARISER_PUBLISHED.get(name, 'none quoted here')} | {scores} "
            f"[{len(runs)} seed{'s' if len(runs) > 1 else ''}: {', '.join(entry['runs'])}] "
            f"| {count} |"
        )
    line = _stamp_line(next(iter(results.values()))["stamp"])
    return "\n".join([*lines, "", line[0].upper() + line[1:] + "."])


def _comparison_name(record_id):
    """`ElmanRNN[jit]` of `ElmanRNN[jit]/train/B64_T100_D32_H128`."""
    return record_id.split("/")[0]


_BACKEND_NAMES = {"tensorflow": "TF", "jax": "JAX", "torch": "torch"}


def render_speed(results_dir):
    """README's and docs/benchmarks.md's speed table: every ratio with a target, over the runs.

    From results.json written by `benchmarks/run.py --runs N` (N >= 2): one row
    per comparison and phase, one column per size, each cell the median ratio
    ours / alternative over the runs and its range; **bold** where the median
    misses the target.
    """
    results = load(results_dir, "results.json")
    repeated = results.get("repeated")
    if not repeated:
        raise ValueError(
            "results.json holds one run: the speed table needs `benchmarks/run.py --runs 3`"
        )
    rows, sizes = {}, []
    for backend, summaries in repeated["ratios"].items():
        for summary in summaries:
            if summary.get("target") is None:
                continue
            size = summary["size_label"]
            if size not in sizes:
                sizes.append(size)
            ours, alternative = (_comparison_name(summary[k]) for k in ("ours", "alternative"))
            key = (_BACKEND_NAMES.get(backend, backend), ours, alternative, summary["phase"])
            rows.setdefault(key, {"target": summary["target"], "cells": {}})
            median = f"{summary['median']:.2f}"
            cell = median if summary["met"] else f"**{median}**"
            rows[key]["cells"][size] = f"{cell} ({summary['min']:.2f}–{summary['max']:.2f})"
    header = "| backend | ours / alternative | phase | target | " + " | ".join(
        size.replace("_", " ") for size in sizes
    )
    lines = [header + " |", "|---|---|---|---|" + "---|" * len(sizes)]
    for (backend, ours, alternative, phase), row in rows.items():
        cells = [row["cells"].get(size, "–") for size in sizes]
        lines.append(
            f"| {backend} | {ours} / {alternative} | {phase} | ≤ {row['target']:g} | "
            + " | ".join(cells)
            + " |"
        )
    meta = results["meta"]
    argv = list(meta["argv"])
    if "--out" in argv:  # where this machine put it: no part of the measurement
        del argv[argv.index("--out") : argv.index("--out") + 2]
    lines += [
        "",
        f"Median ratio ours / alternative over {repeated['runs']} whole runs (range in "
        f"brackets; below 1: ours is faster); **bold**: the median misses the target. "
        f"Measured {meta['date'][:16].replace('T', ' ')} UTC, {meta['cpus']} CPUs "
        f"(`python benchmarks/run.py {' '.join(argv)}`).",
    ]
    return "\n".join(lines)


RENDERERS = {
    "reproductions": render_reproductions,
    "adding": render_adding,
    "sunspot-demo": render_sunspot_demo,
    "sunspot-selection": render_sunspot_selection,
    "sunspot-regularisers": render_sunspot_regularisers,
    "speed": render_speed,
}


# Pages.


def pages(root=ROOT):
    """The pages that may quote figures: README.md and docs/*.md."""
    root = pathlib.Path(root)
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(text, where="page"):
    """The marked blocks of `text`: a list of `(name, start, end)`, the body being text[start:end].

    Example:

    >>> blocks("a\\n<!-- results: demo -->\\nold\\n<!-- /results -->\\n")
    [('demo', 25, 29)]
    """
    found = []
    for match in START.finditer(text):
        end = text.find(END, match.end())
        following = START.search(text, match.end())
        if end < 0 or (following is not None and following.start() < end):
            raise ValueError(f"{where}: `<!-- results: {match['name']} -->` has no `{END}`")
        found.append((match["name"], match.end(), end))
    if text.count(END) != len(found):
        raise ValueError(f"{where}: a `{END}` closes no `<!-- results: NAME -->`")
    return found


def rendered(name, results_dir=RESULTS, renderers=None, where="page"):
    """The text the block named `name` holds: its renderer's Markdown, one newline after it."""
    renderers = RENDERERS if renderers is None else renderers
    if name not in renderers:
        raise ValueError(
            f"{where}: `<!-- results: {name} -->` names no renderer of benchmarks/render.py. "
            f"Registered: {', '.join(sorted(renderers))}"
        )
    return renderers[name](results_dir).rstrip("\n") + "\n"


def rewrite(text, results_dir=RESULTS, renderers=None, where="page"):
    """`text` with every marked block replaced by its rendering.

    Example:

    >>> page = "Intro\\n<!-- results: demo -->\\nold\\n<!-- /results -->\\nMore\\n"
    >>> print(rewrite(page, renderers={"demo": lambda results_dir: "| a |\\n|---|"}), end="")
    Intro
    <!-- results: demo -->
    | a |
    |---|
    <!-- /results -->
    More
    """
    pieces, done = [], 0
    for name, start, end in blocks(text, where):
        pieces += [text[done:start], rendered(name, results_dir, renderers, where)]
        done = end
    return "".join([*pieces, text[done:]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list stale blocks, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text()
        new = rewrite(text, where=str(page.relative_to(ROOT)))
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new)
    verb = "stale" if args.check else "rewrote"
    print(f"{verb}: {', '.join(map(str, stale))}" if stale else "every quoted block is current")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
