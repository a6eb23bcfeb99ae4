"""Resuming a run whose newest checkpoint is at max_steps trains nothing (transformers' loop alone would
train one step past max_steps) and leaves the checkpoint's weights in the model."""

from __future__ import annotations

import os

import torch

from test_train_trainer import StubScorer, make, rows, tiny  # noqa: F401  (tiny is a fixture)


def test_resume_from_the_final_checkpoint_trains_nothing(tiny, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    first = make(tiny, out, rows(4), max_steps=1, save_strategy="steps", save_steps=1)
    first.train()
    trained = {k: v.clone() for k, v in first.model.state_dict().items()}
    first.close()
    assert sorted(os.listdir(out)) .count("checkpoint-1") == 1

    again = make(tiny, out, rows(4), max_steps=1, save_strategy="steps", save_steps=1)
    result = again.train(resume_from_checkpoint=True)
    again.close()
    assert result.global_step == 1
    assert not (out / "checkpoint-2").exists()
    state = again.model.state_dict()
    assert all(torch.equal(state[k], trained[k]) for k in trained)
