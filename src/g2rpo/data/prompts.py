"""The training prompt of recipe §8, and its chat-message form.

Layout (lines joined by ``\\n``; empty parts dropped)::

    {problem}                      # the question, <image> placeholders kept
    Options:                       # multiple choice with options only
    A. …
    {THINK_INSTRUCTION}            # think inside <thinking> </thinking>, answer inside <answer> </answer>
    {tail for the problem type}    # e.g. grounding: only the box as JSON {"boxes": [x1, y1, x2, y2]}

No system prompt. The wording is the evaluation prompt's (``g2rpo.evaluation.prompts``), so a model is scored
on the protocol it was trained with (a test pins the two together).
"""

from __future__ import annotations

import re
from typing import Literal

from g2rpo.data.records import IMAGE_PLACEHOLDER, Record

THINK_INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <{tag}> </{tag}> tags. "
    "The final answer MUST BE put in <answer> </answer> tags."
)
"""The think/answer instruction (recipe §8); ``{tag}`` is the think tag (``thinking`` for OpenVLThinkerV2)."""

_NUMBER_TAIL = "Please provide the numerical value (e.g., 42 or 3.14) within the <answer> </answer> tags."
_BOX_TAIL = (
    'Please provide only the bounding box of the referred object as JSON {{"boxes": [x1, y1, x2, y2]}} '
    "with coordinates {units} within the <answer> </answer> tags."
)
BOX_UNITS: dict[str, str] = {"0-1000": "normalised to 0-1000", "pixels": "in absolute pixels"}
"""Grounding coordinate convention → its wording (Qwen3-VL: ``0-1000``; Qwen2.5-VL: ``pixels``; recipe §4)."""

PROBLEM_TYPE_TAILS: dict[str, str] = {
    "multiple choice": "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the "
    "<answer> </answer> tags.",
    "numerical": _NUMBER_TAIL,
    "regression": _NUMBER_TAIL,
    "math": "Please provide the final answer (a number, an expression or an option letter) within the "
    "<answer> </answer> tags.",
    "ocr": "Please provide only the text you read, exactly as written, within the <answer> </answer> tags.",
    "spatial grounding": _BOX_TAIL,
    "open-ended": "Please provide only the final answer (a word, phrase or sentence) within the "
    "<answer> </answer> tags.",
}
"""Canonical problem type → the prompt's last sentence (what goes inside ``<answer>``)."""


def format_options(options: tuple[str, ...] | list[str]) -> str:
    """``"Options:\\nA. cat\\nB. dog"`` from ``("A. cat", "B. dog")``; ``""`` without options."""
    return "Options:\n" + "\n".join(options) if options else ""


def build_prompt(
    record: Record, *, think_tag: str = "thinking", box_units: Literal["0-1000", "pixels"] = "0-1000"
) -> str:
    """The user-turn text for ``record`` (recipe §8); ``<image>`` placeholders stay where they are.

    The options block is added for multiple-choice records that carry options, unless ``problem`` already lists
    them (a line starting ``Options:``). ``box_units`` words the grounding tail. Unknown problem types cannot
    reach here: :func:`g2rpo.data.load_records` canonicalises them.
    """
    if not re.fullmatch(r"[A-Za-z][\w-]*", think_tag):
        raise ValueError(f"think_tag must be a tag name such as 'thinking' or 'think', got {think_tag!r}")
    if box_units not in BOX_UNITS:
        raise KeyError(f"unknown box_units {box_units!r}; valid: {', '.join(BOX_UNITS)}")
    try:
        tail = PROBLEM_TYPE_TAILS[record.problem_type]
    except KeyError:
        raise KeyError(
            f"no prompt tail for problem type {record.problem_type!r}; valid: {', '.join(PROBLEM_TYPE_TAILS)}"
        ) from None
    problem = record.problem.strip()
    lists_options = re.search(r"^\s*options\s*:", problem, re.IGNORECASE | re.MULTILINE) is not None
    options = (
        format_options(record.options)
        if record.problem_type == "multiple choice" and not lists_options
        else ""
    )
    parts = [
        problem,
        options,
        THINK_INSTRUCTION.format(tag=think_tag),
        tail.format(units=BOX_UNITS[box_units]),
    ]
    return "\n".join(p for p in parts if p)


def prompt_messages(text: str, n_images: int) -> list[dict]:
    """The prompt text as one user message with typed content parts, TRL's conversational VLM format.

    Each ``<image>`` becomes ``{"type": "image"}`` at its place (TRL fills the parts, in order, from the row's
    ``images``); text between placeholders becomes ``{"type": "text", "text": …}`` with surrounding whitespace
    stripped. Text without placeholders gets its ``n_images`` image parts first.
    """
    segments = text.split(IMAGE_PLACEHOLDER)
    n_placeholders = len(segments) - 1
    if n_placeholders not in (0, n_images):
        raise ValueError(f"{n_placeholders} {IMAGE_PLACEHOLDER} placeholder(s) for {n_images} image(s)")
    content: list[dict] = []
    if n_placeholders == 0:
        content += [{"type": "image"} for _ in range(n_images)]
    for i, segment in enumerate(segments):
        if i > 0:
            content.append({"type": "image"})
        if segment.strip():
            content.append({"type": "text", "text": segment.strip()})
    return [{"role": "user", "content": content}]
