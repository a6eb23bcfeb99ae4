"""Markdown + self-contained HTML reports: the six-category table, per-benchmark breakdowns, response-length
distributions per category, and comparison columns against baseline results files.

A baseline file is either a ``summary.json`` written by ``g2rpo eval``/``g2rpo score`` (benchmark → metrics
with a ``primary`` key) or a multi-model file like ``recipes/paper_results.json``::

    {"models": {"<name>": {"benchmarks": {"MMMU_DEV_VAL": 71.6, ...}, "categories": {"general_vqa": 77.9, ...}}}}

Category averages are the mean of the category's benchmark headlines in percent (OCRBench's points / 10),
which reproduces the paper's ablation numbers from its per-benchmark table (e.g. document =
(96.7 + 91.1 + 86.4) / 3 = 91.4). A category with only some of its benchmarks run is marked ``(k/3)``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, median

from g2rpo.evaluation.records import BenchmarkResult, ScoredItem
from g2rpo.evaluation.registry import BENCHMARKS, CATEGORY_LABELS, resolve_benchmark
from g2rpo.io import write_bytes_atomic

__all__ = ["Baseline", "Report", "build_report", "category_averages", "load_baselines", "write_report"]


@dataclass(frozen=True)
class Baseline:
    """Reference numbers to compare against: benchmark headlines and (optionally) category averages."""

    name: str
    benchmarks: Mapping[str, float]
    categories: Mapping[str, float] = field(default_factory=dict)


def load_baselines(spec: str) -> list[Baseline]:
    """``PATH`` or ``PATH:MODEL`` → baselines (every model of a multi-model file unless one is named)."""
    path, _, model = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if "models" in data:
        models = data["models"]
        if model and model not in models:
            raise KeyError(f"{path}: no model {model!r}; models in the file: {list(models)}")
        return [
            Baseline(name, {k: v for k, v in m.get("benchmarks", {}).items() if v is not None},
                     {k: v for k, v in m.get("categories", {}).items() if v is not None})
            for name, m in models.items()
            if not model or name == model
        ]
    values = {b: float(d[d["primary"]]) for b, d in data.items() if isinstance(d, dict) and "primary" in d}
    if not values:
        raise ValueError(f"{path}: neither a summary.json (benchmark → metrics with 'primary') nor a models file")
    return [Baseline(Path(path).parent.name or Path(path).stem, values)]


def _percent(name: str, value: float) -> float:
    return value / resolve_benchmark(name).benchmark.points_per_percent


def category_averages(headlines: Mapping[str, float]) -> dict[str, tuple[float, int]]:
    """Category → (mean percent over the category's benchmarks present, how many were present)."""
    per_category: dict[str, list[float]] = {}
    for name, value in headlines.items():
        per_category.setdefault(resolve_benchmark(name).benchmark.category, []).append(_percent(name, value))
    return {c: (fmean(v), len(v)) for c, v in per_category.items()}


def _baseline_value(baseline: Baseline, name: str) -> float | None:
    if name in baseline.benchmarks:
        return float(baseline.benchmarks[name])
    base = resolve_benchmark(name).benchmark.name
    return float(baseline.benchmarks[base]) if base in baseline.benchmarks else None


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _delta(value: float, other: float | None) -> str:
    return "–" if other is None else f"{value - other:+.1f}"


@dataclass(frozen=True)
class Report:
    """Rendered report texts and the length-distribution figure (PNG bytes, empty without items)."""

    markdown: str
    html: str
    lengths_png: bytes


def _table_rows(results: Mapping[str, BenchmarkResult], baselines: Sequence[Baseline]) -> list[list[str]]:
    rows = []
    headlines = {n: r.value for n, r in results.items()}
    averages = category_averages(headlines)
    for category, label in CATEGORY_LABELS.items():
        names = [n for n in results if resolve_benchmark(n).benchmark.category == category]
        if not names:
            continue
        for name in names:
            result = results[name]
            row = [label, name, result.primary, str(result.n_items), _fmt(result.value)]
            for b in baselines:
                other = _baseline_value(b, name)
                row += [_fmt(other), _delta(result.value, other)]
            rows.append(row)
        mean, count = averages[category]
        total = sum(1 for b in BENCHMARKS.values() if b.category == category)
        n_items = str(sum(results[n].n_items for n in names))
        row = [label, f"**average** ({count}/{total})" if count < total else "**average**", "percent", n_items, _fmt(mean)]
        for b in baselines:
            other = b.categories.get(category)
            if other is None and count == total:
                values = [_baseline_value(b, n) for n in names]
                other = fmean(_percent(n, v) for n, v in zip(names, values, strict=True)) if None not in values else None
            row += [_fmt(other), _delta(mean, other) if count == total else "–"]
        rows.append(row)
    return rows


def _length_stats(items: Mapping[str, Sequence[ScoredItem]]) -> dict[str, list[int]]:
    lengths: dict[str, list[int]] = {}
    for name, scored in items.items():
        category = resolve_benchmark(name).benchmark.category
        lengths.setdefault(category, []).extend(s.length for s in scored)
    return lengths


def _length_figure(lengths: Mapping[str, list[int]], unit: str) -> bytes:
    if not lengths:
        return b""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = [c for c in CATEGORY_LABELS if c in lengths]
    ncols = min(3, len(categories))
    nrows = -(-len(categories) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows), squeeze=False)
    for ax in axes.flat[len(categories) :]:
        ax.set_visible(False)
    for ax, category in zip(axes.flat, categories, strict=False):
        values = lengths[category]
        ax.hist(values, bins=min(30, max(5, len(set(values)))), color="#4c72b0")
        ax.axvline(median(values), color="#c44e52", linestyle="--", linewidth=1)
        ax.set_title(f"{CATEGORY_LABELS[category]} (median {median(values):.0f})", fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
    for row in axes:
        row[0].set_ylabel("responses", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _breakdown_rows(result: BenchmarkResult) -> list[tuple[str, str, str]]:
    rows = []
    for kind, table in (("split", result.per_split), ("category", result.per_category)):
        for key, metrics in table.items():
            text = ", ".join(f"{m} {v:.1f}" if m != "n" and not m.startswith("n_") else f"{m} {int(v)}" for m, v in metrics.items())
            rows.append((kind, key, text))
    return rows


def build_report(
    results: Mapping[str, BenchmarkResult],
    items: Mapping[str, Sequence[ScoredItem]] | None = None,
    baselines: Sequence[Baseline] = (),
    *,
    title: str = "g2rpo evaluation",
) -> Report:
    """Render the report for ``results`` (benchmark name → result) and their scored items."""
    items = items or {}
    header = ["Category", "Benchmark", "Metric", "Items", "This run"]
    for b in baselines:
        header += [b.name, "Δ"]
    rows = _table_rows(results, baselines)
    lengths = _length_stats(items)
    known = all(s.n_tokens is not None for scored in items.values() for s in scored)
    unit = "tokens" if known else "characters"
    png = _length_figure(lengths, unit)

    md = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", "Category averages are means of benchmark headlines in percent (OCRBench points / 10).", ""]
    if lengths:
        md += [f"## Response length per category ({unit})", "", "| Category | responses | mean | median | max |", "|---|---|---|---|---|"]
        for category, values in lengths.items():
            md.append(f"| {CATEGORY_LABELS[category]} | {len(values)} | {fmean(values):.0f} | {median(values):.0f} | {max(values)} |")
        md += ["", "![response lengths](report_lengths.png)", ""]
    md += ["## Breakdowns and notes", ""]
    for name, result in results.items():
        md.append(f"**{name}** ({result.n_items} items): " + ", ".join(f"{m} {v:.2f}" for m, v in result.metrics.items()))
        md += [f"- {kind} `{key}`: {text}" for kind, key, text in _breakdown_rows(result)]
        md += [f"- note: {n}" for n in result.notes]
        md.append("")

    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}tr.avg{background:#f3f3f3;font-weight:600}"
        "details{margin:.4em 0}.note{color:#666;font-size:90%}</style></head><body>",
        f"<h1>{esc(title)}</h1><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>",
    ]
    for r in rows:
        avg = r[1].startswith("**average**")
        cells = [c.replace("**", "") for c in r]
        parts.append(f"<tr{' class=avg' if avg else ''}>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    parts.append("</table><p class=note>Category averages are means of benchmark headlines in percent (OCRBench points / 10).</p>")
    if png:
        parts.append(f"<h2>Response length per category ({unit})</h2>")
        parts.append(f"<img alt='response lengths' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("<h2>Breakdowns and notes</h2>")
    for name, result in results.items():
        metrics = ", ".join(f"{m} {v:.2f}" for m, v in result.metrics.items())
        parts.append(f"<details><summary><b>{esc(name)}</b> ({result.n_items} items): {esc(metrics)}</summary><ul>")
        parts += [f"<li>{kind} <code>{esc(key)}</code>: {esc(text)}</li>" for kind, key, text in _breakdown_rows(result)]
        parts += [f"<li class=note>note: {esc(n)}</li>" for n in result.notes]
        parts.append("</ul></details>")
    parts.append("</body></html>")
    return Report("\n".join(md), "\n".join(parts), png)


def write_report(out_dir: str | Path, report: Report) -> list[Path]:
    """Write ``report.md``, ``report.html`` (self-contained) and ``report_lengths.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (("report.md", report.markdown.encode()), ("report.html", report.html.encode()), ("report_lengths.png", report.lengths_png)):
        if not data:
            continue
        write_bytes_atomic(out / name, data)
        written.append(out / name)
    return written
