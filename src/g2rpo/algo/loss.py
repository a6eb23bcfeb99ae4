"""The clipped policy-gradient surrogate of recipe §8.

Shapes: ``N`` responses, ``T`` response tokens (right-padded; ``mask`` marks real tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

AGGREGATIONS = ("token-mean", "sequence-mean")
ENTROPY_WEIGHTINGS = ("equal", "tokens")


@dataclass(frozen=True)
class PolicyLossStats:
    """Token-weighted statistics of one loss evaluation (detached 0-d tensors: no host sync until logged).

    ``clip_low_fraction``: tokens with ``A < 0`` and ``ρ < 1 − ε_low`` (the lower clip bounds the update).
    ``clip_high_fraction``: tokens with ``A > 0`` and ``ρ > 1 + ε_high``.
    ``dual_clip_fraction``: tokens with ``A < 0`` and ``ρ > c`` (the dual clip caps the loss at ``−c·A``).
    """

    clip_low_fraction: torch.Tensor
    clip_high_fraction: torch.Tensor
    dual_clip_fraction: torch.Tensor
    ratio_mean: torch.Tensor
    ratio_min: torch.Tensor
    ratio_max: torch.Tensor


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.3,
    dual_clip: float | None = 3.0,
    aggregation: Literal["token-mean", "sequence-mean"] = "token-mean",
) -> tuple[torch.Tensor, PolicyLossStats]:
    """Asymmetric-clip PPO surrogate with dual clip (recipe §8: ε_low 0.2, ε_high 0.3, c = 3, no KL)::

        ρ      = exp(logp − old_logp)
        ℓ_tok  = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A)
        ℓ_tok  = min(ℓ_tok, −c·A)            where A < 0   (dual clip; ``dual_clip=None`` disables)

    Aggregation: ``"token-mean"`` = Σ ℓ_tok·mask / Σ mask over the whole batch (the recipe's);
    ``"sequence-mean"`` = mean over responses with at least one token of their own token mean.

    Args:
        logp: (N, T) log-probabilities of the sampled tokens under the current policy (differentiable).
        old_logp: (N, T) the same under the behaviour policy (no gradient).
        advantages: (N,) one scalar per response, broadcast over its tokens.
        mask: (N, T) bool or 0/1.
    Returns:
        ``(loss, stats)``: a 0-d differentiable loss and :class:`PolicyLossStats`.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; valid: {', '.join(AGGREGATIONS)}")
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    if logp.shape != old_logp.shape or logp.shape != mask.shape or logp.dim() != 2:
        raise ValueError(f"logp, old_logp and mask must all be (N, T); got {tuple(logp.shape)}, "
                         f"{tuple(old_logp.shape)}, {tuple(mask.shape)}")
    if advantages.shape != logp.shape[:1]:
        raise ValueError(f"advantages must be (N,) = {tuple(logp.shape[:1])}, got {tuple(advantages.shape)}")
    adv = advantages.to(logp.dtype).unsqueeze(1)
    ratio = torch.exp(logp - old_logp.detach())
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    negative = (adv < 0).expand_as(per_token)
    if dual_clip is not None:
        per_token = torch.where(negative, torch.minimum(per_token, -dual_clip * adv), per_token)

    weights = mask.to(per_token.dtype)
    n_tokens = weights.sum().clamp_min(1.0)
    if aggregation == "token-mean":
        loss = (per_token * weights).sum() / n_tokens
    else:
        row_tokens = weights.sum(dim=1)
        row_mean = (per_token * weights).sum(dim=1) / row_tokens.clamp_min(1.0)
        has_tokens = (row_tokens > 0).to(per_token.dtype)
        loss = (row_mean * has_tokens).sum() / has_tokens.sum().clamp_min(1.0)

    with torch.no_grad():
        r = ratio.detach()
        real = weights > 0

        def fraction(condition: torch.Tensor) -> torch.Tensor:
            return (condition.to(weights.dtype) * weights).sum() / n_tokens

        big = torch.finfo(r.dtype).max
        stats = PolicyLossStats(
            clip_low_fraction=fraction(negative & (r < 1.0 - clip_low)),
            clip_high_fraction=fraction(~negative & (adv > 0) & (r > 1.0 + clip_high)),
            dual_clip_fraction=fraction(negative & (r > dual_clip)) if dual_clip is not None else r.new_zeros(()),
            ratio_mean=(r * weights).sum() / n_tokens,
            ratio_min=torch.where(real, r, torch.full_like(r, big)).min() if real.any() else r.new_ones(()),
            ratio_max=torch.where(real, r, torch.full_like(r, -big)).max() if real.any() else r.new_ones(()),
        )
    return loss, stats


def microbatch_weight(
    weighting: Literal["equal", "tokens"],
    n_tokens: torch.Tensor | float,
    window_tokens: torch.Tensor | float,
    accumulation_steps: int,
) -> torch.Tensor | float:
    """Weight of one micro-batch's term (e.g. the entropy band penalty) in an update of ``accumulation_steps``
    micro-batches holding ``window_tokens`` response tokens in all (per process)::

        equal   w = 1 / accumulation_steps          every micro-batch counts the same
        tokens  w = n_tokens / window_tokens        a micro-batch counts with its share of the tokens

    Both sum to 1 over a window (``tokens`` exactly when ``window_tokens`` is the sum of the ``n_tokens``), so
    the term's scale does not depend on how the window is split. ``tokens`` is what a loss that adds the
    penalty inside a token-mean objective does (the authors' code).
    """
    if weighting == "equal":
        return 1.0 / accumulation_steps
    if weighting == "tokens":
        if isinstance(window_tokens, torch.Tensor):
            return n_tokens / window_tokens.clamp_min(1.0)
        return n_tokens / max(float(window_tokens), 1.0)
    raise ValueError(f"unknown weighting {weighting!r}; valid: {', '.join(ENTROPY_WEIGHTINGS)}")
