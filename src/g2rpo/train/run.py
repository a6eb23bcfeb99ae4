"""The `g2rpo train` run: parse the YAML, prepare model and data, train, save.

Kept apart from :mod:`g2rpo.train.cli` so the command module stays import-light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trl import TrlParser

from g2rpo.train.config import G2RPOConfig

logger = logging.getLogger(__name__)


@dataclass
class ScriptArguments:
    """Model and data of a `g2rpo train` run (the YAML keys beside `G2RPOConfig`'s)."""

    model_name_or_path: str = field(
        default="", metadata={"help": "Local checkpoint directory or hub id of the policy (e.g. Qwen/Qwen3-VL-8B-Instruct)."}
    )
    build_tiny_model: bool = field(
        default=False,
        metadata={"help": "If model_name_or_path does not exist, build a tiny random Qwen3-VL there (CPU smoke runs)."},
    )
    tiny_arch: str = field(default="qwen3_vl", metadata={"help": "Arch of the tiny model: qwen3_vl or qwen2_5_vl."})
    train_file: str = field(default="", metadata={"help": "Training records: JSON, JSONL or parquet in the authors' schema."})
    eval_file: str | None = field(default=None, metadata={"help": "Held-out records for eval/<task>/… metrics."})
    data_root: str | None = field(default=None, metadata={"help": "Root that record image paths are relative to."})
    synthesize_data: bool = field(
        default=False,
        metadata={"help": "If train_file does not exist, write the synthetic six-task set (g2rpo data synth) there."},
    )
    synth_n_train: int = field(default=64, metadata={"help": "Synthetic training records (synthesize_data)."})
    synth_n_val: int = field(default=16, metadata={"help": "Synthetic validation records (synthesize_data)."})
    skip_invalid: bool = field(default=False, metadata={"help": "Skip (and count) bad records instead of failing."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training records."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N eval records."})
    min_pixels: int | None = field(default=None, metadata={"help": "Lower bound on image area (pixels), data and processor."})
    max_pixels: int | None = field(default=None, metadata={"help": "Upper bound on image area (pixels), data and processor."})
    box_units: str = field(
        default="0-1000", metadata={"help": "Grounding box convention in prompts: 0-1000 (Qwen3-VL) or pixels (Qwen2.5-VL)."}
    )
    dtype: str | None = field(default=None, metadata={"help": "Model dtype (bfloat16, float32; default: checkpoint's)."})


def parse_config(path: str, overrides: Sequence[str] = ()) -> tuple[ScriptArguments, G2RPOConfig]:
    """`--config path` plus `--key value` overrides → typed arguments (TRL's `TrlParser`)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no config file at {path}; see recipes/tiny_cpu.yaml for an example")
    parser = TrlParser((ScriptArguments, G2RPOConfig))
    script_args, config = parser.parse_args_and_config(["--config", str(path), *overrides])
    if not script_args.model_name_or_path:
        raise ValueError(f"{path}: model_name_or_path is required")
    if not script_args.train_file:
        raise ValueError(f"{path}: train_file is required")
    return script_args, config


def _prepare_files(script_args: ScriptArguments) -> None:
    model_dir = Path(script_args.model_name_or_path)
    if script_args.build_tiny_model and not model_dir.exists():
        from g2rpo.models.tiny import build_tiny

        logger.info("building a tiny random %s in %s", script_args.tiny_arch, model_dir)
        build_tiny(model_dir, arch=script_args.tiny_arch)
    train_file = Path(script_args.train_file)
    if script_args.synthesize_data and not train_file.exists():
        from g2rpo.data.synth_write import synthesize

        result = synthesize(train_file.parent, n_train=script_args.synth_n_train, n_val=script_args.synth_n_val)
        if result.files["train"] != train_file:
            raise ValueError(f"synthesize_data writes {result.files['train']}; set train_file to that path")


def load_split(path: str, script_args: ScriptArguments, config: G2RPOConfig, limit: int | None):
    """Records at ``path`` → a TRL conversational dataset (``g2rpo.data``)."""
    from g2rpo.data import load_records, to_hf_dataset

    records = load_records(path, data_root=script_args.data_root, skip_invalid=script_args.skip_invalid)
    if limit is not None:
        records = records[:limit]
    return to_hf_dataset(records, think_tag=config.think_tag, min_pixels=script_args.min_pixels,
                         max_pixels=script_args.max_pixels, box_units=script_args.box_units)


def run(script_args: ScriptArguments, config: G2RPOConfig):
    """Train; returns the trainer (its state and metrics file are in ``config.output_dir``)."""
    from g2rpo.models import load_model_and_processor
    from g2rpo.train.trainer import G2RPOTrainer

    _prepare_files(script_args)
    model, processor = load_model_and_processor(
        script_args.model_name_or_path, dtype=script_args.dtype,
        min_pixels=script_args.min_pixels, max_pixels=script_args.max_pixels,
    )
    train = load_split(script_args.train_file, script_args, config, script_args.max_train_samples)
    evals = None
    if script_args.eval_file:
        evals = load_split(script_args.eval_file, script_args, config, script_args.max_eval_samples)
    trainer = G2RPOTrainer(model, args=config, train_dataset=train, eval_dataset=evals, processing_class=processor)
    try:
        trainer.train(resume_from_checkpoint=config.resume_from_checkpoint)
        trainer.save_model(config.output_dir)
    finally:
        trainer.close()
    return trainer
