"""The recipe's math core: advantages, shaping, filtering and the policy loss (recipe §3, §5–§8).

Pure functions over tensors; imports only torch and the standard library. Shape legend: ``N`` responses
(``B`` prompts × ``G`` rollouts), ``T`` response tokens.
"""

from g2rpo.algo.baselines import EmaGrpo, dr_grpo_advantages, grpo_advantages
from g2rpo.algo.filtering import filter_groups
from g2rpo.algo.gaussian import STAGES, TIE_TOLERANCE, g2rpo_advantages, gaussianize
from g2rpo.algo.loss import PolicyLossStats, clipped_policy_loss
from g2rpo.algo.registry import (
    ADVANTAGE_ESTIMATORS,
    AdvantageEstimator,
    DrGrpo,
    G2rpo,
    Grpo,
    check_estimator_options,
    estimator_options,
    make_estimator,
)
from g2rpo.algo.segments import CodedKeys
from g2rpo.algo.shaping import Envelope, entropy_band_penalty, length_score, token_entropy

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "STAGES",
    "TIE_TOLERANCE",
    "AdvantageEstimator",
    "CodedKeys",
    "DrGrpo",
    "EmaGrpo",
    "Envelope",
    "G2rpo",
    "Grpo",
    "PolicyLossStats",
    "check_estimator_options",
    "clipped_policy_loss",
    "dr_grpo_advantages",
    "entropy_band_penalty",
    "estimator_options",
    "filter_groups",
    "g2rpo_advantages",
    "gaussianize",
    "grpo_advantages",
    "length_score",
    "make_estimator",
    "token_entropy",
]
