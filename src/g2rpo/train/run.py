"""The `g2rpo train` run: parse the YAML, prepare model and data, train, save.

Kept apart from :mod:`g2rpo.train.cli` so the command module stays import-light.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from trl import TrlParser

from g2rpo.errors import ConfigError
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
    eval_files: dict | str | None = field(
        default=None,
        metadata={"help": "Named validation files, e.g. {math: val_math.jsonl, generalVQA: val_mmmu.jsonl}; each is "
                  "evaluated on its own and logged as eval/<name>/… (instead of eval_file). JSON on the command line."},
    )
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
    use_peft: bool = field(
        default=False,
        metadata={"help": "Train LoRA adapters (TRL's PEFT support) instead of the full model; needs the peft extra: "
                  'pip install "g2rpo[peft]". The saved model is the adapter (adapter_config.json + weights).'},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank r (use_peft)."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha; the update is scaled by alpha / r (use_peft)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input (use_peft)."})
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Modules that get adapters, in PEFT's forms: names, a regex, or all-linear (which includes "
                  "the vision tower). None: every linear layer of the language model, none in the vision tower or "
                  "the LM head (use_peft)."},
    )
    threads: int = field(
        default=0,
        metadata={"help": "torch CPU threads; 0 = auto: G2RPO_THREADS, else OMP_NUM_THREADS, else 1 thread on a "
                  "machine with <= 4 usable cores, all physical cores otherwise."},
    )

    def __post_init__(self) -> None:
        if isinstance(self.eval_files, str):
            self.eval_files = yaml.safe_load(self.eval_files)
        if self.eval_files is not None:
            if not isinstance(self.eval_files, Mapping) or not self.eval_files:
                raise ConfigError(f"eval_files must map names to files, e.g. {{math: val.jsonl}}; got {self.eval_files!r}")
            bad = [n for n in self.eval_files if not isinstance(n, str) or not n or "/" in n]
            if bad:
                raise ConfigError(f"eval_files: names {bad} are not usable in metric names (no '/', not empty)")
            if self.eval_file:
                raise ConfigError("set eval_file or eval_files, not both (name the single file in eval_files)")
        if self.use_peft:
            from g2rpo.train.options import require_peft

            require_peft()
        resolve_threads(self.threads)


SMALL_MACHINE_CORES = 4
"""At or below this many usable cores the machine is taken as small and shared: one torch thread."""


def _cores() -> tuple[int, int]:
    """(usable logical cores, physical cores among them)."""
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        logical = os.cpu_count() or 1
    try:
        import psutil

        total, physical = psutil.cpu_count() or logical, psutil.cpu_count(logical=False) or logical
        physical = max(1, round(logical * physical / total))
    except ImportError:
        physical = logical
    return logical, min(physical, logical)


def resolve_threads(setting: str | int = 0, environ: Mapping[str, str] | None = None,
                    cores: tuple[int, int] | None = None) -> tuple[int, str]:
    """The torch thread count for a run and where it came from.

    ``setting`` (the ``threads`` key) wins when it is a number >= 1; ``0`` or ``"auto"`` takes ``G2RPO_THREADS``, then
    ``OMP_NUM_THREADS``, then the machine: 1 thread with <= 4 usable cores (a small, shared machine, where a
    second thread made steps 7–14× slower), else every physical core.
    """
    environ = os.environ if environ is None else environ

    def number(value, source: str) -> int:
        try:
            n = int(str(value).strip())
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"{source}={value!r} is not valid; use a whole number of threads >= 1 (threads: 0 = auto)")
        return n

    if str(setting).strip().lower() not in ("auto", "0"):
        return number(setting, "threads"), "threads"
    for name in ("G2RPO_THREADS", "OMP_NUM_THREADS"):
        if environ.get(name, "").strip():
            return number(environ[name], name), name
    logical, physical = cores or _cores()
    if logical <= SMALL_MACHINE_CORES:
        return 1, f"auto: {logical} usable cores (small machine)"
    return physical, f"auto: {physical} physical cores"


def set_threads(setting: str | int = 0) -> int:
    """Apply :func:`resolve_threads` to torch (intra-op threads) and log the choice."""
    import torch

    n, source = resolve_threads(setting)
    torch.set_num_threads(n)
    logger.info("torch threads: %d (%s)", n, source)
    return n


def _parser() -> TrlParser:
    """TRL's parser for our two dataclasses. Building it rewrites ``Field.type`` of every field in place
    (``dict | str | None`` becomes ``str``); the annotations are put back so that code reading the dataclasses
    later (key checks, ``--help``) sees the declared types."""
    classes = (ScriptArguments, G2RPOConfig)
    declared = [(f, f.type) for cls in classes for f in dataclasses.fields(cls)]
    parser = TrlParser(classes)
    for f, annotation in declared:
        f.type = annotation
    return parser


def parse_config(path: str, overrides: Sequence[str] = ()) -> tuple[ScriptArguments, G2RPOConfig]:
    """`--config path` plus `--key value` overrides → typed arguments (TRL's `TrlParser`).

    A bad value raises :class:`~g2rpo.errors.ConfigError` naming the file, the key and the fix.
    """
    if not Path(path).is_file():
        raise ConfigError(f"no config file at {path}; see recipes/tiny_cpu.yaml for an example")
    parser = _parser()
    try:
        script_args, config = parser.parse_args_and_config(["--config", str(path), *overrides])
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    if not script_args.model_name_or_path:
        raise ConfigError(f"{path}: model_name_or_path is required")
    if not script_args.train_file:
        raise ConfigError(f"{path}: train_file is required")
    if not any(item.startswith("--prompt_template") for item in overrides):  # from the file: read beside it
        from g2rpo.train.sft import template_beside

        config.prompt_template = template_beside({"prompt_template": config.prompt_template}, path)["prompt_template"]
    script_args.command = (str(path), list(overrides))
    return script_args, config


def resume_command(script_args: ScriptArguments, flag: str = "--resume_from_checkpoint true") -> str:
    """The `g2rpo train` command line that continues this run (the same config and overrides)."""
    path, overrides = getattr(script_args, "command", ("CONFIG.yaml", []))
    kept, skip = [], False
    for item in overrides:
        if skip:
            skip = False
            continue
        key = item.split("=", 1)[0]
        if key in ("--resume_from_checkpoint", "--overwrite_output_dir"):
            skip = "=" not in item
            continue
        kept.append(item)
    return " ".join(["g2rpo train --config", shlex.quote(path), *map(shlex.quote, kept), flag])


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

    records = load_records(
        path, data_root=script_args.data_root, skip_invalid=script_args.skip_invalid,
        allow_absolute_image_paths=config.allow_absolute_image_paths,
        max_image_pixels_at_load=config.max_image_pixels_at_load, max_record_chars=config.max_record_chars,
    )
    if limit is not None:
        records = records[:limit]
    return to_hf_dataset(records, think_tag=config.think_tag, min_pixels=script_args.min_pixels,
                         max_pixels=script_args.max_pixels, box_units=script_args.box_units,
                         prompt_template=config.prompt_template)


def run(script_args: ScriptArguments, config: G2RPOConfig):
    """Train; returns the trainer (its state and metrics file are in ``config.output_dir``)."""
    from g2rpo.models import load_model_and_processor
    from g2rpo.train.trainer import G2RPOTrainer

    set_threads(script_args.threads)
    _prepare_files(script_args)
    model, processor = load_model_and_processor(
        script_args.model_name_or_path, dtype=script_args.dtype,
        min_pixels=script_args.min_pixels, max_pixels=script_args.max_pixels,
    )
    train = load_split(script_args.train_file, script_args, config, script_args.max_train_samples)
    evals = None
    if script_args.eval_files:
        evals = {name: load_split(str(path), script_args, config, script_args.max_eval_samples)
                 for name, path in script_args.eval_files.items()}
    elif script_args.eval_file:
        evals = load_split(script_args.eval_file, script_args, config, script_args.max_eval_samples)
    peft_config = None
    if script_args.use_peft:
        from g2rpo.train.options import lora_config

        peft_config = lora_config(model, r=script_args.lora_r, alpha=script_args.lora_alpha,
                                  dropout=script_args.lora_dropout, target_modules=script_args.lora_target_modules)
    trainer = G2RPOTrainer(model, args=config, train_dataset=train, eval_dataset=evals, processing_class=processor,
                           peft_config=peft_config)
    try:
        trainer.train(resume_from_checkpoint=config.resume_from_checkpoint)
        trainer.save_model(config.output_dir)
    except KeyboardInterrupt:
        print(interrupted_message(trainer, script_args), file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        trainer.close()
    return trainer


def interrupted_message(trainer, script_args: ScriptArguments) -> str:
    """One line for Ctrl-C: the step reached and the command that resumes (or restarts) the run."""
    from g2rpo.train.checkpoints import latest_complete_checkpoint

    step = trainer.state.global_step
    latest = latest_complete_checkpoint(trainer.args.output_dir)
    if latest is None:
        return (f"interrupted at step {step}, before any checkpoint was saved; start again with: "
                f"{resume_command(script_args, '--overwrite_output_dir true')}")
    return f"interrupted at step {step}; resume with: {resume_command(script_args)}"
