"""One registry of advantage estimators, called uniformly (style principle 4).

Every estimator is an object with ``__call__(rewards, group_ids, task_ids) -> advantages`` and
``state_dict()`` / ``load_state_dict()`` (empty for stateless ones), built by its factory::

    estimator = make_estimator("g2rpo")              # or ADVANTAGE_ESTIMATORS["g2rpo"]()
    advantages = estimator(rewards, group_ids, task_ids)

Shapes: ``rewards`` (N,) float, ``group_ids`` and ``task_ids`` (N,) int64 or sequences of hashable keys.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from g2rpo.algo.baselines import EmaGrpo, dr_grpo_advantages, grpo_advantages
from g2rpo.algo.gaussian import Stages, g2rpo_advantages

Ids = torch.Tensor | Sequence[Hashable]


class AdvantageEstimator(Protocol):
    def __call__(self, rewards: torch.Tensor, group_ids: Ids, task_ids: Ids) -> torch.Tensor: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class _Stateless:
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state, got keys {sorted(state)}")


@dataclass
class G2rpo(_Stateless):
    """G2RPO (recipe §3); ``stages`` ∈ ``"group+task"``, ``"task"``, ``"group"``."""

    stages: Stages = "group+task"

    def __call__(self, rewards: torch.Tensor, group_ids: Ids, task_ids: Ids) -> torch.Tensor:
        return g2rpo_advantages(rewards, group_ids, task_ids, stages=self.stages)


@dataclass
class Grpo(_Stateless):
    """GRPO: per-group z-score (task ids are accepted and ignored)."""

    std: Literal["population", "sample"] = "population"
    eps: float = 1e-6

    def __call__(self, rewards: torch.Tensor, group_ids: Ids, task_ids: Ids) -> torch.Tensor:
        return grpo_advantages(rewards, group_ids, std=self.std, eps=self.eps)


@dataclass
class DrGrpo(_Stateless):
    """Dr.GRPO: per-group centring (task ids are accepted and ignored)."""

    def __call__(self, rewards: torch.Tensor, group_ids: Ids, task_ids: Ids) -> torch.Tensor:
        return dr_grpo_advantages(rewards, group_ids)


def _g2rpo_with(stages: Stages) -> Callable[..., G2rpo]:
    def factory() -> G2rpo:
        return G2rpo(stages=stages)

    factory.__doc__ = f"G2RPO with stages={stages!r}."
    return factory


ADVANTAGE_ESTIMATORS: dict[str, Callable[..., AdvantageEstimator]] = {
    "g2rpo": G2rpo,
    "g2rpo_task": _g2rpo_with("task"),
    "g2rpo_group": _g2rpo_with("group"),
    "grpo": Grpo,
    "dr_grpo": DrGrpo,
    "ema_grpo": EmaGrpo,
}
"""Estimator name → factory. ``g2rpo`` takes ``stages`` (default ``"group+task"``); ``grpo`` takes ``std`` and
``eps``; ``ema_grpo`` takes ``decay``, ``min_std`` and ``guard``."""


def make_estimator(name: str, **kwargs) -> AdvantageEstimator:
    """Build the estimator registered as ``name``; an unknown name lists the valid ones."""
    try:
        factory = ADVANTAGE_ESTIMATORS[name]
    except KeyError:
        raise KeyError(
            f"unknown advantage estimator {name!r}; valid estimators: {', '.join(ADVANTAGE_ESTIMATORS)}"
        ) from None
    return factory(**kwargs)
