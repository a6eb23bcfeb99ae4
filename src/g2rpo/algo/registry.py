"""One registry of advantage estimators, called uniformly (style principle 4).

Every estimator is an object with ``__call__(rewards, group_ids, task_ids) -> advantages`` and
``state_dict()`` / ``load_state_dict()`` (empty for stateless ones), built by its factory::

    estimator = make_estimator("g2rpo")              # or ADVANTAGE_ESTIMATORS["g2rpo"]()
    advantages = estimator(rewards, group_ids, task_ids)

Shapes: ``rewards`` (N,) float, ``group_ids`` and ``task_ids`` (N,) int64 or sequences of hashable keys.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
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


def _factory(name: str) -> Callable[..., AdvantageEstimator]:
    try:
        return ADVANTAGE_ESTIMATORS[name]
    except KeyError:
        raise KeyError(
            f"unknown advantage estimator {name!r}; valid estimators: {', '.join(ADVANTAGE_ESTIMATORS)}"
        ) from None


def make_estimator(name: str, **kwargs) -> AdvantageEstimator:
    """Build the estimator registered as ``name``; an unknown name lists the valid ones, and an unknown or
    mistyped option is a ``ValueError`` naming it (:func:`check_estimator_options`)."""
    check_estimator_options(name, kwargs)
    return _factory(name)(**kwargs)


def estimator_options(name: str) -> dict[str, object]:
    """The options of estimator ``name``: keyword → default (``grpo`` → ``{"std": "population", "eps": 1e-06}``)."""
    return {p.name: p.default for p in inspect.signature(_factory(name)).parameters.values()}


def _option_types(factory: Callable) -> dict[str, object]:
    target = factory.__init__ if isinstance(factory, type) else factory
    return typing.get_type_hints(target)


def check_estimator_options(name: str, options: Mapping[str, object]) -> None:
    """Check ``options`` for estimator ``name`` before anything is built: every key must be one of its options
    and every value of the option's declared type (one of a ``Literal``'s values; a finite number for a float).
    Raises ``ValueError`` naming the option and listing the valid ones or values."""
    valid = estimator_options(name)
    types = _option_types(_factory(name))
    for key, value in options.items():
        if key not in valid:
            listed = ", ".join(valid) or "none (it takes no options)"
            raise ValueError(f"unknown option {key!r} for advantage estimator {name!r}; valid options: {listed}")
        expected = types.get(key)
        if typing.get_origin(expected) is Literal:
            allowed = typing.get_args(expected)
            if value not in allowed:
                raise ValueError(
                    f"option {key!r} of advantage estimator {name!r} is {value!r}; valid values: "
                    + ", ".join(map(repr, allowed))
                )
        elif expected is float and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
        ):
            raise ValueError(f"option {key!r} of advantage estimator {name!r} must be a finite number, got {value!r}")
