"""The typed rollout record of one generation round: codes, one gather, select and cat; names checked, not
re-canonicalised, after the data is loaded. No TRL: records are built by hand."""

from __future__ import annotations

import pytest
import torch

from g2rpo.train.rollouts import FAMILY_NAMES, Rollouts, family_codes, problem_type_codes


def record(n: int = 4, **fields) -> Rollouts:
    # components rows: accuracy, format, structure, length, overall = 0.1·i … (distinct, exact in float32)
    base = {
        "components": torch.arange(5 * n, dtype=torch.float32).reshape(n, 5) / 8,
        "tokens": torch.arange(10, 10 + n),
        "families": torch.arange(n) % 6,
        "problem_types": torch.arange(n) % 7,
        "timed_out": torch.arange(n) == 1,
        "failed": torch.arange(n) == 2,
        "group_ids": torch.arange(n) // 2,
    }
    return Rollouts(**{**base, **fields})


def same(a: Rollouts, b: Rollouts) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f)) and getattr(a, f).dtype == getattr(b, f).dtype
               for f in ("components", "tokens", "families", "problem_types", "timed_out", "failed", "group_ids"))


def test_codes_are_positions_in_the_task_vocabulary():
    # TASK_FAMILIES order: spatial_grounding, spatial_reasoning, general_vqa, math, chart, ocr_document
    assert family_codes(["math", "spatial_grounding", "ocr_document"]).tolist() == [3, 0, 5]
    assert family_codes(["math"]).dtype == torch.int64 and FAMILY_NAMES[3] == "math"
    # PROBLEM_TYPES order: multiple choice, numerical, regression, math, ocr, spatial grounding, open-ended
    assert problem_type_codes(["numerical", "open-ended", "multiple choice"]).tolist() == [1, 6, 0]


def test_names_are_checked_not_canonicalised():
    # "MCQ" is an accepted spelling at load time (g2rpo.data canonicalises it); after load it is an error
    with pytest.raises(ValueError, match=r"train rows row 1: problem_type 'MCQ' is not a canonical problem type"):
        problem_type_codes(["numerical", "MCQ"], "train rows")
    with pytest.raises(ValueError, match=r"row 0: task 'Math' .*valid: spatial_grounding"):
        family_codes(["Math"])


def test_float_codes_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"Rollouts.families must be \(4,\) torch.int64"):
        record(families=torch.zeros(4))  # the old float-coded column
    with pytest.raises(ValueError, match=r"components must be \(N, 5\) float32"):
        record(components=torch.zeros(4, 9))


class OneProcess:
    num_processes, process_index, device = 1, 0, torch.device("cpu")

    def __init__(self) -> None:
        self.calls = 0

    def gather(self, tensor):
        self.calls += 1
        return tensor.clone()


class TwoProcesses(OneProcess):
    """Rank 1 of two whose peer holds ``other``'s packed rows: gather = [peer's rows, own rows]."""

    def __init__(self, other: torch.Tensor) -> None:
        super().__init__()
        self.other = other

    def gather(self, tensor):
        self.calls += 1
        self.other = tensor if self.other is None else self.other
        return torch.cat([self.other, tensor])


def test_gather_on_one_process_is_the_identity_bit_for_bit_in_one_collective():
    odd = torch.tensor([[-0.0, 1e-38, -3.5, float("inf"), 0.1]] * 4, dtype=torch.float32)
    local = record(components=odd)
    accelerator = OneProcess()
    gathered = local.gather(accelerator)
    assert accelerator.calls == 1 and same(gathered, local)
    assert torch.equal(gathered.components.view(torch.int32), odd.view(torch.int32))  # -0.0 keeps its sign bit


def test_gather_concatenates_the_processes_rows():
    mine = record(2, tokens=torch.tensor([7, 8]), group_ids=torch.tensor([1, 1]))
    peer = record(2)
    capture = TwoProcesses(None)
    peer.gather(capture)  # the peer's packed tensor, as it would arrive
    two = TwoProcesses(capture.other)
    out = mine.gather(two)
    assert two.calls == 1 and len(out) == 4
    assert out.tokens.tolist() == [10, 11, 7, 8] and out.group_ids.tolist() == [0, 0, 1, 1]
    assert same(out.select(torch.tensor([2, 3])), mine)


def test_select_and_cat_by_hand():
    r = record(4)
    picked = r.select(torch.tensor([3, 0]))
    assert picked.tokens.tolist() == [13, 10] and picked.timed_out.tolist() == [False, False]
    assert same(r.select(torch.tensor([False, True, True, False])), r.select(torch.tensor([1, 2])))
    assert r.overall.tolist() == [0.5, 1.125, 1.75, 2.375] and r.accuracy.tolist() == [0.0, 0.625, 1.25, 1.875]
    # two rounds of 2 groups each: round 1's groups become 2, 3
    both = Rollouts.cat([r, r])
    assert both.group_ids.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and both.tokens.tolist() == [10, 11, 12, 13] * 2
    assert list(both.family_keys()) == ["spatial_grounding", "spatial_reasoning", "general_vqa", "math"] * 2


def test_reward_and_dataset_checks_refuse_names_that_were_not_canonicalised():
    from datasets import Dataset

    from g2rpo.train.checks import check_dataset
    from g2rpo.train.reward import TaskReward

    row = {"prompt": [{"role": "user", "content": "q"}], "answer": "B", "problem_type": "MCQ", "task": "general_vqa"}
    with pytest.raises(ValueError, match=r"problem_type 'MCQ' is not canonical, write 'multiple choice'"):
        check_dataset(Dataset.from_list([row]), "train_dataset")
    reward = TaskReward(scorer=None)  # the check comes before any scoring
    with pytest.raises(ValueError, match=r"reward batch row 0: problem_type 'MCQ'"):
        reward.components(["<answer>B</answer>"], None, ["B"], ["MCQ"], ["general_vqa"])
