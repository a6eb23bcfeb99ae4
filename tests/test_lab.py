"""The algorithm lab: simulator gradients, measures, determinism, every estimator, hand-derived answers."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from g2rpo.algo import ADVANTAGE_ESTIMATORS, clipped_policy_loss, make_estimator
from g2rpo.lab.measures import grad_shares, inject_outlier, steps_to_fraction, task_moments
from g2rpo.lab.problems import TaskSpec, build_mix
from g2rpo.lab.simulator import LabConfig, batch_layout, policy_gradient, run_simulation, surrogate_logit_grad


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = LabConfig(steps=6, batch_prompts=24, group_size=4, responses=6, shared_dim=4)
SMALL_TASKS = (
    TaskSpec("math", "binary", prompts=16, p0=0.3),
    TaskSpec("ocr", "outlier", prompts=16, p0=0.2),
    TaskSpec("grounding", "dense", prompts=16),
)


def _mix(seed: int = 0, specs=SMALL_TASKS, config: LabConfig = SMALL):
    return build_mix(specs, responses=config.responses, shared_dim=config.shared_dim, seed=seed)


def _surrogate_loss(z, responses, adv, rows=None):
    logp = torch.log_softmax(z, dim=1).gather(1, responses[:, None])
    if rows is not None:  # a task's part of the token-mean loss: its terms over the full batch's N
        logp = logp * rows[:, None]
    loss, _ = clipped_policy_loss(logp, logp.detach(), adv, torch.ones_like(logp))
    return loss


def test_closed_form_logit_gradient_matches_clipped_policy_loss_autograd():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(40, 7, generator=gen, dtype=torch.float64)
    responses = torch.randint(0, 7, (40,), generator=gen)
    adv = torch.randn(40, generator=gen, dtype=torch.float64)
    z_ref = z.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(_surrogate_loss(z_ref, responses, adv), z_ref)
    torch.testing.assert_close(surrogate_logit_grad(z, responses, adv), ref, rtol=1e-10, atol=1e-12)


def test_per_task_shared_gradients_match_autograd_through_the_model():
    mix = _mix()
    gen = torch.Generator().manual_seed(2)
    n_prompts, k = mix.rewards.shape
    theta = torch.randn(n_prompts, k, generator=gen, dtype=torch.float64)
    w = torch.randn(mix.features.shape[2], generator=gen, dtype=torch.float64)
    prompt_ids = torch.randint(0, n_prompts, (64,), generator=gen)
    responses = torch.randint(0, k, (64,), generator=gen)
    adv = torch.randn(64, generator=gen, dtype=torch.float64)
    logits = mix.base_logits + theta + mix.features @ w
    grads = policy_gradient(logits, prompt_ids, responses, adv, mix.features, mix.task_of_prompt, 3)

    theta_ref = theta.clone().requires_grad_(True)
    w_ref = w.clone().requires_grad_(True)
    z = (mix.base_logits + theta_ref + mix.features @ w_ref)[prompt_ids]
    g_theta, g_w = torch.autograd.grad(_surrogate_loss(z, responses, adv), [theta_ref, w_ref], retain_graph=True)
    torch.testing.assert_close(grads.theta, g_theta, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grads.shared_by_task.sum(0), g_w, rtol=1e-9, atol=1e-12)
    task_of_row = mix.task_of_prompt[prompt_ids]
    for t in range(3):  # separate backward passes per task: the slow reference for g_τ
        rows = (task_of_row == t).to(torch.float64)
        (g_t,) = torch.autograd.grad(_surrogate_loss(z, responses, adv, rows), [w_ref], retain_graph=True)
        torch.testing.assert_close(grads.shared_by_task[t], g_t, rtol=1e-9, atol=1e-12)


def test_single_group_gradient_derived_by_hand():
    # One prompt, K = 2 responses, uniform policy π = (½, ½); a GRPO group of 8 with one correct response
    # (response 1) and seven wrong (response 0): rewards 0,…,0,1.
    # mean = 1/8, population std = √(1/8 · 7/8) = √7/8 ≈ 0.330719.
    # A(correct) = (7/8)/(√7/8) = √7 ≈ 2.645751;  A(wrong) = −(1/8)/(√7/8) = −1/√7 ≈ −0.377964.
    # ∂L/∂θ = −(1/N) Σ_i A_i (onehot(a_i) − π):
    #   correct: √7·(−½, ½);  seven wrong: 7·(−1/√7)·(½, −½) = (−√7/2, √7/2)
    #   sum = (−√7, √7)  →  ∂L/∂θ = −(1/8)(−√7, √7) = (√7/8, −√7/8) ≈ (0.330719, −0.330719).
    # GRPO's ε = 1e-6 in the denominator moves this by ε/std ≈ 3e-6 relative (sample std would be 7 % off).
    rewards = torch.tensor([0.0] * 7 + [1.0], dtype=torch.float64)
    responses = torch.tensor([0] * 7 + [1])
    adv = make_estimator("grpo")(rewards, torch.zeros(8, dtype=torch.long), torch.zeros(8, dtype=torch.long))
    logits = torch.zeros(1, 2, dtype=torch.float64)
    features = torch.zeros(1, 2, 3, dtype=torch.float64)
    grads = policy_gradient(logits, torch.zeros(8, dtype=torch.long), responses, adv.double(), features,
                            torch.zeros(1, dtype=torch.long), 1)
    r7 = math.sqrt(7)
    torch.testing.assert_close(grads.theta, torch.tensor([[r7 / 8, -r7 / 8]], dtype=torch.float64),
                               rtol=1e-5, atol=0)


@pytest.mark.parametrize(("estimator", "expected_max"), [
    # G = 2, rewards {0, 1} in a group: GRPO gives (r − ½)/½ = ±1 exactly (ε = 1e-6 aside).
    ("grpo", 1.0),
    # G2RPO group stage on 2 values: quantiles Φ⁻¹((k − ½)/2) = Φ⁻¹(¼), Φ⁻¹(¾) = ∓0.674490.
    ("g2rpo_group", 0.6744897501960817),
    # Dr.GRPO: r − ½ = ±½.
    ("dr_grpo", 0.5),
])
def test_symmetric_binary_run_has_the_analytic_statistics(estimator, expected_max):
    # One binary task, K = 2 responses, one correct, p0 = ½ with no difficulty spread: every prompt starts at
    # π(correct) = ½ exactly, so the start reward is ½ and the achievable one 1. With G = 2 a group is
    # either tied (A = 0 for both) or one right and one wrong, whose advantages are ±a (a from the comment
    # above) — so every step's advantages are symmetric: skewness exactly 0, and max |A| = a.
    specs = (TaskSpec("coin", "binary", prompts=64, p0=0.5, spread=0.0, correct=1),)
    config = LabConfig(steps=8, batch_prompts=64, group_size=2, responses=2, shared_dim=2, lr=5.0)
    mix = _mix(3, specs, config)
    record = run_simulation(mix, config, estimator, seed=3)
    assert float(record.expected[0, 0]) == pytest.approx(0.5, abs=1e-12)
    assert float(record.achievable[0]) == 1.0
    skew, max_abs = record.moments[:, 0, 0], record.moments[:, 0, 2]
    assert torch.isfinite(skew).any()
    assert float(skew[torch.isfinite(skew)].abs().max()) < 1e-9
    assert float(max_abs.max()) == pytest.approx(expected_max, rel=1e-5)
    assert float(record.expected[-1, 0]) > 0.5  # it learns


def test_dr_grpo_outlier_shift_derived_by_hand():
    # Dr.GRPO centres per group: multiplying reward r_j of a group of G by 100 shifts the group mean by
    # 99·r_j/G, so A_j grows by 99·r_j·(1 − 1/G) and each other member drops by 99·r_j/G; other groups and
    # tasks are untouched. Here G = 4, r_j = 0.5 (the task's best): ΔA_j = 37.125, others −12.375.
    rewards = torch.tensor([0.0, 0.5, 0.2, 0.1, 1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    tasks = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    injected, index = inject_outlier(rewards, tasks, task=0)
    assert index == 1 and float(injected[1]) == 50.0
    est = make_estimator("dr_grpo")
    delta = est(injected, groups, tasks) - est(rewards, groups, tasks)
    expected = torch.tensor([-12.375, 37.125, -12.375, -12.375, 0, 0, 0, 0], dtype=torch.float64)
    torch.testing.assert_close(delta, expected, rtol=1e-12, atol=1e-12)
    # G2RPO is rank-based: the injected reward was already its group's and its task's unique maximum,
    # so no advantage changes at all.
    g2 = make_estimator("g2rpo")
    torch.testing.assert_close(g2(injected, groups, tasks), g2(rewards, groups, tasks), rtol=0, atol=0)


def test_task_moments_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(300, generator=gen, dtype=torch.float64) ** 3
    tasks = torch.randint(0, 3, (300,), generator=gen)
    got = task_moments(x, tasks, 3)
    for t in range(3):
        v = x[tasks == t].numpy()
        assert float(got[t, 0]) == pytest.approx(stats.skew(v, bias=True), rel=1e-9)
        assert float(got[t, 1]) == pytest.approx(stats.kurtosis(v, fisher=True, bias=True), rel=1e-9)
        assert float(got[t, 2]) == pytest.approx(abs(v).max())
        assert float(got[t, 3]) == pytest.approx(math.sqrt((v * v).mean()), rel=1e-12)
    constant = task_moments(torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.long), 1)
    assert math.isnan(float(constant[0, 0])) and float(constant[0, 2]) == 1.0


def test_steps_to_fraction_and_grad_shares():
    curve = torch.tensor([0.2, 0.5, 0.9, 0.91, 0.95])
    # target = 0.2 + 0.9·(1.0 − 0.2) = 0.92 → first reached at index 4.
    assert steps_to_fraction(curve, 0.2, 1.0) == 4
    assert steps_to_fraction(curve, 0.2, 1.0, fraction=0.5) == 2  # target 0.6
    assert steps_to_fraction(curve[:4], 0.2, 1.0) is None
    # Step 1: norms 3, 1 → shares ¾, ¼; step 2: 1, 1 → ½, ½; a zero step is skipped. Mean: 0.625, 0.375.
    shares = grad_shares(torch.tensor([[3.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(shares, torch.tensor([0.625, 0.375]))


def test_same_seed_same_run_and_other_seed_differs():
    a = run_simulation(_mix(5), SMALL, "ema_grpo", seed=5)
    b = run_simulation(_mix(5), SMALL, "ema_grpo", seed=5)
    c = run_simulation(_mix(6), SMALL, "ema_grpo", seed=6)
    for field in ("expected", "sampled", "grad_norms", "moments"):
        torch.testing.assert_close(getattr(a, field), getattr(b, field), rtol=0, atol=0, equal_nan=True)
    assert a.probe == b.probe
    assert not torch.equal(a.expected, c.expected)


@pytest.mark.parametrize("name", list(ADVANTAGE_ESTIMATORS))
def test_every_registered_estimator_runs(name):
    record = run_simulation(_mix(), SMALL, name, seed=0)
    assert record.expected.shape == (SMALL.steps + 1, 3)
    assert torch.isfinite(record.expected).all() and torch.isfinite(record.grad_norms).all()
    assert record.probe is not None and record.probe.task == 1  # the "outlier" task
    assert record.probe.reward * SMALL.outlier_factor > record.probe.reward > 0
    assert torch.isfinite(record.moments[:, :, 2]).all()


def test_each_step_takes_every_tasks_share_without_replacement():
    specs = (TaskSpec("a", "binary", prompts=10, weight=1.0), TaskSpec("b", "dense", prompts=30, weight=3.0))
    mix = _mix(0, specs)
    layout = batch_layout(mix, 20)
    # Shares 20·¼ = 5 and 20·¾ = 15, laid out as the first 5 positions of task a's block and of task b's.
    assert layout.tolist() == [*range(5), *range(10, 25)]
    gen = torch.Generator().manual_seed(0)
    order = torch.argsort(mix.task_of_prompt.double() + torch.rand(40, generator=gen, dtype=torch.float64))
    prompts = order[layout]
    assert prompts.unique().numel() == 20
    assert mix.task_of_prompt[prompts].tolist() == [0] * 5 + [1] * 15
    with pytest.raises(ValueError, match="pool has 10"):
        batch_layout(mix, 80)  # task a would need 20 of its 10 prompts


@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=3, max_size=40),
    st.floats(0.1, 10),
    st.floats(-5, 5),
)
@settings(max_examples=40, deadline=None)
def test_moments_are_shift_and_scale_invariant(values, scale, shift):
    x = torch.tensor(values, dtype=torch.float64)
    tasks = torch.arange(x.numel()) % 2
    base, moved = task_moments(x, tasks, 2), task_moments(x * scale + shift, tasks, 2)
    for t in range(2):
        spread = float(x[tasks == t].std(unbiased=False)) if (tasks == t).sum() > 1 else 0.0
        if spread > 1e-3:
            assert float(moved[t, 0]) == pytest.approx(float(base[t, 0]), rel=1e-6, abs=1e-6)
            assert float(moved[t, 1]) == pytest.approx(float(base[t, 1]), rel=1e-6, abs=1e-6)


@given(st.lists(st.lists(st.floats(0, 100), min_size=3, max_size=3), min_size=1, max_size=20))
@settings(max_examples=40, deadline=None)
def test_grad_shares_sum_to_one(rows):
    norms = torch.tensor(rows, dtype=torch.float64)
    shares = grad_shares(norms)
    if (norms.sum(1) > 0).any():
        assert float(shares.sum()) == pytest.approx(1.0, abs=1e-9)
        assert bool((shares >= 0).all())
    else:
        assert bool(torch.isnan(shares).all())
