"""The demo's report: `report.html` (self-contained, inline PNG plots) and `summary.json`.

`summary.json`::

    {"tasks": {"<family>": {"sft": {"n", "reward", "accuracy", "format", "length", "accuracy_se"},
                             "rl":  {... same ...} | null,
                             "chance", "chance_blank", "chance_constant",
                             "envelope": [a, b, c, d],
                             "gain": {"accuracy", "accuracy_se"} | null}},
     "rl_full_batch_fraction": fraction of RL steps without padding rows | null,
     "verdict": {"rl_reward_up": [families], "length_toward_band": [families], "rl_ran": bool,
                 "sees": [families], "rl_accuracy_up": [families], "mean_gain", "mean_gain_se",
                 "sft_outside_band": [families], "rl_inside_band": [families], "targets": {name: bool},
                 "lines": [sentences]},
     "timing_s": {"<stage>": seconds, ...}}

`accuracy_se` is the standard error of the family's mean accuracy over its validation records
(sample standard deviation / √n); `gain.accuracy_se` is that of the paired per-record difference RL − SFT;
`mean_gain_se` = √(Σ gain_se²) / n_families. `chance` = max(accuracy of the SFT model with blank images,
best constant answer) (`g2rpo.demo.control`).

The curves come from the RL trainer's JSONL metrics file (`g2rpo.demo.figures` draws them). The report states
what was measured, whatever it is.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from g2rpo.algo import Envelope
from g2rpo.demo.evaluate import Scored, TaskSummary
from g2rpo.demo.figures import plot_panels, plot_sft_loss, task_curves
from g2rpo.io import write_json_atomic, write_text_atomic

SEES_MARGIN = 0.15
"""SFT "sees" a family when its validation accuracy is at least this far above the family's chance."""

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


def standard_error(values: Sequence[float]) -> float:
    """Sample standard deviation / √n (0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def _by_task(scored: Sequence[Scored] | None) -> dict[str, dict[str, Scored]]:
    out: dict[str, dict[str, Scored]] = defaultdict(dict)
    for item in scored or ():
        out[item.task][item.problem_id] = item
    return out


def full_batch_fraction(rows: Sequence[Mapping]) -> float | None:
    """Share of RL steps whose batch had no padding rows (`train/filter/partial_batch` = 0), or None."""
    flags = [float(r["train/filter/partial_batch"]) for r in rows if "train/filter/partial_batch" in r]
    return None if not flags else sum(1.0 - f for f in flags) / len(flags)


def targets(tasks: Mapping[str, Mapping], rl_full: float | None) -> dict[str, object]:
    """The demo's measured claims: which families SFT sees (≥ chance + SEES_MARGIN), where RL beat SFT, whether
    the mean gain exceeds 3 standard errors, and which lengths sit in their plateau before and after RL."""
    names = sorted(tasks)
    sees = [t for t in names if tasks[t]["sft"]["accuracy"] >= tasks[t]["chance"] + SEES_MARGIN]

    def inside(t: str, stage: str) -> bool:
        _, b, c, _ = tasks[t]["envelope"]
        return b <= tasks[t][stage]["length"] <= c

    outside = [t for t in names if not inside(t, "sft")]
    out: dict[str, object] = {"sees": sees, "sft_outside_band": outside}
    lines = [f"SFT is ≥ {SEES_MARGIN:.2f} above chance on {len(sees)}/{len(names)} families."]
    rl_ran = all(tasks[t]["rl"] for t in names) and bool(names)
    if rl_ran:
        up = [t for t in names if tasks[t]["gain"]["accuracy"] > 0]
        gains = [tasks[t]["gain"]["accuracy"] for t in names]
        mean_gain = sum(gains) / len(gains)
        mean_se = math.sqrt(sum(tasks[t]["gain"]["accuracy_se"] ** 2 for t in names)) / len(names)
        in_band = [t for t in names if inside(t, "rl")]
        out |= {"rl_accuracy_up": up, "mean_gain": mean_gain, "mean_gain_se": mean_se, "rl_inside_band": in_band}
        lines += [
            f"RL raised accuracy on {len(up)}/{len(names)} families; mean gain {mean_gain:+.3f} ± {mean_se:.3f} "
            f"({mean_gain / mean_se if mean_se else float('nan'):.1f} standard errors).",
            f"Mean length inside the plateau [b, c]: {len(names) - len(outside)}/{len(names)} after SFT, "
            f"{len(in_band)}/{len(names)} after RL.",
        ]
    if rl_full is not None:
        lines.append(f"RL steps with full batches: {rl_full:.0%}.")
    out["targets"] = {
        "sft_sees_every_family": len(sees) == len(names),
        "rl_up_on_5_of_6": rl_ran and len(out["rl_accuracy_up"]) >= len(names) - 1,
        "mean_gain_over_3_se": rl_ran and out["mean_gain"] > 3 * out["mean_gain_se"],
        "full_batches_90pct": rl_full is not None and rl_full >= 0.9,
        "sft_2_outside_band": len(outside) >= 2,
        "rl_5_inside_band": rl_ran and len(out["rl_inside_band"]) >= len(names) - 1,
    }
    out["lines"] = lines
    return out


def summary_dict(
    sft: Mapping[str, TaskSummary],
    rl: Mapping[str, TaskSummary] | None,
    envelopes: Mapping[str, Envelope],
    timing: Mapping[str, float],
    *,
    sft_scored: Sequence[Scored] | None = None,
    rl_scored: Sequence[Scored] | None = None,
    blank: Mapping[str, TaskSummary] | None = None,
    constant: Mapping[str, float] | None = None,
    rl_rows: Sequence[Mapping] = (),
) -> dict[str, object]:
    """The summary.json mapping (layout in the module docstring)."""
    sft_items, rl_items = _by_task(sft_scored), _by_task(rl_scored)
    tasks = {}
    for t in sorted(sft):
        entry: dict[str, object] = {"sft": dataclasses.asdict(sft[t])}
        entry["sft"]["accuracy_se"] = standard_error([i.accuracy for i in sft_items[t].values()])
        entry["rl"] = dataclasses.asdict(rl[t]) if rl and t in rl else None
        gain = None
        if entry["rl"] is not None:
            entry["rl"]["accuracy_se"] = standard_error([i.accuracy for i in rl_items[t].values()])
            pairs = [(rl_items[t][k].accuracy, v.accuracy) for k, v in sft_items[t].items() if k in rl_items[t]]
            diffs = [a - b for a, b in pairs]
            gain = {
                "accuracy": rl[t].accuracy - sft[t].accuracy,
                "accuracy_se": standard_error(diffs),
            }
        entry["gain"] = gain
        chance_blank = blank[t].accuracy if blank and t in blank else None
        chance_constant = constant.get(t) if constant else None
        known = [c for c in (chance_blank, chance_constant) if c is not None]
        entry["chance"] = max(known) if known else 0.0
        entry["chance_blank"], entry["chance_constant"] = chance_blank, chance_constant
        env = envelopes.get(t)
        entry["envelope"] = [env.a, env.b, env.c, env.d] if env else None
        tasks[t] = entry
    rl_full = full_batch_fraction(rl_rows)
    verdict_all = verdict(sft, rl, envelopes)
    if all(e["envelope"] for e in tasks.values()):
        verdict_all |= targets(tasks, rl_full)
    return {
        "tasks": tasks,
        "rl_full_batch_fraction": rl_full,
        "verdict": verdict_all,
        "timing_s": {k: round(v, 1) for k, v in timing.items()},
    }


def _table(summary: Mapping[str, object], envelopes: Mapping[str, Envelope]) -> str:
    head = (
        "<tr><th>task family</th><th>n</th><th>chance</th><th>accuracy SFT</th><th>accuracy RL</th><th>Δ</th>"
        "<th>reward SFT</th><th>reward RL</th><th>format SFT</th><th>format RL</th>"
        "<th>length SFT</th><th>length RL</th><th>plateau [b, c]</th></tr>"
    )
    rows = []
    for task, both in summary["tasks"].items():
        s, r = both["sft"], both["rl"]
        env = envelopes.get(task)
        band = f"[{env.b:g}, {env.c:g}]" if env else "–"

        def cell(d, key, fmt="{:.3f}"):
            return fmt.format(d[key]) if d else "–"

        def acc(d):
            return f"{d['accuracy']:.3f} ± {d.get('accuracy_se', 0.0):.3f}" if d else "–"

        gain = both.get("gain")
        delta = f"{gain['accuracy']:+.3f} ± {gain['accuracy_se']:.3f}" if gain else "–"
        cls = "" if not gain else (' class="up"' if gain["accuracy"] > 0 else ' class="down"')
        chance = both.get("chance")
        rows.append(
            f"<tr><td>{task}</td><td>{s['n']}</td><td>{'–' if chance is None else f'{chance:.3f}'}</td>"
            f"<td>{acc(s)}</td><td>{acc(r)}</td><td{cls}>{delta}</td>"
            f"<td>{cell(s, 'reward')}</td><td>{cell(r, 'reward')}</td>"
            f"<td>{cell(s, 'format')}</td><td>{cell(r, 'format')}</td>"
            f"<td>{cell(s, 'length', '{:.1f}')}</td><td>{cell(r, 'length', '{:.1f}')}</td><td>{band}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def sample_rows(
    val_file: str | Path,
    sft_scored: Sequence[Scored],
    rl_scored: Sequence[Scored] | None,
    *,
    data_root: str | Path | None = None,
    per_family: int = 3,
) -> list[dict]:
    """The first `per_family` validation records of each family with both models' answers: dicts of task,
    question, gold, image (PNG, base64), and per stage (`sft`, `rl`) the response and its accuracy/reward."""
    from g2rpo.data import load_image, load_records
    from g2rpo.data.options import option_lines

    sft_by, rl_by = {i.problem_id: i for i in sft_scored}, {i.problem_id: i for i in rl_scored or ()}
    counts: dict[str, int] = defaultdict(int)
    rows = []
    for record in load_records(val_file, data_root=data_root):
        if counts[record.task] >= per_family or record.problem_id not in sft_by:
            continue
        counts[record.task] += 1
        buffer = io.BytesIO()
        load_image(record.images[0]).save(buffer, format="PNG")
        row = {
            "task": record.task,
            "question": record.problem.replace("<image>", "").strip(),
            "options": option_lines(record.options),
            "gold": record.answer,
            "image": base64.b64encode(buffer.getvalue()).decode(),
        }
        for stage, table in (("sft", sft_by), ("rl", rl_by)):
            item = table.get(record.problem_id)
            row[stage] = (
                None if item is None
                else {"response": item.response, "accuracy": item.accuracy, "reward": item.reward, "length": item.length}
            )  # fmt: skip
        rows.append(row)
    return sorted(rows, key=lambda r: r["task"])


def _samples_html(samples: Sequence[Mapping]) -> str:
    head = "<tr><th>image</th><th>task family / question</th><th>SFT answer</th><th>RL answer</th></tr>"
    rows = []
    for s in samples:
        question = html.escape(s["question"])
        if s["options"]:
            question += "<br><small>" + " · ".join(html.escape(o) for o in s["options"]) + "</small>"
        cells = []
        for stage in ("sft", "rl"):
            d = s.get(stage)
            if not d:
                cells.append("<td>–</td>")
                continue
            cells.append(
                f"<td class='resp'><code>{html.escape(d['response'])}</code><br><small>accuracy "
                f"{d['accuracy']:.2f} · reward {d['reward']:.2f} · {d['length']} tokens</small></td>"
            )
        rows.append(
            f"<tr><td><img class='thumb' src='data:image/png;base64,{s['image']}' alt='input image'></td>"
            f"<td class='q'><b>{html.escape(s['task'])}</b><br>{question}<br><small>gold: "
            f"<code>{html.escape(s['gold'])}</code></small></td>{''.join(cells)}</tr>"
        )
    return f"<table class='samples'>{head}{''.join(rows)}</table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.up{color:#070;font-weight:bold}.down{color:#a00}
.grid{display:flex;flex-wrap:wrap;gap:8px}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}
.note{background:#fff6d6;padding:8px;border-left:4px solid #e0b000}
.samples td{text-align:left;vertical-align:top}.samples .resp{max-width:330px;font-size:12px}
.samples code{white-space:pre-wrap;word-break:break-word}.thumb{width:96px;image-rendering:pixelated}
.ok{color:#070}.miss{color:#a00}summary{cursor:pointer;font-weight:bold}"""


def write_report(
    out_dir: str | Path,
    *,
    summary: Mapping[str, object],
    envelopes: Mapping[str, Envelope],
    rl_metrics: Sequence[Mapping],
    sft_metrics: Sequence[Mapping],
    configs: Mapping[str, str],
    notes: Sequence[str] = (),
    samples: Sequence[Mapping] = (),
    entropy_bands: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[Path, Path]:
    """Write `report.html` and `summary.json` under `out_dir`; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    write_json_atomic(summary_path, summary)
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
    checks = ""
    if "targets" in v:
        items = "".join(
            f"<li class='{'ok' if met else 'miss'}'>{'met' if met else 'missed'}: {html.escape(name.replace('_', ' '))}</li>"
            for name, met in v["targets"].items()
        )
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in v["lines"])
        checks = f"<h2>Measured claims</h2><ul>{lines}</ul><ul>{items}</ul>"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>g2rpo demo report</title>",
        f"<style>{_CSS}</style></head><body><h1>g2rpo demo: synthetic data → SFT → G2RPO RL</h1>",
        f"<p>{headline}</p>",
        checks,
        *(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        "<h2>Validation: SFT vs. RL per task family</h2>",
        "<p>Greedy decoding on the validation split; reward = 0.9·accuracy + 0.1·format + structure "
        "(recipe §4, max 1.5); length in generated tokens; ± one standard error over records.</p>",
        _table(summary, envelopes),
    ]
    if samples:
        parts += ["<h2>Sample completions</h2>", _samples_html(samples)]
    parts.append("<h2>RL training curves per task family</h2><div class='grid'>")
    panels = plot_panels(task_curves(rl_metrics), envelopes=envelopes, entropy_bands=entropy_bands)
    parts += [f"<figure><img src='data:image/png;base64,{png}' alt='{t}'></figure>" for t, png in panels]
    if not panels:
        parts.append("<p>No per-task RL metrics were logged.</p>")
    parts.append("</div>")
    sft_png = plot_sft_loss(sft_metrics)
    if sft_png:
        parts.append(f"<h2>Cold-start SFT</h2><img src='data:image/png;base64,{sft_png}' alt='SFT loss'>")
    timing = summary.get("timing_s", {})
    if timing:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1f}</td></tr>" for k, v in timing.items())
        parts.append(f"<h2>Time per stage (s)</h2><table><tr><th>stage</th><th>s</th></tr>{rows}</table>")
    parts.append("<h2>Resolved configuration</h2>")
    for name, text in configs.items():
        parts.append(f"<details><summary>{html.escape(name)}</summary><pre>{html.escape(text)}</pre></details>")
    parts.append("</body></html>")
    report_path = out / "report.html"
    write_text_atomic(report_path, "\n".join(parts))
    return report_path, summary_path
