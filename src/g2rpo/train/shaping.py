"""Per-task-family length envelopes for reward shaping (recipe §5), fixed or set automatically.

``fixed``: each family's trapezoid is ``length_envelopes[family]`` or the family's default
(:data:`g2rpo.tasks.TASK_FAMILIES`). ``auto`` (beyond the paper): the first time a family appears in a batch,
its envelope is set from that batch's response lengths of that family (gathered over all ranks, so every rank
computes the same envelope) and the family's category::

    m        = max(1, median length of the family's responses in that batch)
    envelope = (f_a·m, f_b·m, f_c·m, f_d·m)        [f_a, f_b, f_c, f_d] = auto_length_factors[category]

Defaults: reasoning ``[0.5, 1, 2, 4]`` (full score from the current median up to twice it: chains may grow),
both ``[0.25, 0.5, 1.5, 3]`` (a band around today's length), vision ``[0, 0.25, 1, 2]`` (full score at or below
today's median: answers may shrink, not grow). The envelopes are part of the trainer's checkpoint state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from g2rpo.algo import Envelope
from g2rpo.tasks import TASK_FAMILIES, envelope_for


def auto_envelope(lengths: torch.Tensor, factors: Sequence[float]) -> Envelope:
    """The auto-mode trapezoid for one family: ``factors × max(1, median(lengths))``.

    Args:
        lengths: (n,) response lengths of one family, n ≥ 1 (tokens or characters).
        factors: ``[f_a, f_b, f_c, f_d]`` with ``0 ≤ f_a < f_b ≤ f_c < f_d``.
    """
    if lengths.numel() == 0:
        raise ValueError("auto_envelope needs at least one length")
    median = float(torch.quantile(lengths.to(torch.float64), 0.5))
    m = max(1.0, median)
    return Envelope(*(float(f) * m for f in factors))


class EnvelopeTable:
    """The envelope of every task family, with the state auto mode needs (which families are calibrated)."""

    def __init__(
        self,
        mode: str,
        overrides: Mapping[str, Sequence[float]] | None = None,
        auto_factors: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.mode = mode
        self.auto_factors = dict(auto_factors or {})
        self.envelopes: dict[str, Envelope] = {name: envelope_for(name, overrides) for name in TASK_FAMILIES}
        self.calibrated: set[str] = set()

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def calibrate(self, lengths: torch.Tensor, families: Sequence[str]) -> list[str]:
        """Auto mode: set the envelope of every family in ``families`` not calibrated yet. Returns those set.

        ``lengths`` (N,) and ``families`` (N,) must be the batch gathered from all ranks.
        """
        if self.mode != "auto":
            return []
        new = sorted({f for f in families} - self.calibrated)
        for family in new:
            rows = torch.tensor([f == family for f in families], dtype=torch.bool)
            category = TASK_FAMILIES[family].category
            self.envelopes[family] = auto_envelope(lengths[rows], self.auto_factors[category])
            self.calibrated.add(family)
        return new

    def get(self, family: str) -> Envelope | None:
        return self.envelopes[family] if self.active else None

    def state_dict(self) -> dict:
        return {
            "mode": self.mode,
            "calibrated": sorted(self.calibrated),
            "envelopes": {k: v.as_list() for k, v in self.envelopes.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        if state["mode"] != self.mode:
            raise ValueError(f"checkpoint has length_shaping={state['mode']!r} but the config says {self.mode!r}")
        self.calibrated = set(state["calibrated"])
        self.envelopes = {k: Envelope.from_sequence(v) for k, v in state["envelopes"].items()}
