"""Evaluation prompts: the paper's protocol (recipe §8) applied to benchmark items.

A prompt is the question (with the benchmark's hint, if any), the options for multiple choice, the
think/answer instruction, and a tail that says what goes inside ``<answer>`` for the item's answer kind.
No system prompt. The same wording as training matters: a model RL-trained to put its answer in
``<answer>`` tags is scored on what it writes there (benchmarks.md §1 post-process).

Answer kinds (the tail): ``multiple choice``, ``numerical``, ``math``, ``short answer`` (extractive text:
documents, OCR, chart values), ``yes/no``, ``point`` (RefSpatial / RoboSpatial context points, 0–1000) and
``spatial grounding`` (RefCOCO boxes, 0–1000, JSON ``{"boxes": [...]}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from g2rpo.evaluation.records import EvalItem

__all__ = ["ANSWER_KINDS", "THINK_INSTRUCTION", "build_prompt", "format_options"]

THINK_INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <{tag}> </{tag}> tags. "
    "The final answer MUST BE put in <answer> </answer> tags."
)
"""The recipe's instruction (§8); ``{tag}`` is the think tag (``thinking`` for OpenVLThinkerV2)."""

ANSWER_KINDS: Mapping[str, str] = {
    "multiple choice": "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the "
    "<answer> </answer> tags.",
    "numerical": "Please provide the numerical value (e.g., 42 or 3.14) within the <answer> </answer> tags.",
    "math": "Please provide the final answer (a number, an expression or an option letter) within the "
    "<answer> </answer> tags.",
    "short answer": "Please provide only the answer text (a word, phrase or number) within the "
    "<answer> </answer> tags.",
    "yes/no": "Please answer only yes or no within the <answer> </answer> tags.",
    "point": "Please provide the point(s) as JSON [{\"point_2d\": [x, y]}] with coordinates normalised to "
    "0-1000 within the <answer> </answer> tags.",
    "spatial grounding": "Please provide only the bounding box of the referred object as JSON "
    "{\"boxes\": [x1, y1, x2, y2]} with coordinates normalised to 0-1000 within the <answer> </answer> tags.",
}
"""Answer kind → the prompt's tail sentence."""


def format_options(options: Mapping[str, str]) -> str:
    """``"Options:\\nA. cat\\nB. dog"``, or ``""`` without options."""
    if not options:
        return ""
    return "Options:\n" + "\n".join(f"{letter}. {text}" for letter, text in options.items())


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
    parts = [f"Hint: {hint}" if hint else "", question, format_options(item.options)]
    parts.append(THINK_INSTRUCTION.format(tag=think_tag))
    parts.append(ANSWER_KINDS[answer_kind])
    return "\n".join(p for p in parts if p)
