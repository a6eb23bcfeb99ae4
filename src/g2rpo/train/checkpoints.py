"""Checkpoint folders of a run: which exist, which are complete, and the newest complete one.

A checkpoint is complete when its ``g2rpo_state.json`` (written by ``G2RPOTrainer`` first) and the Trainer's
``trainer_state.json`` (written last, after weights, optimizer and RNG states) are both readable JSON.
"""

from __future__ import annotations

import json
import logging
import os
import re

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)

STATE_FILE = "g2rpo_state.json"
TRAINER_STATE = "trainer_state.json"
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checkpoint_problem(folder: str) -> str | None:
    """Why ``folder`` cannot be resumed from (``None``: it is complete).

    A checkpoint is complete when its ``g2rpo_state.json`` and the Trainer's ``trainer_state.json`` are both
    readable. ``G2RPOTrainer`` writes its state first and the Trainer writes ``trainer_state.json`` after the
    weights, optimizer and RNG states, so a folder cut short by a crash lacks one of the two.
    """
    for name in (STATE_FILE, TRAINER_STATE):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            return f"{path} is missing"
        if _read_json(path) is None:
            return f"{path} is not readable JSON"
    return None


def checkpoints(output_dir: str) -> list[tuple[int, str]]:
    """Every ``checkpoint-N`` folder in ``output_dir`` as ``(N, path)``, lowest step first."""
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        match = _CHECKPOINT.match(name)
        if match and os.path.isdir(os.path.join(output_dir, name)):
            found.append((int(match.group(1)), os.path.join(output_dir, name)))
    return sorted(found)


def latest_complete_checkpoint(output_dir: str) -> str | None:
    """The highest-numbered complete checkpoint in ``output_dir`` (incomplete ones are skipped, with a warning)."""
    for step, folder in reversed(checkpoints(output_dir)):
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder
        logger.warning("skipping incomplete checkpoint-%d: %s", step, problem)
    return None


def checkpoint_step(folder: str) -> int:
    state = _read_json(os.path.join(folder, TRAINER_STATE)) or {}
    return int(state.get("global_step", 0))
