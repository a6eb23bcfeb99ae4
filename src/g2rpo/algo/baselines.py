"""Linear baselines behind G2RPO's interface (recipe §3): GRPO, Dr.GRPO and EMA-GRPO."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import torch

from g2rpo.algo.quantiles import out_dtype
from g2rpo.algo.segments import as_codes, segment_mean


def _group_stats(rewards, group_ids, *, sample: bool = False):
    x = rewards.to(torch.float64)
    codes, keys = as_codes(group_ids, length=x.numel())
    mean, size = segment_mean(x, codes, len(keys))
    centred = x - mean[codes]
    sq = x.new_zeros(len(keys)).index_add(0, codes, centred * centred)
    dof = (size - 1).clamp_min(1) if sample else size.clamp_min(1)
    std = torch.sqrt(sq / dof)
    return x, codes, centred, std


def grpo_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor | Sequence[Hashable],
    *,
    std: Literal["population", "sample"] = "population",
    eps: float = 1e-6,
) -> torch.Tensor:
    """GRPO: ``A_i = (r_i − mean_g) / (std_g + ε)`` within each prompt group.

    ``std="population"`` divides the squared deviations by ``n`` (the paper's figure: 0,0,0,0,1 →
    −0.5 ×4, 2.0), ``"sample"`` by ``n − 1`` (a group of one has std 0). Shapes: (N,) → (N,).
    """
    if std not in ("population", "sample"):
        raise ValueError(f"unknown std {std!r}; valid: population, sample")
    _, codes, centred, group_std = _group_stats(rewards, group_ids, sample=std == "sample")
    return (centred / (group_std[codes] + eps)).to(out_dtype(rewards))


def dr_grpo_advantages(rewards: torch.Tensor, group_ids: torch.Tensor | Sequence[Hashable]) -> torch.Tensor:
    """Dr.GRPO: ``A_i = r_i − mean_g`` (no std scaling). Shapes: (N,) → (N,)."""
    _, _, centred, _ = _group_stats(rewards, group_ids)
    return centred.to(out_dtype(rewards))


class EmaGrpo:
    """EMA-GRPO (OneThinker): centre per group, scale by a per-task EMA of the reward std (recipe §3).

    For each task τ in the batch, before use::

        μ₁ ← d·μ₁ + (1 − d)·mean_τ(r)        μ₂ ← d·μ₂ + (1 − d)·mean_τ(r²)
        σ_τ = max(√(μ₂ − μ₁²), min_std)
        A_i = (r_i − mean_g) / σ_τ

    A task seen for the first time starts from its batch moments (an EMA started at 0 would understate the
    std for ~1/(1−d) steps). Guard: a group with any ``|A_i| > guard`` falls back to its own population std,
    ``(r_i − mean_g) / (std_g + 1e-6)``.

    State (``μ₁, μ₂`` per task key; keys may be strings) is explicit: save it with :meth:`state_dict`, restore
    with :meth:`load_state_dict`. Under data parallelism, call it on the batch gathered from all ranks so every
    rank applies the same update and the states stay identical.
    """

    def __init__(self, decay: float = 0.99, min_std: float = 1e-3, guard: float = 5.0) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        if min_std <= 0 or guard <= 0:
            raise ValueError(f"min_std and guard must be positive, got {min_std}, {guard}")
        self.decay, self.min_std, self.guard = decay, min_std, guard
        self.moments: dict[Hashable, tuple[float, float]] = {}

    def __call__(
        self,
        rewards: torch.Tensor,
        group_ids: torch.Tensor | Sequence[Hashable],
        task_ids: torch.Tensor | Sequence[Hashable],
    ) -> torch.Tensor:
        x, groups, centred, group_std = _group_stats(rewards, group_ids)
        tasks, task_keys = as_codes(task_ids, length=x.numel())
        batch_m1, _ = segment_mean(x, tasks, len(task_keys))
        batch_m2, _ = segment_mean(x * x, tasks, len(task_keys))
        d = self.decay
        for key, m1, m2 in zip(task_keys, batch_m1.tolist(), batch_m2.tolist(), strict=True):
            old = self.moments.get(key)
            self.moments[key] = (m1, m2) if old is None else (d * old[0] + (1 - d) * m1, d * old[1] + (1 - d) * m2)
        mu = torch.tensor([self.moments[k] for k in task_keys], dtype=torch.float64).reshape(-1, 2)
        task_std = torch.sqrt((mu[:, 1] - mu[:, 0] ** 2).clamp_min(0.0)).clamp_min(self.min_std)
        scaled = centred / task_std[tasks]
        n_groups = int(groups.max()) + 1 if x.numel() else 0
        worst = x.new_zeros(n_groups).scatter_reduce(0, groups, scaled.abs(), "amax", include_self=False)
        fallback = (worst > self.guard)[groups]
        own = centred / (group_std[groups] + 1e-6)
        return torch.where(fallback, own, scaled).to(out_dtype(rewards))

    def state_dict(self) -> dict:
        """``{"decay", "min_std", "guard", "moments": [[task_key, μ₁, μ₂], …]}`` (keys keep their type)."""
        return {
            "decay": self.decay,
            "min_std": self.min_std,
            "guard": self.guard,
            "moments": [[k, m1, m2] for k, (m1, m2) in self.moments.items()],
        }

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.min_std, self.guard = state["decay"], state["min_std"], state["guard"]
        self.moments = {k: (float(m1), float(m2)) for k, m1, m2 in state["moments"]}
