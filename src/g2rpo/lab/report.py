"""The lab's figures (PNG, matplotlib's Agg backend) and a self-contained HTML page with inline images."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from g2rpo.io import write_bytes_atomic, write_text_atomic
from g2rpo.lab.simulator import RunRecord

FIGURES: tuple[str, ...] = ("learning_curves", "steps_to_90", "grad_share", "advantage_stats", "outlier_probe")
"""Figure names; each is written as ``<name>.png``."""


def _colors(names: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def plot_learning_curves(runs: dict[str, Sequence[RunRecord]], path: Path) -> Path:
    """Expected reward per task vs step: seed mean (line) and min–max band; dotted: the 90 % target."""
    names = list(runs)
    tasks = runs[names[0]][0].tasks
    colors = _colors(names)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for t, (ax, task) in enumerate(zip(axes[0], tasks, strict=True)):
        for name in names:
            curves = torch.stack([r.expected[:, t] for r in runs[name]])
            x = list(range(curves.shape[1]))
            ax.plot(x, curves.mean(0).tolist(), color=colors[name], label=name, lw=1.5)
            if curves.shape[0] > 1:
                ax.fill_between(x, curves.amin(0).tolist(), curves.amax(0).tolist(), color=colors[name],
                                alpha=0.15, lw=0)
        first = runs[names[0]][0]
        start, best = float(first.expected[0, t]), float(first.achievable[t])
        ax.axhline(start + 0.9 * (best - start), color="0.4", ls=":", lw=1)
        ax.set_title(task)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("expected reward")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_steps_to_90(summary: dict[str, dict], path: Path, steps: int) -> Path:
    """Heat map estimator × task of steps to 90 % (✗: some seed never got there within ``steps``)."""
    names = list(summary)
    tasks = list(summary[names[0]])
    values = [[summary[n][t]["steps_to_90"] for t in tasks] for n in names]
    grid = torch.tensor([[float("nan") if v is None else v for v in row] for row in values])
    fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 2, 0.5 * len(names) + 1.5))
    ax.imshow(grid.nan_to_num(steps * 1.1).tolist(), cmap="viridis_r", aspect="auto", vmin=0, vmax=steps * 1.1)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            reached = summary[names[i]][tasks[j]]["reached_90"]
            text = f"{v:.0f}" if v is not None else f"✗ ({reached:.0%})"
            ax.text(j, i, text, ha="center", va="center", color="white" if v is None or v > steps / 2 else "black")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(names)), names)
    ax.set_title("steps to 90 % of the achievable reward (lower is better)")
    return _save(fig, path)


def plot_grad_share(summary: dict[str, dict], path: Path) -> Path:
    """Stacked bars: each task's share of the shared-parameter gradient norm, per estimator."""
    names = list(summary)
    tasks = list(summary[names[0]])
    colors = _colors(tasks)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.5))
    left = [0.0] * len(names)
    for task in tasks:
        share = [summary[n][task]["grad_share"] or 0.0 for n in names]
        ax.barh(names, share, left=left, color=colors[task], label=task)
        for i, (lft, s) in enumerate(zip(left, share, strict=True)):
            if s > 0.06:
                ax.text(lft + s / 2, i, f"{s:.2f}", ha="center", va="center", fontsize=8)
        left = [lft + s for lft, s in zip(left, share, strict=True)]
    ax.axvline(0.5, color="0.5", lw=0.5)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(f"share of ‖∇_w L‖ (equal shares: {1 / len(tasks):.2f} each)")
    ax.legend(ncol=len(tasks), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return _save(fig, path)


def plot_advantage_stats(summary: dict[str, dict], path: Path) -> Path:
    """Grouped bars per task: advantage skewness, excess kurtosis and max |A| for each estimator."""
    names = list(summary)
    tasks = list(summary[names[0]])
    colors = _colors(names)
    keys = [("advantage_skewness", "skewness"), ("advantage_excess_kurtosis", "excess kurtosis"),
            ("max_abs_advantage", "max |A| (log)")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    width = 0.8 / len(names)
    for ax, (key, label) in zip(axes, keys, strict=True):
        for i, name in enumerate(names):
            vals = [summary[name][t][key] for t in tasks]
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(tasks))]
            ax.bar(xs, [0.0 if v is None else v for v in vals], width, color=colors[name], label=name)
        ax.set_xticks(range(len(tasks)), tasks, fontsize=8)
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
        if key == "max_abs_advantage":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def plot_outlier_probe(summary: dict[str, dict], path: Path) -> Path:
    """The probe: update-norm ratio and max |A| with one reward × factor, per estimator."""
    names = list(summary)
    probes = {n: next((e["outlier_probe"] for e in summary[n].values() if e["outlier_probe"]), None) for n in names}
    names = [n for n in names if probes[n] is not None]
    colors = _colors(list(summary))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    ratio = [probes[n]["update_norm_ratio"] for n in names]
    axes[0].bar(names, ratio, color=[colors[n] for n in names])
    axes[0].axhline(1.0, color="0.4", lw=0.8)
    axes[0].set_title("‖update‖ with outlier / without")
    clean = [probes[n]["max_abs_advantage_clean"] for n in names]
    dirty = [probes[n]["max_abs_advantage_outlier"] for n in names]
    xs = range(len(names))
    axes[1].bar([x - 0.2 for x in xs], clean, 0.4, label="clean", color="0.6")
    axes[1].bar([x + 0.2 for x in xs], dirty, 0.4, label="one reward ×100", color=[colors[n] for n in names])
    axes[1].set_yscale("log")
    axes[1].set_xticks(list(xs), names)
    axes[1].set_title("max |A| in the batch")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8, rotation=20)
    return _save(fig, path)


def write_figures(runs: dict[str, Sequence[RunRecord]], summary: dict[str, dict], out: Path,
                  steps: int) -> dict[str, Path]:
    """All of :data:`FIGURES` into ``out``; returns name → path."""
    out.mkdir(parents=True, exist_ok=True)
    return {
        "learning_curves": plot_learning_curves(runs, out / "learning_curves.png"),
        "steps_to_90": plot_steps_to_90(summary, out / "steps_to_90.png", steps),
        "grad_share": plot_grad_share(summary, out / "grad_share.png"),
        "advantage_stats": plot_advantage_stats(summary, out / "advantage_stats.png"),
        "outlier_probe": plot_outlier_probe(summary, out / "outlier_probe.png"),
    }


_CAPTIONS = {
    "learning_curves": "Exact expected reward per task (mean over seeds, band = min–max); dotted line: 90 % of "
                       "the way from the starting to the achievable reward.",
    "steps_to_90": "Steps until the expected reward closes 90 % of the gap to the achievable reward.",
    "grad_share": "Each task's share of the gradient on the parameters shared by all tasks (inter-task equity).",
    "advantage_stats": "Shape of each task's advantages: skewness, excess kurtosis (per step, averaged) and the "
                       "largest |A| seen.",
    "outlier_probe": "One reward multiplied by 100 in the first batch: how much the update and the advantages move.",
}


def _table(summary: dict[str, dict]) -> str:
    cols = ["steps_to_90", "reached_90", "grad_share", "max_abs_advantage", "final_reward",
            "advantage_skewness", "advantage_excess_kurtosis", "advantage_rms"]
    head = "".join(f"<th>{c}</th>" for c in ["estimator", "task", *cols])
    rows = []
    for name, tasks in summary.items():
        for task, entry in tasks.items():
            cells = "".join(f"<td>{'—' if entry[c] is None else entry[c]}</td>" for c in cols)
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(task)}</td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _probe_table(summary: dict[str, dict]) -> str:
    rows = []
    for name, tasks in summary.items():
        for task, entry in tasks.items():
            probe = entry["outlier_probe"]
            if probe:
                cells = "".join(f"<td>{probe[k]}</td>" for k in probe)
                rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(task)}</td>{cells}</tr>")
    if not rows:
        return ""
    first = next(e["outlier_probe"] for t in summary.values() for e in t.values() if e["outlier_probe"])
    head = "".join(f"<th>{c}</th>" for c in ["estimator", "task", *first])
    return f"<h2>outlier probe</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def write_html(summary: dict[str, dict], figures: dict[str, Path], config: dict, path: Path) -> Path:
    """A single self-contained page (images inlined as base64) with the figures, the table and the config."""
    parts = []
    for name, fig in figures.items():
        data = base64.b64encode(fig.read_bytes()).decode()
        parts.append(f"<h2>{name.replace('_', ' ')}</h2><p>{html.escape(_CAPTIONS.get(name, ''))}</p>"
                     f'<img alt="{name}" src="data:image/png;base64,{data}">')
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>g2rpo lab</title><style>
body{{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} td:nth-child(-n+2){{text-align:left}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>g2rpo lab — advantage estimators on a simulated multi-task mix</h1>
{''.join(parts)}<h2>summary</h2>{_table(summary)}{_probe_table(summary)}
<h2>configuration</h2><pre>{html.escape(json.dumps(config, indent=2))}</pre></body></html>"""
    write_text_atomic(path, page)
    return path
