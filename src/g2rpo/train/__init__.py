"""The multi-task RL trainer: `G2RPOConfig` and `G2RPOTrainer` on TRL's `GRPOTrainer` (recipe §3–§8).

Heavy imports (torch, TRL) happen on first attribute access, so `g2rpo --help` stays fast.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "G2RPOConfig": "g2rpo.train.config",
    "G2RPOTrainer": "g2rpo.train.trainer",
    "TaskReward": "g2rpo.train.reward",
    "EnvelopeTable": "g2rpo.train.shaping",
    "Rollouts": "g2rpo.train.rollouts",
    "StepResult": "g2rpo.train.step",
    "StepSettings": "g2rpo.train.step",
    "run_step": "g2rpo.train.step",
    "auto_envelope": "g2rpo.train.shaping",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'g2rpo.train' has no attribute {name!r}")
