"""The demo's RL stage: `g2rpo.train.G2RPOTrainer` on the synthetic training split, from the SFT model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from g2rpo.algo import Envelope
from g2rpo.io import write_text_atomic


@dataclass(frozen=True)
class RLResult:
    """What the RL stage produced: the trained model folder (None when the stage could not run), the trainer's
    JSONL metrics file, the resolved config as YAML text, and notes for the report."""

    model_dir: Path | None
    metrics_file: Path | None
    resolved_yaml: str
    notes: list[str] = field(default_factory=list)


def envelopes_for(values: Mapping[str, object]) -> dict[str, Envelope]:
    """Per task family length envelope the RL config trains with: its `length_envelopes` over the defaults."""
    from g2rpo.tasks import TASK_FAMILIES, envelope_for

    overrides = values.get("length_envelopes") or {}
    if isinstance(overrides, str):
        overrides = yaml.safe_load(overrides)
    return {name: envelope_for(name, overrides) for name in TASK_FAMILIES}


def entropy_bands_for(values: Mapping[str, object]) -> dict[str, tuple[float, float]]:
    """Per task family [low, high] entropy band the RL config trains with: its `entropy_bands` over the
    defaults."""
    from g2rpo.tasks import TASK_FAMILIES, entropy_band_for

    overrides = values.get("entropy_bands") or {}
    if isinstance(overrides, str):
        overrides = yaml.safe_load(overrides)
    return {name: entropy_band_for(name, overrides) for name in TASK_FAMILIES}


def run_rl(values: dict, *, model_dir: Path, train_file: Path, data_root: Path) -> RLResult:
    """Train with G2RPO from `model_dir` through `g2rpo train`'s own entry point (`g2rpo.train.run`).

    `values` are the RL recipe's keys (`ScriptArguments` + `G2RPOConfig`); the model and data paths are set
    here. The resolved YAML is written to `<output_dir>/demo_rl.yaml` and is what `g2rpo train --config` would
    run. A metrics file left by an earlier run in the same folder is removed first (the trainer appends).
    (`G2RPOTrainer` itself keeps rollouts from sampling vision placeholder tokens.)
    """
    from g2rpo.train.run import parse_config, run

    values = values | {
        "model_name_or_path": str(model_dir),
        "train_file": str(train_file),
        "data_root": str(data_root),
    }
    out = Path(values["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "demo_rl.yaml"
    write_text_atomic(config_path, yaml.safe_dump(values, sort_keys=False))
    script_args, config = parse_config(str(config_path))
    metrics_file = out / config.metrics_file
    metrics_file.unlink(missing_ok=True)
    run(script_args, config)
    resolved = out / "g2rpo_config.yaml"
    text = resolved.read_text() if resolved.is_file() else config_path.read_text()
    return RLResult(out, metrics_file, text, [])
