"""GRPO, Dr.GRPO, EMA-GRPO, the registry and dynamic filtering (recipe §3, §7)."""

from __future__ import annotations

import math

import pytest
import torch

from g2rpo.algo import (
    ADVANTAGE_ESTIMATORS,
    EmaGrpo,
    dr_grpo_advantages,
    filter_groups,
    grpo_advantages,
    make_estimator,
)


def test_grpo_hand_values():
    # 0,0,0,0,1: mean 0.2; population std √(0.8·0.04 + 0.2·0.64) = √0.16 = 0.4 → (−0.2/0.4, 0.8/0.4) = (−0.5, 2.0).
    r = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    g = torch.zeros(5, dtype=torch.int64)
    assert grpo_advantages(r, g, eps=0.0).tolist() == pytest.approx([-0.5] * 4 + [2.0])
    # Sample std: √(0.8/4) = 0.4472 → −0.2/0.4472 = −0.4472, 0.8/0.4472 = 1.7889.
    assert grpo_advantages(r, g, std="sample", eps=0.0).tolist() == pytest.approx([-0.44721] * 4 + [1.78885], abs=1e-5)
    # Dr.GRPO only centres.
    assert dr_grpo_advantages(r, g).tolist() == pytest.approx([-0.2] * 4 + [0.8])


def test_grpo_groups_are_independent_and_need_not_be_contiguous():
    r = torch.tensor([1.0, 10.0, 3.0, 30.0])
    g = torch.tensor([5, -2, 5, -2])
    # group 5: (1, 3) → mean 2, std 1 → (−1, 1); group −2: (10, 30) → mean 20, std 10 → (−1, 1).
    assert grpo_advantages(r, g, eps=0.0).tolist() == pytest.approx([-1.0, -1.0, 1.0, 1.0])
    # An all-equal group and a group of one get 0, not NaN.
    out = grpo_advantages(torch.tensor([2.0, 2.0, 7.0]), torch.tensor([0, 0, 1]), std="sample")
    assert out.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="population, sample"):
        grpo_advantages(r, g, std="unbiased")


def test_ema_grpo_updates_state_before_use():
    ema = EmaGrpo(decay=0.99)
    g = torch.zeros(5, dtype=torch.int64)
    # Batch 1 starts the task's moments: μ₁ = 0.2, μ₂ = 0.2 → σ = √(0.2 − 0.04) = 0.4 → (−0.5, 2.0).
    a1 = ema(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]), g, ["math"] * 5)
    assert a1.tolist() == pytest.approx([-0.5] * 4 + [2.0])
    # Batch 2 (0,1,0,1): μ₁ = 0.99·0.2 + 0.01·0.5 = 0.203, μ₂ = 0.203 → σ = √(0.203 − 0.203²) = 0.402232.
    # Updating before use gives ±0.5/0.402232 = ±1.24306 (after use would give ±0.5/0.4 = ±1.25).
    sigma = math.sqrt(0.203 - 0.203**2)
    a2 = ema(torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.zeros(4, dtype=torch.int64), ["math"] * 4)
    assert a2.tolist() == pytest.approx([-0.5 / sigma, 0.5 / sigma] * 2)
    assert a2[1].item() == pytest.approx(1.24306, abs=1e-5)


def test_ema_grpo_guard_falls_back_per_group():
    ema = EmaGrpo(decay=0.99, min_std=1e-3, guard=5.0)
    ema(torch.ones(4), torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64))  # σ → floor
    # Batch: group 0 (1, 1, 1, 1.1) in task 0, group 1 (0, 1) in task 1 (new task: σ = 0.5, scaled ±1 < 5).
    r = torch.tensor([1.0, 1.0, 1.0, 1.1, 0.0, 1.0], dtype=torch.float64)
    g = torch.tensor([0, 0, 0, 0, 1, 1])
    t = torch.tensor([0, 0, 0, 0, 1, 1])
    out = ema(r, g, t)
    # Task 0: μ₁ = 0.99 + 0.01·1.025 = 1.00025, μ₂ = 0.99 + 0.01·1.0525 = 1.000525 → σ = 0.0049937; group 0's
    # largest scaled value 0.075/0.0049937 ≈ 15 > 5 → its own population std √0.001875 = 0.0433:
    # (−0.025, 0.075)/0.0433 = (−1/√3, √3).
    assert out[:4].tolist() == pytest.approx([-1 / math.sqrt(3)] * 3 + [math.sqrt(3)], abs=1e-4)
    assert out[4:].tolist() == pytest.approx([-1.0, 1.0])


def test_ema_grpo_state_round_trip_keeps_key_types():
    a, b = EmaGrpo(), EmaGrpo()
    r = torch.tensor([0.0, 1.0, 0.3, 0.9])
    g = torch.tensor([0, 0, 1, 1])
    a(r, g, ["ocr", "ocr", 7, 7])
    state = a.state_dict()
    assert {row[0] for row in state["moments"]} == {"ocr", 7}
    b.load_state_dict(state)
    nxt = torch.tensor([0.2, 0.4, 0.1, 0.8])
    assert torch.equal(a(nxt, g, ["ocr", "ocr", 7, 7]), b(nxt, g, ["ocr", "ocr", 7, 7]))
    assert a.state_dict() == b.state_dict()
    fresh = EmaGrpo()
    assert not torch.equal(fresh(nxt, g, ["ocr", "ocr", 7, 7]), b(nxt, g, ["ocr", "ocr", 7, 7]))


def test_registry_uniform_call_and_unknown_name():
    r = torch.tensor([0.0, 1.0, 0.5, 0.5, 0.2, 0.9])
    g = torch.tensor([0, 0, 1, 1, 2, 2])
    t = torch.tensor([0, 0, 0, 0, 1, 1])
    for name in ADVANTAGE_ESTIMATORS:
        est = make_estimator(name)
        out = est(r, g, t)
        assert out.shape == r.shape and torch.isfinite(out).all(), name
        assert isinstance(est.state_dict(), dict)
        est.load_state_dict(est.state_dict())
    # Task 0 holds (0, 1) and (0.5, 0.6): stage 1 maps both groups to (−0.674, 0.674), which tie in stage 2,
    # while the task-only map ranks the raw rewards 0 < 0.5 < 0.6 < 1.
    r2 = torch.tensor([0.0, 1.0, 0.5, 0.6, 0.2, 0.9])
    assert make_estimator("g2rpo")(r2, g, t)[2] == make_estimator("g2rpo")(r2, g, t)[0]
    assert make_estimator("g2rpo_task")(r2, g, t)[2] != make_estimator("g2rpo_task")(r2, g, t)[0]
    with pytest.raises(KeyError, match="valid estimators: g2rpo, g2rpo_task, g2rpo_group, grpo, dr_grpo, ema_grpo"):
        make_estimator("ppo")


def test_filter_groups_bounds_are_inclusive():
    # Group means: g0 = 1.0 (drop), g1 = 0.0 (drop), g2 = 0.5 (keep), g3 = 0.01 (≤ low: drop), g4 = 0.99 (drop),
    # g5 = 0.02 (keep).
    acc = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.01, 0.01, 0.99, 0.99, 0.0, 0.04])
    g = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    keep = filter_groups(acc, g)
    assert keep.tolist() == [False] * 4 + [True] * 2 + [False] * 4 + [True] * 2
    with pytest.raises(ValueError, match="low < high"):
        filter_groups(acc, g, low=0.5, high=0.5)
