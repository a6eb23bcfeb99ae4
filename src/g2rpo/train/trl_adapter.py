"""`TRLAdapter`: the one class of ``g2rpo.train`` that touches TRL's (and transformers') private surface.

Every override of a private ``GRPOTrainer``/``Trainer`` method and every read or write of a private attribute
lives here; each one is translated into a plainly named hook that :class:`~g2rpo.train.trainer.G2RPOTrainer`
implements, or a service it calls. ``G2RPOTrainer`` itself uses no private TRL name
(``tests/test_train_trl_surface.py`` checks it; :mod:`g2rpo.train.trl_surface` says why each name is needed).

Hooks (the subclass implements them; the TRL names each one stands behind)::

    score_rollouts(inputs, completions, completion_ids, log_metric) -> Rollouts
        _calculate_rewards, _log_metric. The round's gathered rollouts; the adapter hands their overall reward
        to TRL and keeps the record for _score_round.
    run_generation_step(inputs) -> dict
        _generate_and_score_completions. The whole generation step (rounds from _score_round, filtering,
        advantages); returns the training batch with per-image pixel values, joined back here.
    add_loss_terms(loss, inputs, logps, entropies) -> Tensor
        _compute_loss, _get_per_token_logps_and_entropies. TRL's loss and the per-token log-probs/entropies of
        the same forward → the loss trained on.
    train_sampler() -> Sampler | None
        _get_train_sampler. ``None`` keeps TRL's RepeatSampler.
    on_new_generation_batch(generation_batch)
        _prepare_inputs, _step, _buffered_inputs. Called in training when TRL generates (not when it reuses
        buffered inputs).
    dataset_columns() -> list[str]
        _set_signature_columns_if_needed, _signature_columns. The columns kept when unused ones are dropped.
    check_grad_norm(grad_norm)
        _maybe_log_save_evaluate. Before TRL logs, saves or evaluates after an optimiser step.
    write_checkpoint_state(folder)
        _save_checkpoint, _get_output_dir. Writes the subclass's state into the checkpoint folder before the
        Trainer writes its own (and rotates older checkpoints).
    read_checkpoint_state(folder)
        _load_optimizer_and_scheduler. Restores it on resume, after the optimizer.

Services (the adapter provides them)::

    _score_round(inputs) -> (batch, Rollouts)   one TRL round (super()._generate_and_score_completions) with
                                                per-image pixel values, and the rollouts score_rollouts made
    record_metric(mode, key, value)             _metrics: one value into TRL's logging window
    latest_metrics(mode, keys) -> dict          _metrics: the newest value of each of keys logged this window
    rename_eval_metrics(name)                   _metrics: this window's eval metrics as ``<name>/<key>``
    replace_logged_advantages(ours)             _logs: TRL's completions table gets the advantages trained on
    pad_token_id                                _tokenizer
    accumulation_steps                          current_gradient_accumulation_steps (transformers, undocumented)
    load_weights(folder)                        _load_from_checkpoint
"""

from __future__ import annotations

import os
from collections import defaultdict

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer
from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid


class TRLAdapter(GRPOTrainer):
    """``GRPOTrainer`` with its private extension points turned into the hooks listed in the module docstring.

    The hooks below raise :class:`NotImplementedError` where the subclass must decide; the others default to
    TRL's behaviour.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._round = None  # set by _calculate_rewards inside TRL's round, taken by _score_round
        self._capture: dict | None = None  # the loss forward's log-probs/entropies, inside _compute_loss

    # ---- hooks
    def score_rollouts(self, inputs, completions, completion_ids, log_metric):
        raise NotImplementedError

    def run_generation_step(self, inputs) -> dict:
        raise NotImplementedError

    def add_loss_terms(self, loss, inputs, logps, entropies):
        return loss

    def train_sampler(self):
        return None

    def on_new_generation_batch(self, generation_batch) -> None:
        return None

    def dataset_columns(self) -> list[str]:
        raise NotImplementedError

    def check_grad_norm(self, grad_norm) -> None:
        return None

    def write_checkpoint_state(self, folder: str) -> None:
        return None

    def read_checkpoint_state(self, folder: str) -> None:
        return None

    # ---- services
    def _score_round(self, inputs) -> tuple[dict, object]:
        """One TRL generation round: this rank's split batch and the round's gathered rollouts."""
        self._round = None
        output = super()._generate_and_score_completions(inputs)
        rollouts, self._round = self._round, None
        if rollouts is None:
            raise RuntimeError("GRPOTrainer._generate_and_score_completions no longer calls _calculate_rewards; "
                               "the round's rollouts cannot be read (TRL changed)")
        return split_pixel_values_by_grid(output), rollouts

    def record_metric(self, mode: str, key: str, value: float) -> None:
        self._metrics[mode][key].append(value)

    def latest_metrics(self, mode: str, keys) -> dict:
        return {k: v[-1] for k, v in self._metrics[mode].items() if k in keys and v}

    def rename_eval_metrics(self, name: str) -> None:
        self._metrics["eval"] = defaultdict(list, {f"{name}/{k}": v for k, v in self._metrics["eval"].items()})

    def replace_logged_advantages(self, ours) -> None:
        """TRL's completions table gets our advantages: NaN for every generated row the update does not train on."""
        logged = self._logs["advantages"]
        n = min(len(logged), len(ours))
        for _ in range(n):
            logged.pop()
        logged.extend(ours[len(ours) - n :].tolist())

    @property
    def pad_token_id(self) -> int:
        return self._tokenizer.pad_token_id

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches in this optimiser step, as TRL scales its loss by them."""
        return self.current_gradient_accumulation_steps

    def load_weights(self, folder: str) -> None:
        self._load_from_checkpoint(folder)

    # ---- TRL's private methods, each translated into a hook
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._round = self.score_rollouts(inputs, completions, completion_ids_list, self._log_metric)
        return self._round.overall.unsqueeze(1).to(self.accelerator.device)

    def _generate_and_score_completions(self, inputs):
        return unsplit_pixel_values_by_grid(self.run_generation_step(inputs))

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
        return self.add_loss_terms(loss, inputs, captured["logps"], captured["entropies"])

    def _get_train_sampler(self, dataset=None):
        sampler = self.train_sampler()
        return super()._get_train_sampler(dataset) if sampler is None else sampler

    def _prepare_inputs(self, generation_batch):
        # TRL's own condition for a new generation batch (rather than a buffered one)
        every = self.args.steps_per_generation * self.num_iterations
        generating = self._step % every == 0 or self._buffered_inputs is None
        if self.model.training and generating:
            self.on_new_generation_batch(generation_batch)
        return super()._prepare_inputs(generation_batch)

    def _set_signature_columns_if_needed(self):
        if self._signature_columns is None:
            self._signature_columns = self.dataset_columns()

    def _maybe_log_save_evaluate(self, tr_loss, grad_norm, *args, **kwargs):
        self.check_grad_norm(grad_norm)
        return super()._maybe_log_save_evaluate(tr_loss, grad_norm, *args, **kwargs)

    def _save_checkpoint(self, model, trial):
        if self.args.should_save:
            self.write_checkpoint_state(os.path.join(self._get_output_dir(trial=trial),
                                         f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"))
        super()._save_checkpoint(model, trial)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            self.read_checkpoint_state(checkpoint)
