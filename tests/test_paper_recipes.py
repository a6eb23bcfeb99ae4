"""The paper's ablation arms (recipes/paper/): each differs from full.yaml only in the keys its name says,
full.yaml carries the authors' released settings, and every arm parses into the typed configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PAPER = Path(__file__).resolve().parents[1] / "recipes" / "paper"
ARMS = ("grpo", "g2rpo", "g2rpo_entropy", "g2rpo_length", "full", "released")

# Written from the arm names: what each one switches relative to the full recipe.
NO_LENGTH = {"length_shaping": "off"}
NO_ENTROPY = {"entropy_band_coef": 0.0}
EXPECTED_DIFF = {
    "grpo": {"advantage_estimator": "grpo", "advantage_kwargs": {}, **NO_LENGTH, **NO_ENTROPY},
    "g2rpo": {**NO_LENGTH, **NO_ENTROPY},
    "g2rpo_entropy": NO_LENGTH,
    "g2rpo_length": NO_ENTROPY,
    "full": {},
    "released": {**NO_LENGTH, **NO_ENTROPY},
}


def _load(arm: str) -> dict:
    return yaml.safe_load((PAPER / f"{arm}.yaml").read_text())


def test_the_folder_holds_exactly_the_six_arms():
    assert sorted(p.stem for p in PAPER.glob("*.yaml")) == sorted(ARMS)


@pytest.mark.parametrize("arm", ARMS)
def test_each_arm_differs_from_full_only_in_its_named_keys(arm):
    full, this = _load("full"), _load(arm)
    assert this.pop("output_dir") == f"outputs/paper/{arm}"
    full.pop("output_dir")
    assert set(this) == set(full), "an arm must not add or drop keys"
    diff = {key: this[key] for key in this if this[key] != full[key]}
    assert diff == EXPECTED_DIFF[arm]


def test_full_recipe_carries_the_authors_released_settings():
    full = _load("full")
    # The authors' launch script and config: lr 2e-6, 512 prompts x 8 rollouts at temperature 1.0, global batch 128,
    # response 4,096 tokens, pixels 3,136..1,048,576, filtering on accuracy at 0.01/0.99 with 20 refill tries,
    # clip 0.2/0.3, dual clip 3, no KL, their prompt and reward, validation every step (temperature 0.7, top_p 0.95,
    # one sample) on a math file and a general-VQA file.
    expected = {
        "learning_rate": 2.0e-6, "weight_decay": 0.01, "lr_scheduler_type": "constant", "max_grad_norm": 1.0,
        "num_generations": 8, "temperature": 1.0, "top_p": 1.0, "max_completion_length": 4096,
        "min_pixels": 3136, "max_pixels": 1048576,
        "filter_low": 0.01, "filter_high": 0.99, "max_refill_tries": 20, "dynamic_filtering": True,
        "epsilon": 0.2, "epsilon_high": 0.3, "delta": 3.0, "beta": 0.0, "loss_type": "dapo",
        "advantage_estimator": "g2rpo", "prompt_template": "openvlthinker_v2", "reward_rules": "reference",
        "entropy_band_coef": 0.02, "entropy_weighting": "tokens", "entropy_estimator": "sampled_nll",
        "eval_steps": 1, "eval_temperature": 0.7, "eval_top_p": 0.95, "num_generations_eval": 1,
        "num_train_epochs": 1, "seed": 1,
    }
    assert {key: full.get(key) for key in expected} == expected
    assert sorted(full["eval_files"]) == ["generalVQA", "math"]
    # 8 devices x 8 per device x 64 steps_per_generation = 4096 responses = 512 prompts x 8
    assert 8 * full["per_device_train_batch_size"] * full["steps_per_generation"] == 512 * 8
    # one update: 8 x 8 x 16 accumulation = 1024 responses = 128 prompts x 8
    assert 8 * full["per_device_train_batch_size"] * full["gradient_accumulation_steps"] == 128 * 8


@pytest.mark.parametrize("arm", ARMS)
def test_each_arm_parses_into_the_typed_configs(arm):
    from g2rpo.train.run import parse_config

    # bf16 and vLLM need a GPU; everything else is parsed and validated as written.
    script_args, config = parse_config(str(PAPER / f"{arm}.yaml"), ["--bf16", "false", "--use_vllm", "false"])
    raw = _load(arm)
    assert config.advantage_estimator == raw["advantage_estimator"]
    assert config.length_shaping == raw["length_shaping"]
    assert config.entropy_band_coef == raw["entropy_band_coef"]
    assert (script_args.min_pixels, script_args.max_pixels) == (3136, 1048576)


def test_training_data_is_built_with_the_configured_prompt_template(tmp_path):
    """`g2rpo train` builds its dataset through load_split, which must honour prompt_template."""
    import json

    from PIL import Image

    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.run import ScriptArguments, load_split

    record = {"problem": "<image> How many apples are there?", "problem_type": "numerical", "options": [],
              "answer": "<answer>3</answer>", "images": ["img/a.png"], "task_type": "math_reasoning"}
    (tmp_path / "img").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "img" / "a.png")
    path = tmp_path / "train.json"
    path.write_text(json.dumps([record]))
    script_args = ScriptArguments(model_name_or_path="m", train_file=str(path), data_root=str(tmp_path))

    def user_text(template: str) -> str:
        config = G2RPOConfig(output_dir=str(tmp_path / template), prompt_template=template, report_to=[], bf16=False)
        row = load_split(str(path), script_args, config, None)[0]
        return "".join(part["text"] for part in row["prompt"][0]["content"] if part["type"] == "text")

    authors = user_text("openvlthinker_v2")
    # Recipe text, written out by hand: the instruction after the stripped problem, then the numerical tail.
    assert authors.startswith(" How many apples are there? You FIRST think about the reasoning process")
    assert authors.endswith("Please provide only the numerical value within the <answer>...</answer> tags."
                            "\nExample:\n<answer>3.14</answer>")
    assert "<answer>3.14</answer>" not in user_text("g2rpo")  # our wording has no examples
