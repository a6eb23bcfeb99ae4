"""Training rewards (recipe §4): format, structure and accuracy verifiers, their composition, batch scoring.

``score_response`` scores one response; ``BatchScorer`` scores a training batch in a warm, time-limited
process pool; ``VERIFIERS`` is the problem type → verifier registry. Verifiers call :mod:`g2rpo.metrics`
where the rule is shared with a benchmark metric, so reward and evaluation cannot drift apart.
"""

from g2rpo.metrics.extraction import extract_answer
from g2rpo.rewards.batch import BatchScore, BatchScorer
from g2rpo.rewards.compose import (
    REWARD_RULES,
    STRUCTURE_REWARD,
    RewardBreakdown,
    score_components,
    score_response,
)
from g2rpo.rewards.errors import RewardInfrastructureError, VerifierConfigError
from g2rpo.rewards.format import format_score, has_answer_block
from g2rpo.rewards.registry import REFERENCE_VERIFIERS, VERIFIERS, Verifier, get_verifier, register_verifier

__all__ = [
    "REFERENCE_VERIFIERS",
    "REWARD_RULES",
    "STRUCTURE_REWARD",
    "VERIFIERS",
    "BatchScore",
    "BatchScorer",
    "RewardBreakdown",
    "RewardInfrastructureError",
    "Verifier",
    "VerifierConfigError",
    "extract_answer",
    "format_score",
    "get_verifier",
    "has_answer_block",
    "register_verifier",
    "score_components",
    "score_response",
]
