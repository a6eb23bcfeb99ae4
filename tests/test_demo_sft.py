"""The demo SFT loop's batch order and its collating workers."""

import random
from types import SimpleNamespace

from g2rpo.demo.sft import _batch_indices, _loader


def _config(steps, batch, accumulation=1, seed=0):
    return SimpleNamespace(
        max_steps=steps, per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation, seed=seed
    )


def test_batches_are_consecutive_seeded_epochs_cut_into_batch_size():
    # 7 rows, batches of 3, 4 steps × 2 micro-batches = 24 indices: three whole epochs and 3 of a fourth
    batches = _batch_indices(_config(4, 3, accumulation=2, seed=5), 7)
    assert len(batches) == 8 and all(len(b) == 3 for b in batches)
    rng, expected = random.Random(5), []
    for _ in range(4):
        epoch = list(range(7))
        rng.shuffle(epoch)
        expected += epoch
    flat = [i for b in batches for i in b]
    assert flat == expected[:24]
    assert all(sorted(flat[k : k + 7]) == list(range(7)) for k in (0, 7, 14))  # each epoch sees every row once


def test_collating_workers_give_the_batches_of_the_loop_in_order():
    rows = [{"x": 10 * i} for i in range(9)]

    def collate(items):
        return {"input_ids": [r["x"] for r in items]}

    batches = _batch_indices(_config(6, 4, seed=1), len(rows))
    inline = list(_loader(rows, collate, batches, workers=0))
    ahead = list(_loader(rows, collate, batches, workers=1))
    assert inline == ahead == [{"input_ids": [10 * i for i in b]} for b in batches]
