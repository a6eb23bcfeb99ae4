"""What the lab measures: progress, inter-task equity, advantage shape and outlier sensitivity.

Pure functions over tensors. Shapes: ``N`` responses, ``P`` prompts, ``K`` responses per prompt, ``T`` tasks,
``S`` steps.
"""

from __future__ import annotations

import math

import torch


def per_task_mean(values: torch.Tensor, task_ids: torch.Tensor, n_tasks: int) -> torch.Tensor:
    """Mean of ``values`` (M,) within each task; (T,), NaN for a task with no entries."""
    total = values.new_zeros(n_tasks).index_add(0, task_ids, values)
    count = values.new_zeros(n_tasks).index_add(0, task_ids, torch.ones_like(values))
    return total / count


def expected_reward(probs: torch.Tensor, rewards: torch.Tensor, task_of_prompt: torch.Tensor,
                    n_tasks: int) -> torch.Tensor:
    """Exact expected reward per task, ``mean_p Σ_k π(k | p)·R[p, k]`` over the task's prompts: (P, K) → (T,)."""
    return per_task_mean((probs * rewards).sum(1), task_of_prompt, n_tasks)


def achievable_reward(rewards: torch.Tensor, task_of_prompt: torch.Tensor, n_tasks: int) -> torch.Tensor:
    """The best expected reward any policy can reach, ``mean_p max_k R[p, k]`` per task: (T,).

    The policy is a free softmax per prompt (the per-prompt parameters alone can express it), so the supremum
    of the expected reward is the mean of each prompt's best reward.
    """
    return per_task_mean(rewards.amax(1), task_of_prompt, n_tasks)


def steps_to_fraction(curve: torch.Tensor, start: float, best: float, fraction: float = 0.9) -> int | None:
    """First step ``s`` with ``curve[s] ≥ start + fraction·(best − start)``; ``None`` if never reached.

    ``curve`` (S + 1,) holds the expected reward before step 1 (index 0) and after each step. "Steps to 90 %"
    is therefore the number of updates needed to close 90 % of the gap between the starting and the
    achievable expected reward.
    """
    target = start + fraction * (best - start)
    hits = torch.nonzero(curve >= target - 1e-12).flatten()
    return int(hits[0]) if hits.numel() else None


def grad_shares(norms: torch.Tensor) -> torch.Tensor:
    """Each task's share of the shared-parameter gradient norm, averaged over steps: (S, T) → (T,).

    ``share_τ = mean_s ‖g_τ,s‖ / Σ_υ ‖g_υ,s‖`` where ``g_τ,s`` is task τ's contribution to the gradient of the
    step-``s`` loss with respect to the shared parameters (the total gradient is ``Σ_τ g_τ,s``). Equal shares
    (``1/T``) mean every task gets the same say in the shared update. Steps whose total is 0 are skipped.
    """
    total = norms.sum(1, keepdim=True)
    keep = total.squeeze(1) > 0
    if not keep.any():
        return torch.full((norms.shape[1],), math.nan, dtype=norms.dtype)
    return (norms[keep] / total[keep]).mean(0)


def task_moments(values: torch.Tensor, task_ids: torch.Tensor, n_tasks: int) -> torch.Tensor:
    """Per task: skewness, excess kurtosis, max |x| and root mean square of ``values`` (N,), vectorised: → (T, 4).

    ``skew = m₃ / m₂^{3/2}``, ``excess kurtosis = m₄ / m₂² − 3`` with central moments ``m_j = mean((x − x̄)^j)``
    (the biased, population estimators, as ``scipy.stats.skew``/``kurtosis`` with ``bias=True``). A task whose
    values are all equal (``m₂ = 0``) or absent gets NaN for the first two. The RMS ``√mean(x²)`` of
    advantages is the step size a task's responses get under SGD.
    """
    x = values.to(torch.float64)
    mean = per_task_mean(x, task_ids, n_tasks)
    d = x - mean[task_ids]
    m2, m3, m4 = (per_task_mean(d**j, task_ids, n_tasks) for j in (2, 3, 4))
    degenerate = m2 <= 1e-24
    safe = torch.where(degenerate, torch.ones_like(m2), m2)
    skew = torch.where(degenerate, torch.full_like(m2, math.nan), m3 / safe**1.5)
    kurt = torch.where(degenerate, torch.full_like(m2, math.nan), m4 / safe**2 - 3.0)
    max_abs = x.new_zeros(n_tasks).scatter_reduce(0, task_ids, x.abs(), "amax", include_self=True)
    rms = per_task_mean(x * x, task_ids, n_tasks).sqrt()
    return torch.stack([skew, kurt, max_abs, rms], dim=1)


def inject_outlier(rewards: torch.Tensor, task_ids: torch.Tensor, task: int,
                   factor: float = 100.0) -> tuple[torch.Tensor, int]:
    """Multiply the best reward of ``task`` in the batch by ``factor`` (first such response on ties).

    Returns the modified copy and the index of the changed response. The best response is chosen so that the
    injection changes a reward (×100 of a zero reward is still zero). Raises if the task is absent.
    """
    in_task = task_ids == task
    if not in_task.any():
        raise ValueError(f"task index {task} has no response in the batch")
    masked = torch.where(in_task, rewards, torch.full_like(rewards, -math.inf))
    index = int(masked.argmax())
    out = rewards.clone()
    out[index] = out[index] * factor
    return out, index
