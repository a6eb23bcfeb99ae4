"""`G2RPOTrainer`: TRL's `GRPOTrainer` with the OpenVLThinkerV2 recipe (recipe §3–§8).

Data flow of one generation batch (generate → reward → filter/refill → advantage → update → log); the hooks are
called by :class:`~g2rpo.train.trl_adapter.TRLAdapter`, the only class here that touches TRL's private surface::

    run_generation_step(inputs)                        the step; one TRL round per _score_round (adapter)
      └─ _score_round ─ generation (transformers or vLLM), TRL's tensors
           └─ score_rollouts  (hook)                   TaskReward → Rollouts (train/rollouts.py), one gather
      run_step(rounds, StepSettings, estimator)        train/step.py, pure: filter_groups (recipe §7), refill
                                                       rounds pulled until full or tries run out, the estimator
                                                       on the gathered final batch, metrics → StepResult
      the rank's batch from StepResult.round_of/row_of; _log_step records StepResult.metrics
    add_loss_terms (hook) = TRL loss + λ_ent · entropy_band_penalty(…) / grad-accum steps

The clipped surrogate of recipe §8 is TRL's own: ``loss_type="dapo"`` is the token mean over the accumulation
window, ``epsilon``/``epsilon_high`` are ε_low/ε_high, and TRL's ``delta`` caps the ratio at ``c`` for every
token, which equals the dual clip ``min(−min(ρA, clip(ρ)A), −cA)`` for ``A < 0`` and changes nothing for
``A > 0`` when ``c > 1 + ε_high`` (``tests/test_train_trainer.py`` checks TRL's loss against
:func:`g2rpo.algo.clipped_policy_loss`). TRL's advantage computation still runs inside its round (it is
cheap) but its output is replaced, in the training batch and in the completions table.

Run rules (``docs/training.md``): checkpoints are complete (our state written first) before the Trainer deletes
older ones; ``resume_from_checkpoint: true`` takes the newest complete one and cuts the metrics file back to it;
a new run refuses an output folder holding another run unless ``overwrite_output_dir``; a NaN/inf loss or
gradient norm stops the run (:class:`NonFiniteError`); validation samples with ``eval_temperature`` /
``eval_top_p`` and logs each named eval set under ``eval/<name>/…``.

Shape legend: ``W`` processes, ``L`` rows per process per round, ``G`` rollouts per prompt, ``N = W·L``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shutil
from typing import ClassVar

import torch
from transformers import GenerationConfig, TrainerState
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import TrainOutput

from g2rpo.algo import entropy_band_penalty, make_estimator
from g2rpo.algo.loss import microbatch_weight
from g2rpo.errors import UserError
from g2rpo.io import write_json_atomic
from g2rpo.tasks import TASK_FAMILIES
from g2rpo.train.checkpoints import (
    STATE_FILE,
    TRAINER_STATE,
    checkpoint_problem,
    checkpoint_step,
    checkpoints,
    latest_complete_checkpoint,
)
from g2rpo.train.checks import check_dataset, pad_left
from g2rpo.train.config import G2RPOConfig
from g2rpo.train.metrics import (
    JsonlMetricsCallback,
    entropy_sums,
    truncate_metrics,
)
from g2rpo.train.mixture import TaskMixture
from g2rpo.train.options import prepare_trainable
from g2rpo.train.preprocess import ImageCacheCallback, install_image_cache
from g2rpo.train.refill import RefillSource, concat_batches, select_rows
from g2rpo.train.reward import TaskReward, build_scorer, completion_text
from g2rpo.train.rollouts import FAMILY_NAMES, Rollouts, family_codes, problem_type_codes
from g2rpo.train.shaping import EnvelopeTable
from g2rpo.train.step import StepResult, StepSettings, run_step
from g2rpo.train.trl_adapter import TRLAdapter

logger = logging.getLogger(__name__)

FAMILIES = FAMILY_NAMES
CONFIG_FILE = "g2rpo_config.yaml"


LAST_FINITE_KEYS = ("loss", "grad_norm", "learning_rate", "entropy_band/penalty")


class NonFiniteError(UserError, FloatingPointError):
    """The loss or the gradient norm became NaN/inf: training stops before the step is saved."""


class G2RPOTrainer(TRLAdapter):
    """GRPOTrainer with G2RPO advantages, task-level length/entropy shaping and dynamic filtering with refill.

    Args:
        model: a model id/path or a loaded model (as for ``GRPOTrainer``).
        args: a :class:`~g2rpo.train.config.G2RPOConfig`.
        train_dataset / eval_dataset: TRL conversational rows with ``answer``, ``problem_type`` and ``task``
            (``g2rpo.data.to_hf_dataset``); an ``options`` column feeds the multiple-choice verifier.
        scorer: the reward :class:`~g2rpo.rewards.BatchScorer` (default: one built from the config; closed by
            :meth:`close`).
        Other keyword arguments go to ``GRPOTrainer``; ``reward_funcs`` is set by this class.
    """

    _tag_names: ClassVar[list[str]] = ["trl", "grpo", "g2rpo"]
    _name = "G2RPO"

    def __init__(self, model, args: G2RPOConfig, train_dataset=None, eval_dataset=None, *, scorer=None, **kwargs):
        if not isinstance(args, G2RPOConfig):
            raise TypeError(f"args must be a G2RPOConfig, got {type(args).__name__}")
        if "reward_funcs" in kwargs:
            raise TypeError("G2RPOTrainer builds its reward from the config; do not pass reward_funcs")
        check_dataset(train_dataset, "train_dataset")
        check_dataset(eval_dataset, "eval_dataset")
        self.estimator = make_estimator(args.advantage_estimator, **(args.advantage_kwargs or {}))
        self.envelope_table = EnvelopeTable(
            args.length_shaping, args.length_envelopes, args.resolved_auto_length_factors()
        )
        self._owns_scorer = scorer is None
        self.scorer = scorer or build_scorer(args)
        self.task_reward = TaskReward(
            self.scorer,
            envelopes=self.envelope_table,
            length_unit=args.length_unit,
            think_tag=args.think_tag,
            format_weight=args.format_weight,
            length_weight=args.effective_length_weight,
            rules=args.reward_rules,
        )
        pad_left(kwargs.get("processing_class"))
        callbacks = [*(kwargs.pop("callbacks", None) or []), JsonlMetricsCallback(args.metrics_file)]
        super().__init__(model, reward_funcs=[self.task_reward], args=args, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, callbacks=callbacks, **kwargs)
        # each unique prompt image is preprocessed once per round (TRL's own path: 2·G times)
        self.processing_class, self.image_cache = install_image_cache(self.processing_class)
        if self.image_cache is not None:
            self.add_callback(ImageCacheCallback(self.image_cache))
        bands = {name: tuple(f.entropy_band) for name, f in TASK_FAMILIES.items()}
        bands.update({k: tuple(v) for k, v in (args.entropy_bands or {}).items()})
        self.entropy_bands = {FAMILIES.index(k): v for k, v in bands.items()}
        if args.dynamic_filtering and not hasattr(self.train_dataset, "__len__"):
            raise ValueError("dynamic filtering refills from the train set by index, which needs a map-style "
                             "datasets.Dataset; set dynamic_filtering: false for an IterableDataset")
        self.refill_source = RefillSource(
            len(self.train_dataset) if hasattr(self.train_dataset, "__len__") else 0,
            self.num_generations,
            args.generation_batch_size // self.num_generations,
            seed=args.seed + 1,
            shuffle=self.shuffle_dataset,
        )
        self._suppress_vision_tokens()
        self.task_mixture = TaskMixture.from_dataset(self.train_dataset, args.task_mixture) if args.task_mixture else None
        if self.task_mixture is not None:  # refill rounds draw from the mixture too
            self.refill_source = self.task_mixture.refill_source(
                self.num_generations, args.generation_batch_size // self.num_generations, seed=args.seed + 1)
        prepare_trainable(self.model, freeze_vision=args.freeze_vision_tower)  # before train() builds the optimizer
        self.last_step: StepResult | None = None  # the latest step's result, for inspection (never read back)
        self._eval_name: str | None = None
        self._last_finite: tuple[int, dict] | None = None
        if self.accelerator.is_main_process:
            args.save_yaml(os.path.join(args.output_dir, CONFIG_FILE))

    def _suppress_vision_tokens(self) -> None:
        """Never sample vision markers: TRL suppresses only the image token, but a sampled ``<|vision_start|>``
        makes Qwen-VL's M-RoPE count an image that is not there and the training forward fails."""
        if self.use_vllm or not hasattr(self, "generation_config"):
            return
        config = self.model.config
        names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
        extra = [getattr(config, n) for n in names if isinstance(getattr(config, n, None), int)]
        if extra:
            merged = sorted({*(self.generation_config.suppress_tokens or []), *extra})
            self.generation_config.suppress_tokens = merged
            self.generation_kwargs["suppress_tokens"] = merged

    def close(self) -> None:
        """Stop the reward worker pool (if this trainer built it)."""
        if self._owns_scorer:
            self.scorer.close()

    # ---- the run: which checkpoint to resume, a clean output folder, the metrics file
    def train(self, resume_from_checkpoint: str | bool | None = None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """``Trainer.train`` with the output folder rules of ``docs/training.md``.

        ``resume_from_checkpoint=True`` resumes from the newest *complete* checkpoint in ``output_dir``; a path
        must be a complete checkpoint. The metrics file is cut back to the resumed step. Without a resume, an
        ``output_dir`` that holds checkpoints or a metrics file is refused unless ``overwrite_output_dir`` (then
        those are deleted first).
        """
        from g2rpo.train.config import normalise_resume

        resume = normalise_resume(resume_from_checkpoint)
        output_dir = self.args.output_dir
        if resume is True:
            resume = latest_complete_checkpoint(output_dir)
            if resume is None:
                raise UserError(f"resume_from_checkpoint: true, but {output_dir} holds no complete checkpoint-* "
                                "folder; drop resume_from_checkpoint to start a new run")
        elif resume is not None:
            problem = checkpoint_problem(str(resume))
            if problem is not None:
                latest = latest_complete_checkpoint(os.path.dirname(os.path.normpath(str(resume))) or ".")
                hint = f"; the newest complete one is {latest}" if latest else ""
                raise UserError(f"resume_from_checkpoint={resume}: cannot resume, {problem}{hint}")
        if resume is None:
            self._claim_output_dir()
        elif self.accelerator.is_main_process:
            truncate_metrics(os.path.join(output_dir, self.args.metrics_file), checkpoint_step(str(resume)))
        self.accelerator.wait_for_everyone()
        if resume is not None and 0 < self.args.max_steps <= checkpoint_step(str(resume)):
            # transformers' loop would train one more step past max_steps from a checkpoint taken at the end.
            logger.warning("%s is at step %d = max_steps: the run is complete, nothing to train",
                           resume, checkpoint_step(str(resume)))
            self.load_weights(str(resume))
            self.state = TrainerState.load_from_json(os.path.join(str(resume), TRAINER_STATE_NAME))
            return TrainOutput(self.state.global_step, 0.0, {})
        return super().train(resume_from_checkpoint=resume, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval,
                             **kwargs)

    def _claim_output_dir(self) -> None:
        """A new run needs an output folder without another run's checkpoints and metrics."""
        output_dir = self.args.output_dir
        metrics = os.path.join(output_dir, self.args.metrics_file)
        old = [path for _, path in checkpoints(output_dir)]
        if os.path.exists(metrics) and os.path.getsize(metrics) > 0:
            old.append(metrics)
        if not old:
            return
        if not self.args.overwrite_output_dir:
            names = ", ".join(os.path.basename(p) for p in old[:3]) + (" …" if len(old) > 3 else "")
            raise UserError(f"output_dir {output_dir} already holds a run ({names}); resume it with "
                            "resume_from_checkpoint: true, start over with overwrite_output_dir: true, or choose "
                            "another output_dir")
        if self.accelerator.is_main_process:
            logger.warning("overwrite_output_dir: deleting %d old output(s) in %s", len(old), output_dir)
            for path in old:
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)

    def train_sampler(self):
        """``None`` (TRL's ``RepeatSampler``) or, with ``task_mixture``, the mixture's sampler in the same layout."""
        if self.task_mixture is None:
            return None
        return self.task_mixture.sampler(
            mini_repeat_count=self.num_generations, batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation, seed=self.args.seed)

    def on_new_generation_batch(self, generation_batch) -> None:
        """Logs the realised task mix of a new generation batch as ``train/mix/<family>``."""
        if self.task_mixture is not None:
            counts = self.task_mixture.counts([row["task"] for row in generation_batch])
            counts = self.accelerator.reduce(counts.to(self.accelerator.device), "sum").cpu()
            for key, value in self.task_mixture.mix_metrics(counts).items():
                self.record_metric("train", key, value)

    def dataset_columns(self) -> list[str]:
        """The record columns the reward needs, kept when the Trainer drops unused columns."""
        return ["prompt", "image", "images", "answer", "problem_type", "task", "options"]

    # ---- validation: its own sampling settings, one metrics namespace per named eval set
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        """``Trainer.evaluate`` with ``eval_temperature``/``eval_top_p`` sampling. A dict of eval sets (names →
        datasets) is evaluated set by set and each logged under ``eval/<name>/…``."""
        target = self.eval_dataset if eval_dataset is None else eval_dataset
        if isinstance(target, dict):
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        previous = self._eval_name
        self._eval_name = metric_key_prefix[len("eval_") :] if metric_key_prefix.startswith("eval_") else None
        try:
            with self._eval_sampling():
                return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        finally:
            self._eval_name = previous

    @contextlib.contextmanager
    def _eval_sampling(self):
        """Generation with the validation sampling settings (log-probabilities keep the training temperature)."""
        temperature, top_p = self.args.eval_temperature, self.args.eval_top_p
        if temperature is None and top_p is None:
            yield
            return
        greedy = temperature == 0
        if self.use_vllm:
            gen = self.vllm_generation
            saved = (gen.temperature, gen.top_p)
            gen.temperature = 0.0 if greedy else (temperature if temperature is not None else gen.temperature)
            gen.top_p = 1.0 if greedy else (top_p if top_p is not None else gen.top_p)
            try:
                yield
            finally:
                gen.temperature, gen.top_p = saved
            return
        saved = (self.generation_config, self.generation_kwargs)
        kwargs = dict(self.generation_kwargs)
        if greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None, min_p=None)
        else:
            kwargs.update({k: v for k, v in (("temperature", temperature), ("top_p", top_p)) if v is not None})
        self.generation_config = GenerationConfig(**kwargs, disable_compile=True)
        self.generation_kwargs = kwargs
        try:
            yield
        finally:
            self.generation_config, self.generation_kwargs = saved

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if self.model.training else "eval"
        name = self._eval_name
        if mode == "eval" and name:
            # TRL prefixes eval metrics with "eval_"; the Trainer's own are "eval_<name>_loss", … → eval/<name>/…
            self.rename_eval_metrics(name)
            own = f"eval_{name}_"
            logs = {(f"eval_{name}/{k[len(own):]}" if k.startswith(own) else k): v for k, v in logs.items()}
        if mode == "train" and "loss" in logs:
            self._check_finite_logs(logs)
        super().log(logs, start_time)

    # ---- divergence: a NaN/inf loss or gradient norm stops the run
    def _check_finite_logs(self, logs: dict) -> None:
        values = {k: logs[k] for k in LAST_FINITE_KEYS if isinstance(logs.get(k), int | float)}
        values.update(self.latest_metrics("train", LAST_FINITE_KEYS))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            self._diverged(f"{bad[0]} is {values[bad[0]]}")
        self._last_finite = (self.state.global_step, values)

    def _diverged(self, what: str, step: int | None = None) -> None:
        step = self.state.global_step if step is None else step
        if self._last_finite is None:
            last = "no earlier step had finite metrics"
        else:
            done, values = self._last_finite
            last = f"last finite metrics (step {done}): " + ", ".join(f"{k} {v:.6g}" for k, v in values.items())
        raise NonFiniteError(f"training stopped at step {step}: {what}; {last}. Lower learning_rate or check the "
                             "rewards, then resume from the last checkpoint (resume_from_checkpoint: true)")

    def check_grad_norm(self, grad_norm) -> None:
        if grad_norm is not None:
            value = grad_norm.item() if isinstance(grad_norm, torch.Tensor) else float(grad_norm)
            if not math.isfinite(value):
                self._diverged(f"grad_norm is {value}")

    # ---- rewards: every component, gathered over ranks as one Rollouts record
    def score_rollouts(self, inputs, completions, completion_ids_list, log_metric) -> Rollouts:
        """The round's reward components, lengths, codes and groups, gathered over ranks (one record)."""
        device = self.accelerator.device
        families = [x["task"] for x in inputs]
        problem_types = [x["problem_type"] for x in inputs]
        family = family_codes(families, "generation batch")
        problem_type = problem_type_codes(problem_types, "generation batch")
        texts = [completion_text(c) for c in completions]
        lengths = self.task_reward.lengths(texts, completion_ids_list)
        table = self.envelope_table
        if self.model.training and table.mode == "auto" and len(table.calibrated) < len(FAMILIES):
            both = self.accelerator.gather(torch.stack([lengths.to(torch.int64), family], 1).to(device)).cpu()
            table.calibrate(both[:, 0].float(), [FAMILIES[c] for c in both[:, 1].tolist()])
        scored = self.task_reward.components(
            completions, completion_ids_list, [x["answer"] for x in inputs], problem_types, families,
            options=[x.get("options") for x in inputs], lengths=lengths, log_metric=log_metric,
        )
        group_size = self.num_generations if self.model.training else self.num_generations_eval
        first = self.accelerator.process_index * len(inputs)
        local = Rollouts(
            components=scored.components,
            tokens=torch.tensor([len(ids) for ids in completion_ids_list], dtype=torch.int64),
            families=family,
            problem_types=problem_type,
            timed_out=scored.timed_out,
            failed=scored.failed,
            group_ids=torch.arange(first, first + len(inputs)) // group_size,
        )
        return local.gather(self.accelerator)

    # ---- one TRL round, then the step (filtering, refill, advantages, metrics: g2rpo.train.step)
    def _step_settings(self, local_size: int) -> StepSettings:
        training = self.model.training
        return StepSettings(
            world_size=self.accelerator.num_processes,
            local_size=local_size,
            group_size=self.num_generations if training else self.num_generations_eval,
            filtering=training and self.args.dynamic_filtering,
            filter_low=self.args.filter_low,
            filter_high=self.args.filter_high,
            max_refill_tries=self.args.max_refill_tries,
            advantage_key=self.args.advantage_key,
        )

    def run_generation_step(self, inputs) -> dict:
        """Rounds until the step is full (``run_step``), then this rank's training batch (per-image pixel values)."""
        mode = "train" if self.model.training else "eval"
        rank, local_size = self.accelerator.process_index, len(inputs)
        batches: list[dict] = []

        def rounds():  # the first round, then refill rounds as long as the step asks for them
            prompts = inputs
            while True:
                batch, rollouts = self._score_round(prompts)
                batches.append(batch)
                yield rollouts
                indices = self.refill_source.next_round()[rank * local_size : (rank + 1) * local_size]
                prompts = [self.train_dataset[i] for i in indices]

        estimator = self.estimator if mode == "train" else copy.deepcopy(self.estimator)
        result = run_step(rounds(), self._step_settings(local_size), estimator, rank=rank)
        self.last_step = result

        batch = self._assemble(batches, result.round_of, result.row_of)
        device = self.accelerator.device
        batch["advantages"] = result.rank_advantages.to(device)
        if result.n_real < len(result.row_of):
            batch["completion_mask"][result.n_real :] = 0
        batch["task_index"] = result.task_index.to(device)
        loss_mask = batch["completion_mask"] * batch.get("tool_mask", 1)
        batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()

        self.replace_logged_advantages(result.logged_advantages)
        self._log_step(mode, result)
        return batch

    def _assemble(self, batches: list[dict], round_of: torch.Tensor, row_of: torch.Tensor) -> dict:
        """The rank's batch: rows ``row_of[j]`` of rounds ``round_of[j]``, each run of one round selected at once."""
        run_rounds, run_sizes = torch.unique_consecutive(round_of, return_counts=True)
        parts = [select_rows(batches[k], idx)
                 for k, idx in zip(run_rounds.tolist(), torch.split(row_of, run_sizes.tolist()), strict=True)]
        return concat_batches(parts, self.pad_token_id)

    def _log_step(self, mode: str, result: StepResult) -> None:
        """The step's metrics, then (with length shaping) the envelopes of the families generated this step."""
        for key, value in result.metrics.items():
            self.record_metric(mode, key, value)
        if self.envelope_table.active:
            for family in sorted(result.rollouts.family_keys().keys):
                for name, v in zip("abcd", self.envelope_table.envelopes[family].as_list(), strict=True):
                    self.record_metric(mode, f"{family}/envelope/{name}", v)
        if not result.full:
            logger.warning(
                "dynamic filtering: batch still short after %d refill tries; %d of %d rows are padding (masked out "
                "of the loss). Raise max_refill_tries or widen filter_low/filter_high.",
                result.n_rounds - 1, result.n_padding, result.n_rows,
            )


    # ---- loss: TRL's clipped surrogate + the task-level entropy band
    def add_loss_terms(self, loss, inputs, logps, entropies):
        """TRL's loss + λ_ent · the entropy-band penalty (weighted per micro-batch); logs per-family entropies."""
        mode = "train" if self.model.training else "eval"
        mask = inputs["completion_mask"] * inputs.get("tool_mask", 1)
        codes = inputs["task_index"]
        token_h = -logps if self.args.entropy_estimator == "sampled_nll" else entropies
        if self.args.entropy_band_coef > 0:
            penalty = entropy_band_penalty(token_h, mask, codes, self.entropy_bands)
            weight = 1.0
            if mode == "train":
                # the token count of one accumulation window on this process, as TRL's dapo normaliser has it
                window = (inputs["num_items_in_batch"] / self.accelerator.num_processes
                          * self.accumulation_steps / self.args.steps_per_generation)
                weight = microbatch_weight(self.args.entropy_weighting, mask.sum(), window,
                                           self.accumulation_steps)
            loss = loss + self.args.entropy_band_coef * penalty * weight
            self.record_metric(mode, "entropy_band/penalty",
                               self.accelerator.gather(penalty.detach().reshape(1)).mean().item())
        sums = self.accelerator.reduce(entropy_sums(entropies, -logps, mask, codes, len(FAMILIES)), "sum")
        for code in torch.nonzero(sums[:, 2] > 0).flatten().tolist():
            count = sums[code, 2]
            self.record_metric(mode, f"{FAMILIES[code]}/entropy", (sums[code, 0] / count).item())
            self.record_metric(mode, f"{FAMILIES[code]}/sampled_nll", (sums[code, 1] / count).item())
        if mode == "train" and not torch.isfinite(loss.detach()).all():
            self._diverged(f"the loss is {loss.detach().item()}", step=self.state.global_step + 1)
        return loss

    # ---- checkpoints: our state beside TRL's
    def g2rpo_state_dict(self) -> dict:
        return {
            "estimator": {"name": self.args.advantage_estimator, "state": self.estimator.state_dict()},
            "envelopes": self.envelope_table.state_dict(),
            "refill": self.refill_source.state_dict(),
        }

    def load_g2rpo_state_dict(self, state: dict) -> None:
        if state["estimator"]["name"] != self.args.advantage_estimator:
            raise ValueError(f"checkpoint was trained with advantage_estimator={state['estimator']['name']!r}, "
                             f"the config says {self.args.advantage_estimator!r}")
        self.estimator.load_state_dict(state["estimator"]["state"])
        self.envelope_table.load_state_dict(state["envelopes"])
        self.refill_source.load_state_dict(state["refill"])

    def write_checkpoint_state(self, folder: str) -> None:
        # Our state goes in first: the Trainer writes trainer_state.json last and only then deletes older
        # checkpoints (save_total_limit), so every checkpoint that can outlive its predecessors is complete.
        os.makedirs(folder, exist_ok=True)
        # a folder left by an earlier attempt at this step must not look complete while it is rewritten
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, TRAINER_STATE))
        write_json_atomic(os.path.join(folder, STATE_FILE), self.g2rpo_state_dict(), indent=1)
        self.args.save_yaml(os.path.join(folder, CONFIG_FILE))

    def read_checkpoint_state(self, checkpoint: str) -> None:
        path = os.path.join(checkpoint, STATE_FILE)
        if not os.path.exists(path):
            raise UserError(f"{path} is missing: this checkpoint was not written by G2RPOTrainer (or was cut short), "
                            "so the advantage-estimator state, auto envelopes and refill position cannot resume; "
                            "resume from a complete checkpoint")
        with open(path) as f:
            self.load_g2rpo_state_dict(json.load(f))
