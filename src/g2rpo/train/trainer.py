"""`G2RPOTrainer`: TRL's `GRPOTrainer` with the OpenVLThinkerV2 recipe (recipe §3–§8).

Data flow of one generation batch (generate → reward → filter/refill → advantage → update → log)::

    _generate_and_score_completions(inputs)            one TRL round per call of super(); rounds repeat
      └─ super()  ─ generation (transformers or vLLM), TRL's tensors
           └─ _calculate_rewards  (override)           TaskReward → components, gathered over ranks
      filter_groups on the gathered accuracy           recipe §7; refill rounds until full or tries run out
      make_estimator(advantage_estimator)(…)           on the gathered final batch; each rank keeps its slice
    _compute_loss (override) = TRL loss + λ_ent · entropy_band_penalty(…) / grad-accum steps

The clipped surrogate of recipe §8 is TRL's own: ``loss_type="dapo"`` is the token mean over the accumulation
window, ``epsilon``/``epsilon_high`` are ε_low/ε_high, and TRL's ``delta`` caps the ratio at ``c`` for every
token, which equals the dual clip ``min(−min(ρA, clip(ρ)A), −cA)`` for ``A < 0`` and changes nothing for
``A > 0`` when ``c > 1 + ε_high`` (``tests/test_train_trainer.py`` checks TRL's loss against
:func:`g2rpo.algo.clipped_policy_loss`). TRL's advantage computation still runs inside ``super()`` (it is
cheap) but its output is replaced, in the training batch and in the completions table.

Shape legend: ``W`` processes, ``L`` rows per process per round, ``G`` rollouts per prompt, ``N = W·L``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from typing import ClassVar

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer
from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid

from g2rpo.algo import entropy_band_penalty, filter_groups, make_estimator
from g2rpo.rewards import BatchScorer
from g2rpo.tasks import PROBLEM_TYPES, TASK_FAMILIES, canonical_problem_type
from g2rpo.train.checks import check_dataset, pad_left
from g2rpo.train.config import G2RPOConfig
from g2rpo.train.metrics import (
    JsonlMetricsCallback,
    advantage_metrics,
    entropy_sums,
    filter_metrics,
    task_metrics,
)
from g2rpo.train.refill import RefillSource, concat_batches, plan_selection, select_rows
from g2rpo.train.reward import COMPONENTS, TaskReward, completion_text
from g2rpo.train.shaping import EnvelopeTable

logger = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = tuple(TASK_FAMILIES)
STATE_FILE = "g2rpo_state.json"
CONFIG_FILE = "g2rpo_config.yaml"


@dataclass(frozen=True)
class GatheredScores:
    """One round's rewards gathered over ranks, in TRL's gathered row order (N rows)."""

    components: torch.Tensor  # (N, 5) in COMPONENTS order
    tokens: torch.Tensor  # (N,) response length in tokens
    families: list[str]
    problem_types: list[str]
    timed_out: torch.Tensor  # (N,) bool

    @property
    def accuracy(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("accuracy")]

    @property
    def overall(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("overall")]


def _write_json_atomic(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class G2RPOTrainer(GRPOTrainer):
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
        self.scorer = scorer or BatchScorer(max_workers=args.scorer_workers, timeout_s=args.scorer_timeout_s)
        self.task_reward = TaskReward(
            self.scorer,
            envelopes=self.envelope_table,
            length_unit=args.length_unit,
            think_tag=args.think_tag,
            format_weight=args.format_weight,
            length_weight=args.effective_length_weight,
        )
        pad_left(kwargs.get("processing_class"))
        callbacks = [*(kwargs.pop("callbacks", None) or []), JsonlMetricsCallback(args.metrics_file)]
        super().__init__(model, reward_funcs=[self.task_reward], args=args, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, callbacks=callbacks, **kwargs)
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
        self._scored: GatheredScores | None = None
        self._capture: dict | None = None
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

    def _set_signature_columns_if_needed(self):
        if self._signature_columns is None:
            self._signature_columns = ["prompt", "image", "images", "answer", "problem_type", "task", "options"]

    # ---- rewards: every component, gathered over ranks
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        device = self.accelerator.device
        families = [x["task"] for x in inputs]
        problem_types = [canonical_problem_type(x["problem_type"]) for x in inputs]
        texts = [completion_text(c) for c in completions]
        lengths = self.task_reward.lengths(texts, completion_ids_list)
        codes = torch.tensor([FAMILIES.index(f) for f in families], dtype=torch.float32)
        table = self.envelope_table
        if self.model.training and table.mode == "auto" and len(table.calibrated) < len(FAMILIES):
            both = self.accelerator.gather(torch.stack([lengths, codes], 1).to(device)).cpu()
            table.calibrate(both[:, 0], [FAMILIES[int(c)] for c in both[:, 1]])
        scored = self.task_reward.components(
            completions, completion_ids_list, [x["answer"] for x in inputs], problem_types, families,
            options=[x.get("options") for x in inputs], lengths=lengths,
        )
        tokens = torch.tensor([len(ids) for ids in completion_ids_list], dtype=torch.float32)
        pcodes = torch.tensor([PROBLEM_TYPES.index(p) for p in problem_types], dtype=torch.float32)
        local = torch.cat([scored.components, torch.stack([tokens, codes, pcodes, scored.timed_out.float()], 1)], 1)
        gathered = self.accelerator.gather(local.to(device)).cpu()
        self._scored = GatheredScores(
            components=gathered[:, : len(COMPONENTS)],
            tokens=gathered[:, 5],
            families=[FAMILIES[int(c)] for c in gathered[:, 6]],
            problem_types=[PROBLEM_TYPES[int(c)] for c in gathered[:, 7]],
            timed_out=gathered[:, 8].bool(),
        )
        return self._scored.overall.unsqueeze(1).to(device)

    # ---- one TRL round, filtering, refill and our advantages
    def _score_round(self, inputs) -> tuple[dict, GatheredScores]:
        output = super()._generate_and_score_completions(inputs)
        return split_pixel_values_by_grid(output), self._scored

    def _keep(self, scores: GatheredScores, group_size: int) -> torch.Tensor:
        group_ids = torch.arange(len(scores.families)) // group_size
        return filter_groups(scores.accuracy, group_ids, low=self.args.filter_low, high=self.args.filter_high)

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        world, rank, local_size = self.accelerator.num_processes, self.accelerator.process_index, len(inputs)
        filtering = mode == "train" and self.args.dynamic_filtering
        rounds = [self._score_round(inputs)]
        keep = self._keep if filtering else (lambda s, g: torch.ones(len(s.families), dtype=torch.bool))
        keeps = [keep(rounds[0][1], group_size)]
        selections, full = plan_selection(keeps, world, local_size)
        while not full and len(rounds) - 1 < self.args.max_refill_tries:
            indices = self.refill_source.next_round()[rank * local_size : (rank + 1) * local_size]
            rounds.append(self._score_round([self.train_dataset[i] for i in indices]))
            keeps.append(keep(rounds[-1][1], group_size))
            selections, full = plan_selection(keeps, world, local_size)

        # The gathered final batch: every rank's real (unpadded) rows, rank by rank.
        final = [(k, r * local_size + i) for r, sel in enumerate(selections)
                 for k, i in sel.rows[: len(sel.rows) - sel.n_padding]]
        scores = [s for _, s in rounds]
        per_round = world * local_size // group_size
        rewards = torch.stack([scores[k].overall[j] for k, j in final]) if final else torch.zeros(0)
        group_ids = torch.tensor([k * per_round + j // group_size for k, j in final], dtype=torch.long)
        key_of = (lambda s, j: s.families[j]) if self.args.advantage_key == "task" else (lambda s, j: s.problem_types[j])
        keys = [key_of(scores[k], j) for k, j in final]
        estimator = self.estimator if mode == "train" else copy.deepcopy(self.estimator)
        advantages = estimator(rewards, group_ids, keys).float() if final else torch.zeros(0)

        mine = selections[rank]
        offset = sum(len(s.rows) - s.n_padding for s in selections[:rank])
        n_real = len(mine.rows) - mine.n_padding
        batch = self._assemble(rounds, mine.rows)
        device = self.accelerator.device
        batch["advantages"] = torch.cat([advantages[offset : offset + n_real], torch.zeros(mine.n_padding)]).to(device)
        if mine.n_padding:
            batch["completion_mask"][n_real:] = 0
        families = [scores[k].families[rank * local_size + i] for k, i in mine.rows]
        batch["task_index"] = torch.tensor([FAMILIES.index(f) for f in families], dtype=torch.long, device=device)
        loss_mask = batch["completion_mask"] * batch.get("tool_mask", 1)
        batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()

        self._replace_logged_advantages(scores, final, advantages)
        self._log_step(mode, scores, keeps, final, advantages, selections, full)
        return unsplit_pixel_values_by_grid(batch)

    def _assemble(self, rounds, rows: list[tuple[int, int]]) -> dict:
        runs: list[tuple[int, list[int]]] = []
        for k, i in rows:
            if runs and runs[-1][0] == k:
                runs[-1][1].append(i)
            else:
                runs.append((k, [i]))
        parts = [select_rows(rounds[k][0], idx) for k, idx in runs]
        return concat_batches(parts, self._tokenizer.pad_token_id)

    def _replace_logged_advantages(self, scores, final, advantages) -> None:
        value = {kj: a for kj, a in zip(final, advantages.tolist(), strict=True)}
        ours = [value.get((k, j), float("nan")) for k, s in enumerate(scores) for j in range(len(s.families))]
        logged = self._logs["advantages"]
        n = min(len(logged), len(ours))
        for _ in range(n):
            logged.pop()
        logged.extend(ours[len(ours) - n :])

    def _log_step(self, mode, scores, keeps, final, advantages, selections, full) -> None:
        metrics = self._metrics[mode]
        all_families = [f for s in scores for f in s.families]
        everything = task_metrics(
            all_families,
            torch.cat([s.components for s in scores]),
            torch.cat([s.tokens for s in scores]),
        )
        trained = advantage_metrics([scores[k].families[j] for k, j in final], advantages) if final else {}
        for key, value in {**everything, **trained}.items():
            metrics[key].append(value)
        for key, value in filter_metrics(all_families, torch.cat(keeps)).items():
            metrics[key].append(value)
        n_padding = sum(s.n_padding for s in selections)
        metrics["filter/tries"].append(float(len(scores) - 1))
        metrics["filter/partial_batch"].append(float(not full))
        metrics["filter/padding_fraction"].append(n_padding / sum(len(s.rows) for s in selections))
        metrics["scorer/timeouts"].append(float(sum(int(s.timed_out.sum()) for s in scores)))
        if self.envelope_table.active:
            for family in sorted(set(all_families)):
                for name, v in zip("abcd", self.envelope_table.envelopes[family].as_list(), strict=True):
                    metrics[f"{family}/envelope/{name}"].append(v)
        if not full:
            logger.warning(
                "dynamic filtering: batch still short after %d refill tries; %d of %d rows are padding (masked out "
                "of the loss). Raise max_refill_tries or widen filter_low/filter_high.",
                len(scores) - 1, n_padding, sum(len(s.rows) for s in selections),
            )

    # ---- loss: TRL's clipped surrogate + the task-level entropy band
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, compute_entropy=False, **kwargs):
        logps, entropies, aux = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
            compute_entropy=compute_entropy, **kwargs,
        )
        if self._capture is not None and compute_entropy:
            self._capture.update(logps=logps, entropies=entropies)
        return logps, entropies, aux

    def _compute_loss(self, model, inputs):
        self._capture = {}
        try:
            loss = super()._compute_loss(model, inputs)
            captured = self._capture
        finally:
            self._capture = None
        if "logps" not in captured:
            raise RuntimeError("GRPOTrainer._compute_loss no longer calls _get_per_token_logps_and_entropies with "
                               "compute_entropy=True; the entropy band cannot be computed (TRL changed)")
        mode = "train" if self.model.training else "eval"
        mask = inputs["completion_mask"] * inputs.get("tool_mask", 1)
        codes = inputs["task_index"]
        logps, entropies = captured["logps"], captured["entropies"]
        token_h = -logps if self.args.entropy_estimator == "sampled_nll" else entropies
        if self.args.entropy_band_coef > 0:
            penalty = entropy_band_penalty(token_h, mask, codes, self.entropy_bands)
            accumulation = self.current_gradient_accumulation_steps if mode == "train" else 1.0
            loss = loss + self.args.entropy_band_coef * penalty / accumulation
            self._metrics[mode]["entropy_band/penalty"].append(
                self.accelerator.gather(penalty.detach().reshape(1)).mean().item())
        sums = self.accelerator.reduce(entropy_sums(entropies, -logps, mask, codes, len(FAMILIES)), "sum")
        for code in torch.nonzero(sums[:, 2] > 0).flatten().tolist():
            count = sums[code, 2]
            self._metrics[mode][f"{FAMILIES[code]}/entropy"].append((sums[code, 0] / count).item())
            self._metrics[mode][f"{FAMILIES[code]}/sampled_nll"].append((sums[code, 1] / count).item())
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

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            _write_json_atomic(os.path.join(folder, STATE_FILE), self.g2rpo_state_dict())
            self.args.save_yaml(os.path.join(folder, CONFIG_FILE))

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, STATE_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: this checkpoint was not written by G2RPOTrainer, so the "
                                    "advantage-estimator state, auto envelopes and refill position cannot resume")
        with open(path) as f:
            self.load_g2rpo_state_dict(json.load(f))
