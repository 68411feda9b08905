"""Figures quoted in README.md and docs/*.md are the renderings of committed results files."""

import doctest
import json
import statistics

import pytest

from benchmarks import render
from benchmarks.reproductions import ROWS
from benchmarks.suite import repeats

QUOTED = [
    pytest.param(page, name, start, end, id=f"{page.name}[{name}]")
    for page in render.pages()
    for name, start, end in render.blocks(page.read_text(), where=page.name)
]


def test_the_pages_quote_the_reproduction_tables():
    quoted = {(param.values[0].name, param.values[1]) for param in QUOTED}
    assert {("README.md", "adding"), ("reproductions.md", "reproductions")} <= quoted


@pytest.mark.parametrize("page,name,start,end", QUOTED)
def test_quoted_block_is_its_rendering(page, name, start, end):
    expected = render.rendered(name, where=page.name)
    assert page.read_text()[start:end] == expected, (
        f"{page.name}: the block `{name}` differs from its rendering of benchmarks/results; "
        "run `python benchmarks/render.py`"
    )


def test_render_module_examples():
    failures, attempted = doctest.testmod(render)
    assert attempted > 0 and failures == 0


def test_an_unknown_renderer_is_named():
    page = "<!-- results: nonesuch -->\n| 1 |\n<!-- /results -->\n"
    with pytest.raises(ValueError, match="`<!-- results: nonesuch -->` names no renderer"):
        render.rewrite(page, where="demo.md")


@pytest.mark.parametrize(
    "page",
    [
        "<!-- results: demo -->\n| 1 |\n",
        "<!-- results: demo -->\n<!-- results: demo -->\n<!-- /results -->\n",
        "| 1 |\n<!-- /results -->\n",
    ],
    ids=["unclosed", "nested", "unopened"],
)
def test_unbalanced_markers_are_errors(page):
    with pytest.raises(ValueError, match="demo.md: "):
        render.blocks(page, where="demo.md")


def _write_results(tmp_path, **entries):
    (tmp_path / "reproductions.json").write_text(json.dumps(entries))
    return tmp_path


def _entry(figures_by_seed, smoke=False):
    return {
        "command": "python examples/temporal_xor.py --seed S",
        "argv": [],
        "smoke": smoke,
        "settings": {},
        "runs": [
            {"seed": seed, "figures": figures, "seconds": 60.0 + seed}
            for seed, figures in enumerate(figures_by_seed)
        ],
        "stamp": {
            "commit": "abc1234",
            "uncommitted_changes": False,
            "date": "2026-12-01 10:00 UTC",
            "machine": "x86_64, 2 cores, x86_64",
            "python": "3.12.0",
            "keras": "3.0.0",
            "backend": "tensorflow",
            "numpy": "2.0.0",
        },
    }


def test_reproductions_table_quotes_mean_and_sd_of_the_seeds(tmp_path):
    keys = [figure.key for figure in ROWS["xor"].figures]
    per_seed = [{key: value + offset for key in keys} for offset, value in enumerate((0.1, 0.2))]
    table = render.render_reproductions(_write_results(tmp_path, xor=_entry(per_seed)))
    xor_bits = [seed[keys[0]] for seed in per_seed]
    expected = f"{statistics.fmean(xor_bits):.3f} ± {statistics.stdev(xor_bits):.3f}"
    row = next(line for line in table.splitlines() if line.startswith(f"| {ROWS['xor'].title}"))
    assert f"{expected} ({xor_bits[0]:.3f}, {xor_bits[1]:.3f})" in row
    assert "2 seeds: 0, 1" in row and "60 ± 1 s" in row
    # A row without results says so, rather than quoting anything.
    jordan = next(line for line in table.splitlines() if ROWS["jordan"].title in line)
    assert "not measured yet" in jordan
    assert "commit abc1234" in table


def test_smoke_runs_are_never_quoted(tmp_path):
    keys = [figure.key for figure in ROWS["xor"].figures]
    results = _write_results(tmp_path, xor=_entry([dict.fromkeys(keys, 0.5)], smoke=True))
    with pytest.raises(ValueError, match="row 'xor' holds a --smoke run"):
        render.render_reproductions(results)


def _runs(comparisons):
    """Whole runs as the workers report them, from (ours, alternative, ratios, target)."""
    count = max(len(ratios) for _, rows in comparisons.items() for *_, ratios, _ in rows)
    return [
        {
            backend: {
                "comparisons": [
                    {
                        "ours": ours,
                        "alternative": alternative,
                        "phase": ours.split("/")[1],
                        "size_label": ours.split("/")[2],
                        "ratio": ratios[run],
                        "target": target,
                    }
                    for ours, alternative, ratios, target in rows
                    if run < len(ratios)
                ]
            }
            for backend, rows in comparisons.items()
        }
        for run in range(count)
    ]


def test_speed_table_quotes_each_targeted_ratio_over_the_runs(tmp_path):
    ratios = repeats.summarize(
        _runs(
            {
                "tensorflow": [
                    ("ElmanRNN/train/S1", "SimpleRNN/train/S1", [0.7, 0.75, 0.9], 0.8),
                    ("ElmanRNN/train/S2", "SimpleRNN/train/S2", [0.85, 0.81, 0.95], 0.8),
                    ("ElmanRNN/predict/S1", "SimpleRNN/predict/S1", [0.5, 0.6, 0.7], None),
                ],
                "jax": [("TDNN[dilated]/train/S1", "Conv1D[dilated]/train/S1", [1.0, 1.1], 1.0)],
            }
        )
    )
    results = {
        "meta": {"date": "2026-12-01T10:00:00", "cpus": 2, "argv": ["--runs", "3", "--out", "x"]},
        "repeated": {"runs": 3, "ratios": ratios},
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    lines = render.render_speed(tmp_path).splitlines()
    assert lines[0] == "| backend | ours / alternative | phase | target | S1 | S2 |"
    assert (
        lines[2]
        == "| TF | ElmanRNN / SimpleRNN | train | ≤ 0.8 | 0.75 (0.70–0.90) | **0.85** (0.81–0.95) |"
    )
    assert (
        lines[3]
        == "| JAX | TDNN[dilated] / Conv1D[dilated] | train | ≤ 1 | **1.05** (1.00–1.10) | – |"
    )
    assert len(lines) == 6  # no row for the untargeted ratio; a blank line, the footnote
    assert "over 3 whole runs" in lines[-1] and "--out" not in lines[-1]


def test_speed_table_needs_repeated_runs(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"meta": {}, "runs": []}))
    with pytest.raises(ValueError, match="--runs 3"):
        render.render_speed(tmp_path)
