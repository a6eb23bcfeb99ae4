"""Cold-start SFT pieces: the typed config (YAML mirror, errors) and the completion-only dataset it trains on."""

from __future__ import annotations

import pytest

from g2rpo.train.sft import SFTRunConfig, build_sft_dataset, sft_target


def test_config_round_trips_through_yaml_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("model: m\ntrain_file: t.jsonl\nmax_steps: 7\nlearning_rate: 1.0e-4\n")
    config = SFTRunConfig.from_yaml(path)
    assert (config.max_steps, config.learning_rate, config.think_tag) == (7, 1e-4, "thinking")
    (tmp_path / "again.yaml").write_text(config.to_yaml())
    assert SFTRunConfig.from_yaml(tmp_path / "again.yaml") == config
    with pytest.raises(ValueError, match=r"unknown SFT config key\(s\) \['max_step'\]; valid keys: model"):
        SFTRunConfig.from_dict({"model": "m", "train_file": "t", "max_step": 3})
    with pytest.raises(ValueError, match=r"missing required SFT config key\(s\) \['train_file'\]"):
        SFTRunConfig.from_dict({"model": "m"})
    with pytest.raises(ValueError, match="max_steps must be"):
        SFTRunConfig(model="m", train_file="t", max_steps=0)


def test_numbers_written_the_yaml_1_1_way_are_read_as_numbers_and_non_numbers_are_named(tmp_path):
    from g2rpo.errors import ConfigError

    path = tmp_path / "sft.yaml"
    path.write_text("model: m\ntrain_file: t.jsonl\nlearning_rate: 3e-4\nmax_steps: '12'\n")  # PyYAML: strings
    config = SFTRunConfig.from_yaml(path)
    assert (config.learning_rate, config.max_steps) == (0.0003, 12)
    with pytest.raises(ConfigError, match=r"learning_rate: expected a number, got 'fast'"):
        SFTRunConfig.from_dict({"model": "m", "train_file": "t", "learning_rate": "fast"})
    with pytest.raises(ConfigError, match=r"max_steps: expected an integer, got 2.5"):
        SFTRunConfig.from_dict({"model": "m", "train_file": "t", "max_steps": 2.5})


def test_the_demo_loop_trains_on_the_completion_only(tmp_path):
    """The demo's SFT loop masks the prompt (question, image tokens, chat markup) out of the loss."""
    import random

    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from g2rpo.data.synth import gen_vqa_colour
    from g2rpo.demo.sft import collator
    from g2rpo.models import load_model_and_processor
    from g2rpo.models.tiny import build_tiny

    _, processor = load_model_and_processor(str(build_tiny(tmp_path / "m")))
    sample = gen_vqa_colour(random.Random(0), 96)

    def row():  # a fresh row per call: TRL's collator rewrites the messages it is given
        return {
            "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]}],
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": "red"}]}],
            "images": [sample.image],
        }

    batch = collator(processor, max_length=256)([row()])
    kept = batch["labels"][0] != -100
    text = processor.tokenizer.decode(batch["input_ids"][0][kept])
    assert text.startswith("red") and "<|image_pad|>" not in text and "colour" not in text
    everything = DataCollatorForVisionLanguageModeling(processor, max_length=256)([row()])  # TRL's default
    assert (everything["labels"][0] != -100).sum() > 2 * kept.sum()


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_the_demo_loss_is_the_models_own_loss_and_gradient(tmp_path, arch):
    """`completion_loss` projects only the labelled positions; value and gradients equal `model(**batch).loss`."""
    import random

    import torch

    from g2rpo.data.synth import gen_ocr_words, gen_vqa_colour
    from g2rpo.demo.sft import collator, completion_loss
    from g2rpo.models import load_model_and_processor
    from g2rpo.models.tiny import build_tiny

    model, processor = load_model_and_processor(str(build_tiny(tmp_path / "m", arch=arch)))
    rows = [
        {
            "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
            "images": [sample.image],
        }
        for question, answer, sample in [
            ("What colour is the shape?", "red", gen_vqa_colour(random.Random(0), 96)),
            ("Read the text.", "<thinking>row 1: C A T.</thinking><answer>cat</answer>", gen_ocr_words(random.Random(1), 96)),
        ]
    ]  # different lengths: the shorter row is padded
    batch = collator(processor, max_length=256)(rows)
    assert (batch["attention_mask"] == 0).any()
    reference = model(**batch).loss
    want = torch.autograd.grad(reference, list(model.parameters()), allow_unused=True)
    ours = completion_loss(model, batch)
    got = torch.autograd.grad(ours, list(model.parameters()), allow_unused=True)
    assert torch.allclose(ours, reference, rtol=1e-5, atol=1e-6)
    for a, b in zip(got, want, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_target_format():
    assert sft_target("2 + 2 = 4.", "4") == "<thinking>2 + 2 = 4.</thinking><answer>4</answer>"
    assert sft_target("", "B", think_tag="think") == "<think></think><answer>B</answer>"


def test_dataset_rows_pair_the_rl_prompt_with_the_reasoning_target(tmp_path):
    from g2rpo.data import build_prompt, load_records
    from g2rpo.data.synth_write import synthesize

    data = synthesize(tmp_path, n_train=6, n_val=0, seed=1, progress=False)
    config = SFTRunConfig(model="unused", train_file=str(data.files["train"]), max_samples=4)
    rows = build_sft_dataset(config)
    records = load_records(data.files["train"])[:4]
    assert len(rows) == 4
    for row, record in zip(rows, records, strict=True):
        user = row["prompt"][0]["content"]
        assert [part["type"] for part in user] == ["image", "text"]
        assert user[1]["text"] == build_prompt(record).replace("<image>", "").strip()
        target = row["completion"][0]["content"][0]["text"]
        assert target == f"<thinking>{record.extra['reasoning']}</thinking><answer>{record.answer}</answer>"
        assert len(row["images"]) == 1 and row["images"][0].size == (96, 96)


def test_dataset_rows_follow_the_configured_prompt_template(tmp_path):
    """SFT writes the prompt with the same template the RL stage is given (here a Jinja file)."""
    from g2rpo.data import load_records
    from g2rpo.data.synth_write import synthesize

    data = synthesize(tmp_path, n_train=6, n_val=0, seed=1, progress=False)
    template = tmp_path / "short.jinja"
    template.write_text("{{ problem | trim }} Answer in <{{ think_tag }}></{{ think_tag }}><answer></answer>.")
    config = SFTRunConfig(model="unused", train_file=str(data.files["train"]), max_samples=2, prompt_template=str(template))
    rows = build_sft_dataset(config)
    for row, record in zip(rows, load_records(data.files["train"])[:2], strict=True):
        question = record.problem.replace("<image>", "").strip()
        assert row["prompt"][0]["content"][1]["text"] == f"{question} Answer in <thinking></thinking><answer></answer>."


def test_a_recipe_names_its_prompt_template_relative_to_itself(tmp_path):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "p.jinja").write_text("{{ problem }}")
    (folder / "sft.yaml").write_text("model: m\ntrain_file: t.jsonl\nprompt_template: p.jinja\n")
    assert SFTRunConfig.from_yaml(folder / "sft.yaml").prompt_template == str(folder / "p.jinja")
    (folder / "other.yaml").write_text("model: m\ntrain_file: t.jsonl\nprompt_template: openvlthinker_v2\n")
    assert SFTRunConfig.from_yaml(folder / "other.yaml").prompt_template == "openvlthinker_v2"
