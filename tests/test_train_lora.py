"""LoRA through TRL's PEFT support (`use_peft`, `lora_*`): adapter placement, training, save and reload."""

from __future__ import annotations

import logging
import sys

import pytest
import torch

from g2rpo.errors import ConfigError
from g2rpo.train.options import lora_config, require_peft


@pytest.fixture
def peft():
    """PEFT itself (the tests of a missing PEFT run without it)."""
    return pytest.importorskip("peft")

# the tiny models' decoder: 2 layers × (4 attention + 3 MLP projections); nothing in model.visual, no lm_head
DECODER_TARGETS = {f"model.language_model.layers.{i}.{m}" for i in range(2)
                   for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                             "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from g2rpo.models.tiny import build_tiny

    return str(build_tiny(tmp_path_factory.mktemp("tiny")))


def adapted_modules(model) -> set[str]:
    return {name.removeprefix("base_model.model.") for name, module in model.named_modules()
            if hasattr(module, "lora_A") and not name.endswith(("lora_A", "lora_B"))}


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_default_targets_are_the_decoders_linear_layers(tmp_path, arch, peft):
    from g2rpo.models import load_model_and_processor
    from g2rpo.models.tiny import build_tiny

    model = load_model_and_processor(str(build_tiny(tmp_path, arch=arch)))[0]
    config = lora_config(model, r=4, alpha=8, dropout=0.0)
    assert (config.r, config.lora_alpha, config.lora_dropout, config.bias) == (4, 8, 0.0, "none")
    # Qwen2.5-VL's vision blocks have MLP gate/up/down_proj too: the regex must keep them out
    assert adapted_modules(peft.get_peft_model(model, config)) == DECODER_TARGETS


def test_target_modules_in_peft_forms_and_range_errors(peft):
    model = torch.nn.Linear(2, 2)
    assert lora_config(model, target_modules=["all-linear"]).target_modules == "all-linear"  # TRL's one-item list
    assert set(lora_config(model, target_modules=["q_proj", "v_proj"]).target_modules) == {"q_proj", "v_proj"}
    for kwargs, message in (({"r": 0}, "lora_r=0"), ({"alpha": 0}, "lora_alpha=0"), ({"dropout": 1.0}, "lora_dropout=1.0")):
        with pytest.raises(ConfigError, match=message):
            lora_config(model, target_modules="x", **kwargs)


def test_without_peft_use_peft_is_a_one_line_config_error(monkeypatch):
    from g2rpo.train.run import ScriptArguments

    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now raises ImportError
    with pytest.raises(ConfigError) as error:
        require_peft()
    message = str(error.value)
    assert message == 'use_peft: true needs PEFT, which is not installed; run: pip install "g2rpo[peft]"'
    with pytest.raises(ConfigError, match="g2rpo\\[peft\\]"):
        ScriptArguments(model_name_or_path="m", train_file="t.jsonl", use_peft=True)
    ScriptArguments(model_name_or_path="m", train_file="t.jsonl")  # no LoRA: peft is not needed


def test_yaml_keys_reach_the_script_arguments(tmp_path):
    from g2rpo.train.run import parse_config

    path = tmp_path / "lora.yaml"
    path.write_text(f"model_name_or_path: m\ntrain_file: t.jsonl\noutput_dir: {tmp_path}\nuse_cpu: true\n"
                    "report_to: none\nuse_peft: true\nlora_r: 4\nlora_alpha: 8\nlora_dropout: 0.0\n"
                    "lora_target_modules: [q_proj, v_proj]\n")
    script_args, _ = parse_config(str(path))
    assert (script_args.use_peft, script_args.lora_r, script_args.lora_alpha, script_args.lora_dropout) == (True, 4, 8, 0.0)
    assert script_args.lora_target_modules == ["q_proj", "v_proj"]
    script_args, _ = parse_config(str(path), ["--lora_target_modules", "all-linear"])
    assert script_args.lora_target_modules in ("all-linear", ["all-linear"])


@pytest.mark.slow
def test_lora_trains_only_adapters_saves_and_reloads_and_freeze_keeps_vision_adapters_fixed(tiny, tmp_path, caplog,
                                                                                            peft):
    from datasets import Dataset

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.trainer import G2RPOTrainer
    from test_train_trainer import StubScorer, rows

    model, processor = load_model_and_processor(tiny)
    base_before = {n: p.detach().clone() for n, p in model.named_parameters()}
    # all-linear puts adapters in the vision tower too; freeze_vision_tower must keep those fixed
    peft_config = lora_config(model, r=4, alpha=8, dropout=0.0, target_modules="all-linear")
    args = G2RPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, per_device_train_batch_size=8,
                       num_generations=4, max_completion_length=4, learning_rate=1e-2, logging_steps=1, seed=0,
                       save_strategy="no", max_steps=2, dynamic_filtering=False, freeze_vision_tower=True)
    with caplog.at_level(logging.WARNING, logger="g2rpo.train.options"):
        trainer = G2RPOTrainer(model, args=args, train_dataset=Dataset.from_list(rows(4)), processing_class=processor,
                               scorer=StubScorer(), peft_config=peft_config)
    assert "froze" in caplog.text and "LoRA parameters placed inside the vision tower" in caplog.text
    params = dict(trainer.model.named_parameters())
    lora = {n for n in params if ".lora_" in n}
    vision_lora = {n for n in lora if ".visual." in n}
    assert vision_lora and lora - vision_lora
    assert {n for n, p in params.items() if p.requires_grad} == lora - vision_lora
    before = {n: p.detach().clone() for n, p in params.items()}
    trainer.train()

    after = dict(trainer.model.named_parameters())
    changed = {n for n in after if not torch.equal(after[n], before[n])}
    assert changed and changed <= lora - vision_lora
    assert any(".lora_B." in n for n in changed)
    base = trainer.model.get_base_model()
    for name, value in base_before.items():  # every base weight is untouched (LoRA wraps it as base_layer)
        module_name, _, leaf = name.rpartition(".")
        module = base.get_submodule(module_name)
        tensor = getattr(module.base_layer if hasattr(module, "base_layer") else module, leaf)
        assert torch.equal(tensor, value), name

    trainer.save_model(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    fresh, _ = load_model_and_processor(tiny)
    reloaded = peft.PeftModel.from_pretrained(fresh, str(tmp_path / "adapter"))
    loaded = dict(reloaded.named_parameters())
    for name in lora:
        assert torch.equal(loaded[name], after[name]), name
    trainer.close()


@pytest.mark.slow
def test_g2rpo_train_runs_lora_with_a_frozen_vision_tower_and_a_task_mixture(tmp_path, peft):
    """The `g2rpo train` path: the YAML/command-line keys reach the trainer and the saved model is the adapter."""
    import json
    from pathlib import Path

    from g2rpo.cli import main

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny_cpu.yaml"
    out = tmp_path / "run"
    status = main([
        "train", "--config", str(recipe), "--output_dir", str(out), "--model_name_or_path", str(tmp_path / "tiny"),
        "--train_file", str(tmp_path / "synth" / "train.jsonl"), "--eval_strategy", "no", "--eval_file", "",
        "--synth_n_train", "12", "--synth_n_val", "2", "--max_steps", "1", "--save_strategy", "no",
        "--max_completion_length", "4", "--scorer_workers", "0", "--use_peft", "true", "--lora_r", "4",
        "--freeze_vision_tower", "true", "--task_mixture", '{"math": 1, "chart": 1}',
    ])
    assert status == 0
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    row = next(json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if "train/loss" in line)
    assert row["train/mix/math"] + row["train/mix/chart"] == 1.0
    assert row["train/mix/ocr_document"] == 0.0
