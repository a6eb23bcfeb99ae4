"""The demo report's figures: per-family RL curves from the trainer's JSONL metrics (length and entropy drawn
against their bands) and the SFT loss, as base64 PNGs for the self-contained `report.html`.

Every key `train/<family>/<metric>` of the metrics file (style principle 11) is one line of the `<metric>`
plot; the faint line is per step, the bold one a trailing mean of `SMOOTHING` steps.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from g2rpo.algo import Envelope
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


def png_base64(fig) -> str:
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


def plot_panels(
    curves: Mapping[str, Mapping[str, tuple[list[float], list[float]]]],
    *,
    envelopes: Mapping[str, Envelope] | None = None,
    entropy_bands: Mapping[str, tuple[float, float]] | None = None,
) -> list[tuple[str, str]]:
    """One PNG (base64) per metric of `CURVE_METRICS` present in `curves`: [(metric, png)].

    `length/mean` and `entropy` are drawn one small panel per family, with the family's plateau [b, c]
    (outer band [a, d] lighter) or its entropy band [low, high] shaded behind the curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    banded = {"length/mean": envelopes, "entropy": entropy_bands}
    panels = []
    for metric in (m for m in CURVE_METRICS if m in curves):
        bands = banded.get(metric)
        if bands:
            panels.append((metric, _banded_panel(plt, metric, curves[metric], bands)))
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.2))
        for i, (task, (steps, values)) in enumerate(sorted(curves[metric].items())):
            colour = f"C{i}"
            ax.plot(steps, values, color=colour, alpha=0.3, linewidth=1)
            ax.plot(steps, moving_average(values, SMOOTHING), color=colour, linewidth=2, label=task)
        ax.set_xlabel("RL step")
        ax.set_title(f"{metric} (faint: per step; bold: trailing mean of {SMOOTHING})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
        panels.append((metric, png_base64(fig)))
        plt.close(fig)
    return panels


def _banded_panel(plt, metric: str, per_task: Mapping, bands: Mapping) -> str:
    tasks = sorted(per_task)
    cols = 3
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10.5, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    for i, (ax, task) in enumerate(zip(axes.flat, tasks, strict=False)):
        steps, values = per_task[task]
        band = bands.get(task)
        if isinstance(band, Envelope):
            ax.axhspan(band.a, band.d, color="tab:green", alpha=0.08, label="envelope [a, d]")
            ax.axhspan(band.b, band.c, color="tab:green", alpha=0.25, label="plateau [b, c]")
        elif band is not None:
            ax.axhspan(band[0], band[1], color="tab:green", alpha=0.25, label="band [low, high]")
        ax.plot(steps, values, color=f"C{i}", alpha=0.3, linewidth=1)
        ax.plot(steps, moving_average(values, SMOOTHING), color=f"C{i}", linewidth=2, label=f"mean of {SMOOTHING}")
        ax.set_title(task, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best", framealpha=0.8)
    fig.suptitle(f"{metric} per RL step (tokens)" if metric.startswith("length") else f"{metric} per RL step")
    fig.tight_layout()
    png = png_base64(fig)
    plt.close(fig)
    return png


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
    png = png_base64(fig)
    plt.close(fig)
    return png
