"""``g2rpo lab``: every registered advantage estimator on a simulated multi-task mix, in seconds.

Writes ``summary.json`` (estimator → task → measures), ``curves.json`` (estimator → task → mean expected reward
per step), ``config.json``, PNG figures and ``index.html`` to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from g2rpo.algo import ADVANTAGE_ESTIMATORS
from g2rpo.errors import UserError, did_you_mean
from g2rpo.io import write_text_atomic
from g2rpo.lab.problems import DEFAULT_TASK_SPEC, build_mix, parse_task_spec
from g2rpo.lab.report import write_figures, write_html
from g2rpo.lab.simulator import DEFAULT_LR, OPTIMIZERS, LabConfig, RunRecord, run_simulation
from g2rpo.lab.summary import summarize

HELP = "Simulate multi-task RL with every advantage estimator; write summary.json, figures and HTML."

_DEFAULTS = LabConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", default=DEFAULT_TASK_SPEC, metavar="SPEC",
                        help="tasks as 'NAME=KIND[:KEY=VALUE,...]; ...' (kinds: binary, outlier, dense) or a "
                             "YAML file; default: %(default)s")
    parser.add_argument("--estimators", default=",".join(ADVANTAGE_ESTIMATORS), metavar="LIST",
                        help="comma-separated names from g2rpo.algo.ADVANTAGE_ESTIMATORS (default: all)")
    parser.add_argument("--steps", type=int, default=_DEFAULTS.steps, help="updates per run (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 per estimator (default %(default)s)")
    parser.add_argument("--batch-prompts", type=int, default=_DEFAULTS.batch_prompts,
                        help="prompts per step (default %(default)s)")
    parser.add_argument("--group-size", type=int, default=_DEFAULTS.group_size,
                        help="rollouts per prompt (default %(default)s)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=_DEFAULTS.optimizer,
                        help="update rule of the simulated policy (default %(default)s)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate (default per optimiser: {', '.join(f'{k} {v}' for k, v in DEFAULT_LR.items())})")
    parser.add_argument("--max-grad-norm", type=float, default=None, help="clip the gradient norm (default off)")
    parser.add_argument("--probe-step", type=int, default=_DEFAULTS.probe_step,
                        help="step at which one reward is multiplied by 100 to probe outliers (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("outputs/lab"), help="output folder (default %(default)s)")


def _estimators(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ADVANTAGE_ESTIMATORS]
    if unknown or not names:
        hint = did_you_mean(unknown[0], ADVANTAGE_ESTIMATORS) if unknown else ""
        raise UserError(f"--estimators: unknown estimator(s) {unknown or text!r}{hint} "
                        f"(valid: {', '.join(ADVANTAGE_ESTIMATORS)})")
    return names


def run_lab(specs, estimators: list[str], config: LabConfig, seeds: int, *,
            progress=None) -> dict[str, list[RunRecord]]:
    """Every estimator × seed on the same task draws (seed ``s`` builds the tasks and drives the sampling).

    Runs on one intra-op thread (restored afterwards): the tensors are small, and on a busy 2-core machine
    two spinning threads made a run ~50× slower in our measurements.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_all(specs, estimators, config, seeds, progress)
    finally:
        torch.set_num_threads(threads)


def _run_all(specs, estimators, config, seeds, progress) -> dict[str, list[RunRecord]]:
    mixes = [build_mix(specs, responses=config.responses, shared_dim=config.shared_dim, seed=s) for s in range(seeds)]
    runs: dict[str, list[RunRecord]] = {}
    for name in estimators:
        runs[name] = []
        for seed, mix in enumerate(mixes):
            runs[name].append(run_simulation(mix, config, name, seed))
            if progress is not None:
                progress()
    return runs


def main(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    try:
        specs = parse_task_spec(args.tasks)
        config = LabConfig(steps=args.steps, batch_prompts=args.batch_prompts, group_size=args.group_size,
                           optimizer=args.optimizer, lr=DEFAULT_LR[args.optimizer] if args.lr is None else args.lr,
                           max_grad_norm=args.max_grad_norm,
                           probe_step=args.probe_step)
    except ValueError as err:
        raise UserError(str(err)) from None
    estimators = _estimators(args.estimators)
    if args.seeds < 1:
        raise UserError(f"--seeds must be ≥ 1, got {args.seeds}")
    started = time.perf_counter()
    with Progress(transient=True) as bar:
        job = bar.add_task("simulating", total=len(estimators) * args.seeds)
        try:
            runs = run_lab(specs, estimators, config, args.seeds, progress=lambda: bar.advance(job))
        except ValueError as err:
            raise UserError(str(err)) from None
    simulated = time.perf_counter() - started
    summary = summarize(runs, outlier_factor=config.outlier_factor)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "lab": dataclasses.asdict(config),
        "tasks": [dataclasses.asdict(s) for s in specs],
        "estimators": estimators,
        "seeds": list(range(args.seeds)),
        "simulation_seconds": round(simulated, 2),
    }
    _write_json(out / "summary.json", summary)
    _write_json(out / "curves.json", _mean_curves(runs))
    figures = write_figures(runs, summary, out, config.steps)
    meta["total_seconds"] = round(time.perf_counter() - started, 2)
    _write_json(out / "config.json", meta)
    write_html(summary, figures, meta, out / "index.html")
    print(f"g2rpo lab: {len(estimators)} estimators × {args.seeds} seeds × {config.steps} steps in "
          f"{meta['total_seconds']:.1f} s → {out / 'index.html'}")
    return 0


def _mean_curves(runs: dict[str, list[RunRecord]]) -> dict[str, dict[str, list[float]]]:
    """estimator → task → expected reward before step 1 and after every step, mean over seeds."""
    out: dict[str, dict[str, list[float]]] = {}
    for name, records in runs.items():
        mean = torch.stack([r.expected for r in records]).mean(0)
        out[name] = {task: [round(v, 6) for v in mean[:, t].tolist()] for t, task in enumerate(records[0].tasks)}
    return out


def _write_json(path: Path, data: object) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
