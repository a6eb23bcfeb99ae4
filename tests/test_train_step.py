"""The training step as a pure function (g2rpo.train.step.run_step): hand-made rounds of rollouts, a stub
estimator that shows what it was given, and the expected rows, advantages and metrics derived by hand; then the
same hand-made batch through G2RPOTrainer's step bookkeeping gives the same result."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from g2rpo.train.rollouts import Rollouts
from g2rpo.train.step import StepSettings, run_step

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")


def round_of(accuracy, families=(3, 3, 4, 4), timed_out=()):
    """One gathered round: overall = accuracy + 0.5, tokens 10, 20, …; groups of 2 (row // 2)."""
    acc = torch.tensor(accuracy, dtype=torch.float32)
    n = len(acc)
    zeros = torch.zeros(n)
    return Rollouts(
        components=torch.stack([acc, zeros, zeros, zeros, acc + 0.5], 1),
        tokens=torch.arange(1, n + 1) * 10,
        families=torch.tensor(families),
        problem_types=torch.tensor([1] * n),
        timed_out=torch.tensor([i in timed_out for i in range(n)]),
        failed=torch.zeros(n, dtype=torch.bool),
        group_ids=torch.arange(n) // 2,
    )


class Stub:
    """Advantage = 10 · reward; remembers its arguments."""

    def __call__(self, rewards, group_ids, keys):
        self.args = (rewards.tolist(), group_ids.tolist(), list(keys))
        return 10 * rewards


def pulls(records):
    """An iterator over ``records`` that counts how many were taken."""
    taken = []

    def gen():
        for r in records:
            taken.append(r)
            yield r
    return gen(), taken


def same_list(a, b):
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


def test_one_refill_round_by_hand():
    # W = 1, L = 4, G = 2. Round 0: group 0 all right (dropped), group 1 mixed (kept: rows 2, 3).
    # Round 1: group 0 mixed (kept: flat rows 4, 5) → L = 4 kept rows, full; group 1 all wrong (dropped).
    # Round 2 is never pulled.
    r0 = round_of([1, 1, 1, 0], families=(3, 3, 4, 4), timed_out=(0,))
    r1 = round_of([0, 1, 0, 0], families=(0, 0, 3, 3))
    source, taken = pulls([r0, r1, round_of([0, 1, 0, 1])])
    stub = Stub()
    settings = StepSettings(world_size=1, local_size=4, group_size=2, max_refill_tries=5, advantage_key="task")
    result = run_step(source, settings, stub, rank=0)
    assert len(taken) == 2 and result.n_rounds == 2 and result.full
    assert result.final.tolist() == [2, 3, 4, 5]
    # rewards = accuracy + 0.5; groups: round 0's group 1, round 1's group 0 → shifted to 2; keys by family
    assert stub.args == ([1.5, 0.5, 0.5, 1.5], [1, 1, 2, 2], ["chart", "chart", "spatial_grounding", "spatial_grounding"])
    assert result.rank_advantages.tolist() == [15.0, 5.0, 5.0, 15.0] and result.n_real == 4
    assert result.round_of.tolist() == [0, 0, 1, 1] and result.row_of.tolist() == [2, 3, 0, 1]
    assert result.task_index.tolist() == [4, 4, 0, 0]
    assert same_list(result.logged_advantages.tolist(), [NAN, NAN, 15, 5, 5, 15, NAN, NAN])
    m = result.metrics
    assert m["filter/tries"] == 1.0 and m["filter/partial_batch"] == 0.0 and m["filter/padding_fraction"] == 0.0
    assert m["filter/fraction_filtered"] == 0.5  # 4 of 8 generated rows dropped
    # math: round 0 rows 0, 1 (all right) and round 1 rows 2, 3 (all wrong), all dropped; chart and
    # spatial_grounding rows all kept
    assert m["math/fraction_filtered"] == 1.0 and m["chart/fraction_filtered"] == 0.0
    assert m["spatial_grounding/fraction_filtered"] == 0.0 and m["math/count"] == 4.0
    assert m["scorer/timeouts"] == 1.0


def test_metrics_and_padding_by_hand():
    # W = 1, L = 4, G = 2, no refill: round 0 keeps only group 1 (rows 2, 3), the rank pads with rows 0, 1.
    r0 = round_of([1, 1, 1, 0], families=(3, 3, 4, 4))
    stub = Stub()
    settings = StepSettings(world_size=1, local_size=4, group_size=2, max_refill_tries=0)
    result = run_step(iter([r0]), settings, stub, rank=0)
    assert not result.full and result.n_padding == 2 and result.n_rows == 4 and result.n_real == 2
    assert result.row_of.tolist() == [2, 3, 0, 1]
    assert result.rank_advantages.tolist() == [15.0, 5.0, 0.0, 0.0]  # padding rows carry no advantage
    assert stub.args[2] == ["numerical", "numerical"]  # keyed by problem type (the default)
    m = result.metrics
    assert m["filter/partial_batch"] == 1.0 and m["filter/padding_fraction"] == 0.5
    assert m["math/fraction_filtered"] == 1.0 and m["chart/fraction_filtered"] == 0.0
    # math rows: overall 1.5, 1.5; tokens 10, 20 → mean 15, p90 = 10 + 0.9·10 = 19
    assert m["math/reward"] == 1.5 and m["math/length/mean"] == 15.0 and m["math/length/p90"] == pytest.approx(19.0)
    assert m["chart/accuracy"] == 0.5 and m["chart/count"] == 2.0
    # advantage metrics cover the trained rows only (chart: 15, 5 → mean 10, std 5)
    assert m["chart/advantage/mean"] == 10.0 and m["chart/advantage/std"] == 5.0 and "math/advantage/mean" not in m
    assert list(m)[:2] == ["chart/reward", "chart/reward/accuracy"]  # families sorted by name


def test_each_rank_gets_its_slice_of_one_gathered_computation():
    # W = 2, L = 2, G = 2: rank 0 holds gathered rows 0, 1 (group 0), rank 1 rows 2, 3 (group 1).
    # Round 0: group 0 all right (dropped), group 1 mixed → rank 1 full. Round 1: group 0 mixed → rank 0 full.
    # final, rank by rank: rank 0 = round 1 rows 0, 1 (flat 4, 5); rank 1 = round 0 rows 2, 3 (flat 2, 3).
    r0, r1 = round_of([1, 1, 0, 1]), round_of([1, 0, 0, 0])
    settings = StepSettings(world_size=2, local_size=2, group_size=2, max_refill_tries=3)
    results = [run_step(iter([r0, r1]), settings, Stub(), rank=rank) for rank in (0, 1)]
    assert all(r.final.tolist() == [4, 5, 2, 3] for r in results)
    assert results[0].advantages.tolist() == [15.0, 5.0, 5.0, 15.0]
    assert results[0].rank_advantages.tolist() == [15.0, 5.0] and results[1].rank_advantages.tolist() == [5.0, 15.0]
    assert results[1].round_of.tolist() == [0, 0] and results[1].row_of.tolist() == [0, 1]


def test_no_filtering_takes_the_first_round_and_checks_its_size():
    r0 = round_of([1, 1, 0, 0])
    settings = StepSettings(world_size=1, local_size=4, group_size=2, filtering=False, max_refill_tries=3)
    source, taken = pulls([r0, r0])
    result = run_step(source, settings, Stub(), rank=0)
    assert len(taken) == 1 and result.final.tolist() == [0, 1, 2, 3] and result.metrics["filter/fraction_filtered"] == 0.0
    with pytest.raises(ValueError, match=r"round 0 has 4 rows, expected W·L = 2·4"):
        run_step(iter([r0]), StepSettings(world_size=2, local_size=4, group_size=2), Stub(), rank=0)
    with pytest.raises(ValueError, match="advantage_key='family'; valid: problem_type, task"):
        StepSettings(world_size=1, local_size=4, group_size=2, advantage_key="family")


def _host_step():
    spec = importlib.util.spec_from_file_location("host_step", ROOT / "benchmarks" / "host_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["host_step"] = module
    spec.loader.exec_module(module)
    return module


def test_the_trainer_step_is_run_step_on_a_hand_made_batch():
    host_step = _host_step()
    r0 = round_of([1, 1, 1, 0], families=(3, 3, 4, 4), timed_out=(0,))
    r1 = round_of([0, 1, 0, 0], families=(0, 0, 3, 3))

    def batch(first: int) -> dict:
        ids = torch.arange(first, first + 4).unsqueeze(1)
        return {"prompt_ids": ids, "prompt_mask": torch.ones(4, 1, dtype=torch.long), "completion_ids": ids + 100,
                "completion_mask": torch.ones(4, 1, dtype=torch.long), "advantages": torch.zeros(4),
                "num_items_in_batch": torch.tensor(4)}

    def scores(r: Rollouts):
        return host_step.GatheredScores(components=r.components, tokens=r.tokens.float(), families=list(r.family_keys()),
                                        problem_types=list(r.problem_type_keys()), timed_out=r.timed_out)

    fake = [host_step.FakeRound(batch=batch(4 * k), rollouts=r, scores=scores(r)) for k, r in enumerate((r0, r1, r1))]
    trainer = host_step.HostStepTrainer.build(fake, world=1, group_size=2, advantage_key="task", length_shaping="off")
    trainer.estimator = Stub()
    out = trainer.step()
    expected = run_step(iter([r0, r1]), StepSettings(world_size=1, local_size=4, group_size=2, max_refill_tries=20,
                                                     advantage_key="task"), Stub(), rank=0)
    assert trainer._next == 2
    assert out["advantages"].tolist() == expected.rank_advantages.tolist() == [15.0, 5.0, 5.0, 15.0]
    assert out["prompt_ids"].flatten().tolist() == [2, 3, 4, 5]  # round 0 rows 2, 3, round 1 rows 0, 1
    assert out["task_index"].tolist() == [4, 4, 0, 0]
    assert trainer.last_step.final.tolist() == expected.final.tolist()
    assert dict(trainer._metrics["train"]) == {k: [v] for k, v in expected.metrics.items()}
    assert same_list(list(trainer._logs["advantages"]), expected.logged_advantages.tolist()[-4:])
