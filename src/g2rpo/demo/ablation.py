"""The demo's ablation: the paper's arms (recipe §10) × RL seeds on the synthetic world, from one SFT checkpoint.

    python -m g2rpo.demo.ablation --out outputs/ablation

Stages: the demo's data, tiny model and cold-start SFT (`g2rpo.demo.pipeline.prepare`, once); then for every
arm of `recipes/demo_ablation.yaml` other than `sft` and every seed, the demo's RL stage with the arm's keys
over `recipes/demo_rl.yaml`, and greedy validation. `sft` is the SFT model itself, validated once.

`--jobs N` runs N of these at a time, each in its own worker process with one torch thread (default: one per
core, up to 4); every run is seeded, so the numbers do not depend on N. Each finished RL run leaves
`runs/<arm>/seed<k>/result.json` (its values, the SFT weights' hash, its validation): the same command after
an interruption trains only what is missing.

Writes under `--out`:

- `table.md`: laid out like the paper's ablation table (families as columns), mean ± sd over seeds of the
  validation accuracy, and the mean response length;
- `summary.json`: `arms.<arm>.<family>` → `accuracy_mean`, `accuracy_sd`, `length_mean` (and `accuracies`,
  one per seed), `arms.<arm>.mean` over families, and `claims`: one measured verdict per paper claim;
- `report.html`: the table, the verdicts and a bar chart per family.

The verdicts are computed, never chosen: "G2RPO > GRPO" compares the arms' family-mean accuracies (difference
of seed means, its standard error from the seed spread); "length helps more broadly than entropy" counts
the families where each shaping term alone beats G2RPO alone; "full is best" asks whether `full` has the
highest family-mean accuracy of all arms, and on how many families it is the best arm.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import io
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

from g2rpo.demo.pipeline import REPO_RECIPES, DemoConfig, console, load_yaml
from g2rpo.io import write_json_atomic, write_text_atomic

ARMS: tuple[str, ...] = ("sft", "grpo", "g2rpo", "g2rpo_entropy", "g2rpo_length", "full")
"""Arm names, in the table's row order."""

DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 4))
"""Runs at a time: one single-threaded worker per core (the tiny model's ops are too small to split), up to 4."""


def _mean(values):
    return sum(values) / len(values)


def _sd(values):
    if len(values) < 2:
        return 0.0
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def arm_stats(per_seed: list[dict[str, tuple[float, float]]]) -> dict[str, dict]:
    """Per-seed {family: (accuracy, length)} → {family: accuracy_mean, accuracy_sd, length_mean, accuracies}
    plus `mean` (the family-mean accuracy: its mean and sd over seeds)."""
    families = sorted(per_seed[0])
    out: dict[str, dict] = {}
    for f in families:
        acc = [seed[f][0] for seed in per_seed]
        out[f] = {
            "accuracy_mean": _mean(acc),
            "accuracy_sd": _sd(acc),
            "length_mean": _mean([seed[f][1] for seed in per_seed]),
            "accuracies": acc,
        }
    overall = [_mean([seed[f][0] for f in families]) for seed in per_seed]
    out["mean"] = {"accuracy_mean": _mean(overall), "accuracy_sd": _sd(overall), "accuracies": overall}
    return out


def claims(arms: dict[str, dict]) -> dict[str, dict]:
    """The paper's three claims, each {"holds": bool | None, "measured": sentence}; None = an arm is missing."""
    families = sorted(f for f in next(iter(arms.values())) if f != "mean")
    out: dict[str, dict] = {}

    def overall(arm):
        return arms[arm]["mean"]

    if {"grpo", "g2rpo"} <= set(arms):
        a, b = overall("g2rpo"), overall("grpo")
        diff = a["accuracy_mean"] - b["accuracy_mean"]
        se = math.sqrt(
            a["accuracy_sd"] ** 2 / len(a["accuracies"]) + b["accuracy_sd"] ** 2 / len(b["accuracies"])
        )
        wins = [f for f in families if arms["g2rpo"][f]["accuracy_mean"] > arms["grpo"][f]["accuracy_mean"]]
        clear = se > 0 and abs(diff) > 2 * se
        out["G2RPO > GRPO"] = {
            "holds": diff > 0 and clear,
            "measured": (
                f"g2rpo − grpo family-mean accuracy = {diff:+.3f} ± {se:.3f} (seed SE); g2rpo higher on "
                f"{len(wins)}/{len(families)} families"
                + ("" if clear else "; the difference is within 2 standard errors")
            ),
        }
    if {"g2rpo", "g2rpo_entropy", "g2rpo_length"} <= set(arms):
        base = arms["g2rpo"]
        length = [f for f in families if arms["g2rpo_length"][f]["accuracy_mean"] > base[f]["accuracy_mean"]]
        entropy = [f for f in families if arms["g2rpo_entropy"][f]["accuracy_mean"] > base[f]["accuracy_mean"]]
        out["length helps more broadly than entropy"] = {
            "holds": len(length) > len(entropy),
            "measured": (
                f"over G2RPO alone, the length term raised accuracy on {len(length)}/{len(families)} families "
                f"({', '.join(length) or 'none'}), the entropy term on {len(entropy)}/{len(families)} "
                f"({', '.join(entropy) or 'none'})"
            ),
        }
    if "full" in arms and len(arms) > 1:
        best = max(arms, key=lambda arm: overall(arm)["accuracy_mean"])
        per_family = [
            f for f in families if max(arms, key=lambda arm: arms[arm][f]["accuracy_mean"]) == "full"
        ]
        out["full is best"] = {
            "holds": best == "full" and len(per_family) == len(families),
            "measured": (
                f"highest family-mean accuracy: {best} ({overall(best)['accuracy_mean']:.3f}; full "
                f"{overall('full')['accuracy_mean']:.3f}); full is the best arm on {len(per_family)}/"
                f"{len(families)} families"
            ),
        }
    return out


def table_markdown(arms: dict[str, dict]) -> str:
    """Families as columns, one row per arm: `mean ± sd` accuracy and the mean length in tokens."""
    families = sorted(f for f in next(iter(arms.values())) if f != "mean")
    head = "| arm | " + " | ".join(families) + " | mean |"
    rule = "|---|" + "---|" * (len(families) + 1)
    rows = [head, rule]
    for arm, stats in arms.items():
        cells = [
            f"{stats[f]['accuracy_mean']:.3f} ± {stats[f]['accuracy_sd']:.3f} ({stats[f]['length_mean']:.0f} tok)"
            for f in families
        ]
        m = stats["mean"]
        rows.append(f"| {arm} | " + " | ".join(cells) + f" | {m['accuracy_mean']:.3f} ± {m['accuracy_sd']:.3f} |")
    return "\n".join(rows) + "\n"


def _report_html(arms: dict[str, dict], verdicts: dict[str, dict], table: str, notes: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from g2rpo.demo.figures import png_base64

    families = sorted(f for f in next(iter(arms.values())) if f != "mean")
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = 0.8 / len(arms)
    for i, (arm, stats) in enumerate(arms.items()):
        xs = [j + i * width for j in range(len(families))]
        ax.bar(xs, [stats[f]["accuracy_mean"] for f in families], width,
               yerr=[stats[f]["accuracy_sd"] for f in families], label=arm, capsize=2)  # fmt: skip
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(families))], families, fontsize=8)
    ax.set_ylabel("validation accuracy (mean ± sd over seeds)")
    ax.legend(fontsize=7, ncol=len(arms))
    ax.grid(axis="y", alpha=0.3)
    png = png_base64(fig)
    plt.close(fig)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{'holds' if v['holds'] else 'does not hold' if v['holds'] is False else '–'}"
        f"</td><td>{html.escape(v['measured'])}</td></tr>"
        for name, v in verdicts.items()
    )
    lines = table.strip().splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[:1] + lines[2:]]
    grid = "".join(
        "<tr>" + "".join(f"<{'th' if r == 0 else 'td'}>{html.escape(c)}</{'th' if r == 0 else 'td'}>" for c in row) + "</tr>"
        for r, row in enumerate(cells)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>g2rpo demo ablation</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:4px 6px}</style></head><body>"
        "<h1>g2rpo demo ablation: the paper's arms on the synthetic world</h1>"
        + "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        + f"<h2>Validation accuracy per family</h2><table>{grid}</table>"
        + f"<img src='data:image/png;base64,{png}' alt='accuracy per family and arm'>"
        + f"<h2>The paper's claims, as measured</h2><table><tr><th>claim</th><th>verdict</th><th>measured</th></tr>{rows}</table>"
        + "</body></html>"
    )


RESULT_FILE = "result.json"
"""Per-run result under runs/<arm>/seed<k>/: the run's RL values, the SFT weights' hash and its validation."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _run_one(job: dict) -> tuple[dict[str, list[float]], float]:
    """One ablation run, in a worker process or inline: RL from the SFT checkpoint with `job["values"]` (None: the
    SFT model itself, no RL), then greedy validation. Returns ({family: [accuracy, mean length]}, its seconds).
    An RL run also writes its families with its values and the SFT weights' hash to `<output_dir>/result.json`,
    which a later call with the same values and SFT weights reuses instead of training again."""
    import torch

    from g2rpo.demo.control import evaluate_with_blank
    from g2rpo.demo.evaluate import summarize
    from g2rpo.demo.pipeline import quiet_libraries
    from g2rpo.demo.rl import run_rl

    start = time.perf_counter()
    torch.set_num_threads(job["threads"])
    quiet_libraries()
    with contextlib.redirect_stdout(io.StringIO()):  # the trainer's per-step dicts are in its metrics file
        model_dir = job["sft_dir"]
        if job["values"] is not None:
            rl = run_rl(job["values"], model_dir=job["sft_dir"], train_file=job["train_file"], data_root=job["data_root"])
            model_dir = rl.model_dir
        scored, _ = evaluate_with_blank(model_dir, job["val_file"], label=job["label"], **job["evaluate"])
    families = {t: [s.accuracy, s.length] for t, s in summarize(scored).items()}
    if job["values"] is not None:
        record = {"values": job["values"], "sft_sha256": job["sft_sha256"], "families": families}
        write_json_atomic(Path(job["values"]["output_dir"]) / RESULT_FILE, record)
    return families, time.perf_counter() - start


def _finished(job: dict) -> dict | None:
    """The families of an earlier run of exactly this job (same RL values, same SFT weights), if one finished."""
    if job["values"] is None:
        return None
    path = Path(job["values"]["output_dir"]) / RESULT_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = record.get("values") == job["values"] and record.get("sft_sha256") == job["sft_sha256"]
    return record.get("families") if same else None


def run_ablation(
    config: DemoConfig,
    *,
    ablation_config: str | Path,
    seeds: list[int] | None = None,
    arms: list[str] | None = None,
    jobs: int = 1,
) -> Path:
    """Run every arm × seed, `jobs` runs at a time (worker processes of `config.threads` threads each); write
    table.md, summary.json and report.html under `config.out`; return the summary's path.

    Every finished RL run is kept (`runs/<arm>/seed<k>/result.json`): after an interruption the same command
    trains only the runs that did not finish (the SFT stage is seeded, so it rebuilds the same checkpoint)."""
    from g2rpo.demo.pipeline import prepare, rl_recipe

    spec = load_yaml(ablation_config)
    arm_keys: dict = spec.get("arms") or {}
    unknown = sorted(set(arms or []) - set(arm_keys))
    if unknown:
        raise ValueError(f"{ablation_config}: no arm(s) {unknown}; valid arms: {', '.join(arm_keys)}")
    if jobs < 1:
        raise ValueError(f"jobs must be ≥ 1, got {jobs}")
    chosen = [a for a in arm_keys if not arms or a in arms]
    seeds = list(seeds if seeds is not None else spec.get("seeds") or [0])
    out = Path(config.out)
    start = time.perf_counter()
    data, sft_dir, sft_config = prepare(config)
    base_rl = rl_recipe(config, sft_config)
    evaluate = dict(
        data_root=str(data.root), max_new_tokens=config.eval_max_new_tokens or int(base_rl.get("max_completion_length", 64)),
        batch_size=config.eval_batch_size, think_tag=sft_config.think_tag, prompt_template=sft_config.prompt_template,
        progress=False, blank=False,
    )  # fmt: skip
    common = dict(
        sft_dir=str(sft_dir), sft_sha256=_sha256(Path(sft_dir) / "model.safetensors"),
        train_file=str(data.files["train"]), val_file=str(data.files["val"]), data_root=str(data.root),
        evaluate=evaluate, threads=config.threads,
    )  # fmt: skip
    runs: dict[tuple[str, int], dict] = {}
    for arm in chosen:
        for seed in [seeds[0]] if arm_keys[arm] is None else seeds:  # the SFT model is validated once
            values = None
            if arm_keys[arm] is not None:
                values = base_rl | dict(arm_keys[arm]) | {
                    "output_dir": str(out / "runs" / arm / f"seed{seed}"), "seed": seed, "disable_tqdm": True,
                }  # fmt: skip
            runs[arm, seed] = common | {"values": values, "label": f"eval {arm} seed {seed}"}
    done = {key: found for key, job in runs.items() if (found := _finished(job)) is not None}
    if done:
        console.print(f"[green]✓[/green] {len(done)} finished run(s) reused from {out / 'runs'}")
    _run_pending(config, runs, done, jobs, out)
    results = {arm: arm_stats([done[key] for key in runs if key[0] == arm]) for arm in chosen}
    config.timing["total"] = time.perf_counter() - start
    verdicts = claims(results)
    table = table_markdown(results)
    notes = [
        f"{len(seeds)} RL seeds per arm ({', '.join(map(str, seeds))}), {base_rl.get('max_steps')} RL steps each, "
        f"from one SFT checkpoint; {config.n_val} validation records (greedy); wall time "
        f"{config.timing['total']:.0f} s with {jobs} run(s) at a time.",
    ]
    summary = {
        "arms": results,
        "claims": verdicts,
        "seeds": seeds,
        "timing_s": {k: round(v, 1) for k, v in config.timing.items()},
    }
    write_text_atomic(out / "table.md", table)
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "report.html", _report_html(results, verdicts, table, notes))
    console.print(table)
    for name, v in verdicts.items():
        console.print(f"{name}: {'holds' if v['holds'] else 'does not hold'} — {v['measured']}")
    return out / "summary.json"


def _run_pending(config: DemoConfig, runs: dict, done: dict, jobs: int, out: Path) -> None:
    """Run the jobs not in `done` (adding their results to it), `jobs` at a time, with one progress bar."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    pending = [key for key in runs if key not in done]
    if not pending:
        return
    columns = (TextColumn("ablation runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not config.progress) as bar:
        task = bar.add_task("runs", total=len(pending))

        def finish(key, families, seconds):
            done[key] = families
            config.timing[f"{key[0]} seed {key[1]}"] = seconds
            bar.console.print(f"[green]✓[/green] {key[0]} seed {key[1]} ({seconds:.0f} s)")
            bar.advance(task)

        def failed(key, error):
            return RuntimeError(
                f"ablation run {key[0]} seed {key[1]} failed: {error}. The finished runs are kept under "
                f"{out / 'runs'}; the same command resumes from them."
            )

        if jobs == 1:
            for key in pending:
                try:
                    families, seconds = _run_one(runs[key])
                except Exception as error:
                    raise failed(key, error) from error
                finish(key, families, seconds)
            return
        context = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
        with ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=context) as pool:
            futures = {pool.submit(_run_one, runs[key]): key for key in pending}
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = futures[future]
                    try:
                        families, seconds = future.result()
                    except Exception as error:
                        for other in remaining:
                            other.cancel()
                        raise failed(key, error) from error
                    finish(key, families, seconds)


def main(argv: list[str] | None = None) -> int:
    from g2rpo.demo.pipeline import parse_args

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--ablation-config", default=str(REPO_RECIPES / "demo_ablation.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="RL seeds (default: the config's)")
    parser.add_argument("--arms", nargs="+", default=None, help="arms to run (default: all)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"runs at a time (default {DEFAULT_JOBS})")
    own, rest = parser.parse_known_args(argv)
    if any(a in ("-h", "--help") for a in rest):
        print("ablation options: --ablation-config FILE (default recipes/demo_ablation.yaml), --seeds N [N ...],")
        print("  --arms NAME [NAME ...], --jobs N (runs at a time, default the CPU count up to 4); every demo option")
        print("  below applies to the shared data, SFT and RL stages.\n")
    if not any(a == "--out" or a.startswith("--out=") for a in rest):
        rest = ["--out", "outputs/ablation", *rest]
    config = parse_args(rest)
    run_ablation(config, ablation_config=own.ablation_config, seeds=own.seeds, arms=own.arms, jobs=own.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())


