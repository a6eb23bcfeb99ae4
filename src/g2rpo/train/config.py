"""`G2RPOConfig`: TRL's `GRPOConfig` plus the recipe's knobs (recipe §3–§8).

Every field below carries its own help text (it is what `g2rpo train --help` and the README print). The YAML
files under `recipes/` use exactly these keys, TRL style: one flat mapping, any `GRPOConfig` /
`TrainingArguments` key allowed beside ours. The trainer writes the resolved config to
`<output_dir>/g2rpo_config.yaml` and beside every checkpoint.

Defaults that differ from `GRPOConfig`'s map the recipe's update rule (§8) onto TRL's own loss:
`loss_type="dapo"` (token-mean over the whole accumulation window), `epsilon=0.2`, `epsilon_high=0.3`,
`delta=3.0` (TRL's upper cap on the ratio; with `delta > 1 + epsilon_high` it equals the dual clip, see
`g2rpo.train.trainer`), `beta=0.0` (no KL, no reference model).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from trl import GRPOConfig

from g2rpo.errors import ConfigError
from g2rpo.io import write_text_atomic

ADVANTAGE_KEYS = ("problem_type", "task")
LENGTH_SHAPING_MODES = ("off", "fixed", "auto")
LENGTH_UNITS = ("tokens", "characters")
ENTROPY_ESTIMATORS = ("sampled_nll", "full")
ENTROPY_WEIGHTINGS = ("equal", "tokens")
REWARD_RULES = ("reference", "g2rpo")

DEFAULT_AUTO_LENGTH_FACTORS: dict[str, list[float]] = {
    "reasoning": [0.5, 1.0, 2.0, 4.0],
    "both": [0.25, 0.5, 1.5, 3.0],
    "vision": [0.0, 0.25, 1.0, 2.0],
}
"""Category → factors ``[f_a, f_b, f_c, f_d]`` of the ``auto`` envelope, multiplied by the family's first-step
median length (see `g2rpo.train.shaping.auto_envelope`)."""


def _opt(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help}, **kwargs)


def _non_finite(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def check_finite(config: Any) -> None:
    """Every number of the config (also inside lists and mappings) is finite: ``.inf`` or ``.nan`` in a YAML
    would otherwise turn every parameter NaN and the run would still exit 0."""
    for f in fields(config):
        value = getattr(config, f.name)
        if _non_finite(value):
            raise ConfigError(f"{f.name}={value!r} is not a finite number; set a finite value (see g2rpo train --help)")


def normalise_resume(value: Any) -> str | bool | None:
    """``resume_from_checkpoint`` as the trainer takes it: ``True`` (the newest complete checkpoint in
    output_dir) for true/True/yes, ``None`` for false/empty, else the checkpoint path."""
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"}:
        return True
    if value is False or (isinstance(value, str) and value.strip().lower() in {"", "false", "no", "none", "0"}):
        return None
    return value


@dataclass
class G2RPOConfig(GRPOConfig):
    """Configuration of :class:`g2rpo.train.G2RPOTrainer` (a `GRPOConfig` with the recipe's fields)."""

    # ---- advantages
    advantage_estimator: str = _opt(
        "g2rpo",
        "Advantage estimator from g2rpo.algo.ADVANTAGE_ESTIMATORS: g2rpo (group stage then task stage), "
        "g2rpo_task, g2rpo_group, grpo, dr_grpo, ema_grpo.",
    )
    advantage_kwargs: dict | str | None = field(
        default=None,
        metadata={
            "help": "Options of the estimator, e.g. {stages: group+task} for g2rpo, {std: population} for grpo, "
            "{decay: 0.99, min_std: 0.001, guard: 5.0} for ema_grpo; checked when the config loads (an unknown or "
            "mistyped option is an error listing the valid ones). JSON string on the command line."
        },
    )
    advantage_key: str = _opt(
        "problem_type",
        "Which sample column G2RPO's task stage (and EMA-GRPO's per-task state) normalises by: problem_type "
        "(the verifier kind, as the authors' code does) or task (the task family).",
    )
    # ---- rewards
    think_tag: str = _opt("thinking", "Name of the reasoning tag in <tag>…</tag><answer>…</answer>.")
    format_weight: float = _opt(0.1, "w_f: weight of the format reward in overall = (1-w_f-w_l)·acc + w_f·fmt + s + w_l·len.")
    reward_rules: str = _opt(
        "g2rpo",
        "Reward rule set: g2rpo (lenient option/number matching) or reference (the authors' released reward "
        "exactly; the paper recipes use it). See docs/reward_rules.md.",
    )
    scorer_workers: int | None = _opt(None, "Worker processes of the reward BatchScorer (None: its default).")
    scorer_timeout_s: float = _opt(5.0, "Per-response verifier time limit in seconds; a timeout scores 0.")
    reward_batch_budget_s: float | None = _opt(
        None,
        "Wall-clock budget in seconds for scoring one batch of responses; items not scored by then are flagged "
        "as timed out and score 0 (None: no budget). See docs/rewards.md.",
    )
    # ---- length shaping
    length_shaping: str = _opt(
        "fixed",
        "Task-level length shaping: off, fixed (the envelopes in length_envelopes / the task families' defaults) "
        "or auto (each family's envelope set from the policy's lengths on the first batch it appears in).",
    )
    length_weight: float = _opt(0.1, "w_l: weight of the length score in the overall reward when shaping is on.")
    length_unit: str = _opt("tokens", "Unit of response length for shaping: tokens (default) or characters.")
    length_envelopes: dict | str | None = field(
        default=None,
        metadata={
            "help": "Per task family trapezoid [a, b, c, d] (a < b <= c < d) overriding g2rpo.tasks defaults, e.g. "
            "{math: [150, 600, 1600, 3500]}. Used by fixed mode; ignored by auto mode."
        },
    )
    auto_length_factors: dict | str | None = field(
        default=None,
        metadata={
            "help": "Auto mode: per category (reasoning, vision, both) four factors [f_a, f_b, f_c, f_d]; a family's envelope "
            "is factors × max(1, median first-batch length). Default: reasoning [0.5,1,2,4], both [0.25,0.5,1.5,3], "
            "vision [0,0.25,1,2]."
        },
    )
    # ---- entropy shaping
    entropy_band_coef: float = _opt(0.02, "λ_ent: weight of the task-level entropy band penalty (0 disables).")
    entropy_estimator: str = _opt(
        "sampled_nll",
        "Per-token entropy estimate for the band: sampled_nll (−log p of the sampled token, the authors') or full "
        "(exact entropy of the temperature-scaled distribution, from TRL's fused LM head).",
    )
    entropy_bands: dict | str | None = field(
        default=None,
        metadata={
            "help": "Per task family [low, high] entropy band overriding g2rpo.tasks defaults ([0.2, 0.6] for all)."
        },
    )
    entropy_weighting: str = _opt(
        "equal",
        "How the entropy band penalty of each micro-batch enters the update: equal (every micro-batch of an "
        "accumulation window weighs the same) or tokens (a micro-batch weighs with its share of the window's "
        "response tokens, as the authors' loss does).",
    )
    # ---- dynamic filtering
    dynamic_filtering: bool = _opt(True, "Drop groups whose mean accuracy is <= filter_low or >= filter_high, then refill.")
    filter_low: float = _opt(0.01, "Groups with mean accuracy <= this are dropped (all wrong).")
    filter_high: float = _opt(0.99, "Groups with mean accuracy >= this are dropped (all right).")
    max_refill_tries: int = _opt(
        20, "Extra generation rounds allowed per step to refill a filtered batch; then a partial batch is used "
        "(logged as filter/partial_batch, padding rows masked out of the loss)."
    )
    # ---- validation during training (the eval set(s) given to the trainer)
    eval_temperature: float | None = _opt(
        None, "Sampling temperature of validation rollouts (None: temperature; 0: greedy decoding)."
    )
    eval_top_p: float | None = _opt(None, "Nucleus top_p of validation rollouts (None: top_p).")
    # ---- data: prompt template and load-time limits (recipe §8; g2rpo.data, docs/data.md)
    prompt_template: str = _opt(
        "g2rpo",
        "User-turn template: g2rpo (our wording, the same as the evaluation prompts), openvlthinker_v2 (the "
        "authors' released prompt, byte for byte) or the path of a Jinja file (in a config file, a relative path "
        "that names a file beside the config is read from there; on the command line, from the working directory).",
    )
    allow_absolute_image_paths: bool = _opt(
        False, "Accept absolute image paths in records (default: paths are relative to the data root and stay in it)."
    )
    max_image_pixels_at_load: int | None = _opt(
        89_478_485, "Largest image (width x height, read from its header) a record may reference; None: no limit."
    )
    max_record_chars: int | None = _opt(
        131_072, "Largest record text (problem + options + answer, in characters) accepted at load; None: no limit."
    )
    # ---- what trains and what is sampled (g2rpo.train.options, g2rpo.train.mixture; docs/training.md)
    freeze_vision_tower: bool = _opt(
        False,
        "Freeze the vision encoder and its patch merger(s): no gradients, no optimizer state (the decoder still "
        "trains). With LoRA it also freezes any adapter placed inside the vision tower.",
    )
    task_mixture: dict | str | None = field(
        default=None,
        metadata={
            "help": "Per task family sampling weight of training prompts, e.g. {math: 2, chart: 1, general_vqa: 1}: "
            "each prompt's family is drawn with probability weight / sum; families of the train set not listed get "
            "weight 0 (a warning names them). None: TRL's sampler (every row once per epoch). Logged as "
            "train/mix/<family>. JSON on the command line."
        },
    )
    # ---- logging and the output folder
    metrics_file: str = _opt("metrics.jsonl", "JSONL file in output_dir receiving every logged metrics dict.")
    overwrite_output_dir: bool = _opt(
        False,
        "Start a new run in an output_dir that already holds one: delete its checkpoint-* folders and metrics "
        "file first. Without it (and without resume_from_checkpoint) such an output_dir is refused.",
    )
    # ---- the recipe's update rule on TRL's own loss
    loss_type: str = _opt("dapo", "TRL loss type; dapo = token-mean over the accumulation window.")
    epsilon: float = _opt(0.2, "ε_low of the clipped surrogate.")
    epsilon_high: float | None = _opt(0.3, "ε_high of the clipped surrogate.")
    delta: float | None = _opt(3.0, "Upper cap on the ratio; with loss_type dapo it is the dual clip c = 3.")
    beta: float = _opt(0.0, "KL coefficient; the recipe uses none (and then no reference model is built).")

    def __post_init__(self) -> None:
        for name in ("advantage_kwargs", "length_envelopes", "auto_length_factors", "entropy_bands", "task_mixture"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, yaml.safe_load(value))
        check_finite(self)
        self.resume_from_checkpoint = normalise_resume(self.resume_from_checkpoint)
        super().__post_init__()
        self.validate()

    def _check_advantage_kwargs(self) -> None:
        """``advantage_kwargs`` are the estimator's own options, checked and built once here so a typo fails at
        load with the option's name, not later as a ``TypeError`` inside the trainer."""
        from g2rpo.algo import make_estimator

        options = self.advantage_kwargs or {}
        if not isinstance(options, dict):
            raise ConfigError(f"advantage_kwargs must be a mapping of options, e.g. {{stages: task}}; got {options!r}")
        try:
            make_estimator(self.advantage_estimator, **options)
        except ValueError as error:
            raise ConfigError(f"advantage_kwargs: {error}") from None

    def validate(self) -> None:
        """Check the recipe's fields; every error names the key and the valid values."""
        from g2rpo.algo import ADVANTAGE_ESTIMATORS
        from g2rpo.tasks import TASK_FAMILIES

        def one_of(key: str, valid: tuple[str, ...] | list[str]) -> None:
            if getattr(self, key) not in valid:
                raise ConfigError(f"{key}={getattr(self, key)!r} is not valid; choose one of: {', '.join(valid)}")

        one_of("advantage_estimator", list(ADVANTAGE_ESTIMATORS))
        self._check_advantage_kwargs()
        one_of("advantage_key", ADVANTAGE_KEYS)
        one_of("length_shaping", LENGTH_SHAPING_MODES)
        one_of("length_unit", LENGTH_UNITS)
        one_of("entropy_estimator", ENTROPY_ESTIMATORS)
        one_of("reward_rules", REWARD_RULES)
        for key in ("length_envelopes", "entropy_bands"):
            unknown = sorted(set(getattr(self, key) or {}) - set(TASK_FAMILIES))
            if unknown:
                raise ConfigError(f"{key} names unknown task families {unknown}; valid: {', '.join(TASK_FAMILIES)}")
        for family, band in (self.entropy_bands or {}).items():
            if len(band) != 2 or not 0 <= band[0] <= band[1]:
                raise ConfigError(f"entropy_bands[{family}] must be [low, high] with 0 <= low <= high, got {band}")
        for category, factors in (self.auto_length_factors or {}).items():
            if category not in DEFAULT_AUTO_LENGTH_FACTORS:
                raise ConfigError(f"auto_length_factors: unknown category {category!r}; valid: reasoning, vision, both")
            if len(factors) != 4 or not (factors[0] < factors[1] <= factors[2] < factors[3]) or factors[0] < 0:
                raise ConfigError(f"auto_length_factors[{category}] must be 4 numbers 0 <= a < b <= c < d, got {factors}")
        if not 0.0 <= self.filter_low < self.filter_high <= 1.0:
            raise ConfigError(f"need 0 <= filter_low < filter_high <= 1, got {self.filter_low}, {self.filter_high}")
        if self.max_refill_tries < 0:
            raise ConfigError(f"max_refill_tries must be >= 0, got {self.max_refill_tries}")
        if self.format_weight < 0 or self.length_weight < 0 or self.format_weight + self.length_weight > 1:
            raise ConfigError(
                f"need format_weight, length_weight >= 0 with sum <= 1, got {self.format_weight}, {self.length_weight}"
            )
        if self.entropy_band_coef < 0:
            raise ConfigError(f"entropy_band_coef must be >= 0, got {self.entropy_band_coef}")
        one_of("entropy_weighting", ENTROPY_WEIGHTINGS)
        if self.task_mixture is not None:
            from g2rpo.train.mixture import check_mixture

            self.task_mixture = check_mixture(self.task_mixture)
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Ranges of the numbers the recipe and TRL's sampler/optimizer read (finiteness is checked before)."""

        def need(ok: bool, key: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"{key}={getattr(self, key)!r} is out of range; it must be {rule}")

        need(self.learning_rate >= 0, "learning_rate", ">= 0")
        need(self.weight_decay >= 0, "weight_decay", ">= 0")
        need(self.max_grad_norm is None or self.max_grad_norm >= 0, "max_grad_norm", ">= 0 (0 disables clipping)")
        need(self.temperature > 0, "temperature", "> 0")
        need(0 < self.top_p <= 1, "top_p", "in (0, 1]")
        need(self.eval_temperature is None or self.eval_temperature >= 0, "eval_temperature", ">= 0 (0: greedy)")
        need(self.eval_top_p is None or 0 < self.eval_top_p <= 1, "eval_top_p", "in (0, 1]")
        need(self.epsilon >= 0, "epsilon", ">= 0")
        need(self.epsilon_high is None or self.epsilon_high >= 0, "epsilon_high", ">= 0")
        need(self.delta is None or self.delta > 1, "delta", "> 1 (the dual clip c)")
        need(self.beta >= 0, "beta", ">= 0")
        need(self.scorer_timeout_s > 0, "scorer_timeout_s", "> 0 seconds")
        for family, bounds in (self.length_envelopes or {}).items():
            ok = (isinstance(bounds, list | tuple) and len(bounds) == 4 and 0 <= bounds[0] < bounds[1] <= bounds[2]
                  < bounds[3])
            if not ok:
                raise ConfigError(f"length_envelopes[{family}]={bounds!r} must be 4 numbers 0 <= a < b <= c < d")

    # ---- helpers used by the trainer
    @property
    def effective_length_weight(self) -> float:
        """``w_l`` actually applied: 0 when length shaping is off."""
        return 0.0 if self.length_shaping == "off" else self.length_weight

    def resolved_auto_length_factors(self) -> dict[str, list[float]]:
        return {**DEFAULT_AUTO_LENGTH_FACTORS, **(self.auto_length_factors or {})}

    def recipe_dict(self) -> dict[str, Any]:
        """The fields this class adds or re-defaults (for the README table and the saved YAML header)."""
        own = {f.name for f in fields(G2RPOConfig)} - {f.name for f in fields(GRPOConfig)}
        own |= {"loss_type", "epsilon", "epsilon_high", "delta", "beta"}
        return {name: getattr(self, name) for name in sorted(own)}

    def save_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write every field as YAML, atomically; loadable again with `g2rpo train --config`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {}
        for key, value in self.to_dict().items():
            # generation_batch_size is derived from steps_per_generation in __post_init__ (TRL refuses both)
            if key.startswith("_") or key in {"push_to_hub_token", "hub_token", "generation_batch_size"}:
                continue
            data[key] = value
        write_text_atomic(path, yaml.safe_dump(data, sort_keys=True))
        return path
