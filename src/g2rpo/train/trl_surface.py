"""The private TRL surface of ``g2rpo.train``, in one list: every private method of TRL's ``GRPOTrainer`` (or of
transformers' ``Trainer``) that is overridden or called, every private attribute read or written, and every name
imported from TRL's internal modules, with why it is needed.

All of them are used in one file, ``train/trl_adapter.py``: :class:`~g2rpo.train.trl_adapter.TRLAdapter`
turns each into a plainly named hook or service (its docstring maps hooks to names) and ``G2RPOTrainer``
derives from it using none of them. :data:`OUTSIDE_THE_ADAPTER` lists the exceptions and why.

``tests/test_train_trl_surface.py`` walks the code of ``g2rpo.train`` and fails when a private name is used
but not listed here, when a listed name is no longer used, when it is used outside the adapter (and its listed
exceptions), or when the installed TRL no longer has it;
``tests/test_train_contract.py`` pins the behaviour behind the most load-bearing entries (signatures, the
reward call inside ``_generate_and_score_completions``, the return of the log-prob pass). Upgrading TRL means
running those two files first. Pinned against TRL 1.16.
"""

from __future__ import annotations

TRL_PRIVATE_SURFACE: dict[str, str] = {
    # ---- overridden methods (G2RPOTrainer redefines them)
    "_calculate_rewards": "the reward is the recipe's composed score (accuracy, format, structure, length), "
    "computed by the project's verifiers instead of TRL's reward functions",
    "_generate_and_score_completions": "one or more generation rounds per step: dynamic filtering with refill, "
    "the gathered task-level advantage, and the rows this process trains on",
    "_get_per_token_logps_and_entropies": "keeps the per-token entropies of the loss forward for the task-level "
    "entropy band",
    "_compute_loss": "TRL's clipped surrogate plus the entropy-band penalty, weighted per micro-batch",
    "_get_train_sampler": "the task_mixture sampler, in the layout of TRL's RepeatSampler",
    "_prepare_inputs": "logs the realised task mix of each generation batch",
    "_set_signature_columns_if_needed": "keeps the record columns (answer, problem_type, task, options) that "
    "the reward needs when the Trainer drops unused columns",
    "_maybe_log_save_evaluate": "stops the run with an error naming the step when the loss or grad norm is "
    "not finite",
    "_save_checkpoint": "writes g2rpo_state.json (estimator, envelopes, sampler state) into the checkpoint "
    "before the Trainer rotates older ones",
    "_load_optimizer_and_scheduler": "restores g2rpo_state.json on resume, beside the optimizer",
    # ---- called
    "_load_from_checkpoint": "resuming from the final checkpoint loads its weights and trains nothing",
    "_get_output_dir": "the checkpoint folder being written, to complete it before rotation",
    "_log_metric": "TRL's metric sink, handed to the reward so its per-task figures reach report_to",
    # ---- attributes
    "_metrics": "TRL's per-mode metric lists: the step's per-task rewards, filter and entropy figures",
    "_logs": "TRL's completions table: its advantages column is replaced by the advantages trained on",
    "_tokenizer": "the pad token id used to re-pad refill rounds into one batch",
    "_signature_columns": "set by _set_signature_columns_if_needed",
    "_step": "TRL's generation counter: whether this batch generates or reuses buffered inputs",
    "_buffered_inputs": "TRL's buffered generation batch (with steps_per_generation > 1)",
    "current_gradient_accumulation_steps": "transformers' micro-batch count of this optimiser step (no underscore, "
    "but undocumented): scales the entropy-band term as TRL scales its loss",
    # ---- internal modules
    "trl.trainer.utils.RepeatSampler": "refill rounds draw prompts in TRL's own training order",
    "trl.trainer.utils.split_pixel_values_by_grid": "a round's pixel_values split per image, so rows of several "
    "refill rounds can be selected and joined",
    "trl.trainer.utils.unsplit_pixel_values_by_grid": "the selected rows' images joined back for the loss forward",
}
"""Private TRL name → why ``g2rpo.train`` uses it (names from internal modules are written in full)."""

ADAPTER_FILE = "trl_adapter.py"
"""The file of ``g2rpo.train`` where every private TRL name is used."""

OUTSIDE_THE_ADAPTER: dict[str, tuple[str, ...]] = {
    # RefillSource replays TRL's sampler order without a trainer (the step and its tests run without one)
    "trl.trainer.utils.RepeatSampler": ("refill.py",),
}
"""Private TRL name → the other files of ``g2rpo.train`` allowed to use it (a comment says why)."""
