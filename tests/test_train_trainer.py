"""G2RPOTrainer on the tiny Qwen3-VL (CPU): advantages, the recipe's loss, filtering with refill, per-task
metrics, checkpoints and exact resume.

A stub scorer with the `BatchScorer` interface makes rewards controllable: a prompt whose answer is "easy" is
always right (its groups are filtered, recipe §7), any other response is right when its character count is even.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from g2rpo.algo import clipped_policy_loss, entropy_band_penalty, g2rpo_advantages, length_score
from g2rpo.rewards import BatchScore, RewardBreakdown

TASKS = [("math", "numerical", "easy"), ("chart", "numerical", "2"), ("ocr_document", "ocr", "a b"),
         ("general_vqa", "multiple choice", "B")]


class StubScorer:
    """`BatchScorer`-compatible: accuracy 1 for answer "easy", else 1 when len(response) is even."""

    n_timeouts = 0

    def score(self, responses, answers, problem_types, *, tasks=None, lengths=None, envelopes=None,
              think_tag="thinking", format_weight=0.1, length_weight=0.0, verifier_options=None, **kwargs):
        out = []
        for i, (response, answer) in enumerate(zip(responses, answers, strict=True)):
            accuracy = 1.0 if answer == "easy" else float(len(response) % 2 == 0)
            ell = 0.0
            if envelopes is not None and envelopes[i] is not None:
                ell = float(length_score(torch.tensor(lengths[i]), envelopes[i]))
            overall = (1 - format_weight - length_weight) * accuracy + length_weight * ell
            out.append(RewardBreakdown(accuracy=accuracy, format=0.0, structure=0.0, length=ell, overall=overall))
        flags = {name: [False] * len(out) for name in ("timed_out", "failed") if name in BatchScore.__dataclass_fields__}
        return BatchScore(breakdowns=out, **flags)

    def close(self):
        pass


def rows(n_prompts: int, offset: int = 0):
    from PIL import Image

    out = []
    for p in range(offset, offset + n_prompts):
        task, ptype, answer = TASKS[p % len(TASKS)]
        out.append({
            "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"question {p}"}]}],
            "images": [Image.new("RGB", (32, 32), (30 * p % 255, 80, 140))],
            "answer": answer, "problem_type": ptype, "task": task,
        })
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from g2rpo.models.tiny import build_tiny

    return str(build_tiny(tmp_path_factory.mktemp("tiny")))


def make(tiny, out_dir, train_rows, eval_rows=None, **kwargs):
    from datasets import Dataset

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.trainer import G2RPOTrainer

    model, processor = load_model_and_processor(tiny)
    settings = {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 12,
                "learning_rate": 1e-3, "logging_steps": 1, "seed": 0, "save_strategy": "no", **kwargs}
    args = G2RPOConfig(output_dir=str(out_dir), report_to="none", use_cpu=True, **settings)
    evals = None
    if isinstance(eval_rows, dict):  # named eval sets
        evals = {name: Dataset.from_list(part) for name, part in eval_rows.items()}
    elif eval_rows:
        evals = Dataset.from_list(eval_rows)
    return G2RPOTrainer(model, args=args, train_dataset=Dataset.from_list(train_rows), eval_dataset=evals,
                        processing_class=processor, scorer=StubScorer())


@pytest.mark.slow
def test_advantages_and_loss_are_the_recipes(tiny, tmp_path):
    trainer = make(tiny, tmp_path, rows(8), dynamic_filtering=False, entropy_band_coef=0.05, length_shaping="off")
    assert trainer.task_reward.rules == trainer.args.reward_rules  # the config's reward rules reach the scorer
    trainer.model.train()
    batch = trainer._generate_and_score_completions([r for r in rows(2, offset=1) for _ in range(4)])
    scores = trainer.last_step.rollouts
    # G2RPO (group stage, then task stage keyed by problem type) on the gathered rewards
    expected = g2rpo_advantages(scores.overall, torch.arange(8) // 4, scores.problem_type_keys()).float()
    torch.testing.assert_close(batch["advantages"], expected)

    # TRL's dapo loss with epsilon 0.2 / epsilon_high 0.3 / delta 3 is the recipe's dual-clip token mean.
    keys = ("pixel_values", "image_grid_thw", "num_images", "mm_token_type_ids")
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = batch["completion_mask"]
    attention = torch.cat([batch["prompt_mask"], mask], 1)
    with torch.no_grad():
        logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, attention, mask.size(1), compute_entropy=True, **{k: batch.get(k) for k in keys})
    generator = torch.Generator().manual_seed(0)
    old = logps + 0.8 * torch.randn(logps.shape, generator=generator)  # ratios far outside [0.8, 1.3] and > 3
    advantages = torch.randn(8, generator=generator)
    batch = {**batch, "old_per_token_logps": old, "advantages": advantages}
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer._compute_loss(trainer.model, batch)
    reference, stats = clipped_policy_loss(logps, old, advantages, mask, clip_low=0.2, clip_high=0.3, dual_clip=3.0)
    assert stats.dual_clip_fraction > 0 and stats.clip_high_fraction > 0 and stats.clip_low_fraction > 0
    bands = {code: (0.2, 0.6) for code in range(6)}
    penalty = entropy_band_penalty(-logps, mask, batch["task_index"], bands)
    assert penalty > 0
    torch.testing.assert_close(loss.detach(), reference + 0.05 * penalty, rtol=1e-5, atol=1e-6)

    # estimator "full": the band reads the exact entropy (TRL's fused head), not −log p of the sampled token
    trainer.args.entropy_estimator = "full"
    loss_full = trainer._compute_loss(trainer.model, batch)
    penalty_full = entropy_band_penalty(entropies, mask, batch["task_index"], bands)
    assert not torch.isclose(penalty_full, penalty)
    torch.testing.assert_close(loss_full.detach(), reference + 0.05 * penalty_full, rtol=1e-5, atol=1e-6)

    # entropy_weighting, with this micro-batch as one of an update's two (the other holding as many tokens):
    # TRL's token mean divides by the update's 2n tokens (reference / 2); the penalty weighs 1 under equal
    # (one accumulation step) and n / 2n = 1/2 under tokens.
    trainer.args.entropy_estimator = "sampled_nll"
    assert trainer.args.steps_per_generation == 1
    half = {**batch, "num_items_in_batch": 2 * mask.sum()}
    trainer.args.entropy_weighting = "equal"
    loss_equal = trainer._compute_loss(trainer.model, half)
    torch.testing.assert_close(loss_equal.detach(), reference / 2 + 0.05 * penalty, rtol=1e-5, atol=1e-6)
    trainer.args.entropy_weighting = "tokens"
    loss_tokens = trainer._compute_loss(trainer.model, half)
    torch.testing.assert_close(loss_tokens.detach(), reference / 2 + 0.05 * penalty / 2, rtol=1e-5, atol=1e-6)
    trainer.close()


def final_params(trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.named_parameters()}


@pytest.mark.slow
def test_train_logs_per_task_metrics_and_resumes_exactly(tiny, tmp_path):
    common = {"max_steps": 4, "save_strategy": "steps", "save_steps": 2, "advantage_estimator": "ema_grpo",
              "length_shaping": "auto", "dynamic_filtering": True, "max_refill_tries": 3}
    train_rows = rows(8)
    full = make(tiny, tmp_path / "full", train_rows, eval_rows=rows(2, offset=5), eval_strategy="steps",
                eval_steps=2, per_device_eval_batch_size=8, **common)
    params_init = final_params(full)
    full.train()
    params_full = final_params(full)

    records = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    train_keys = set().union(*(r for r in records if "train/loss" in r))
    for key in ("train/filter/fraction_filtered", "train/filter/tries", "train/filter/partial_batch",
                "train/entropy_band/penalty", "train/reward/timeouts", "train/reward/failures"):
        assert key in train_keys, key
    tasks = {k.split("/")[1] for k in train_keys if k.endswith("/advantage/mean")}
    assert tasks and tasks <= {"math", "chart", "ocr_document", "general_vqa"}
    for task in tasks:
        for metric in ("reward", "reward/accuracy", "reward/format", "reward/structure", "reward/length", "accuracy",
                       "length/mean", "length/p90", "advantage/std", "advantage/min", "advantage/max",
                       "fraction_filtered", "entropy", "sampled_nll", "envelope/b"):
            assert f"train/{task}/{metric}" in train_keys, f"train/{task}/{metric}"
    # the "easy" math prompts are always right: every math group is filtered, and refill rounds ran
    assert all(r["train/math/fraction_filtered"] == 1.0 for r in records if "train/math/fraction_filtered" in r)
    assert max(r["train/filter/tries"] for r in records if "train/filter/tries" in r) >= 1
    eval_keys = set().union(*(r for r in records if any(k.startswith("eval/") for k in r)))
    assert any(k.startswith("eval/") and k.endswith("/accuracy") for k in eval_keys), sorted(eval_keys)

    checkpoint = tmp_path / "full" / "checkpoint-2"
    state = json.loads((checkpoint / "g2rpo_state.json").read_text())
    assert state["estimator"]["name"] == "ema_grpo" and state["estimator"]["state"]["moments"]
    assert state["envelopes"]["calibrated"] and (checkpoint / "g2rpo_config.yaml").is_file()

    shutil.copytree(checkpoint, tmp_path / "resumed" / "checkpoint-2")
    resumed = make(tiny, tmp_path / "resumed", train_rows, **common)
    resumed.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-2"))
    assert resumed.state.global_step == 4
    assert resumed.g2rpo_state_dict() == full.g2rpo_state_dict()
    params_resumed = final_params(resumed)
    moved = any(not torch.equal(params_full[k], p) for k, p in params_init.items())
    assert moved, "training did not change the parameters; the resume comparison would be vacuous"
    for name, value in params_full.items():
        torch.testing.assert_close(params_resumed[name], value, rtol=1e-5, atol=1e-6, msg=name)
    full.close()
    resumed.close()


@pytest.mark.slow
def test_cli_runs_the_tiny_recipe(tmp_path):
    """`g2rpo train --config recipes/tiny_cpu.yaml` end to end: builds the tiny model and the synthetic data,
    trains, evaluates on the held-out split, and writes per-task metrics and checkpoints."""
    from pathlib import Path

    from g2rpo.cli import main

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny_cpu.yaml"
    out = tmp_path / "run"
    status = main([
        "train", "--config", str(recipe), "--output_dir", str(out), "--model_name_or_path", str(tmp_path / "tiny"),
        "--train_file", str(tmp_path / "synth" / "train.jsonl"), "--eval_file", str(tmp_path / "synth" / "val.jsonl"),
        "--synth_n_train", "16", "--synth_n_val", "4", "--max_eval_samples", "2", "--max_steps", "2",
        "--save_steps", "2", "--eval_steps", "2", "--max_completion_length", "8", "--scorer_workers", "0",
    ])
    assert status == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    assert any(k.startswith("train/") and k.endswith("/reward/format") for k in keys), sorted(keys)
    assert any(k.startswith("eval/") and k.endswith("/accuracy") for k in keys), sorted(keys)
    assert (out / "checkpoint-2" / "g2rpo_state.json").is_file() and (out / "model.safetensors").is_file()
