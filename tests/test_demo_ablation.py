"""The demo ablation's statistics, table and claim verdicts, by hand (no training)."""

from __future__ import annotations

import math

import pytest

from g2rpo.demo.ablation import arm_stats, claims, table_markdown


def _arm(per_seed):
    """per_seed: [(math accuracy, chart accuracy)] → arm_stats with lengths 10 (math) and 20 (chart)."""
    return arm_stats([{"math": (m, 10.0), "chart": (c, 20.0)} for m, c in per_seed])


def test_arm_stats_by_hand():
    stats = _arm([(0.5, 0.1), (0.7, 0.3)])
    # math: mean 0.6, sd sqrt(((−0.1)² + 0.1²) / 1) = 0.1414; family means per seed 0.3, 0.5
    assert stats["math"]["accuracy_mean"] == pytest.approx(0.6)
    assert stats["math"]["accuracy_sd"] == pytest.approx(math.sqrt(0.02))
    assert stats["chart"]["length_mean"] == 20.0
    assert stats["mean"]["accuracies"] == pytest.approx([0.3, 0.5])


def test_claims_are_computed_whichever_way_they_fall():
    arms = {
        "sft": _arm([(0.2, 0.2)]),
        "grpo": _arm([(0.30, 0.30), (0.32, 0.28), (0.31, 0.29)]),
        "g2rpo": _arm([(0.50, 0.40), (0.52, 0.42), (0.51, 0.41)]),
        "g2rpo_entropy": _arm([(0.55, 0.35), (0.55, 0.35), (0.55, 0.35)]),  # up on math only
        "g2rpo_length": _arm([(0.45, 0.45), (0.45, 0.45), (0.45, 0.45)]),  # up on chart only
        "full": _arm([(0.60, 0.39), (0.60, 0.39), (0.60, 0.39)]),  # best overall, not best on chart
    }
    verdict = claims(arms)
    # g2rpo family means 0.45, 0.47, 0.46 vs grpo 0.30, 0.30, 0.30: +0.16, far beyond 2 SE
    assert verdict["G2RPO > GRPO"]["holds"] is True
    assert "+0.160" in verdict["G2RPO > GRPO"]["measured"]
    # one family each: length is not "more broadly" helpful here
    assert verdict["length helps more broadly than entropy"]["holds"] is False
    # full: family mean 0.495, the highest; on chart g2rpo_length (0.45) beats full (0.39)
    assert verdict["full is best"]["holds"] is False
    assert "full is the best arm on 1/2 families" in verdict["full is best"]["measured"]


def test_g2rpo_over_grpo_within_noise_does_not_hold():
    arms = {"grpo": _arm([(0.3, 0.3), (0.5, 0.5)]), "g2rpo": _arm([(0.35, 0.35), (0.55, 0.55)])}
    # difference 0.05; SE = sqrt(0.1414²/2 · 2) = 0.1414 → within 2 SE
    v = claims(arms)["G2RPO > GRPO"]
    assert v["holds"] is False and "within 2 standard errors" in v["measured"]


def test_table_has_families_as_columns():
    table = table_markdown({"sft": _arm([(0.25, 0.5)]), "full": _arm([(0.5, 0.75), (0.7, 0.75)])})
    lines = table.splitlines()
    assert lines[0] == "| arm | chart | math | mean |"
    assert lines[2] == "| sft | 0.500 ± 0.000 (20 tok) | 0.250 ± 0.000 (10 tok) | 0.375 ± 0.000 |"
    assert lines[3].startswith("| full | 0.750 ± 0.000 (20 tok) | 0.600 ± 0.141 (10 tok) | 0.675 ± ")
