"""Contract tests: the TRL 1.16 internals G2RPOTrainer relies on. A failure names what changed in TRL.

G2RPOTrainer (through its TRLAdapter base, for the private ones) overrides `_calculate_rewards`,
`_generate_and_score_completions`, `_compute_loss`, `_get_per_token_logps_and_entropies`, `_save_checkpoint`,
`_load_optimizer_and_scheduler`, `train`, `evaluate`, `log` and `_maybe_log_save_evaluate`, reads
`_metrics`, `_logs["advantages"]`, `_tokenizer`, `num_generations(_eval)`, and maps the recipe's loss onto
`loss_type="dapo"`, `epsilon`, `epsilon_high`, `delta`, `beta`.
"""

from __future__ import annotations

import inspect

import pytest
from trl import GRPOConfig, GRPOTrainer

from g2rpo.train.trainer import G2RPOTrainer
from g2rpo.train.trl_adapter import TRLAdapter


def source(name: str) -> str:
    return inspect.getsource(getattr(GRPOTrainer, name))


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("_calculate_rewards", ["self", "inputs", "prompts", "completions", "completion_ids_list"]),
        ("_generate_and_score_completions", ["self", "inputs"]),
        ("_compute_loss", ["self", "model", "inputs"]),
        ("_save_checkpoint", ["self", "model", "trial"]),
        ("_load_optimizer_and_scheduler", ["self", "checkpoint"]),
        ("_generate_single_turn", ["self", "prompt_ids", "images", "multimodal_fields", "num_generations"]),
    ],
)
def test_overridden_methods_keep_their_signature(method, params):
    assert hasattr(GRPOTrainer, method), f"TRL removed GRPOTrainer.{method}; G2RPOTrainer overrides it"
    found = list(inspect.signature(getattr(GRPOTrainer, method)).parameters)
    assert found[: len(params)] == params, f"GRPOTrainer.{method} signature changed: {found} (expected {params}…)"


def test_logps_and_entropies_signature():
    params = inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters
    for name in ("model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "compute_entropy"):
        assert name in params, f"GRPOTrainer._get_per_token_logps_and_entropies lost parameter {name!r}"
    src = source("_get_per_token_logps_and_entropies")
    assert "return logps, entropies, aux_loss" in src, "it no longer returns (logps, entropies, aux_loss)"


def test_rewards_are_computed_through_calculate_rewards_and_gathered_rows_are_contiguous_groups():
    src = source("_generate_and_score_completions")
    assert "self._calculate_rewards(inputs, prompts, completions, completion_ids_list)" in src, (
        "_generate_and_score_completions no longer calls _calculate_rewards(inputs, prompts, completions, "
        "completion_ids_list): G2RPOTrainer's reward components would not be computed"
    )
    assert "view(-1, num_generations)" in src, (
        "TRL no longer groups gathered rewards as contiguous blocks of num_generations rows; G2RPOTrainer's "
        "group ids (global row // G) assume that layout"
    )
    assert "process_index * len(prompts)" in src, "TRL changed how each process slices the gathered batch"
    for key in ('"advantages": advantages', '"completion_mask": completion_mask', '"num_items_in_batch"'):
        assert key in src, f"_generate_and_score_completions output lost {key}"
    assert 'self._logs["advantages"].extend' in src, "TRL changed the completions-table advantage log we replace"


def test_loss_uses_entropy_capture_and_dapo_normaliser():
    src = source("_compute_loss")
    assert "compute_entropy=True" in src, (
        "_compute_loss no longer asks _get_per_token_logps_and_entropies for entropies: the entropy band "
        "(recipe §6) reads them there"
    )
    assert 'inputs["num_items_in_batch"]' in src and '"dapo"' in src, (
        "the dapo loss no longer normalises by num_items_in_batch: G2RPOTrainer recomputes that count after "
        "filtering and relies on the token-mean it gives (recipe §8)"
    )
    assert "self.args.delta" in src and "torch.clamp(coef_1, max=self.args.delta)" in src, (
        "TRL changed `delta` (the ratio cap G2RPOConfig uses as the dual clip of recipe §8)"
    )


def test_prepare_inputs_splits_pixel_values_after_scoring():
    src = source("_prepare_inputs")
    assert "self._generate_and_score_completions(generation_batch)" in src
    assert "split_pixel_values_by_grid(generation_batch)" in src, (
        "_prepare_inputs no longer splits pixel values per row; G2RPOTrainer returns the unsplit layout"
    )


def test_config_fields_used_by_the_recipe_mapping():
    fields = GRPOConfig.__dataclass_fields__
    for name in ("loss_type", "epsilon", "epsilon_high", "delta", "beta", "num_generations", "num_generations_eval",
                 "steps_per_generation", "generation_batch_size", "shuffle_dataset", "vllm_mode"):
        assert name in fields, f"GRPOConfig lost field {name!r}"
    assert "dapo" in fields["loss_type"].metadata["help"], "GRPOConfig.loss_type no longer documents 'dapo'"


def test_subclass_overrides_what_it_claims():
    for name in ("_calculate_rewards", "_generate_and_score_completions", "_compute_loss",
                 "_get_per_token_logps_and_entropies", "_save_checkpoint", "_load_optimizer_and_scheduler"):
        assert name in TRLAdapter.__dict__, f"TRLAdapter no longer overrides {name}"
    init = source("__init__")
    for attr in ("self._metrics =", '"advantages": deque', "self._tokenizer =", "self.num_generations_eval ="):
        assert attr in init, f"GRPOTrainer.__init__ no longer sets {attr.split('=')[0].strip()}"


def test_checkpoint_order_and_run_hooks_the_reliability_rules_rely_on():
    """G2RPOTrainer writes g2rpo_state.json before calling Trainer._save_checkpoint; that makes every checkpoint
    complete before older ones are deleted only while the Trainer writes trainer_state.json before rotating."""
    from transformers import Trainer

    save = inspect.getsource(Trainer._save_checkpoint)
    assert "save_to_json" in save and "rotate_checkpoints(" in save, "Trainer._save_checkpoint changed"
    assert save.index("save_to_json") < save.index("rotate_checkpoints("), (
        "Trainer._save_checkpoint now rotates (deletes old checkpoints) before writing trainer_state.json"
    )
    for method, params in (("train", ["self", "resume_from_checkpoint", "trial", "ignore_keys_for_eval"]),
                           ("evaluate", ["self", "eval_dataset", "ignore_keys", "metric_key_prefix"]),
                           ("log", ["self", "logs", "start_time"]),
                           ("_maybe_log_save_evaluate", ["self", "tr_loss", "grad_norm"])):
        found = list(inspect.signature(getattr(GRPOTrainer, method)).parameters)
        assert found[: len(params)] == params, f"{method} signature changed: {found} (expected {params}…)"
        owner = TRLAdapter if method.startswith("_") else G2RPOTrainer
        assert method in owner.__dict__, f"{owner.__name__} no longer overrides {method}"
    evaluate = inspect.getsource(Trainer.evaluate)
    assert 'metric_key_prefix=f"{metric_key_prefix}_{eval_dataset_name}"' in evaluate, (
        "Trainer.evaluate no longer names each eval set's metrics eval_<name>_…: eval/<name>/… would break"
    )
    single = source("_generate_single_turn")
    assert "generation_config=self.generation_config" in single and "generation_kwargs=self.generation_kwargs" in single, (
        "_generate_single_turn no longer reads self.generation_config / generation_kwargs: eval_temperature and "
        "eval_top_p would not apply"
    )
