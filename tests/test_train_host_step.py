"""The trainer's host-side step bookkeeping: incremental refill planning, int64 task codes before the estimator,
vectorised metrics and batch assembly — with results identical to the code before vectorisation.

The slow reference is that code, kept unchanged in ``benchmarks/host_step.py`` (``BeforeHostStepTrainer``,
``plan_selection_before``, …), run on the same fake rounds. Hand-derived cases say what the numbers are.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from trl.trainer.utils import pad

from g2rpo.algo import CodedKeys, make_estimator
from g2rpo.algo.segments import as_codes
from g2rpo.train.metrics import advantage_metrics, filter_metrics, task_metrics
from g2rpo.train.refill import SelectionPlanner, _pad_rows, plan_selection, select_rows

ROOT = Path(__file__).resolve().parents[1]


def _load_host_step():
    spec = importlib.util.spec_from_file_location("host_step", ROOT / "benchmarks" / "host_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["host_step"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


host_step = _load_host_step()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def run_both(rounds, **kwargs):
    """One step of the trainer's code and of the code before vectorisation on the same rounds."""
    out = []
    for cls in (host_step.BeforeHostStepTrainer, host_step.HostStepTrainer):
        trainer = cls.build(rounds, **kwargs)
        out.append((trainer, trainer.step()))
    return out


def assert_identical(before, after) -> None:
    (old, old_batch), (new, new_batch) = before, after
    assert old._next == new._next  # same number of refill rounds
    assert list(old_batch) == list(new_batch)
    for key, value in old_batch.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == new_batch[key].dtype and torch.equal(value, new_batch[key]), key
        else:
            assert value == new_batch[key], key
    old_logged, new_logged = list(old._logs["advantages"]), list(new._logs["advantages"])
    assert len(old_logged) == len(new_logged) and all(map(_same, old_logged, new_logged))
    # every metric, in the order it was logged, bit for bit
    for mode in ("train", "eval"):
        assert list(old._metrics[mode].items()) == list(new._metrics[mode].items())
    assert old.estimator.state_dict() == new.estimator.state_dict()


# ---- refill planning -------------------------------------------------------------------------------------------
def test_planner_by_hand():
    # W = 2 ranks, L = 4 rows. Round 0: rank 0 keeps rows 0, 1; rank 1 nothing. Round 1: rank 0 all four, rank 1
    # rows 0, 1. Rank 0 takes (0,0) (0,1) (1,0) (1,1); rank 1 takes (1,0) (1,1) and pads with its earliest dropped
    # rows (0,0) (0,1). Flat index of row j of round k in the gathered rows: k·8 + j, rank 1's rows are j = 4 + i.
    planner = SelectionPlanner(2, 4)
    assert not planner.add(torch.tensor([1, 1, 0, 0, 0, 0, 0, 0], dtype=torch.bool))
    assert not planner.add(torch.tensor([1, 1, 1, 1, 1, 1, 0, 0], dtype=torch.bool))
    assert planner.final_rows().tolist() == [0, 1, 8, 9, 12, 13]
    assert planner.n_padding.tolist() == [0, 2]
    rounds, rows = planner.rank_rows(1)
    assert rounds.tolist() == [1, 1, 0, 0] and rows.tolist() == [0, 1, 0, 1]
    # round 2 keeps everything: rank 1 takes its rows 0, 1 of round 2 (flat 2·8 + 4 + 0, + 1) and is full
    assert planner.add(torch.ones(8, dtype=torch.bool))
    assert planner.final_rows().tolist() == [0, 1, 8, 9, 12, 13, 20, 21] and planner.n_padding.tolist() == [0, 0]
    with pytest.raises(ValueError, match="expected W·L = 8"):
        planner.add(torch.ones(6, dtype=torch.bool))


@settings(max_examples=60, deadline=None)
@given(
    world=st.integers(1, 4),
    local=st.integers(1, 6),
    data=st.data(),
)
def test_incremental_planning_equals_full_replanning(world, local, data):
    n_rounds = data.draw(st.integers(1, 6))
    keeps = [torch.tensor(data.draw(st.lists(st.booleans(), min_size=world * local, max_size=world * local)))
             for _ in range(n_rounds)]
    planner = SelectionPlanner(world, local)
    for k, keep in enumerate(keeps, 1):
        full = planner.add(keep)
        reference, reference_full = host_step.plan_selection_before(keeps[:k], world, local)
        assert planner.selections() == reference and full == reference_full
        assert plan_selection(keeps[:k], world, local) == (reference, reference_full)
        # the final rows: each rank's real rows, rank by rank, as round · W·L + rank · L + local_row
        final = [kk * world * local + r * local + i for r, sel in enumerate(reference)
                 for kk, i in sel.rows[: len(sel.rows) - sel.n_padding]]
        assert planner.final_rows().tolist() == final


# ---- task ids as int64 codes -----------------------------------------------------------------------------------
VOCAB = ("math", "chart", "ocr_document", "general_vqa")


def test_coded_keys_by_hand_and_invalid_codes():
    # ids [2, 0, 2, 3] → keys ocr_document, math, ocr_document, general_vqa; first appearance numbers them 0, 1, 0, 2
    keys = CodedKeys.from_ids(torch.tensor([2, 0, 2, 3]), VOCAB)
    assert keys.codes.tolist() == [0, 1, 0, 2] and keys.keys == ("ocr_document", "math", "general_vqa")
    assert list(keys) == ["ocr_document", "math", "ocr_document", "general_vqa"] and keys[1:3] == ["math", "ocr_document"]
    with pytest.raises(ValueError, match="first appearance"):
        CodedKeys(torch.tensor([1, 0]), ("a", "b"))
    with pytest.raises(ValueError, match="first appearance"):
        CodedKeys(torch.tensor([0, 0]), ("a", "b"))  # "b" never appears
    with pytest.raises(ValueError, match=r"0\.\.1"):
        CodedKeys(torch.tensor([0, 2]), ("a", "b"))
    with pytest.raises(TypeError, match="int64"):
        CodedKeys(torch.tensor([0.0]), ("a",))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), groups=st.integers(1, 12), g=st.integers(1, 6))
def test_estimators_give_identical_results_for_codes_and_key_lists(data, groups, g):
    group_task = data.draw(st.lists(st.integers(0, len(VOCAB) - 1), min_size=groups, max_size=groups))
    ids = torch.tensor(group_task).repeat_interleave(g)
    rewards = torch.tensor(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.1]), min_size=groups * g,
                                              max_size=groups * g)))
    group_ids = torch.arange(groups * g) // g
    names = [VOCAB[i] for i in ids.tolist()]
    coded = CodedKeys.from_ids(ids, VOCAB)
    assert as_codes(coded)[0].tolist() == as_codes(names)[0].tolist() and as_codes(coded)[1] == as_codes(names)[1]
    for name in ("g2rpo", "g2rpo_task", "grpo", "ema_grpo"):
        by_name, by_code = make_estimator(name), make_estimator(name)
        for _ in range(2):  # EMA-GRPO's second call uses the moments of the first
            expected, got = by_name(rewards, group_ids, names), by_code(rewards, group_ids, coded)
            assert torch.equal(expected, got), name
        assert by_name.state_dict() == by_code.state_dict()


def test_metrics_by_hand_from_codes():
    # the same three rows as tests/test_train_units.py, families given as codes: math, math, ocr_document
    families = CodedKeys.from_ids(torch.tensor([0, 0, 2]), VOCAB)
    comp = torch.tensor([[1.0, 1, 0.5, 0, 1.5], [0.0, 1, 0.5, 0, 0.6], [0.5, 0, 0, 0, 0.45]])
    out = task_metrics(families, comp, torch.tensor([10.0, 30, 7]))
    assert out["math/reward"] == pytest.approx(1.05)  # (1.5 + 0.6) / 2
    assert out["math/length/p90"] == pytest.approx(28.0)  # 10 + 0.9·(30 − 10)
    assert out["ocr_document/count"] == 1.0
    names = list(out)
    assert names[0] == "math/reward" and names[-1] == "ocr_document/count"  # families sorted by name
    adv = advantage_metrics(families, torch.tensor([1.0, -1.0, 0.0]))
    assert adv["math/advantage/std"] == pytest.approx(1.0) and adv["ocr_document/advantage/max"] == 0.0
    f = filter_metrics(families, torch.tensor([True, False, False]))
    assert f["math/fraction_filtered"] == pytest.approx(0.5) and f["filter/fraction_filtered"] == pytest.approx(2 / 3)


# ---- batch assembly --------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(data=st.data(), side=st.sampled_from(["left", "right"]), dims=st.integers(2, 3))
def test_pad_rows_equals_trl_pad_over_rows(data, side, dims):
    tensors = []
    for _ in range(data.draw(st.integers(1, 4))):
        shape = [data.draw(st.integers(0, 3))] + [data.draw(st.integers(1, 4)) for _ in range(dims - 1)]
        tensors.append(torch.randint(1, 9, shape))
    rows = [row for t in tensors for row in t]
    if rows:  # TRL's pad needs at least one row
        assert torch.equal(_pad_rows(tensors, -1, side), pad(rows, padding_value=-1, padding_side=side))


def test_select_rows_takes_a_tensor_index():
    batch = {"prompt_ids": torch.tensor([[1], [2], [3]]), "num_images": [1, 2, 3], "num_items_in_batch": torch.tensor(3)}
    out = select_rows(batch, torch.tensor([2, 0]))
    assert out["prompt_ids"].tolist() == [[3], [1]] and out["num_images"] == [3, 1] and "num_items_in_batch" not in out


# ---- the whole step: identical to the code before vectorisation ------------------------------------------------
@pytest.mark.parametrize(
    ("estimator", "advantage_key", "drop", "rank", "tries"),
    [
        ("g2rpo", "task", 0.5, 0, 20),  # a few refill rounds
        ("ema_grpo", "problem_type", 0.6, 3, 20),  # stateful estimator keyed by problem type
        ("grpo", "task", 0.97, 1, 3),  # still short after the last try: a partial batch with padding rows
        ("g2rpo", "task", 0.0, 2, 20),  # nothing dropped: one round
    ],
)
def test_host_step_is_identical_to_the_code_before(estimator, advantage_key, drop, rank, tries):
    rounds = host_step.fake_rounds(tries + 1, world=4, local_size=64, group_size=8, drop=drop, seed=7)
    kwargs = {"world": 4, "rank": rank, "estimator": estimator, "advantage_key": advantage_key,
              "max_refill_tries": tries}
    before, after = run_both(rounds, **kwargs)
    assert_identical(before, after)
    if tries == 3:
        assert after[0]._metrics["train"]["filter/partial_batch"] == [1.0]
    # a second step through the same trainers (EMA state carried over) stays identical
    before, after = (before[0], before[0].step()), (after[0], after[0].step())
    assert_identical(before, after)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), drop=st.floats(0.0, 0.95), world=st.sampled_from([1, 2, 4]),
       shaping=st.sampled_from(["off", "fixed"]), training=st.booleans())
def test_host_step_identical_on_random_batches(seed, drop, world, shaping, training):
    rounds = host_step.fake_rounds(6, world=world, local_size=32, group_size=4, drop=drop, seed=seed)
    out = []
    for cls in (host_step.BeforeHostStepTrainer, host_step.HostStepTrainer):
        trainer = cls.build(rounds, world=world, rank=world - 1, group_size=4, max_refill_tries=5,
                            length_shaping=shaping)
        trainer.model.training = training  # eval: no filtering, one round, its own estimator copy
        out.append((trainer, trainer.step()))
    assert_identical(*out)


def test_trainer_plans_round_by_round_and_codes_task_ids(monkeypatch):
    rounds = host_step.fake_rounds(21, world=4, local_size=64, group_size=8, drop=0.9, seed=3)
    trainer = host_step.HostStepTrainer.build(rounds, world=4, rank=1)
    adds, seen = [], []
    original_add = SelectionPlanner.add
    monkeypatch.setattr(SelectionPlanner, "add", lambda self, keep: adds.append(self.n_rounds) or original_add(self, keep))
    estimator = trainer.estimator
    trainer.estimator = lambda rewards, group_ids, task_ids: seen.append(task_ids) or estimator(rewards, group_ids, task_ids)
    trainer.step()
    assert trainer._next > 2 and adds == list(range(trainer._next))  # each round planned once, in order
    (task_ids,) = seen
    assert isinstance(task_ids, CodedKeys) and task_ids.codes.dtype == torch.int64
