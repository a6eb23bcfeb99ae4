"""Task families, their categories and default shaping bands, and problem-type names (recipe §2, §5, §6).

Two keys live on every sample: the *problem type* (the verifier kind, G2RPO's default normalisation key, as in
the authors' code) and the *task family* (one of six; shaping bands and dashboards are per family).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from g2rpo.algo.shaping import Envelope

Category = Literal["reasoning", "vision", "both"]


@dataclass(frozen=True)
class TaskFamily:
    """One of the six task families of recipe §2.

    ``envelope`` is the default length trapezoid in tokens (recipe §5). The authors did not publish theirs;
    ours put the plateau around the lengths the paper's figures show after ~100 steps of the full recipe
    (general VQA ~1,350, math ~1,100, chart ~900, spatial ~550, grounding ~60, documents ~40 tokens), wide
    enough that the band shapes rather than dictates. ``entropy_band`` is the authors' ``[0.2, 0.6]``.
    """

    name: str
    category: Category
    envelope: Envelope
    entropy_band: tuple[float, float] = (0.2, 0.6)


TASK_FAMILIES: dict[str, TaskFamily] = {
    f.name: f
    for f in (
        TaskFamily("spatial_grounding", "vision", Envelope(5, 20, 150, 400)),
        TaskFamily("spatial_reasoning", "both", Envelope(50, 250, 800, 1800)),
        TaskFamily("general_vqa", "reasoning", Envelope(150, 700, 1800, 3500)),
        TaskFamily("math", "reasoning", Envelope(150, 600, 1600, 3500)),
        TaskFamily("chart", "both", Envelope(100, 450, 1300, 2800)),
        TaskFamily("ocr_document", "vision", Envelope(3, 10, 120, 400)),
    )
}
"""Task family name → :class:`TaskFamily`. The registry of task families."""


def get_task_family(name: str) -> TaskFamily:
    """The family called ``name``; an unknown name is an error listing the valid ones."""
    try:
        return TASK_FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown task family {name!r}; valid task families: {', '.join(TASK_FAMILIES)}") from None


PROBLEM_TYPES: tuple[str, ...] = (
    "multiple choice",
    "numerical",
    "regression",
    "math",
    "ocr",
    "spatial grounding",
    "open-ended",
)
"""Canonical problem-type names (the verifier kinds of recipe §4)."""

PROBLEM_TYPE_ALIASES: dict[str, str] = {
    "mc": "multiple choice",
    "mcq": "multiple choice",
    "choice": "multiple choice",
    "multiple choices": "multiple choice",
    "numeric": "numerical",
    "number": "numerical",
    "numerical answer": "numerical",
    "math expression": "math",
    "free form math": "math",
    "grounding": "spatial grounding",
    "bbox": "spatial grounding",
    "box": "spatial grounding",
    "detection": "spatial grounding",
    "open ended": "open-ended",
    "open": "open-ended",
    "free form": "open-ended",
    "freeform": "open-ended",
    "caption": "open-ended",
}
"""Accepted spellings → canonical problem type. Matching ignores case; ``_``, ``-``, ``/`` and spaces are equivalent."""


def normalise_name(name: str) -> str:
    """The matching key of a task or problem-type name: lower case, runs of spaces, ``_``, ``-``, ``/`` → one space."""
    return re.sub(r"[\s_\-/]+", " ", name.strip().lower())


_LOOKUP = {normalise_name(p): p for p in PROBLEM_TYPES} | {
    normalise_name(a): p for a, p in PROBLEM_TYPE_ALIASES.items()
}


def canonical_problem_type(name: str) -> str:
    """The canonical problem type for ``name`` (case-insensitive, aliases accepted).

    ``"Multiple_Choice"`` → ``"multiple choice"``, ``"OCR"`` → ``"ocr"``, ``"grounding"`` → ``"spatial grounding"``.
    An unknown name is an error listing the seven canonical names (not every alias).
    """
    try:
        return _LOOKUP[normalise_name(str(name))]
    except KeyError:
        raise KeyError(
            f"unknown problem type {name!r}; valid problem types: {', '.join(PROBLEM_TYPES)} "
            "(other accepted spellings: g2rpo.tasks.PROBLEM_TYPE_ALIASES)"
        ) from None
