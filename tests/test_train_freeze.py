"""`freeze_vision_tower`: the vision encoder and its merger(s) get no gradients and no optimizer state."""

from __future__ import annotations

import logging

import pytest
import torch

from g2rpo.errors import ConfigError
from g2rpo.train.options import count_parameters, freeze_vision_tower, prepare_trainable, vision_tower_path


def tiny_model(tmp_path, arch):
    from g2rpo.models import load_model_and_processor
    from g2rpo.models.tiny import build_tiny

    return load_model_and_processor(str(build_tiny(tmp_path / arch, arch=arch)))[0]


@pytest.mark.parametrize(("arch", "mergers"), [("qwen3_vl", ("merger.", "deepstack_merger_list.")),
                                               ("qwen2_5_vl", ("merger.",))])
def test_freezing_covers_the_vision_tower_and_its_mergers_only(tmp_path, arch, mergers):
    model = tiny_model(tmp_path, arch)
    assert vision_tower_path(model) == "model.visual"
    names = dict(model.named_parameters())
    vision = {n for n in names if n.startswith("model.visual.")}
    for prefix in ("patch_embed.", "blocks.0.", *mergers):
        assert any(n.startswith("model.visual." + prefix) for n in vision), prefix
    expected = sum(names[n].numel() for n in vision)
    assert freeze_vision_tower(model) == expected > 0
    assert all(not p.requires_grad for n, p in names.items() if n in vision)
    assert all(p.requires_grad for n, p in names.items() if n not in vision)
    trainable, total = count_parameters(model)
    assert trainable == total - expected
    assert freeze_vision_tower(model) == 0  # already frozen


def test_a_model_without_a_vision_tower_is_a_config_error():
    class TextOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = torch.nn.Linear(2, 2)

    with pytest.raises(ConfigError, match=r"TextOnly has no vision tower \(looked for model.visual, visual, .*\); set "
                                          r"freeze_vision_tower: false"):
        prepare_trainable(TextOnly(), freeze_vision=True)
    assert prepare_trainable(TextOnly(), freeze_vision=False) == (6, 6)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from g2rpo.models.tiny import build_tiny

    return str(build_tiny(tmp_path_factory.mktemp("tiny")))


@pytest.mark.slow
def test_two_steps_leave_the_vision_tower_bit_identical_and_move_the_decoder(tiny, tmp_path, caplog):
    from test_train_trainer import make, rows

    with caplog.at_level(logging.INFO, logger="g2rpo.train.options"):
        trainer = make(tiny, tmp_path, rows(4), max_steps=2, dynamic_filtering=False, max_completion_length=4,
                       freeze_vision_tower=True)
    vision = {n: p for n, p in trainer.model.named_parameters() if n.startswith("model.visual.")}
    n_vision = sum(p.numel() for p in vision.values())
    trainable, total = count_parameters(trainer.model)
    assert trainable == total - n_vision
    assert f"trainable parameters: {trainable} of {total}" in caplog.text
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    for name in vision:
        assert torch.equal(after[name], before[name]), name
    moved = [n for n, p in after.items() if n not in vision and not torch.equal(p, before[n])]
    assert moved, "no decoder parameter changed in 2 steps; the frozen check would be vacuous"
    in_optimizer = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in vision.values()}
    assert not any(id(p) in {id(v) for v in vision.values()} for p in trainer.optimizer.state)
    assert any(trainer.optimizer.state[p] for p in after.values() if id(p) in in_optimizer)
    trainer.close()
