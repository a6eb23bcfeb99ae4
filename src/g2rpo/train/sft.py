"""Cold-start SFT before RL: TRL's `SFTTrainer` on reasoning-formatted targets.

The OpenVLThinkerV2 authors announce a cold-start SFT stage before RL; the paper's released recipe is RL only
(recipe §8). We ship the stage as an option: each record's target is
`<thinking>{reasoning}</thinking><answer>{answer}</answer>` (the exact format the reward's format check
accepts, recipe §4), the prompt is the RL prompt (`g2rpo.data.build_prompt`, recipe §8), and the loss is
on the completion tokens only (TRL's prompt–completion mode).

A record needs a `reasoning` field (the synthetic generator writes one). **(choice)** A record without one
is trained on `<thinking></thinking><answer>{answer}</answer>`, an empty chain: the stage then teaches the
format and the answer, not a made-up rationale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class SFTRunConfig:
    """Typed config of `g2rpo sft --config FILE.yaml`; the YAML mirrors these fields one to one."""

    model: str
    """Path (or hub id) of the model to fine-tune; loaded with `g2rpo.models.load_model_and_processor`."""
    train_file: str
    """JSONL records in the project schema (`g2rpo.data.load_records`)."""
    output_dir: str = "outputs/sft"
    """Where the fine-tuned model, its processor, `sft_config.yaml` and `sft_metrics.jsonl` are written."""
    data_root: str | None = None
    """Folder image paths are relative to; default: the JSONL's folder."""
    think_tag: str = "thinking"
    """Tag of the reasoning block (`thinking` for OpenVLThinkerV2)."""
    prompt_template: str = "g2rpo"
    """User-turn template, as `g2rpo train`'s `prompt_template`: `g2rpo`, `openvlthinker_v2` or a Jinja file.
    Give the RL stage the same one, so that RL starts from the prompt SFT trained on."""
    max_steps: int = 100
    """Optimiser steps."""
    per_device_train_batch_size: int = 8
    """Sequences per step (per device)."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimiser step."""
    learning_rate: float = 2e-5
    """AdamW peak learning rate."""
    lr_scheduler_type: str = "constant_with_warmup"
    """Any `transformers` scheduler name."""
    warmup_steps: int = 0
    """Linear warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_length: int | None = 1024
    """Truncate prompt + completion to this many tokens (None: no truncation)."""
    max_samples: int | None = None
    """Use only the first N records (None: all)."""
    logging_steps: int = 5
    """Log loss every N steps."""
    seed: int = 0
    """Seed for shuffling and initialisation of any new weights."""
    dtype: str | None = None
    """Model dtype (`float32`, `bfloat16`, …); None: the checkpoint's."""
    threads: int = 0
    """torch CPU threads; 0 = auto, as for `g2rpo train` (`g2rpo.train.run.resolve_threads`)."""

    def __post_init__(self) -> None:
        from g2rpo.errors import ConfigError
        from g2rpo.train.run import resolve_threads

        for name in ("learning_rate", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name}={value!r} is not a finite number; set a finite value")
        resolve_threads(self.threads)
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be ≥ 1 (got {self.max_steps})")
        if self.per_device_train_batch_size < 1:
            raise ValueError(
                f"per_device_train_batch_size must be ≥ 1 (got {self.per_device_train_batch_size})"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0 (got {self.learning_rate})")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> SFTRunConfig:
        """Build from a mapping; unknown keys are an error listing the valid ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"{source}: unknown SFT config key(s) {unknown}; valid keys: {', '.join(names)}")
        missing = [n for n in ("model", "train_file") if n not in values]
        if missing:
            raise ValueError(f"{source}: missing required SFT config key(s) {missing}")
        types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        return cls(**{key: _typed(source, key, value, types[key]) for key, value in values.items()})

    @classmethod
    def from_yaml(cls, path: str | Path) -> SFTRunConfig:
        values = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: an SFT config must be a YAML mapping, got {type(values).__name__}")
        return cls.from_dict(template_beside(values, path), source=str(path))

    def to_yaml(self) -> str:
        return yaml.safe_dump(dataclasses.asdict(self), sort_keys=False)


def template_beside(values: dict[str, Any], config_path: str | Path) -> dict[str, Any]:
    """`values` with a relative Jinja `prompt_template` that lies beside the config file made absolute (a
    recipe names its template relative to itself); anything else unchanged."""
    template = values.get("prompt_template")
    if isinstance(template, str) and template.endswith(".jinja") and not Path(template).is_absolute():
        beside = Path(config_path).parent / template
        if beside.is_file():
            return {**values, "prompt_template": str(beside)}
    return values


def _typed(source: str, key: str, value: Any, annotation: str) -> Any:
    """`value` of a numeric field as its number. YAML 1.1 reads `3e-4` (no dot) as a string, so numeric
    strings are converted; anything else that is not a number of the field's type is a `ConfigError`."""
    from g2rpo.errors import ConfigError

    kind = annotation.split("|")[0].strip()
    if kind not in ("int", "float") or value is None:
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip()) if kind == "float" else int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind == "int" and isinstance(value, float)):
        raise ConfigError(f"{source}: {key}: expected {'a number' if kind == 'float' else 'an integer'}, got {value!r}")
    return float(value) if kind == "float" else value


def sft_target(reasoning: str, answer: str, *, think_tag: str = "thinking") -> str:
    """The SFT completion: `<{tag}>{reasoning}</{tag}><answer>{answer}</answer>` (recipe §4's format)."""
    return f"<{think_tag}>{reasoning}</{think_tag}><answer>{answer}</answer>"


def build_sft_dataset(config: SFTRunConfig):
    """Records → a `datasets.Dataset` of `{prompt, completion, images}` rows (TRL's conversational
    prompt–completion format for vision-language models)."""
    from datasets import Dataset

    from g2rpo.data import get_prompt_template, load_image, load_records

    path = Path(config.train_file)
    records = load_records(path, data_root=config.data_root)
    if config.max_samples is not None:
        records = records[: config.max_samples]
    template = get_prompt_template(config.prompt_template)
    rows = []
    for record in records:
        reasoning = record.extra.get("reasoning") or ""
        if not isinstance(reasoning, str):
            raise ValueError(f"{path}: record {record.problem_id!r}: field 'reasoning' must be a string")
        target = sft_target(reasoning, record.answer, think_tag=config.think_tag)
        rows.append(
            {
                "prompt": template.messages(record, think_tag=config.think_tag),
                "completion": [{"role": "assistant", "content": [{"type": "text", "text": target}]}],
                "images": [load_image(ref) for ref in record.images],
            }
        )
    if not rows:
        raise ValueError(f"{path}: no records to train on")
    return Dataset.from_list(rows)


def run_sft(config: SFTRunConfig, *, progress: bool = True) -> Path:
    """Fine-tune `config.model` and save it (model + processor) to `config.output_dir`; return that folder.

    Writes `sft_config.yaml` (the resolved config) and `sft_metrics.jsonl` (one line per logging step: step,
    loss, learning rate, …) beside the weights.
    """
    from trl import SFTConfig, SFTTrainer

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.run import set_threads

    set_threads(config.threads)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sft_config.yaml").write_text(config.to_yaml())
    model, processor = load_model_and_processor(config.model, dtype=config.dtype)
    dataset = build_sft_dataset(config)
    args = SFTConfig(
        output_dir=str(out),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_length=config.max_length,
        logging_steps=config.logging_steps,
        seed=config.seed,
        save_strategy="no",
        report_to="none",
        use_cpu=not _has_accelerator(),
        disable_tqdm=not progress,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor)
    trainer.train()
    trainer.save_model(str(out))
    processor.save_pretrained(str(out))
    with (out / "sft_metrics.jsonl").open("w") as handle:
        for entry in trainer.state.log_history:
            handle.write(json.dumps(entry) + "\n")
    return out


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()
