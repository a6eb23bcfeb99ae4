"""`task_mixture`: the weighted sampler over task families (g2rpo.train.mixture) and its use in G2RPOTrainer.

Pure sampler tests first (no model, no TRL except as the layout reference), then one tiny-trainer run that
resumes mid-epoch and checks the prompt sequence and the logged mix.
"""

from __future__ import annotations

import json
import logging
import math
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from g2rpo.errors import ConfigError
from g2rpo.train.mixture import MixtureRefill, TaskMixture, TaskMixtureSampler, check_mixture

# 10 math rows, 30 chart, 5 ocr_document, 5 general_vqa (rows 0..49, interleaved by blocks)
FAMILIES = ["math"] * 10 + ["chart"] * 30 + ["ocr_document"] * 5 + ["general_vqa"] * 5
WEIGHTS = {"math": 3, "chart": 1, "ocr_document": 0}  # general_vqa unlisted → weight 0


def mixture() -> TaskMixture:
    return TaskMixture.from_families(FAMILIES, WEIGHTS)


def family_of(index: int) -> str:
    return FAMILIES[index]


def test_resolved_weights_rows_and_probabilities():
    mix = mixture()
    assert mix.weights == {"chart": 1.0, "general_vqa": 0.0, "math": 3.0, "ocr_document": 0.0}
    assert set(mix.rows) == {"math", "chart"}
    assert mix.rows["math"] == list(range(10)) and mix.rows["chart"] == list(range(10, 40))
    assert mix.probabilities == {"chart": 0.25, "math": 0.75}
    assert mix.num_rows == 40


def test_realised_proportions_match_the_weights_within_a_binomial_tolerance():
    # Each prompt's family is an independent draw, so the math count among n prompts is Binomial(n, 3/4):
    # sd = sqrt(n·p·(1-p)) = sqrt(20000 · 0.75 · 0.25) = 61.2. A 5-sd band (±306 prompts, two-sided
    # probability of a false alarm 5.7e-7) is 1.5 points of share. The data's own shares (math 10/40 = 0.25 of
    # the drawable rows) or equal family weights (0.5) would miss it by 10000 and 5000 prompts.
    n, p = 20_000, 0.75
    tolerance = 5 * math.sqrt(n * p * (1 - p))
    assert 300 < tolerance < 310
    for seed in (0, 1, 2):
        sampler = TaskMixtureSampler(mixture(), mini_repeat_count=1, batch_size=n // 4, seed=seed)
        sampler.num_prompts = n
        drawn = [family_of(i) for i in sampler.epoch_prompts()]
        assert len(drawn) == n
        assert abs(drawn.count("math") - n * p) <= tolerance
        assert drawn.count("math") + drawn.count("chart") == n  # weight-0 families never drawn
        for wrong in (0.25, 0.5):
            assert abs(n * wrong - n * p) > tolerance


def test_rows_of_a_family_are_drawn_without_replacement_until_it_runs_out():
    sampler = TaskMixtureSampler(mixture(), mini_repeat_count=1, batch_size=1, seed=3)
    sampler.num_prompts = 400
    drawn = sampler.epoch_prompts()
    for family, size in (("math", 10), ("chart", 30)):
        own = [i for i in drawn if family_of(i) == family]
        for start in range(0, len(own) - size + 1, size):
            assert sorted(own[start : start + size]) == sorted(i for i, f in enumerate(FAMILIES) if f == family)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 4), b=st.integers(1, 6), r=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_layout_is_trls_repeat_sampler_layout(m, b, r, seed):
    from trl.trainer.utils import RepeatSampler

    sampler = TaskMixtureSampler(mixture(), mini_repeat_count=m, batch_size=b, repeat_count=r, seed=seed)
    prompts = sampler.epoch_prompts()
    assert len(prompts) == (40 // b) * b
    # TRL's RepeatSampler over the drawn prompts in order (no shuffle): the reference layout
    reference = [prompts[i] for i in RepeatSampler(prompts, mini_repeat_count=m, batch_size=b, repeat_count=r,
                                                   shuffle=False)]
    ours = list(sampler)
    assert ours == reference
    assert len(sampler) == len(ours) == len(prompts) * m * r
    groups = [ours[k : k + m] for k in range(0, len(ours), m)]
    assert all(len(set(g)) == 1 for g in groups)  # G rollouts of one prompt stay together


def test_order_is_a_function_of_seed_and_epoch():
    def order(seed, epoch):
        sampler = TaskMixtureSampler(mixture(), mini_repeat_count=2, batch_size=4, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0, 0) == order(0, 0)
    assert order(0, 1) == order(0, 1)
    assert order(0, 0) != order(0, 1)
    assert order(0, 0) != order(1, 0)
    sampler = TaskMixtureSampler(mixture(), mini_repeat_count=2, batch_size=4, seed=0)
    assert list(sampler) == list(sampler)  # iterating again without set_epoch repeats the epoch


def test_refill_draws_groups_from_the_mixture_and_resumes_from_its_state():
    refill = MixtureRefill(mixture(), num_generations=3, prompts_per_round=4, seed=7)
    rounds = [refill.next_round() for _ in range(25)]  # 40 // 4 = 10 rounds per epoch: crosses two epochs
    assert refill.state_dict() == {"epoch": 2, "round": 5}
    for indices in rounds:
        assert len(indices) == 12
        assert all(len(set(indices[k : k + 3])) == 1 for k in range(0, 12, 3))
        assert {family_of(i) for i in indices} <= {"math", "chart"}
    again = MixtureRefill(mixture(), num_generations=3, prompts_per_round=4, seed=7)
    again.load_state_dict({"epoch": 1, "round": 3})
    assert [again.next_round() for _ in range(12)] == rounds[13:25]
    other = MixtureRefill(mixture(), num_generations=3, prompts_per_round=4, seed=8)
    assert other.next_round() != rounds[0] or other.next_round() != rounds[1]


def test_mix_metrics_are_shares_of_every_family_of_the_mapping():
    mix = mixture()
    counts = mix.counts(["math", "math", "chart", "math"])
    assert counts.tolist() == [1.0, 0.0, 3.0, 0.0]  # chart, general_vqa, math, ocr_document
    assert mix.mix_metrics(counts) == {"mix/chart": 0.25, "mix/general_vqa": 0.0, "mix/math": 0.75,
                                       "mix/ocr_document": 0.0}


def test_unlisted_families_get_weight_zero_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="g2rpo.train.mixture"):
        TaskMixture.from_families(FAMILIES, WEIGHTS)
    assert "['general_vqa']" in caplog.text and "5 train rows get weight 0" in caplog.text


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"maths": 1}, "unknown task families ['maths']; valid: spatial_grounding, spatial_reasoning, general_vqa, math, chart, "
                      "ocr_document"),
        ({"math": -1}, "task_mixture[math]=-1 must be a finite number >= 0"),
        ({"math": float("nan")}, "task_mixture[math]=nan must be a finite number >= 0"),
        ({"math": float("inf")}, "task_mixture[math]=inf must be a finite number >= 0"),
        ({"math": True}, "task_mixture[math]=True must be a finite number >= 0"),
        ({"math": "2"}, "task_mixture[math]='2' must be a finite number >= 0"),
        ({"math": 0, "chart": 0}, "positive sum"),
        ([1, 2], "must map task families to weights"),
        ({}, "must map task families to weights"),
    ],
)
def test_bad_weights_are_config_errors(weights, message):
    with pytest.raises(ConfigError, match="task_mixture") as error:
        check_mixture(weights)
    assert message in str(error.value)


def test_a_weighted_family_without_rows_is_an_error():
    with pytest.raises(ConfigError, match=r"gives \['spatial_grounding'\] a positive weight but the train set has no rows"):
        TaskMixture.from_families(FAMILIES, {"math": 1, "spatial_grounding": 0.5})
    assert "spatial_grounding" in TaskMixture.from_families(FAMILIES, {"math": 1, "spatial_grounding": 0}).weights  # weight 0 is fine


def test_config_key_parses_json_and_validates(tmp_path):
    from g2rpo.train.config import G2RPOConfig

    cpu = {"output_dir": str(tmp_path), "report_to": [], "use_cpu": True}
    assert G2RPOConfig(**cpu).task_mixture is None
    assert G2RPOConfig(**cpu, task_mixture='{"math": 2, "chart": 1}').task_mixture == {"math": 2.0, "chart": 1.0}
    with pytest.raises(ConfigError, match="unknown task families"):
        G2RPOConfig(**cpu, task_mixture={"maths": 1})


def test_trl_contract_for_the_sampler_and_the_generation_step():
    import inspect

    from trl import GRPOTrainer

    loader = inspect.getsource(GRPOTrainer.get_train_dataloader)
    assert "sampler_fn=self._get_train_sampler" in loader, "TRL no longer builds the train sampler there"
    sampler = inspect.getsource(GRPOTrainer._get_train_sampler)
    for arg in ("mini_repeat_count=self.num_generations", "generation_batch_size // self.num_generations",
                "repeat_count=self.num_iterations * self.args.steps_per_generation"):
        assert arg in sampler, f"TRL's RepeatSampler arguments changed: {arg} not found"
    prepare = inspect.getsource(GRPOTrainer._prepare_inputs)
    assert "self._step % generate_every == 0 or self._buffered_inputs is None" in prepare


# ---- the tiny trainer: a resumed run sees the same prompts, and the mix is logged
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from g2rpo.models.tiny import build_tiny

    return str(build_tiny(tmp_path_factory.mktemp("tiny")))


@pytest.mark.slow
def test_trainer_samples_the_mixture_logs_it_and_resumes_exactly(tiny, tmp_path):
    from test_train_trainer import make, rows

    # rows cycle math, chart, ocr_document, general_vqa: 2 of each. Drawable: chart + ocr_document = 4 prompts,
    # 2 per step, so an epoch is 2 steps; the checkpoint at step 3 sits in the middle of epoch 1.
    train_rows = rows(8)
    common = {"max_steps": 4, "save_strategy": "steps", "save_steps": 3, "dynamic_filtering": False,
              "length_shaping": "off", "entropy_band_coef": 0.0, "max_completion_length": 4,
              "task_mixture": {"chart": 3, "ocr_document": 1, "general_vqa": 0}}

    def record(trainer):
        seen = []
        original = trainer._score_round

        def spy(inputs):
            seen.append([row["prompt"][0]["content"][1]["text"] for row in inputs])
            return original(inputs)

        trainer._score_round = spy
        return seen

    full = make(tiny, tmp_path / "full", train_rows, **common)
    assert len(full._get_train_sampler()) == 4 * 4  # 4 drawable prompts × G = 4 per epoch: 2 steps
    seen_full = record(full)
    full.train()
    assert len(seen_full) == 4 and all(len(step) == 8 for step in seen_full)
    prompts = [step[::4] for step in seen_full]  # one entry per group of G = 4 rollouts
    assert all(step[k] == step[k - k % 4] for step in seen_full for k in range(8))
    families = [[train_rows[int(p.split()[1])]["task"] for p in step] for step in prompts]
    assert {f for step in families for f in step} <= {"chart", "ocr_document"}
    assert prompts[2:] != prompts[:2]  # epoch 1 is not epoch 0 again: the resume below is not vacuous

    records = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "train/loss" in r]
    assert len(logged) == 4
    for row, step in zip(logged, families, strict=True):
        for family in ("chart", "ocr_document", "general_vqa", "math"):
            assert row[f"train/mix/{family}"] == step.count(family) / len(step)

    shutil.copytree(tmp_path / "full" / "checkpoint-3", tmp_path / "resumed" / "checkpoint-3")
    resumed = make(tiny, tmp_path / "resumed", train_rows, **common)
    seen_resumed = record(resumed)
    resumed.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-3"))
    assert resumed.state.global_step == 4
    assert seen_resumed == seen_full[3:]
    full.close()
    resumed.close()
