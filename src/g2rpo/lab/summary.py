"""Aggregate lab runs over seeds into ``summary.json``: estimator → task → measures."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from g2rpo.lab.measures import grad_shares, steps_to_fraction
from g2rpo.lab.simulator import RunRecord

SUMMARY_FIELDS: tuple[str, ...] = (
    "steps_to_90",
    "reached_90",
    "grad_share",
    "max_abs_advantage",
    "final_reward",
    "final_reward_std",
    "start_reward",
    "achievable_reward",
    "advantage_skewness",
    "advantage_excess_kurtosis",
    "advantage_rms",
    "outlier_probe",
)
"""Keys of every ``summary[estimator][task]`` entry (see :func:`summarize`)."""

PROBE_FIELDS: tuple[str, ...] = (
    "reward",
    "injected_reward",
    "advantage_clean",
    "advantage_outlier",
    "max_abs_advantage_clean",
    "max_abs_advantage_outlier",
    "update_norm_ratio",
    "same_task_max_change",
    "other_tasks_max_change",
)


def _clean(x: float, digits: int = 4) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


def _nanmean(values: torch.Tensor) -> float:
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else math.nan


def summarize_estimator(runs: Sequence[RunRecord], *, outlier_factor: float) -> dict[str, dict]:
    """One estimator's runs (one per seed, same tasks) → task → measures.

    - ``steps_to_90``: mean over seeds of :func:`~g2rpo.lab.measures.steps_to_fraction` (fraction 0.9,
      start = the seed's expected reward before training, best = its achievable reward); ``null`` unless every
      seed got there. ``reached_90``: the fraction of seeds that did.
    - ``grad_share``: mean over seeds of :func:`~g2rpo.lab.measures.grad_shares`.
    - ``max_abs_advantage``: the largest |A| of the task's responses over all steps and seeds.
    - ``final_reward`` (± ``final_reward_std`` over seeds): expected reward after the last step.
    - ``advantage_skewness`` / ``advantage_excess_kurtosis`` / ``advantage_rms``: mean over steps and seeds of
      the per-step values (the RMS is the task's effective step size under SGD).
    - ``outlier_probe``: for the injected task, the probe averaged over seeds (``update_norm_ratio`` =
      ‖∇L‖ with the outlier / without); ``null`` for the other tasks.
    """
    tasks = runs[0].tasks
    out: dict[str, dict] = {}
    for t, task in enumerate(tasks):
        steps = [
            steps_to_fraction(r.expected[:, t], float(r.expected[0, t]), float(r.achievable[t])) for r in runs
        ]
        reached = [s for s in steps if s is not None]
        finals = torch.stack([r.expected[-1, t] for r in runs])
        probes = [r.probe for r in runs if r.probe is not None and r.probe.task == t]
        probe = None
        if probes:
            def avg(get, probes=probes) -> float | None:
                return _clean(sum(get(p) for p in probes) / len(probes))

            probe = {
                "reward": avg(lambda p: p.reward),
                "injected_reward": avg(lambda p: p.reward * outlier_factor),
                "advantage_clean": avg(lambda p: p.advantage_clean),
                "advantage_outlier": avg(lambda p: p.advantage_outlier),
                "max_abs_advantage_clean": avg(lambda p: p.max_abs_advantage_clean),
                "max_abs_advantage_outlier": avg(lambda p: p.max_abs_advantage_outlier),
                "update_norm_ratio": avg(lambda p: p.update_norm_outlier / max(p.update_norm_clean, 1e-300)),
                "same_task_max_change": avg(lambda p: p.same_task_max_change),
                "other_tasks_max_change": avg(lambda p: p.other_tasks_max_change),
            }
        out[task] = {
            "steps_to_90": _clean(sum(reached) / len(reached), 1) if len(reached) == len(runs) else None,
            "reached_90": round(len(reached) / len(runs), 4),
            "grad_share": _clean(float(torch.stack([grad_shares(r.grad_norms)[t] for r in runs]).mean())),
            "max_abs_advantage": _clean(float(max(r.moments[:, t, 2].max() for r in runs))),
            "final_reward": _clean(float(finals.mean())),
            "final_reward_std": _clean(float(finals.std(unbiased=False))),
            "start_reward": _clean(float(torch.stack([r.expected[0, t] for r in runs]).mean())),
            "achievable_reward": _clean(float(torch.stack([r.achievable[t] for r in runs]).mean())),
            "advantage_skewness": _clean(_nanmean(torch.cat([r.moments[:, t, 0] for r in runs]))),
            "advantage_excess_kurtosis": _clean(_nanmean(torch.cat([r.moments[:, t, 1] for r in runs]))),
            "advantage_rms": _clean(_nanmean(torch.cat([r.moments[:, t, 3] for r in runs]))),
            "outlier_probe": probe,
        }
    return out


def summarize(runs_by_estimator: dict[str, Sequence[RunRecord]], *, outlier_factor: float) -> dict[str, dict]:
    """``{estimator: {task: {field: value}}}`` with the fields of :data:`SUMMARY_FIELDS`."""
    return {name: summarize_estimator(runs, outlier_factor=outlier_factor)
            for name, runs in runs_by_estimator.items()}
