"""Validation of a (tiny) model on the synthetic split: greedy generation, scored with the training reward.

The score of a response is `g2rpo.rewards.score_response` with the recipe's defaults (format weight 0.1, no
length term), so the validation reward is on the same scale as the RL training reward without shaping:
`overall = 0.9·accuracy + 0.1·format + structure` (max 1.5, recipe §4). Reward, accuracy and response
length (generated tokens, EOS excluded) are averaged per task family.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@dataclass(frozen=True)
class Scored:
    """One validation response and its reward."""

    problem_id: str
    task: str
    response: str
    length: int
    reward: float
    accuracy: float
    format: float


@dataclass(frozen=True)
class TaskSummary:
    """Means over one task family's validation records."""

    n: int
    reward: float
    accuracy: float
    format: float
    length: float


def generate(
    model,
    processor,
    prompts: Sequence[str],
    images: Sequence[list],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    progress: bool = True,
    label: str = "generate",
) -> list[tuple[str, int]]:
    """Greedy responses for `prompts` (each with its list of PIL images) → [(text, generated tokens)]."""
    import torch

    from g2rpo.data import prompt_messages

    tokenizer = processor.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stop_ids = _stop_ids(model, tokenizer)
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    outputs: list[tuple[str, int]] = []
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, disable=not progress) as bar, torch.inference_mode():
            job = bar.add_task(label, total=len(prompts))
            for start in range(0, len(prompts), batch_size):
                chunk = range(start, min(start + batch_size, len(prompts)))
                texts = [
                    processor.apply_chat_template(
                        prompt_messages(prompts[i], len(images[i])),
                        add_generation_prompt=True,
                        tokenize=False,
                    )
                    for i in chunk
                ]
                flat = [image for i in chunk for image in images[i]]
                inputs = processor(text=texts, images=flat or None, padding=True, return_tensors="pt")
                inputs = inputs.to(model.device)
                generated = model.generate(
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad_id,
                    bad_words_ids=vision_token_ids(tokenizer) or None,
                )[:, inputs["input_ids"].shape[1] :]
                for row in generated.tolist():
                    length = next((k for k, t in enumerate(row) if t in stop_ids), len(row))
                    text = tokenizer.decode(row[:length], skip_special_tokens=True)
                    outputs.append((text, length))
                bar.advance(job, len(chunk))
    finally:
        tokenizer.padding_side = padding_side
    return outputs


VISION_TOKENS: tuple[str, ...] = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
"""Qwen-VL placeholder tokens a policy must never emit: in a completion they would be taken for image slots
when the sequence is re-encoded (multimodal RoPE then fails on a token/feature count mismatch)."""


def vision_token_ids(tokenizer) -> list[list[int]]:
    """`bad_words_ids` for `generate`: the vision placeholder tokens the tokenizer knows."""
    vocab = tokenizer.get_vocab()
    return [[vocab[t]] for t in VISION_TOKENS if t in vocab]


def _stop_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    if tokenizer.pad_token_id is not None:
        ids.append(tokenizer.pad_token_id)
    return set(ids)


def evaluate_model(
    model_dir: str | Path,
    val_file: str | Path,
    *,
    data_root: str | Path | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    think_tag: str = "thinking",
    progress: bool = True,
    label: str = "eval",
) -> list[Scored]:
    """Greedy-generate for every record of `val_file` with the model in `model_dir` and score each response."""
    from g2rpo.data import build_prompt, load_image, load_records
    from g2rpo.models import load_model_and_processor
    from g2rpo.rewards import score_response

    records = load_records(val_file, data_root=data_root)
    model, processor = load_model_and_processor(str(model_dir))
    model.eval()
    prompts = [build_prompt(r, think_tag=think_tag) for r in records]
    images = [[load_image(ref) for ref in r.images] for r in records]
    responses = generate(
        model,
        processor,
        prompts,
        images,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        progress=progress,
        label=label,
    )
    scored = []
    for record, (text, length) in zip(records, responses, strict=True):
        b = score_response(
            text, record.answer, problem_type=record.problem_type, task=record.task, think_tag=think_tag
        )
        scored.append(Scored(record.problem_id, record.task, text, length, b.overall, b.accuracy, b.format))
    return scored


def summarize(scored: Sequence[Scored]) -> dict[str, TaskSummary]:
    """Per task family (sorted by name): mean reward, accuracy, format and response length."""
    by_task: dict[str, list[Scored]] = defaultdict(list)
    for item in scored:
        by_task[item.task].append(item)
    out = {}
    for task in sorted(by_task):
        items = by_task[task]
        n = len(items)
        out[task] = TaskSummary(
            n=n,
            reward=sum(i.reward for i in items) / n,
            accuracy=sum(i.accuracy for i in items) / n,
            format=sum(i.format for i in items) / n,
            length=sum(i.length for i in items) / n,
        )
    return out
