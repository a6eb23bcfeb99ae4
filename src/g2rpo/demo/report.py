"""The demo's report: `report.html` (self-contained, inline PNG plots) and `summary.json`.

`summary.json`::

    {"tasks": {"<family>": {"sft": {"n", "reward", "accuracy", "format", "length"},
                             "rl":  {... same ...} | null}},
     "verdict": {"rl_reward_up": [families], "length_toward_band": [families], "rl_ran": bool},
     "timing_s": {"<stage>": seconds, ...}}

The curves come from the RL trainer's JSONL metrics file: every key `train/<family>/<metric>` (style principle
11) is one line of the `<metric>` plot. The report states what was measured, whatever it is.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from g2rpo.algo import Envelope
from g2rpo.demo.evaluate import TaskSummary
from g2rpo.tasks import TASK_FAMILIES

CURVE_METRICS: tuple[str, ...] = (
    "reward",
    "accuracy",
    "length/mean",
    "entropy",
    "sampled_nll",
    "advantage/mean",
    "advantage/std",
    "fraction_filtered",
)
"""Per-family metrics of the trainer (`g2rpo.train.metrics`) plotted, one panel each, in this order."""

_KEY = re.compile(r"^train/(?P<task>[A-Za-z0-9_]+)/(?P<metric>[A-Za-z0-9_./-]+)$")


def read_jsonl(path: str | Path | None) -> list[dict]:
    """Rows of a JSONL file; a missing file gives []; a bad line is an error naming the file and row."""
    if path is None or not Path(path).is_file():
        return []
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not valid JSON ({err})") from None
    return rows


def task_curves(rows: Sequence[Mapping]) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """Metric name → task family → (steps, values), from rows holding `train/<family>/<metric>` keys."""
    out: dict[str, dict[str, tuple[list[float], list[float]]]] = defaultdict(dict)
    for i, row in enumerate(rows):
        step = float(row.get("step", row.get("global_step", i + 1)))
        for key, value in row.items():
            match = _KEY.match(key)
            if not match or match["task"] not in TASK_FAMILIES:
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            steps, values = out[match["metric"]].setdefault(match["task"], ([], []))
            steps.append(step)
            values.append(float(value))
    return dict(out)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


SMOOTHING = 5
"""Window of the trailing mean drawn over each per-step curve (RL metrics of a small batch are noisy)."""


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean: point `i` averages `values[max(0, i − window + 1) : i + 1]`."""
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def plot_panels(curves: Mapping[str, Mapping[str, tuple[list[float], list[float]]]]) -> list[tuple[str, str]]:
    """One PNG (base64) per metric of `CURVE_METRICS` present in `curves`: [(metric, png)]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for metric in (m for m in CURVE_METRICS if m in curves):
        fig, ax = plt.subplots(figsize=(5.2, 3.2))
        for i, (task, (steps, values)) in enumerate(sorted(curves[metric].items())):
            colour = f"C{i}"
            ax.plot(steps, values, color=colour, alpha=0.3, linewidth=1)
            ax.plot(steps, moving_average(values, SMOOTHING), color=colour, linewidth=2, label=task)
        ax.set_xlabel("RL step")
        ax.set_title(f"{metric} (faint: per step; bold: trailing mean of {SMOOTHING})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        panels.append((metric, _png(fig)))
        plt.close(fig)
    return panels


def plot_sft_loss(rows: Sequence[Mapping]) -> str | None:
    """The SFT training loss curve (TRL's log history), or None when nothing was logged."""
    points = [(r["step"], r["loss"]) for r in rows if "loss" in r and "step" in r]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    ax.plot(*zip(*points, strict=True), marker="o", markersize=3)
    ax.set_xlabel("SFT step")
    ax.set_title("SFT loss")
    ax.grid(alpha=0.3)
    png = _png(fig)
    plt.close(fig)
    return png


def band_distance(length: float, envelope: Envelope) -> float:
    """How far a mean length lies outside the envelope's plateau `[b, c]` (0 inside it)."""
    return max(envelope.b - length, 0.0, length - envelope.c)


def verdict(
    sft: Mapping[str, TaskSummary], rl: Mapping[str, TaskSummary] | None, envelopes: Mapping[str, Envelope]
) -> dict[str, object]:
    """Which families RL improved (mean validation reward strictly up) and which moved toward their band."""
    if rl is None:
        return {"rl_ran": False, "rl_reward_up": [], "length_toward_band": []}
    tasks = [t for t in sft if t in rl]
    up = [t for t in tasks if rl[t].reward > sft[t].reward]
    toward = [
        t for t in tasks
        if t in envelopes
        and band_distance(rl[t].length, envelopes[t]) < band_distance(sft[t].length, envelopes[t])
    ]  # fmt: skip
    return {"rl_ran": True, "rl_reward_up": up, "length_toward_band": toward, "n_tasks": len(tasks)}


def summary_dict(
    sft: Mapping[str, TaskSummary],
    rl: Mapping[str, TaskSummary] | None,
    envelopes: Mapping[str, Envelope],
    timing: Mapping[str, float],
) -> dict[str, object]:
    tasks = {
        t: {"sft": dataclasses.asdict(sft[t]), "rl": dataclasses.asdict(rl[t]) if rl and t in rl else None}
        for t in sorted(sft)
    }
    return {
        "tasks": tasks,
        "verdict": verdict(sft, rl, envelopes),
        "timing_s": {k: round(v, 1) for k, v in timing.items()},
    }


def _table(summary: Mapping[str, object], envelopes: Mapping[str, Envelope]) -> str:
    head = (
        "<tr><th>task family</th><th>n</th><th>reward SFT</th><th>reward RL</th><th>Δ</th>"
        "<th>accuracy SFT</th><th>accuracy RL</th><th>format SFT</th><th>format RL</th>"
        "<th>length SFT</th><th>length RL</th><th>length band [b, c]</th></tr>"
    )
    rows = []
    for task, both in summary["tasks"].items():
        s, r = both["sft"], both["rl"]
        env = envelopes.get(task)
        band = f"[{env.b:g}, {env.c:g}]" if env else "–"

        def cell(d, key, fmt="{:.3f}"):
            return fmt.format(d[key]) if d else "–"

        delta = f"{r['reward'] - s['reward']:+.3f}" if r else "–"
        cls = "" if not r else (' class="up"' if r["reward"] > s["reward"] else ' class="down"')
        rows.append(
            f"<tr><td>{task}</td><td>{s['n']}</td><td>{cell(s, 'reward')}</td><td>{cell(r, 'reward')}</td>"
            f"<td{cls}>{delta}</td><td>{cell(s, 'accuracy')}</td><td>{cell(r, 'accuracy')}</td>"
            f"<td>{cell(s, 'format')}</td><td>{cell(r, 'format')}</td>"
            f"<td>{cell(s, 'length', '{:.1f}')}</td><td>{cell(r, 'length', '{:.1f}')}</td><td>{band}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.up{color:#070;font-weight:bold}.down{color:#a00}
.grid{display:flex;flex-wrap:wrap;gap:8px}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}
.note{background:#fff6d6;padding:8px;border-left:4px solid #e0b000}"""


def write_report(
    out_dir: str | Path,
    *,
    summary: Mapping[str, object],
    envelopes: Mapping[str, Envelope],
    rl_metrics: Sequence[Mapping],
    sft_metrics: Sequence[Mapping],
    configs: Mapping[str, str],
    notes: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write `report.html` and `summary.json` under `out_dir`; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    v = summary["verdict"]
    if v["rl_ran"]:
        headline = (
            f"RL raised the mean validation reward over SFT on <b>{len(v['rl_reward_up'])} of {v['n_tasks']}</b> "
            f"task families ({', '.join(v['rl_reward_up']) or 'none'}); mean response length moved toward the "
            f"family's band on <b>{len(v['length_toward_band'])} of {v['n_tasks']}</b> "
            f"({', '.join(v['length_toward_band']) or 'none'})."
        )
    else:
        headline = "<b>The RL stage did not run</b>; the table shows the SFT model only."
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>g2rpo demo report</title>",
        f"<style>{_CSS}</style></head><body><h1>g2rpo demo: synthetic data → SFT → G2RPO RL</h1>",
        f"<p>{headline}</p>",
        *(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        "<h2>Validation: SFT vs. RL per task family</h2>",
        "<p>Greedy decoding on the validation split; reward = 0.9·accuracy + 0.1·format + structure "
        "(recipe §4, max 1.5); length in generated tokens.</p>",
        _table(summary, envelopes),
        "<h2>RL training curves per task family</h2><div class='grid'>",
    ]
    panels = plot_panels(task_curves(rl_metrics))
    parts += [f"<figure><img src='data:image/png;base64,{png}' alt='{t}'></figure>" for t, png in panels]
    if not panels:
        parts.append("<p>No per-task RL metrics were logged.</p>")
    parts.append("</div>")
    sft_png = plot_sft_loss(sft_metrics)
    if sft_png:
        parts.append(f"<h2>Cold-start SFT</h2><img src='data:image/png;base64,{sft_png}' alt='SFT loss'>")
    timing = summary.get("timing_s", {})
    if timing:
        rows = "".join(f"<tr><td>{k}</td><td>{v:.1f}</td></tr>" for k, v in timing.items())
        parts.append(f"<h2>Time per stage (s)</h2><table><tr><th>stage</th><th>s</th></tr>{rows}</table>")
    parts.append("<h2>Resolved configuration</h2>")
    for name, text in configs.items():
        parts.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(text)}</pre>")
    parts.append("</body></html>")
    report_path = out / "report.html"
    report_path.write_text("\n".join(parts))
    return report_path, summary_path
