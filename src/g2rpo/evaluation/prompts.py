"""Evaluation prompts: the paper's protocol (recipe §8) applied to benchmark items.

A prompt is the question (with the benchmark's hint, if any), the options for multiple choice, the
think/answer instruction, and a tail that says what goes inside ``<answer>`` for the item's answer kind.
No system prompt. The think instruction and the shared tails are imported from the training prompt
(:mod:`g2rpo.data.prompts`): the same wording as training matters: a model RL-trained to put its answer in
``<answer>`` tags is scored on what it writes there (benchmarks.md §1 post-process).

Answer kinds (the tail): ``multiple choice``, ``numerical``, ``math``, ``short answer`` (extractive text:
documents, OCR, chart values), ``yes/no``, ``point`` (RefSpatial / RoboSpatial context points, 0–1000) and
``spatial grounding`` (RefCOCO boxes, 0–1000, JSON ``{"boxes": [...]}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from g2rpo.data.options import format_options
from g2rpo.data.prompts import BOX_UNITS, PROBLEM_TYPE_TAILS, THINK_INSTRUCTION
from g2rpo.evaluation.records import EvalItem

__all__ = ["ANSWER_KINDS", "THINK_INSTRUCTION", "build_prompt", "format_options"]

_TRAINING_TAILS = ("multiple choice", "numerical", "math", "spatial grounding")

ANSWER_KINDS: Mapping[str, str] = {
    **{kind: PROBLEM_TYPE_TAILS[kind].format(units=BOX_UNITS["0-1000"]) for kind in _TRAINING_TAILS},
    "short answer": "Please provide only the answer text (a word, phrase or number) within the "
    "<answer> </answer> tags.",
    "yes/no": "Please answer only yes or no within the <answer> </answer> tags.",
    "point": "Please provide the point(s) as JSON [{\"point_2d\": [x, y]}] with coordinates normalised to "
    "0-1000 within the <answer> </answer> tags.",
}
"""Answer kind → the prompt's tail sentence. The four kinds shared with training are the training prompt's own
tails (:data:`g2rpo.data.prompts.PROBLEM_TYPE_TAILS`, grounding in Qwen3-VL's 0–1000 units), so a model is
evaluated on the wording it was trained with; the others exist only at evaluation."""


def build_prompt(item: EvalItem, answer_kind: str, *, think_tag: str = "thinking", grounding_template: str = "") -> str:
    """The full user-turn text for ``item``.

    ``grounding_template`` (a ``str.format`` template with ``{expression}``) turns a RefCOCO referring
    expression into a question; other benchmarks carry their question in ``item.question``.
    Unknown ``answer_kind`` → ``KeyError`` listing the valid kinds.
    """
    if answer_kind not in ANSWER_KINDS:
        raise KeyError(f"unknown answer kind {answer_kind!r}; valid kinds: {sorted(ANSWER_KINDS)}")
    question = item.question.strip()
    if grounding_template:
        question = grounding_template.format(expression=question)
    hint = item.fields.get("hint", "").strip()
    # as in training: no second options block when the question already lists them
    lists_options = re.search(r"^\s*options\s*:", question, re.IGNORECASE | re.MULTILINE) is not None
    parts = [f"Hint: {hint}" if hint else "", question, "" if lists_options else format_options(item.options)]
    parts.append(THINK_INSTRUCTION.format(tag=think_tag))
    parts.append(ANSWER_KINDS[answer_kind])
    return "\n".join(p for p in parts if p)
