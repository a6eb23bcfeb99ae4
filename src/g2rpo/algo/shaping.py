"""Task-level response-length shaping (recipe §5) and entropy shaping (recipe §6).

Shapes: ``N`` responses, ``T`` token positions (right-padded; ``mask`` marks real response tokens).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import torch

from g2rpo.algo.segments import as_codes


@dataclass(frozen=True)
class Envelope:
    """A trapezoid over the response length ``L`` (recipe §5), with ``a < b ≤ c < d``::

        ℓ(L) = 0                      L < a  or  L > d
             = (L − a) / (b − a)      a ≤ L < b
             = 1                      b ≤ L ≤ c
             = 1 − (L − c) / (d − c)  c < L ≤ d

    The unit (tokens or characters) is the caller's; the trainer counts tokens by default.
    """

    a: float
    b: float
    c: float
    d: float

    def __post_init__(self) -> None:
        values = (self.a, self.b, self.c, self.d)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError(f"Envelope bounds must be finite numbers, got {values}")
        if not (self.a < self.b <= self.c < self.d):
            raise ValueError(
                f"Envelope needs a < b <= c < d, got a={self.a}, b={self.b}, c={self.c}, d={self.d}"
            )

    @classmethod
    def from_sequence(cls, values: Sequence[float]) -> Envelope:
        """Build from ``[a, b, c, d]`` (the form configs use)."""
        if len(values) != 4:
            raise ValueError(f"an envelope is 4 numbers [a, b, c, d], got {list(values)}")
        return cls(*(float(v) for v in values))

    def as_list(self) -> list[float]:
        return [self.a, self.b, self.c, self.d]


def length_score(lengths: torch.Tensor, envelope: Envelope) -> torch.Tensor:
    """The trapezoid score ``ℓ ∈ [0, 1]`` of every length (recipe §5), vectorised.

    ``min(rising ramp, falling ramp)`` clamped to ``[0, 1]`` equals the piecewise definition on every
    interval: on ``[a, b)`` the falling ramp is ≥ 1, on ``(c, d]`` the rising ramp is ≥ 1, and outside
    ``[a, d]`` one ramp is negative.

    Args:
        lengths: any shape, response lengths (int or float).
        envelope: the task family's trapezoid.
    Returns:
        float tensor of the same shape (float32 unless ``lengths`` is a wider float).
    """
    x = lengths.to(torch.float64)
    rising = (x - envelope.a) / (envelope.b - envelope.a)
    falling = (envelope.d - x) / (envelope.d - envelope.c)
    score = torch.minimum(rising, falling).clamp(0.0, 1.0)
    out_dtype = lengths.dtype if lengths.is_floating_point() else torch.float32
    return score.to(out_dtype)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Exact per-token entropy ``H = −Σ_v p_v log p_v`` of the policy's next-token distribution.

    The ``full`` estimator of recipe §6. Args: ``logits`` (N, T, V). Returns (N, T), differentiable.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def entropy_band_penalty(
    token_entropy: torch.Tensor,
    mask: torch.Tensor,
    task_ids: torch.Tensor | Sequence[Hashable],
    bands: Mapping[Hashable, tuple[float, float]],
) -> torch.Tensor:
    """Two-sided entropy band penalty summed over the task families present (recipe §6)::

        H_τ     = Σ_{i ∈ τ, t} mask_it · H_it / Σ_{i ∈ τ, t} mask_it
        penalty = Σ_{τ present} [ relu(H_τ − high_τ) + relu(low_τ − H_τ) ]

    The trainer adds ``λ_ent · penalty`` to the policy loss. ``token_entropy`` is either the exact entropy
    (:func:`token_entropy`, estimator ``full``) or the negative log-probability of the sampled tokens
    (estimator ``sampled_nll``, the authors').

    Deviation from the authors' code: a task with no response token in the batch contributes nothing (their
    code adds a constant for absent tasks, which shifts the loss but carries no gradient).

    Args:
        token_entropy: (N, T) float, differentiable.
        mask: (N, T) bool or 0/1, real response tokens.
        task_ids: (N,) int tensor or a sequence of hashable keys (e.g. family names).
        bands: task key → ``(low, high)`` with ``low ≤ high``; every task present must have one.
    Returns:
        0-d tensor, differentiable with respect to ``token_entropy``.
    """
    if token_entropy.shape != mask.shape or token_entropy.dim() != 2:
        raise ValueError(f"token_entropy and mask must both be (N, T), got {tuple(token_entropy.shape)} "
                         f"and {tuple(mask.shape)}")
    codes, keys = as_codes(task_ids, length=token_entropy.shape[0])
    weights = mask.to(token_entropy.dtype)
    per_row_sum = (token_entropy * weights).sum(dim=1)
    per_row_count = weights.sum(dim=1)
    n_tasks = len(keys)
    task_sum = token_entropy.new_zeros(n_tasks).index_add(0, codes, per_row_sum)
    task_count = token_entropy.new_zeros(n_tasks).index_add(0, codes, per_row_count)
    present = task_count > 0
    missing = [k for k, p in zip(keys, present.tolist(), strict=True) if p and k not in bands]
    if missing:
        raise KeyError(f"no entropy band for task(s) {missing}; bands are given for {sorted(map(str, bands))}")
    low = token_entropy.new_tensor([float(bands[k][0]) if k in bands else 0.0 for k in keys])
    high = token_entropy.new_tensor([float(bands[k][1]) if k in bands else 0.0 for k in keys])
    mean_entropy = task_sum / task_count.clamp_min(1.0)
    penalty = torch.relu(mean_entropy - high) + torch.relu(low - mean_entropy)
    return torch.where(present, penalty, torch.zeros_like(penalty)).sum()
