"""Fast tests of the trainer's pure pieces: row selection/refill planning, re-padding, envelopes, metrics,
config validation and the CLI's argument handling. Expected values are derived by hand in comments."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from g2rpo.algo import Envelope
from g2rpo.train.config import G2RPOConfig
from g2rpo.train.metrics import (
    JsonlMetricsCallback,
    advantage_metrics,
    filter_metrics,
    rewrite_key,
    task_metrics,
)
from g2rpo.train.refill import RefillSource, concat_batches, plan_selection, select_rows
from g2rpo.train.shaping import EnvelopeTable, auto_envelope


def config(tmp_path, **kwargs) -> G2RPOConfig:
    return G2RPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, **kwargs)


# ---- refill planning -------------------------------------------------------------------------------------------
def test_plan_selection_fills_each_rank_in_round_order_and_pads_short_ranks():
    # W = 2 ranks, L = 4 rows each. Round 0: rank 0 keeps rows 0, 1; rank 1 keeps nothing.
    # Round 1: rank 0 keeps all four, rank 1 keeps rows 0, 1.
    keeps = [torch.tensor([1, 1, 0, 0, 0, 0, 0, 0], dtype=torch.bool),
             torch.tensor([1, 1, 1, 1, 1, 1, 0, 0], dtype=torch.bool)]
    selections, full = plan_selection(keeps, world_size=2, local_size=4)
    # rank 0: its 2 kept rows of round 0, then the first 2 of round 1 → full.
    assert selections[0].rows == [(0, 0), (0, 1), (1, 0), (1, 1)] and selections[0].n_padding == 0
    # rank 1: 2 kept rows (round 1), then 2 padding rows = its earliest dropped rows (round 0, rows 0 and 1).
    assert selections[1].rows == [(1, 0), (1, 1), (0, 0), (0, 1)] and selections[1].n_padding == 2
    assert not full
    _, full = plan_selection([*keeps, torch.ones(8, dtype=torch.bool)], 2, 4)
    assert full


def test_select_and_concat_repad_prompt_left_and_completion_right():
    a = {  # one row: prompt [pad, 1, 2], completion [5]
        "prompt_ids": torch.tensor([[0, 1, 2]]), "prompt_mask": torch.tensor([[0, 1, 1]]),
        "completion_ids": torch.tensor([[5]]), "completion_mask": torch.tensor([[1]]),
        "mm_token_type_ids": torch.tensor([[0, 1, 1, 0]]), "num_images": [1],
        "advantages": torch.tensor([0.5]), "num_items_in_batch": torch.tensor(1),
    }
    b = {  # two rows, prompt width 4, completion width 3; we keep row 1 only
        "prompt_ids": torch.tensor([[3, 4, 5, 6], [7, 8, 9, 1]]), "prompt_mask": torch.ones(2, 4, dtype=torch.long),
        "completion_ids": torch.tensor([[7, 8, 9], [2, 2, 0]]), "completion_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "mm_token_type_ids": torch.zeros(2, 7, dtype=torch.long), "num_images": [2, 3],
        "advantages": torch.tensor([1.0, 2.0]), "num_items_in_batch": torch.tensor(5),
    }
    out = concat_batches([select_rows(a, [0]), select_rows(b, [1])], pad_token_id=0)
    # prompts re-padded on the left to width 4, completions on the right to width 3
    assert out["prompt_ids"].tolist() == [[0, 0, 1, 2], [7, 8, 9, 1]]
    assert out["prompt_mask"].tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert out["completion_ids"].tolist() == [[5, 0, 0], [2, 2, 0]]
    assert out["completion_mask"].tolist() == [[1, 0, 0], [1, 1, 0]]
    # [prompt | completion] field: split at each batch's prompt width, then padded like its two halves
    assert out["mm_token_type_ids"].tolist() == [[0, 0, 1, 1, 0, 0, 0], [0] * 7]
    assert out["num_images"] == [1, 3]
    assert out["advantages"].tolist() == [0.5, 2.0]
    assert "num_items_in_batch" not in out  # recomputed by the trainer for the assembled batch


def test_refill_source_walks_group_contiguous_rounds_and_resumes():
    source = RefillSource(6, num_generations=2, prompts_per_round=2, seed=3, shuffle=True)
    rounds = [source.next_round() for _ in range(3)]  # 6 prompts / 2 per round = one epoch
    for r in rounds:
        assert len(r) == 4 and r[0] == r[1] and r[2] == r[3]  # groups of G = 2 identical indices
    assert sorted(i for r in rounds for i in r[::2]) == list(range(6))  # each prompt once per epoch
    state = source.state_dict()
    nxt = source.next_round()
    assert source.state_dict()["epoch"] == 1
    other = RefillSource(6, num_generations=2, prompts_per_round=2, seed=3, shuffle=True)
    other.load_state_dict(state)
    assert other.next_round() == nxt
    with pytest.raises(ValueError, match="at least 4 prompts"):
        RefillSource(3, num_generations=2, prompts_per_round=4, seed=0, shuffle=False)


# ---- length envelopes ------------------------------------------------------------------------------------------
def test_auto_envelope_formula():
    # median of 10, 20, 30, 40 (linear interpolation) = 25 → reasoning factors [0.5, 1, 2, 4] × 25
    assert auto_envelope(torch.tensor([10.0, 20, 30, 40]), [0.5, 1, 2, 4]) == Envelope(12.5, 25, 50, 100)
    # vision factors [0, 0.25, 1, 2] × 25
    assert auto_envelope(torch.tensor([10.0, 20, 30, 40]), [0, 0.25, 1, 2]) == Envelope(0, 6.25, 25, 50)
    # empty responses: the median is floored at 1 so the trapezoid stays valid
    assert auto_envelope(torch.tensor([0.0, 0.0]), [0.5, 1, 2, 4]) == Envelope(0.5, 1, 2, 4)


def test_envelope_table_auto_calibrates_once_per_family_and_roundtrips(tmp_path):
    cfg = config(tmp_path, length_shaping="auto")
    table = EnvelopeTable("auto", None, cfg.resolved_auto_length_factors())
    # math (reasoning): median of [4, 8] = 6 → [3, 6, 12, 24]; ocr_document (vision): median 2 → [0, 0.5, 2, 4]
    new = table.calibrate(torch.tensor([4.0, 8.0, 2.0]), ["math", "math", "ocr_document"])
    assert new == ["math", "ocr_document"]
    assert table.get("math") == Envelope(3, 6, 12, 24)
    assert table.get("ocr_document") == Envelope(0, 0.5, 2, 4)
    assert table.calibrate(torch.tensor([100.0]), ["math"]) == []  # first batch only
    assert table.get("math") == Envelope(3, 6, 12, 24)
    restored = EnvelopeTable("auto", None, cfg.resolved_auto_length_factors())
    restored.load_state_dict(json.loads(json.dumps(table.state_dict())))
    assert restored.get("math") == Envelope(3, 6, 12, 24) and restored.calibrated == {"math", "ocr_document"}
    fixed = EnvelopeTable("fixed", {"math": [1, 2, 3, 4]}, {})
    assert fixed.calibrate(torch.tensor([5.0]), ["math"]) == [] and fixed.get("math") == Envelope(1, 2, 3, 4)
    assert EnvelopeTable("off", None, {}).get("math") is None
    with pytest.raises(ValueError, match="length_shaping"):
        fixed.load_state_dict(table.state_dict())


# ---- metrics ---------------------------------------------------------------------------------------------------
def test_task_metrics_by_hand():
    families = ["math", "math", "ocr_document"]
    # columns: accuracy, format, structure, length, overall
    comp = torch.tensor([[1.0, 1, 0.5, 0, 1.5], [0.0, 1, 0.5, 0, 0.6], [0.5, 0, 0, 0, 0.45]])
    out = task_metrics(families, comp, torch.tensor([10.0, 30, 7]))
    out.update(advantage_metrics(families, torch.tensor([1.0, -1.0, 0.0])))
    assert out["math/reward"] == pytest.approx(1.05)  # (1.5 + 0.6) / 2
    assert out["math/accuracy"] == pytest.approx(0.5) and out["math/reward/format"] == pytest.approx(1.0)
    assert out["math/length/mean"] == pytest.approx(20.0)
    assert out["math/length/p90"] == pytest.approx(28.0)  # 10 + 0.9·(30 − 10)
    assert out["math/advantage/std"] == pytest.approx(1.0) and out["math/advantage/min"] == -1.0
    assert out["ocr_document/count"] == 1.0 and out["ocr_document/reward"] == pytest.approx(0.45)
    kept = torch.tensor([True, False, False])
    f = filter_metrics(families, kept)
    assert f["filter/fraction_filtered"] == pytest.approx(2 / 3)
    assert f["math/fraction_filtered"] == pytest.approx(0.5) and f["ocr_document/fraction_filtered"] == 1.0


def test_jsonl_callback_writes_published_names(tmp_path):
    assert rewrite_key("eval_math/accuracy") == "eval/math/accuracy"
    assert rewrite_key("math/accuracy") == "train/math/accuracy"

    class State:
        is_world_process_zero, global_step, epoch = True, 3, 0.5

    args = argparse.Namespace(output_dir=str(tmp_path))
    JsonlMetricsCallback("m.jsonl").on_log(args, State(), None, logs={"math/reward": 1.25, "x": float("nan")})
    record = json.loads((tmp_path / "m.jsonl").read_text())
    assert record == {"step": 3, "epoch": 0.5, "train/math/reward": 1.25}


# ---- config and CLI --------------------------------------------------------------------------------------------
def test_config_defaults_map_the_recipe_update_rule(tmp_path):
    cfg = config(tmp_path)
    assert (cfg.loss_type, cfg.epsilon, cfg.epsilon_high, cfg.delta, cfg.beta) == ("dapo", 0.2, 0.3, 3.0, 0.0)
    assert (cfg.advantage_estimator, cfg.advantage_key, cfg.entropy_band_coef) == ("g2rpo", "problem_type", 0.02)
    assert config(tmp_path, length_shaping="off").effective_length_weight == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"advantage_estimator": "ppo"}, "g2rpo, g2rpo_task"),
        ({"advantage_key": "family"}, "problem_type, task"),
        ({"length_envelopes": {"maths": [1, 2, 3, 4]}}, "unknown task families"),
        ({"entropy_estimator": "exact"}, "sampled_nll, full"),
        ({"filter_low": 0.9, "filter_high": 0.1}, "filter_low < filter_high"),
        ({"auto_length_factors": {"vision": [1, 0, 2, 3]}}, "auto_length_factors"),
        ({"entropy_bands": {"math": [0.6, 0.2]}}, "low <= high"),
    ],
)
def test_config_errors_name_the_key_and_valid_values(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **kwargs)


def test_yaml_roundtrip_and_cli_overrides(tmp_path):
    from g2rpo.cli import build_parser
    from g2rpo.train import cli
    from g2rpo.train.run import parse_config

    cfg = config(tmp_path, advantage_estimator="ema_grpo", length_envelopes={"math": [1, 2, 3, 4]})
    path = cfg.save_yaml(tmp_path / "saved.yaml")
    text = path.read_text() + "model_name_or_path: some/model\ntrain_file: train.jsonl\n"
    path.write_text(text)
    script_args, again = parse_config(str(path), ["--max_steps", "3", "--advantage_key", "task"])
    assert again.recipe_dict() == {**cfg.recipe_dict(), "advantage_key": "task"}
    assert again.max_steps == 3 and script_args.model_name_or_path == "some/model"

    args = build_parser({"train": cli}).parse_args(["train", "--config", "f.yaml", "--max_steps", "3"])
    assert args.config == "f.yaml" and args.overrides == ["--max_steps", "3"]


# ---- the reward function ---------------------------------------------------------------------------------------
def test_task_reward_keeps_every_component_and_counts_length_in_the_configured_unit():
    from g2rpo.rewards import BatchScorer, score_response
    from g2rpo.train.reward import COMPONENTS, TaskReward

    responses = ["<thinking>two</thinking><answer>B</answer>", "<answer>12</answer>", "no tags at all"]
    answers = ["B", "12", "cat"]
    ptypes = ["multiple choice", "numerical", "ocr"]
    tasks = ["general_vqa", "chart", "ocr_document"]
    ids = [[1] * 7, [1] * 3, [1] * 5]
    bands = {"general_vqa": [1, 5, 8, 20], "chart": [1, 2, 4, 6], "ocr_document": [0, 1, 2, 3]}
    table = EnvelopeTable("fixed", bands, {})
    with BatchScorer(max_workers=0) as scorer:
        for unit, lengths in (("tokens", [7.0, 3.0, 5.0]), ("characters", [float(len(r)) for r in responses])):
            reward = TaskReward(scorer, envelopes=table, length_unit=unit, length_weight=0.1)
            scored = reward.components(responses, ids, answers, ptypes, tasks)
            assert scored.lengths.tolist() == lengths
            for i in range(3):
                expected = score_response(responses[i], answers[i], problem_type=ptypes[i], task=tasks[i],
                                          length_weight=0.1, length=lengths[i], envelope=table.get(tasks[i]))
                assert scored.components[i].tolist() == pytest.approx([getattr(expected, c) for c in COMPONENTS])
            overall = reward(None, responses, ids, answer=answers, problem_type=ptypes, task=tasks)
            assert overall == pytest.approx(scored.components[:, -1].tolist())
        # tokens: row 0 has 7 tokens, on the plateau [5, 8] of its envelope → length score 1
        reward = TaskReward(scorer, envelopes=table, length_unit="tokens", length_weight=0.1)
        assert reward.components(responses, ids, answers, ptypes, tasks).components[0, 3] == 1.0
        # shaping off: the length weight is dropped (recipe §4: w_l = 0 when length shaping is off)
        off = TaskReward(scorer, envelopes=EnvelopeTable("off", None, {}), length_weight=0.1)
        assert off.length_weight == 0.0


def test_dataset_checks_name_the_column_and_the_valid_values():
    from datasets import Dataset

    from g2rpo.train.checks import check_dataset, pad_left

    row = {"prompt": [{"role": "user", "content": "q"}], "answer": "1", "problem_type": "numerical", "task": "math"}
    check_dataset(Dataset.from_list([row]), "train_dataset")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['task'\]"):
        check_dataset(Dataset.from_list([{k: v for k, v in row.items() if k != "task"}]), "train_dataset")
    with pytest.raises(ValueError, match="unknown task families \\['maths'\\]; valid: spatial_grounding"):
        check_dataset(Dataset.from_list([{**row, "task": "maths"}]), "train_dataset")
    with pytest.raises(KeyError, match="valid problem types"):
        check_dataset({"val": Dataset.from_list([{**row, "problem_type": "essay"}])}, "eval_dataset")

    tokenizer = argparse.Namespace(padding_side="right")
    pad_left(argparse.Namespace(tokenizer=tokenizer))
    assert tokenizer.padding_side == "left"
