"""Typed records that cross the evaluation modules: items, generations, scored items and results.

The data flow is ``load → prompt → generate → cache → score → aggregate → report``; every arrow passes one of
these frozen dataclasses, never an untyped dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from g2rpo.errors import UserError

__all__ = [
    "BenchmarkResult",
    "DataFormatError",
    "EvalItem",
    "Generation",
    "GenerationRequest",
    "ImageError",
    "ScoredItem",
]


class DataFormatError(UserError, ValueError):
    """A benchmark or predictions file that cannot be read; the message names the file, row and field."""


class ImageError(DataFormatError):
    """One cell's image cannot be decoded (not base64, not an image, over PIL's pixel limit): an error of
    that item alone, which is reported and scored 0 while the other rows are scored."""


@dataclass(frozen=True)
class EvalItem:
    """One benchmark question, as read from a VLMEvalKit TSV row or a local Hugging Face dataset row.

    ``options`` maps option letters to option texts in letter order (empty for open questions). ``answers``
    holds every gold answer (DocVQA, InfoVQA and OCRBench list several; most benchmarks have one).
    ``images`` are encoded image files (PNG/JPEG bytes) in prompt order. ``fields`` keeps every other
    column as text (``hint``, ``answer_type``, ``precision``, ``mask``, ``l2-category`` …) for the prompt
    builder and the metric. ``source``/``row`` locate the row for error messages (row 1 = first data row).
    ``error`` is set when the row's image cannot be decoded: the item is not generated, it is scored as an
    error item (score 0, counted) and the message is reported.
    """

    benchmark: str
    index: str
    question: str
    answers: tuple[str, ...]
    options: Mapping[str, str] = field(default_factory=dict)
    images: tuple[bytes, ...] = ()
    category: str = ""
    split: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    row: int = 0
    error: str = ""

    @property
    def answer(self) -> str:
        """The first gold answer (the only one for most benchmarks)."""
        return self.answers[0] if self.answers else ""

    def where(self, field_name: str | None = None) -> str:
        """``"file, row N (index I), field 'f'"`` for error messages."""
        text = f"{self.source}, row {self.row} (index {self.index})"
        return f"{text}, field {field_name!r}" if field_name else text


@dataclass(frozen=True)
class GenerationRequest:
    """What a backend is asked: one user turn made of images (encoded bytes) and the prompt text.

    By default the images come first, then the text (the benchmark protocol). With ``at_placeholders`` each
    ``<image>`` in ``prompt`` marks where the next image goes, as in training
    (:func:`g2rpo.data.prompt_messages`, which builds the turn then).
    """

    prompt: str
    images: tuple[bytes, ...] = ()
    at_placeholders: bool = False


@dataclass(frozen=True)
class Generation:
    """A backend's answer to one request. ``n_tokens`` is the response length in tokens when the backend
    knows it (``hf``/``vllm`` always, ``openai`` when the server reports usage), else ``None``."""

    text: str
    n_tokens: int | None = None


@dataclass(frozen=True)
class ScoredItem:
    """One item after scoring: the raw prediction, the extracted answer the metric saw, and its score.

    ``score`` is the item score in the metric's own unit (0/1 for accuracies, [0, 1] for ANLS, IoU fraction
    and mask fraction); ``extras`` carries secondary per-item values (``iou`` for grounding). ``error`` is
    non-empty for an item that could not be scored (an undecodable image or mask): its score is 0 and the
    message names the file, row and field.

    ``to_dict``/``from_dict`` are the ``scores.jsonl`` line and its exact inverse.
    """

    index: str
    prediction: str
    extracted: str
    score: float
    category: str = ""
    split: str = ""
    n_tokens: int | None = None
    extras: Mapping[str, float] = field(default_factory=dict)
    n_chars: int | None = None
    """Response length in characters (``None`` → ``len(prediction)``; set when the text is not kept)."""
    error: str = ""

    @property
    def length(self) -> int:
        """Response length: tokens when known, else characters."""
        if self.n_tokens is not None:
            return self.n_tokens
        return self.n_chars if self.n_chars is not None else len(self.prediction)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (``extras`` as an object)."""
        return {
            "index": self.index,
            "score": self.score,
            "extracted": self.extracted,
            "prediction": self.prediction,
            "category": self.category,
            "split": self.split,
            "n_tokens": self.n_tokens,
            "n_chars": self.n_chars,
            "extras": dict(self.extras),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoredItem:
        """Inverse of :meth:`to_dict`; a missing or mistyped field → ``ValueError`` naming it.

        A ``scores.jsonl`` written before ``to_dict`` existed (no ``prediction``, ``iou`` at top level) reads
        too: the prediction is then empty and ``n_chars`` carries its length."""
        extras = data.get("extras", {"iou": data["iou"]} if "iou" in data else {})
        checks = (
            ("index", data.get("index"), str, False),
            ("score", data.get("score"), (int, float), False),
            ("extracted", data.get("extracted", ""), str, False),
            ("prediction", data.get("prediction", ""), str, False),
            ("category", data.get("category", ""), str, False),
            ("split", data.get("split", ""), str, False),
            ("n_tokens", data.get("n_tokens"), int, True),
            ("n_chars", data.get("n_chars"), int, True),
            ("extras", extras, dict, False),
            ("error", data.get("error", ""), str, False),
        )
        for name, value, kind, nullable in checks:
            if (value is None and not nullable) or (value is not None and (isinstance(value, bool) or not isinstance(value, kind))):
                raise ValueError(f"field {name!r}: {value!r} is not a {getattr(kind, '__name__', 'number')}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in extras.values()):
            raise ValueError(f"field 'extras': values must be numbers, got {extras!r}")
        return cls(
            index=data["index"],
            prediction=data.get("prediction", ""),
            extracted=data.get("extracted", ""),
            score=float(data["score"]),
            category=data.get("category", ""),
            split=data.get("split", ""),
            n_tokens=data.get("n_tokens"),
            extras={k: float(v) for k, v in extras.items()},
            n_chars=data.get("n_chars"),
            error=data.get("error", ""),
        )


@dataclass(frozen=True)
class BenchmarkResult:
    """A benchmark's aggregated scores, as written to ``summary.json``.

    ``metrics`` maps metric names to values (``primary`` names the headline one, in the unit the paper
    reports: percent, or points out of 1000 for OCRBench); ``per_split`` / ``per_category`` map a split or
    category name to its own metric dict.
    """

    benchmark: str
    primary: str
    metrics: Mapping[str, float]
    n_items: int
    per_split: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    per_category: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    n_errors: int = 0
    """Items that could not be scored (counted in ``n_items`` with score 0; see :attr:`ScoredItem.error`)."""

    @property
    def value(self) -> float:
        """The headline number."""
        return self.metrics[self.primary]

    @classmethod
    def from_dict(cls, benchmark: str, data: Mapping[str, Any]) -> BenchmarkResult:
        """Inverse of :meth:`to_dict` (values as rounded there)."""
        reserved = {"primary", "n_items", "per_split", "per_category", "notes", "n_errors"}
        return cls(
            benchmark,
            str(data["primary"]),
            {k: float(v) for k, v in data.items() if k not in reserved},
            int(data.get("n_items", 0)),
            per_split=data.get("per_split", {}),
            per_category=data.get("per_category", {}),
            notes=tuple(data.get("notes", ())),
            n_errors=int(data.get("n_errors", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` entry: metric name → value, plus ``primary``, ``n_items``, splits, categories."""
        out: dict[str, Any] = {name: _round(v) for name, v in self.metrics.items()}
        out["primary"] = self.primary
        out["n_items"] = self.n_items
        if self.per_split:
            out["per_split"] = {k: {m: _round(v) for m, v in d.items()} for k, d in self.per_split.items()}
        if self.per_category:
            out["per_category"] = {k: {m: _round(v) for m, v in d.items()} for k, d in self.per_category.items()}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.n_errors:
            out["n_errors"] = self.n_errors
        return out


def _round(value: float) -> float:
    return round(float(value), 4)
