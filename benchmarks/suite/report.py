"""The benchmark's outputs: results.json, results.md and time_vs_length.png."""

import json


def _ms(record):
    return f"{record['median_ms']:.3g} ({record['iqr_ms']:.2g})"


def _target(comparison):
    if comparison["target"] is None:
        return "–"
    verdict = "met" if comparison["met"] else "**missed**"
    return f"≤ {comparison['target']:g}: {verdict}"


def markdown(data):
    """A Markdown page: the comparisons per backend, then every record."""
    meta = data["meta"]
    lines = [
        "# keras_rnnkit benchmark",
        "",
        f"{meta['date']}, {meta['cpus']} CPUs. Times in ms: median (IQR) of "
        "the repetitions after warm-up; train = one step of `model.fit`, predict = "
        "`predict_on_batch`, step = one streaming step. Ratio = ours / alternative "
        "(below 1: ours is faster).",
        "",
    ]
    if data.get("repeated"):
        lines += _repeated(data["repeated"])
    if meta["settings"].get("smoke"):
        lines += [
            "**Smoke run** (tiny sizes, 3 repetitions): it checks that all runs; "
            "its times mean nothing.",
            "",
        ]
    for backend, result in data["backends"].items():
        info = result["meta"]
        device = info["device"] + (f" ({info['device_name']})" if info.get("device_name") else "")
        records = {r["id"]: r for r in result["records"]}
        lines += [
            f"## {backend}",
            "",
            f"{info['framework']}, keras {info['keras']}, {device}, {info['threads']} threads.",
            "",
            "| ours | alternative | size | phase | ours ms | alternative ms | ratio | target |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in result["comparisons"]:
            a, b = records[c["ours"]], records[c["alternative"]]
            lines.append(
                f"| {_name(a)} | {_name(b)} | {c['size_label']} | {c['phase']} | {_ms(a)} | "
                f"{_ms(b)} | {c['ratio']:.2f} | {_target(c)} |"
            )
        lines += [
            "",
            "| model | size | phase | ms | GFLOP/s | of matmul rate | peak RSS MB (+case) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in result["records"]:
            gflops = "–" if r["gflops"] is None else f"{r['gflops']:.2f}"
            share = r["fraction_of_matmul_rate"]
            share = "–" if share is None else f"{100 * share:.0f}%"
            memory = r["memory"]
            increase = memory.get("increase_mb")
            peak = f"{memory['peak_rss_mb']:.0f}" + (
                "" if increase is None else f" ({increase:+.0f})"
            )
            if "device_peak_mb" in memory:
                peak += f"; device {memory['device_peak_mb']:.0f}"
            lines.append(
                f"| {_name(r)} | {r['size_label']} | {r['phase']} | {_ms(r)} | {gflops} | "
                f"{share} | {peak} |"
            )
        rates = ", ".join(f"{k}: {v:.1f}" for k, v in result["matmul_gflops"].items())
        lines += ["", f"Matrix-product rate at (B, H) x (H, H), GFLOP/s: {rates}.", ""]
    if data.get("cross_process"):
        lines += [
            "## ElmanRNN against PyTorch nn.RNN (timed by the torch process of the same run)",
            "",
            "| backend | ours | size | phase | ratio |",
            "|---|---|---|---|---|",
        ]
        for c in data["cross_process"]:
            lines.append(
                f"| {c['backend']} | {c['ours']} | {c['size_label']} | {c['phase']} | "
                f"{c['ratio']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def _repeated(repeated):
    """The headline table of a repeated run: each ratio's median and range over the runs."""
    lines = [
        f"## Ratios over {repeated['runs']} whole runs",
        "",
        "Median over the runs of ours / alternative, and its range (min–max); the "
        "target is judged on the median. The sections below are the first run's.",
        "",
        "| backend | ours | alternative | size | phase | median ratio | range | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, rows in repeated["ratios"].items():
        for row in rows:
            verdict = _target({"target": row["target"], "met": row["met"]})
            lines.append(
                f"| {backend} | {row['ours']} | {row['alternative']} | {row['size_label']} | "
                f"{row['phase']} | {row['median']:.2f} | {row['min']:.2f}–{row['max']:.2f} | "
                f"{verdict} |"
            )
    return [*lines, ""]


def _name(record):
    return record["model"] + (f" [{record['variant']}]" if record["variant"] else "")


def plot(folder, data):
    """time_vs_length.png: training-step time against T (the sweep); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    plotted = False
    for backend, result in data["backends"].items():
        for model, style in (("ElmanRNN", "-o"), ("SimpleRNN", "--s")):
            points = sorted(
                (r["size"]["T"], r["median_ms"])
                for r in result["records"]
                if r["model"] == model and r["variant"] == "sweep" and r["phase"] == "train"
            )
            if points:
                steps, ms = zip(*points)
                axis.plot(steps, ms, style, label=f"{model}, {backend}")
                plotted = True
    if not plotted:
        plt.close(figure)
        return False
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="sequence length T",
        ylabel="training step, ms (median)",
        title="Training-step time against sequence length (B=32, D=16, H=128)",
    )
    lengths = sorted(
        {
            r["size"]["T"]
            for b in data["backends"].values()
            for r in b["records"]
            if r["variant"] == "sweep"
        }
    )
    axis.set_xticks(lengths, [str(t) for t in lengths])
    axis.minorticks_off()
    axis.legend(fontsize=8)
    figure.savefig(folder / "time_vs_length.png", dpi=100)
    plt.close(figure)
    return True


def write(folder, data):
    """Writes results.json, results.md and (with matplotlib) time_vs_length.png."""
    (folder / "results.json").write_text(json.dumps(data, indent=1))
    (folder / "results.md").write_text(markdown(data))
    if not plot(folder, data):
        print(
            "(time_vs_length.png skipped: no sweep was run, or matplotlib is missing; "
            "pip install 'keras-rnnkit[plot]')"
        )
