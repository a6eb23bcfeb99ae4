"""Validation of a (tiny) model on the synthetic split: greedy generation, scored with the training reward.

The score of a response is `g2rpo.rewards.score_response` with the recipe's defaults (format weight 0.1, no
length term), so the validation reward is on the same scale as the RL training reward without shaping:
`overall = 0.9·accuracy + 0.1·format + structure` (max 1.5, recipe §4). Reward, accuracy and response
length (generated tokens, EOS excluded) are averaged per task family.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

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
    """Greedy responses for `prompts` (each with its list of PIL images) → [(text, generated tokens)].

    Generates through the evaluation harness's `hf` backend, the same `generate` call `g2rpo eval` makes; each
    prompt's images (passed as lossless PNG) sit at its `<image>` placeholders, as in training
    (`g2rpo.data.prompt_messages`).
    """
    from g2rpo.evaluation.backends.base import GenerationSettings
    from g2rpo.evaluation.backends.hf import HFBackend
    from g2rpo.evaluation.records import GenerationRequest

    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0)
    backend = HFBackend("in-memory", settings, model_and_processor=(model, processor))
    outputs: list[tuple[str, int]] = []
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        job = bar.add_task(label, total=len(prompts))
        for start in range(0, len(prompts), batch_size):
            chunk = range(start, min(start + batch_size, len(prompts)))
            requests = [
                GenerationRequest(prompts[i], tuple(_png(image) for image in images[i]), at_placeholders=True)
                for i in chunk
            ]
            outputs += [(g.text, int(g.n_tokens or 0)) for g in backend.generate(requests)]
            bar.advance(job, len(chunk))
    return outputs


def _png(image) -> bytes:
    """A PIL image as PNG bytes (lossless: the backend decodes the same RGB pixels)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


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
