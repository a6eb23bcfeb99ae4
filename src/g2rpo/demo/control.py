"""Chance levels of the demo's validation split, measured two ways.

- **Blank-image control**: the same model answers every validation question with a blank (white) image of the
  same size in place of its own. What it still gets right comes from the question text and the answer priors
  it learned, not from seeing; a model that reads its images scores well above it.
- **Best constant answer**: per task family and problem type, the single answer (among the training split's
  most frequent golds of that type) that scores best on the validation records, scored with the training
  reward's verifier. A model that ignored its inputs could do no better than this.

The demo reports `chance = max(blank-image accuracy, best constant accuracy)` per family: the higher bar.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from g2rpo.demo.evaluate import Scored, generate

CONSTANT_CANDIDATES = 12
"""Most frequent training golds tried per problem type as the constant answer."""


def score_responses(records: Sequence, responses: Sequence[tuple[str, int]], *, think_tag: str) -> list[Scored]:
    """Score `(text, n_tokens)` responses against their records with the training reward's defaults."""
    from g2rpo.rewards import score_response

    out = []
    for record, (text, length) in zip(records, responses, strict=True):
        b = score_response(
            text, record.answer, problem_type=record.problem_type, task=record.task, think_tag=think_tag
        )
        out.append(Scored(record.problem_id, record.task, text, length, b.overall, b.accuracy, b.format))
    return out


def evaluate_with_blank(
    model_dir: str | Path,
    val_file: str | Path,
    *,
    data_root: str | Path | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 64,
    think_tag: str = "thinking",
    prompt_template: str = "g2rpo",
    progress: bool = True,
    label: str = "eval",
    blank: bool = True,
) -> tuple[list[Scored], list[Scored] | None]:
    """Greedy validation of the model in `model_dir`: (scores with the real images, scores with blank images
    or None when `blank` is false). Prompts are written with `prompt_template` (the one SFT and RL trained
    on). The model is loaded once for both passes."""
    from PIL import Image

    from g2rpo.data import get_prompt_template, load_image, load_records
    from g2rpo.models import load_model_and_processor

    records = load_records(val_file, data_root=data_root)
    model, processor = load_model_and_processor(str(model_dir))
    model.eval()
    template = get_prompt_template(prompt_template)
    prompts = [template.text(r, think_tag=think_tag) for r in records]
    images = [[load_image(ref) for ref in r.images] for r in records]
    settings = dict(max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
    real = score_responses(
        records, generate(model, processor, prompts, images, label=label, **settings), think_tag=think_tag
    )
    if not blank:
        return real, None
    blanks = [[Image.new("RGB", im.size, (255, 255, 255)) for im in ims] for ims in images]
    control = score_responses(
        records,
        generate(model, processor, prompts, blanks, label=f"{label} (blank images)", **settings),
        think_tag=think_tag,
    )
    return real, control


def best_constant(train_file: str | Path, val_file: str | Path, *, data_root=None) -> dict[str, float]:
    """Per task family: the mean validation accuracy of the best constant answer per problem type (the
    family's records of each type answered with that type's best single training gold)."""
    from g2rpo.data import load_records
    from g2rpo.rewards import score_response

    golds: dict[str, Counter] = defaultdict(Counter)
    for r in load_records(train_file, data_root=data_root, check_images=False):
        golds[r.problem_type][r.answer] += 1
    by_key: dict[tuple[str, str], list] = defaultdict(list)
    for r in load_records(val_file, data_root=data_root, check_images=False):
        by_key[(r.task, r.problem_type)].append(r)
    family_total: dict[str, float] = defaultdict(float)
    family_n: dict[str, int] = defaultdict(int)
    for (task, ptype), records in by_key.items():
        best = 0.0
        for answer, _ in golds[ptype].most_common(CONSTANT_CANDIDATES):
            response = f"<answer>{answer}</answer>"
            total = sum(
                score_response(response, r.answer, problem_type=ptype, task=task).accuracy for r in records
            )
            best = max(best, total)
        family_total[task] += best
        family_n[task] += len(records)
    return {task: family_total[task] / family_n[task] for task in sorted(family_total)}
