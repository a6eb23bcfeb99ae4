"""The demo's cold-start SFT loop: `g2rpo.train.sft`'s config, data and targets, trained with the model's own loss.

Inputs and outputs are those of `g2rpo.train.sft.run_sft`: an `SFTRunConfig`, the rows of `build_sft_dataset`
(the RL prompt, `<thinking>{reasoning}</thinking><answer>{answer}</answer>` completions, loss on the completion
only), TRL's `DataCollatorForVisionLanguageModeling`, AdamW with a `transformers` schedule; the folder gets the
model, its processor, `sft_config.yaml` and `sft_metrics.jsonl` (step, loss, learning rate).

Why the demo does not call `run_sft`: speed. TRL's `SFTTrainer` turns on gradient checkpointing and adds
per-step Trainer work; on the tiny model this loop is about 3× faster per step on CPU. The objective is the
same: the loss is on the completion tokens only (`collator`), as in `SFTTrainer`'s prompt–completion mode.
TRL's collator on its own defaults to the whole sequence (the question, the chat markup and every image-pad
token); on the demo that outweighs the answer ~30 to 1, and the model learns the prompt text instead of
looking at its images.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from g2rpo.io import write_text_atomic


def collator(processor, *, max_length: int | None):
    """TRL's vision-language collator with the loss on the completion only. TRL's `SFTTrainer` sets
    `completion_only_loss` itself; the collator's own default (False) trains on the prompt too — the question,
    the chat markup and every image-pad token — which on the demo outweighs the answer tokens ~30 to 1."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    return DataCollatorForVisionLanguageModeling(processor, max_length=max_length, completion_only_loss=True)


def completion_loss(model, batch):
    """The model's own causal-LM loss on `batch` (mean next-token cross-entropy over the labelled positions),
    with the output layer applied to those positions only.

    `model(**batch).loss` projects every position onto the vocabulary, prompt and padding included; on the demo
    about 70% of the positions carry no label, and the output layer with its softmax is about a quarter of a step.
    """
    import torch.nn.functional as F

    labels = batch["labels"]
    hidden = model.model(**{k: v for k, v in batch.items() if k != "labels"}).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    return F.cross_entropy(model.lm_head(hidden[:, :-1][keep]).float(), targets[keep])


def _batch_indices(config, n_rows: int) -> list[list[int]]:
    """Row indices of every micro-batch of the run, in order: epochs of a `random.Random(seed)` shuffle,
    concatenated and cut into `per_device_train_batch_size` rows (a batch may straddle two epochs)."""
    rng = random.Random(config.seed)
    size = config.per_device_train_batch_size
    total = config.max_steps * config.gradient_accumulation_steps * size
    order: list[int] = []
    while len(order) < total:
        epoch = list(range(n_rows))
        rng.shuffle(epoch)
        order += epoch
    return [order[i : i + size] for i in range(0, total, size)]


def _loader(rows, collate, batches: list[list[int]], *, workers: int):
    """The collated micro-batches in order; with `workers` > 0, collated ahead in that many worker processes
    (the image processor and tokenizer take about a fifth of a step, which the otherwise idle second core can do
    while the first trains). The same batches either way, so the run is the same."""
    from torch.utils.data import DataLoader

    return DataLoader(
        batches, batch_size=None, shuffle=False, num_workers=workers,
        collate_fn=_Collate(rows, collate),
        worker_init_fn=_one_thread, prefetch_factor=4 if workers else None,
    )  # fmt: skip


class _Collate:
    """Row indices → a collated batch (a class, not a closure, so that it pickles for any start method)."""

    def __init__(self, rows, collate):
        self.rows, self.collate = rows, collate

    def __call__(self, indices: list[int]):
        return self.collate([self.rows[i] for i in indices])


def _one_thread(_worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)


def run_demo_sft(config, *, progress: bool = True, workers: int = 1) -> Path:
    """Fine-tune `config.model` (a `g2rpo.train.sft.SFTRunConfig`) and save it to `config.output_dir`.

    `workers`: processes that collate batches ahead of the training loop (0: collate in the loop)."""
    import torch
    from transformers import get_scheduler

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.sft import build_sft_dataset

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sft_config.yaml", config.to_yaml())
    torch.manual_seed(config.seed)
    model, processor = load_model_and_processor(config.model, dtype=config.dtype)
    model.train()
    rows = build_sft_dataset(config)
    collate = collator(processor, max_length=config.max_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        config.lr_scheduler_type, optimizer, num_warmup_steps=config.warmup_steps, num_training_steps=config.max_steps
    )
    batches = iter(_loader(rows, collate, _batch_indices(config, len(rows)), workers=workers))
    log: list[dict] = []
    window: list[float] = []
    seen = 0
    start = time.perf_counter()
    columns = (TextColumn("SFT"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        job = bar.add_task("sft", total=config.max_steps)
        for step in range(1, config.max_steps + 1):
            for _ in range(config.gradient_accumulation_steps):
                inputs = next(batches)
                loss = completion_loss(model, inputs) / config.gradient_accumulation_steps
                loss.backward()
                window.append(float(loss) * config.gradient_accumulation_steps)
                seen += len(inputs["input_ids"])
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if step % config.logging_steps == 0 or step == config.max_steps:
                log.append({
                    "step": step, "loss": sum(window) / len(window), "learning_rate": scheduler.get_last_lr()[0],
                    "epoch": seen / len(rows),
                })  # fmt: skip
                window = []
            bar.advance(job)
    log.append({"step": config.max_steps, "train_runtime": time.perf_counter() - start})
    model.save_pretrained(str(out))
    processor.save_pretrained(str(out))
    write_text_atomic(out / "sft_metrics.jsonl", "".join(json.dumps(entry) + "\n" for entry in log))
    return out
