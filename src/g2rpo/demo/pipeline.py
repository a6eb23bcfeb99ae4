"""The end-to-end demo: synthetic data → tiny model → cold-start SFT → G2RPO RL → validation → report.

    python -m g2rpo.demo.pipeline --out outputs/demo

Stages (one progress bar each; per-step metric dicts go to the stage's JSONL file, not the console):

1. `g2rpo.data.synth_write.synthesize`: the six-family synthetic set (96-px cell-grid images), train + val.
2. `g2rpo.demo.model.build_demo_model`: a randomly initialised tiny Qwen3-VL built from a config (no
   download), its vision mergers calibrated on a few synthetic images (`calibrate_vision`).
3. `g2rpo.demo.sft.run_demo_sft` with `recipes/demo_sft.yaml`: `g2rpo.train.sft`'s config, rows and
   reasoning-formatted targets, trained with the model's own loss (why not `run_sft`: see g2rpo.demo.sft).
4. `g2rpo.train.G2RPOTrainer` with `recipes/demo_rl.yaml`: G2RPO advantages, task-level length and entropy
   shaping, dynamic filtering with refill, starting from the SFT model.
5. Greedy validation of the SFT model (with its images and with blank ones: the chance level,
   `g2rpo.demo.control`) and of the RL model, scored with `g2rpo.rewards.score_response`.
6. `outputs/demo/report.html` + `summary.json` (`g2rpo.demo.report`), and a table on the console.

The recipe files hold the stage settings; this module only fills in the paths that connect the stages and
the few sizes a user may want to change from the command line (`--sft-steps`, `--rl-steps`, …).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console

REPO_RECIPES = Path(__file__).resolve().parents[3] / "recipes"

console = Console()


@dataclass
class DemoConfig:
    """Sizes and paths of one demo run (the command-line flags of `python -m g2rpo.demo.pipeline`)."""

    out: str = "outputs/demo"
    """Output folder: data/, model/, sft/, rl/, report.html, summary.json."""
    sft_config: str = str(REPO_RECIPES / "demo_sft.yaml")
    """SFT recipe (g2rpo.train.sft.SFTRunConfig keys)."""
    rl_config: str = str(REPO_RECIPES / "demo_rl.yaml")
    """RL recipe (g2rpo.train.G2RPOConfig keys)."""
    n_train: int = 6000
    """Synthetic training records (each with its own image; SFT sees each about once)."""
    n_val: int = 1200
    """Synthetic validation records (200 per task family: a binary accuracy near 0.5 has a standard error of
    0.035)."""
    image_size: int = 96
    """Image side in pixels: a multiple of 32 (one cell per image token; 96 → 3 × 3 cells, 9 tokens)."""
    seed: int = 0
    """Seed of the data and of both training stages."""
    arch: str = "qwen3_vl"
    """Tiny model architecture: qwen3_vl or qwen2_5_vl."""
    hidden_size: int = 64
    """Text decoder width of the demo model (64 with 2 layers is `build_tiny` itself; see g2rpo.demo.model)."""
    layers: int = 2
    """Text decoder layers of the demo model."""
    vision_hidden_size: int | None = 64
    """Vision tower width (None: build_tiny's 32). At 32 the tower tells colours and shapes apart but hardly
    characters: after 2,000 SFT steps the model read 15–17% of math digits right (chance 11%), at 64 all of them."""
    vision_layers: int | None = None
    """Vision tower blocks (None: build_tiny's 2)."""
    rope_theta: float | None = None
    """Text decoder RoPE base (None: the checkpoint's, 5e6). At head width 16 that base leaves the image columns
    nearly indistinguishable to attention (g2rpo.demo.model); 10 separates them (measured in docs/demo.md)."""
    calibrate: bool = True
    """Calibrate the vision mergers on synthetic images before training (g2rpo.demo.model.calibrate_vision)."""
    samples_per_family: int = 3
    """Validation completions per family shown in the report (thumbnail, question, SFT and RL answers)."""
    sft_steps: int | None = None
    """Override the SFT recipe's max_steps."""
    rl_steps: int | None = None
    """Override the RL recipe's max_steps."""
    sft_set: dict[str, object] = field(default_factory=dict)
    """Further SFT recipe overrides (`--sft-set key=value`, YAML value syntax)."""
    rl_set: dict[str, object] = field(default_factory=dict)
    """Further RL recipe overrides (`--rl-set key=value`, YAML value syntax)."""
    eval_max_new_tokens: int | None = None
    """Generation budget at validation; default: the RL recipe's max_completion_length."""
    eval_batch_size: int = 64
    """Prompts per greedy generation batch at validation."""
    threads: int = 1
    """torch intra-op threads. One is fastest for the tiny model: its ops are too small to split, and on a
    shared 2-core machine extra threads mostly wait for each other (measured 3.5× slower SFT with 2)."""
    progress: bool = True
    """Show progress bars."""
    timing: dict[str, float] = field(default_factory=dict)


@contextmanager
def stage(config: DemoConfig, name: str, *, quiet: bool = False):
    """Time a stage; `quiet`: swallow what it prints on stdout (the trainers' per-step dicts, which are in
    their JSONL files), keeping progress bars (stderr). The stage's one line comes at the end."""
    start = time.perf_counter()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        yield
    config.timing[name] = time.perf_counter() - start
    console.print(f"[green]✓[/green] {name} ({config.timing[name]:.0f} s)")


def quiet_libraries() -> None:
    """No weight-loading/saving bars or advisory warnings from transformers and datasets on the console; g2rpo's
    own warnings (reward failures, skipped records) still show."""
    import logging
    import warnings

    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    with contextlib.suppress(Exception):
        import datasets

        datasets.utils.logging.disable_progress_bar()
        datasets.utils.logging.set_verbosity_error()
    logging.getLogger("g2rpo").setLevel(logging.WARNING)  # keep reward failures and other warnings visible
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def load_yaml(path: str | Path) -> dict:
    values = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a YAML mapping")
    return values


def prepare(config: DemoConfig):
    """The stages every RL run starts from: synthetic data, the tiny model, cold-start SFT.
    Returns (the `SynthResult`, the SFT model folder, the resolved `SFTRunConfig`)."""
    import torch

    from g2rpo.data.synth import generate_sample
    from g2rpo.data.synth_write import synthesize
    from g2rpo.demo.model import build_demo_model
    from g2rpo.demo.sft import run_demo_sft
    from g2rpo.train.sft import SFTRunConfig, template_beside

    torch.set_num_threads(config.threads)
    quiet_libraries()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with stage(config, "synthetic data"):
        data = synthesize(
            out / "data",
            n_train=config.n_train,
            n_val=config.n_val,
            seed=config.seed,
            image_size=config.image_size,
            progress=config.progress,
        )
    with stage(config, "tiny model", quiet=True):
        calibration = None
        if config.calibrate:
            size = config.image_size
            calibration = [generate_sample(config.seed, "calibration", i, image_size=size).image for i in range(48)]
        base = build_demo_model(
            out / "model",
            arch=config.arch,
            seed=config.seed,
            hidden_size=config.hidden_size,
            num_layers=config.layers,
            vision_hidden_size=config.vision_hidden_size,
            vision_layers=config.vision_layers,
            rope_theta=config.rope_theta,
            calibration_images=calibration,
        )
    sft_values = load_yaml(config.sft_config) | {
        "model": str(base), "train_file": str(data.files["train"]), "data_root": str(data.root),
        "output_dir": str(out / "sft"), "seed": config.seed,
    }  # fmt: skip
    sft_values = template_beside(sft_values | config.sft_set, config.sft_config)
    if config.sft_steps is not None:
        sft_values["max_steps"] = config.sft_steps
    sft_config = SFTRunConfig.from_dict(sft_values, source=config.sft_config)
    with stage(config, "cold-start SFT", quiet=True):
        sft_dir = run_demo_sft(sft_config, progress=config.progress)
    return data, sft_dir, sft_config


def rl_recipe(config: DemoConfig, sft_config) -> dict:
    """The RL stage's values: the recipe file, then `--rl-set`, then `--rl-steps`; its prompt template is the SFT
    stage's (a different one is an error: RL must start from the prompt SFT trained on)."""
    from g2rpo.errors import ConfigError

    values = load_yaml(config.rl_config) | config.rl_set
    if config.rl_steps is not None:
        values["max_steps"] = config.rl_steps
    template = values.setdefault("prompt_template", sft_config.prompt_template)
    if template != sft_config.prompt_template:
        raise ConfigError(
            f"{config.rl_config}: prompt_template {template!r} differs from the SFT recipe's "
            f"{sft_config.prompt_template!r}; set the same template in both"
        )
    return values


def run_demo(config: DemoConfig) -> tuple[Path, Path]:
    """Run every stage; return (report.html, summary.json)."""
    from g2rpo.demo.control import best_constant, evaluate_with_blank
    from g2rpo.demo.evaluate import summarize
    from g2rpo.demo.report import read_jsonl, sample_rows, summary_dict, write_report
    from g2rpo.demo.rl import entropy_bands_for, envelopes_for, run_rl

    start = time.perf_counter()
    out = Path(config.out)
    data, sft_dir, sft_config = prepare(config)
    rl_values = rl_recipe(config, sft_config)
    rl_values |= {"output_dir": str(out / "rl"), "seed": config.seed}
    rl_values.setdefault("disable_tqdm", not config.progress)
    with stage(config, "G2RPO RL", quiet=True):
        rl = run_rl(rl_values, model_dir=sft_dir, train_file=data.files["train"], data_root=data.root)
    max_new = config.eval_max_new_tokens or int(rl_values.get("max_completion_length", 64))
    evaluate = dict(
        data_root=data.root,
        max_new_tokens=max_new,
        batch_size=config.eval_batch_size,
        think_tag=sft_config.think_tag,
        prompt_template=sft_config.prompt_template,
        progress=config.progress,
    )
    with stage(config, "validation of the SFT model (+ blank images)"):
        sft_scored, blank_scored = evaluate_with_blank(sft_dir, data.files["val"], label="eval SFT", **evaluate)
        constant = best_constant(data.files["train"], data.files["val"], data_root=data.root)
    rl_scored = None
    if rl.model_dir is not None:
        with stage(config, "validation of the RL model"):
            rl_scored, _ = evaluate_with_blank(
                rl.model_dir, data.files["val"], label="eval RL", blank=False, **evaluate
            )
    config.timing["total"] = time.perf_counter() - start
    envelopes = envelopes_for(rl_values)
    rl_rows = read_jsonl(rl.metrics_file)
    summary = summary_dict(
        summarize(sft_scored),
        summarize(rl_scored) if rl_scored else None,
        envelopes,
        config.timing,
        sft_scored=sft_scored,
        rl_scored=rl_scored,
        blank=summarize(blank_scored),
        constant=constant,
        rl_rows=rl_rows,
    )
    configs = {
        "demo": yaml.safe_dump({k: v for k, v in vars(config).items() if k != "timing"}, sort_keys=False),
        "SFT (resolved)": sft_config.to_yaml(),
        "RL (resolved)": rl.resolved_yaml,
    }
    report, summary_path = write_report(
        out,
        summary=summary,
        envelopes=envelopes,
        rl_metrics=rl_rows,
        sft_metrics=read_jsonl(sft_dir / "sft_metrics.jsonl"),
        configs=configs,
        notes=[_scale_note(config, sft_config.max_steps, rl_values), *rl.notes],
        samples=sample_rows(data.files["val"], sft_scored, rl_scored, data_root=data.root,
                            per_family=config.samples_per_family),
        entropy_bands=entropy_bands_for(rl_values),
    )  # fmt: skip
    _print_summary(summary)
    console.print(
        f"report: [bold]{report}[/bold]  summary: {summary_path}  total {config.timing['total']:.0f} s"
    )
    return report, summary_path


def _scale_note(config: DemoConfig, sft_steps: int, rl_values: dict) -> str:
    """What the run was (stated in every report)."""
    rope = f" (RoPE base {config.rope_theta:g})" if config.rope_theta else ""
    return (
        f"Scale: a random {config.hidden_size}-wide, {config.layers}-layer {config.arch} text decoder with a "
        f"{config.vision_hidden_size or 32}-wide vision tower{rope}, {config.n_train} training images of "
        f"{config.image_size} px, {sft_steps} SFT steps and {rl_values.get('max_steps')} RL steps on CPU, "
        f"{config.n_val} validation records. Chance is the higher of the SFT model's accuracy with blank images "
        "and the best constant answer; standard errors are over validation records (paired for RL − SFT)."
    )


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title="validation accuracy (greedy) and length, SFT → RL")
    for column in ("task family", "chance", "SFT", "RL", "RL − SFT", "length SFT → RL", "band [b, c]"):
        table.add_column(column, justify="left" if column == "task family" else "right")
    for task, t in summary["tasks"].items():
        s, r = t["sft"], t["rl"]
        gain = f"{t['gain']['accuracy']:+.3f} ± {t['gain']['accuracy_se']:.3f}" if r else "–"
        env = t["envelope"]
        table.add_row(
            task,
            f"{t['chance']:.3f}",
            f"{s['accuracy']:.3f} ± {s['accuracy_se']:.3f}",
            f"{r['accuracy']:.3f} ± {r['accuracy_se']:.3f}" if r else "–",
            gain,
            f"{s['length']:.0f} → {r['length']:.0f}" if r else f"{s['length']:.0f}",
            f"[{env[1]:g}, {env[2]:g}]",
        )
    console.print(table)
    for line in summary["verdict"]["lines"]:
        console.print(line)


def parse_args(argv: list[str] | None = None) -> DemoConfig:
    defaults = DemoConfig()
    parser = argparse.ArgumentParser(
        prog="python -m g2rpo.demo.pipeline",
        description="Synthetic data → tiny model → SFT → G2RPO RL → validation → report.html, on CPU in minutes.",
    )
    kinds = {"out": str, "sft_config": str, "rl_config": str, "arch": str, "rope_theta": float}
    for name in (
        "out",
        "sft_config",
        "rl_config",
        "n_train",
        "n_val",
        "image_size",
        "seed",
        "arch",
        "hidden_size",
        "layers",
        "vision_hidden_size",
        "vision_layers",
        "rope_theta",
        "samples_per_family",
        "sft_steps",
        "rl_steps",
        "eval_max_new_tokens",
        "eval_batch_size",
        "threads",
    ):
        default = getattr(defaults, name)
        kind = kinds.get(name, int)
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=default, help=f"(default {default})"
        )
    for stage_name in ("sft", "rl"):
        parser.add_argument(
            f"--{stage_name}-set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"override one key of the {stage_name.upper()} recipe (YAML value syntax); repeatable",
        )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--no-calibrate", action="store_true", help="keep the vision mergers' random init")
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if k not in ("no_progress", "no_calibrate", "sft_set", "rl_set")}
    return DemoConfig(
        **values,
        calibrate=not args.no_calibrate,
        sft_set=_pairs(args.sft_set, parser),
        rl_set=_pairs(args.rl_set, parser),
        progress=not args.no_progress,
    )


def _pairs(items: list[str], parser: argparse.ArgumentParser) -> dict[str, object]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    run_demo(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
