"""G2RPO's core map and two-stage advantages (recipe §3)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from g2rpo.algo import g2rpo_advantages, gaussianize
from reference import g2rpo_reference

# Recipe §3's worked examples (one group of 5). Hazen quantiles for n = 5: Φ⁻¹(0.1, 0.3, 0.5, 0.7, 0.9)
# = −1.2816, −0.5244, 0, 0.5244, 1.2816.  E.g. 0,0,0,0,1: the four ties share (−1.2816 − 0.5244 + 0 + 0.5244)/4
# = −0.3204, the 1 gets 1.2816.  0,0,1,1,1: (−1.2816 − 0.5244)/2 = −0.9030 and (0 + 0.5244 + 1.2816)/3 = 0.6020.
WORKED = [
    ([0, 0, 0, 0, 1], [-0.320, -0.320, -0.320, -0.320, 1.282]),
    ([0, 0, 1, 1, 1], [-0.903, -0.903, 0.602, 0.602, 0.602]),
    ([0.1, 0.1, 0.1, 0.2, 1.0], [-0.602, -0.602, -0.602, 0.524, 1.282]),
    ([0.81, 0.81, 0.82, 0.82, 0.83], [-0.903, -0.903, 0.262, 0.262, 1.282]),
]


@pytest.mark.parametrize(("rewards", "expected"), WORKED)
@pytest.mark.parametrize("stages", ["group+task", "task", "group"])
def test_worked_examples(rewards, expected, stages):
    r = torch.tensor(rewards, dtype=torch.float64)
    ids = torch.zeros(5, dtype=torch.int64)
    out = g2rpo_advantages(r, ids, ids, stages=stages)
    assert out.tolist() == pytest.approx(expected, abs=5e-4)
    assert gaussianize(r).tolist() == pytest.approx(expected, abs=5e-4)


def test_small_sets_and_dtypes():
    assert gaussianize(torch.tensor([])).numel() == 0
    assert gaussianize(torch.tensor([3.0])).tolist() == [0.0]
    # Two distinct values: Φ⁻¹(0.25) = −0.6745, Φ⁻¹(0.75) = 0.6745.
    assert gaussianize(torch.tensor([2.0, 1.0])).tolist() == pytest.approx([0.67449, -0.67449], abs=1e-5)
    assert gaussianize(torch.tensor([1, 2, 3])).dtype == torch.float32
    assert gaussianize(torch.tensor([1.0, 2.0], dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="NaN"):
        gaussianize(torch.tensor([1.0, float("nan")]))


def test_infinite_rewards_rank_like_extremes():
    out = gaussianize(torch.tensor([float("-inf"), 0.0, float("inf")], dtype=torch.float64))
    assert out.tolist() == pytest.approx([norm.ppf(1 / 6), 0.0, norm.ppf(5 / 6)])


def test_unknown_stage_and_groups_spanning_tasks_are_errors():
    r = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match="valid: group\\+task, task, group"):
        g2rpo_advantages(r, torch.tensor([0, 0]), torch.tensor([0, 0]), stages="prompt")
    with pytest.raises(ValueError, match="span more than one task"):
        g2rpo_advantages(r, torch.tensor([7, 7]), torch.tensor([0, 1]))


def test_float_noise_ties_share_their_quantiles():
    # 0.1 + 0.2 and 0.3 are equal in exact arithmetic, not in floating point (they differ by 5.6e-17).
    assert 0.1 + 0.2 != 0.3
    out = gaussianize(torch.tensor([0.1 + 0.2, 0.3, 0.0], dtype=torch.float64))
    # The two tied values share (Φ⁻¹(1/2) + Φ⁻¹(5/6))/2 = 0.4837 / 2.
    assert out[0].item() == out[1].item() == pytest.approx(norm.ppf(5 / 6) / 2)
    # A real gap (1e-6) is not a tie.
    out = gaussianize(torch.tensor([0.3 + 1e-6, 0.3, 0.0], dtype=torch.float64))
    assert out.tolist() == pytest.approx([norm.ppf(5 / 6), 0.0, norm.ppf(1 / 6)])


def test_stage_one_values_equal_in_exact_arithmetic_tie_in_stage_two():
    # Stage 1 sends every all-equal group and every odd group's median to 0 in exact arithmetic. A naive
    # implementation (mean of quantiles summed in sorted order) leaves last-bit noise of either sign:
    naive = [float(np.mean(norm.ppf((np.arange(1, n + 1) - 0.5) / n))) for n in range(2, 17)]
    assert any(v != 0.0 for v in naive)
    # Here: groups of sizes 2..8 with all-equal rewards, plus groups whose median is unique, all in one task.
    rewards, groups = [], []
    for n in range(2, 9):
        rewards += [0.5] * n
        groups += [n] * n
    for n in (3, 5, 7):
        rewards += [0.0] * (n // 2) + [0.7] + [1.0] * (n // 2)
        groups += [100 + n] * n
    r = torch.tensor(rewards, dtype=torch.float64)
    g = torch.tensor(groups)
    t = torch.zeros_like(g)
    stage1 = g2rpo_advantages(r, g, t, stages="group")
    zero_in_exact_arithmetic = (r == 0.5) | (r == 0.7)
    assert torch.all(stage1[zero_in_exact_arithmetic] == 0.0)
    # In stage 2 all of them form one tie block, so they receive one identical value.
    final = g2rpo_advantages(r, g, t)
    assert torch.unique(final[zero_in_exact_arithmetic]).numel() == 1
    expected = g2rpo_reference(rewards, groups, [0] * len(rewards))
    np.testing.assert_allclose(final.numpy(), expected, atol=1e-9)


def _random_batch(rng: np.random.Generator, kind: str):
    n_tasks = int(rng.integers(1, 9))
    rewards, groups, tasks = [], [], []
    group_id = 0
    for task in range(n_tasks):
        for _ in range(int(rng.integers(1, 6))):
            size = int(rng.integers(1, 17))
            if kind == "binary":
                values = rng.integers(0, 2, size).astype(float)
            elif kind == "discrete":
                values = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size)
            else:
                values = rng.standard_cauchy(size)
            rewards += values.tolist()
            groups += [int(rng.integers(-(10**12), 10**12)) * 0 + group_id * 7919 - 10**6] * size
            tasks += [task * 31 - 5] * size
            group_id += 1
    perm = rng.permutation(len(rewards))
    pick = lambda xs: [xs[i] for i in perm]  # noqa: E731
    return pick(rewards), pick(groups), pick(tasks)


@pytest.mark.parametrize("kind", ["binary", "discrete", "cauchy"])
@pytest.mark.parametrize("stages", ["group+task", "task", "group"])
def test_matches_scipy_reference_on_random_batches(kind, stages):
    rng = np.random.default_rng(abs(hash((kind, stages))) % 2**32)
    for _ in range(15):
        rewards, groups, tasks = _random_batch(rng, kind)
        out = g2rpo_advantages(
            torch.tensor(rewards, dtype=torch.float64), torch.tensor(groups), torch.tensor(tasks), stages=stages
        )
        expected = g2rpo_reference(rewards, groups, tasks, stages)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-9, rtol=0)


def test_string_ids_equal_integer_ids():
    r = torch.tensor([0.0, 1.0, 1.0, 0.2, 0.9, 0.5])
    groups = ["p1", "p1", "p2", "p2", "p3", "p3"]
    tasks = ["math", "math", "math", "math", "ocr", "ocr"]
    by_name = g2rpo_advantages(r, groups, tasks)
    by_int = g2rpo_advantages(r, torch.tensor([1, 1, 2, 2, 3, 3]), torch.tensor([0, 0, 0, 0, 1, 1]))
    assert torch.equal(by_name, by_int)


# ---- hypothesis properties --------------------------------------------------------------------------------

LEVELS = [0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0]


@st.composite
def batches(draw, max_groups: int = 12):
    n_groups = draw(st.integers(1, max_groups))
    rewards, groups, tasks = [], [], []
    for g in range(n_groups):
        size = draw(st.integers(1, 10))
        task = draw(st.integers(0, 3))
        rewards += draw(st.lists(st.sampled_from(LEVELS), min_size=size, max_size=size))
        groups += [g * 13 + 5] * size
        tasks += [task] * size
    return (
        torch.tensor(rewards, dtype=torch.float64),
        torch.tensor(groups),
        torch.tensor(tasks),
    )


stages_st = st.sampled_from(["group+task", "task", "group"])


@settings(max_examples=120, deadline=None)
@given(batches(), stages_st)
def test_property_per_task_sum_zero_and_bound(batch, stages):
    r, g, t = batch
    a = g2rpo_advantages(r, g, t, stages=stages)
    key = g if stages == "group" else t
    for k in torch.unique(key).tolist():
        sel = a[key == k]
        n = sel.numel()
        assert abs(sel.sum().item()) < 1e-9
        if n > 1:
            assert sel.abs().max().item() <= norm.ppf(1 - 1 / (2 * n)) + 1e-12


@settings(max_examples=120, deadline=None)
@given(batches(), stages_st, st.sampled_from(["affine", "cube", "exp", "log1p"]))
def test_property_invariant_under_increasing_transforms(batch, stages, transform):
    r, g, t = batch
    f = {
        "affine": lambda x: 3.0 * x - 7.0,
        "cube": lambda x: x**3 + x,
        "exp": torch.exp,
        "log1p": torch.log1p,
    }[transform]
    assert torch.allclose(g2rpo_advantages(r, g, t, stages=stages), g2rpo_advantages(f(r), g, t, stages=stages),
                          atol=1e-12, rtol=0)


@settings(max_examples=120, deadline=None)
@given(batches(), stages_st, st.randoms(use_true_random=False))
def test_property_permutation_equivariance(batch, stages, rnd):
    r, g, t = batch
    perm = list(range(r.numel()))
    rnd.shuffle(perm)
    p = torch.tensor(perm)
    assert torch.equal(g2rpo_advantages(r, g, t, stages=stages)[p], g2rpo_advantages(r[p], g[p], t[p], stages=stages))


@settings(max_examples=120, deadline=None)
@given(batches(), stages_st)
def test_property_equal_size_and_tie_pattern_gives_identical_multiset(batch, stages):
    # Task 1 is a copy of task 0's groups with rewards pushed through an increasing map and shuffled:
    # same sizes, same tie pattern, different values.
    r, g, _ = batch
    n = r.numel()
    r2 = torch.cat([r, 10.0 + 2.0 * r])
    g2 = torch.cat([g, g + 10**6])
    t2 = torch.cat([torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.int64)])
    perm = torch.randperm(2 * n, generator=torch.Generator().manual_seed(n))
    a = g2rpo_advantages(r2[perm], g2[perm], t2[perm], stages=stages)
    first, second = a[t2[perm] == 0], a[t2[perm] == 1]
    assert torch.equal(torch.sort(first).values, torch.sort(second).values)


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 40), st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 10))
def test_property_all_equal_group_is_exactly_zero_in_stage_one(n, value, task):
    r = torch.full((n,), value, dtype=torch.float64)
    ids = torch.full((n,), 3, dtype=torch.int64)
    assert torch.all(g2rpo_advantages(r, ids, torch.full((n,), task), stages="group") == 0.0)


def test_algo_imports_only_torch_and_the_standard_library():
    import sys

    allowed = {"torch", "g2rpo", "__future__"} | set(sys.stdlib_module_names)
    for path in Path(__import__("g2rpo.algo").algo.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in allowed, f"{path.name} imports {root}"
                if root == "g2rpo":
                    assert all(
                        (a.name if isinstance(node, ast.Import) else node.module).startswith("g2rpo.algo")
                        for a in node.names
                    ), f"{path.name} imports outside g2rpo.algo"


def test_bound_formula_matches_extreme_rank():
    # With N distinct values the extreme gets exactly Φ⁻¹(1 − 1/(2N)): the bound is tight.
    for n in (2, 5, 8, 64):
        out = gaussianize(torch.arange(n, dtype=torch.float64))
        assert out.max().item() == pytest.approx(norm.ppf(1 - 1 / (2 * n)), abs=1e-12)
        assert out.min().item() == pytest.approx(-norm.ppf(1 - 1 / (2 * n)), abs=1e-12)
        assert math.isclose(out.sum().item(), 0.0, abs_tol=1e-12)


# ---- the equal-groups fast path (B groups × G rollouts) -------------------------------------------------------


def _equal_batch(rng: np.random.Generator, kind: str, g: int):
    n_prompts = int(rng.integers(1, 40))
    tasks_of_prompt = rng.integers(0, int(rng.integers(1, 9)), n_prompts) * 17 - 3
    if kind == "binary":
        rewards = rng.integers(0, 2, n_prompts * g).astype(float)
    elif kind == "discrete":
        rewards = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], n_prompts * g)
    else:
        rewards = rng.standard_cauchy(n_prompts * g)
    groups = np.repeat(rng.permutation(n_prompts) * 101 + 7, g)
    tasks = np.repeat(tasks_of_prompt, g)
    perm = rng.permutation(n_prompts * g)
    return rewards[perm], groups[perm], tasks[perm]


@pytest.mark.parametrize("kind", ["binary", "discrete", "cauchy"])
@pytest.mark.parametrize("g", [1, 2, 5, 8, 16])
def test_equal_groups_fast_path_matches_reference_and_generic_path_bit_for_bit(kind, g):
    from g2rpo.algo.gaussian import _generic_advantages

    rng = np.random.default_rng(g * 1000 + len(kind))
    for _ in range(6):
        rewards, groups, tasks = _equal_batch(rng, kind, g)
        r, gi, ti = torch.tensor(rewards), torch.tensor(groups), torch.tensor(tasks)
        for stages in ("group+task", "group"):
            fast = g2rpo_advantages(r, gi, ti, stages=stages)
            generic = _generic_advantages(r.to(torch.float64), gi, ti, stages)
            assert torch.equal(fast, generic), (kind, g, stages)
            np.testing.assert_allclose(fast.numpy(), g2rpo_reference(rewards, groups, tasks, stages), atol=1e-9)


def test_cell_tables_merge_only_rounding_noise():
    # The fast path is used only when every merged tie of the table is rounding noise; for the group sizes
    # people use that always holds (the only exact coincidences are blocks centred on the median, all exactly 0).
    from g2rpo.algo.equal_groups import cell_table

    for g in range(1, 65):
        table = cell_table(g)
        assert table.usable, g
        zero = table.values == 0.0
        assert table.rank[zero].unique().numel() <= 1


def test_equal_groups_spanning_tasks_is_an_error():
    r = torch.tensor([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"group\(s\) \[4\] span more than one task"):
        g2rpo_advantages(r, torch.tensor([3, 3, 4, 4]), torch.tensor([0, 0, 0, 1]))
