"""Task families, their categories and default shaping bands, and problem-type names (recipe §2, §5, §6).

Two keys live on every sample: the *problem type* (the verifier kind, G2RPO's default normalisation key, as in
the authors' code) and the *task family* (one of six; shaping bands and dashboards are per family).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    ``label`` is the family's column title in the paper's tables and in evaluation reports.
    """

    name: str
    label: str
    category: Category
    envelope: Envelope
    entropy_band: tuple[float, float] = (0.2, 0.6)


TASK_FAMILIES: dict[str, TaskFamily] = {
    f.name: f
    for f in (
        TaskFamily("spatial_grounding", "Grounding", "vision", Envelope(5, 20, 150, 400)),
        TaskFamily("spatial_reasoning", "Spatial", "both", Envelope(50, 250, 800, 1800)),
        TaskFamily("general_vqa", "General VQA", "reasoning", Envelope(150, 700, 1800, 3500)),
        TaskFamily("math", "Math", "reasoning", Envelope(150, 600, 1600, 3500)),
        TaskFamily("chart", "Chart", "both", Envelope(100, 450, 1300, 2800)),
        TaskFamily("ocr_document", "Document", "vision", Envelope(3, 10, 120, 400)),
    )
}
"""Task family name → :class:`TaskFamily`. The registry of task families; its order fixes the families' integer
codes in training (``g2rpo.train``), so new families go at the end."""

REPORT_ORDER: tuple[str, ...] = ("general_vqa", "math", "chart", "spatial_grounding", "ocr_document", "spatial_reasoning")
"""The families in the column order of the paper's ablation table (used by evaluation reports)."""


def get_task_family(name: str) -> TaskFamily:
    """The family called ``name``; an unknown name is an error listing the valid ones."""
    try:
        return TASK_FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown task family {name!r}; valid task families: {', '.join(TASK_FAMILIES)}") from None


def envelope_for(family: str, overrides: Mapping[str, Sequence[float] | Envelope] | None = None) -> Envelope:
    """The length envelope of ``family``: ``overrides[family]`` (``[a, b, c, d]`` or an :class:`Envelope`) when
    present, else the family's default. An unknown family is an error listing the valid ones."""
    default = get_task_family(family).envelope
    value = (overrides or {}).get(family)
    if value is None:
        return default
    return value if isinstance(value, Envelope) else Envelope.from_sequence(value)


def entropy_band_for(family: str, overrides: Mapping[str, Sequence[float]] | None = None) -> tuple[float, float]:
    """The ``[low, high]`` entropy band of ``family``: ``overrides[family]`` when present, else the default."""
    default = get_task_family(family).entropy_band
    value = (overrides or {}).get(family)
    if value is None:
        return (float(default[0]), float(default[1]))
    if len(value) != 2:
        raise ValueError(f"an entropy band is 2 numbers [low, high], got {list(value)} for {family}")
    return (float(value[0]), float(value[1]))


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
