"""Boxes, points and polygons: parsing from model text, coordinate conventions, IoU, point-in-polygon.

Coordinate conventions (benchmarks.md §2.15–2.17):

``rel1000``  ``[x1, y1, x2, y2]`` relative to the image, scaled to 0–1000 (Qwen3-VL output, the training data).
``abs``      ``[x1, y1, x2, y2]`` in pixels. For a Qwen2.5-VL prediction these are pixels of the *resized* image
             the model saw, so pass that size as ``pred_image_size``.
``coco_xywh`` ``[x, y, w, h]`` in pixels (COCO / RefCOCO annotations).

IoU is invariant to per-axis scaling, so two boxes in the same convention (and the same pixel space) are
compared as they are; mixed conventions are both mapped to the unit square first (which needs the sizes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from g2rpo.metrics.parsing import MAX_STRUCTURED_CHARS, load_structured, python_float, strip_code_fence

__all__ = [
    "BOX_KEYS",
    "COORDINATE_CONVENTIONS",
    "Box",
    "box_iou",
    "boxes_in_common_space",
    "parse_box",
    "parse_box_lenient",
    "parse_box_strict",
    "parse_polygon",
    "point_in_polygon",
    "to_unit_box",
]

Box = tuple[float, float, float, float]
COORDINATE_CONVENTIONS: tuple[str, ...] = ("rel1000", "abs", "coco_xywh")
BOX_KEYS: tuple[str, ...] = ("boxes", "bbox_2d", "bbox", "box")
"""Keys a lenient parser accepts for a box (OneThinker's strict parser accepts only ``boxes``)."""

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_FOUR_BRACKETED = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")
_PAIR = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        number = python_float(value)
        if number is None:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_box(value: Any) -> Box | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    numbers = [_as_number(v) for v in value]
    if any(n is None for n in numbers):
        return None
    return (numbers[0], numbers[1], numbers[2], numbers[3])  # type: ignore[return-value]


def parse_box_strict(text: str) -> Box | None:
    """OneThinker ``eval_bench.py`` parser: ``json.loads(text)`` must be a dict whose ``boxes`` is a list of
    exactly 4 numbers (numeric strings accepted). Anything else (fences, ``bbox_2d``, bare lists, single
    quotes, surrounding text, non-finite values) → ``None``."""
    if len(text) > MAX_STRUCTURED_CHARS:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError, MemoryError):
        return None
    boxes = obj.get("boxes") if isinstance(obj, dict) else None
    return _as_box(boxes) if isinstance(boxes, list) else None


def _find_box(obj: Any, depth: int = 0) -> Box | None:
    if depth > 6:
        return None
    if isinstance(obj, dict):
        for key in BOX_KEYS:
            if key in obj:
                found = _find_box(obj[key], depth + 1)
                if found is not None:
                    return found
        return None
    if isinstance(obj, list | tuple):
        box = _as_box(obj)
        if box is not None:
            return box
        if obj:
            return _find_box(obj[0], depth + 1)
    return None


def parse_box_lenient(text: str) -> Box | None:
    """A tolerant box parser: markdown fences, ``boxes`` / ``bbox_2d`` / ``bbox`` / ``box`` keys, Qwen3-VL's
    ``[{"bbox_2d": [...], "label": ...}]``, bare and nested lists, single quotes; else the first bracketed
    4-number list anywhere in the text. The first box wins. Corners are NOT reordered."""
    body = strip_code_fence(text).strip()
    box = _find_box(load_structured(body))
    if box is not None:
        return box
    match = _FOUR_BRACKETED.search(body[:100_000])
    if match is None:
        return None
    return _as_box(list(match.groups()))


def parse_box(text: str, parse: str = "strict") -> Box | None:
    """Dispatch to :func:`parse_box_strict` (``parse="strict"``) or :func:`parse_box_lenient`."""
    if parse == "strict":
        return parse_box_strict(text)
    if parse == "lenient":
        return parse_box_lenient(text)
    raise ValueError(f"unknown parse mode {parse!r}; valid: strict, lenient")


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Continuous IoU of two ``[x1, y1, x2, y2]`` boxes (no +1-pixel convention, no corner reordering).

    ``inter = max(0, min(x2) − max(x1)) · max(0, min(y2) − max(y1))``, areas ``max(0, x2−x1)·max(0, y2−y1)``,
    ``IoU = inter / union``; 0 when the union is not positive or anything is non-finite. A box with swapped
    corners has area 0 and IoU 0.
    """
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    area_a = max(0.0, ax2 - ax1) * max(0.0, ay2 - ay1)
    area_b = max(0.0, bx2 - bx1) * max(0.0, by2 - by1)
    union = area_a + area_b - inter
    if not (math.isfinite(union) and math.isfinite(inter)) or union <= 0.0:
        return 0.0
    iou = inter / union
    return min(1.0, max(0.0, iou)) if math.isfinite(iou) else 0.0


def _check_convention(name: str) -> str:
    if name not in COORDINATE_CONVENTIONS:
        raise ValueError(f"unknown coordinate convention {name!r}; valid: {', '.join(COORDINATE_CONVENTIONS)}")
    return name


def _xyxy(box: Sequence[float], convention: str) -> Box:
    x1, y1, a, b = (float(v) for v in box)
    return (x1, y1, x1 + a, y1 + b) if convention == "coco_xywh" else (x1, y1, a, b)


def to_unit_box(box: Sequence[float], convention: str, image_size: tuple[float, float] | None) -> Box:
    """Map a box in ``convention`` to ``[x1, y1, x2, y2]`` relative to the image (unit square).

    ``image_size`` is ``(width, height)`` of the image the coordinates refer to (unused for ``rel1000``).
    """
    x1, y1, x2, y2 = _xyxy(box, _check_convention(convention))
    if convention == "rel1000":
        return (x1 / 1000.0, y1 / 1000.0, x2 / 1000.0, y2 / 1000.0)
    if image_size is None:
        raise ValueError(f"converting a {convention!r} box needs image_size=(width, height)")
    w, h = float(image_size[0]), float(image_size[1])
    if not (w > 0 and h > 0):
        raise ValueError(f"image_size must be positive (width, height); got {image_size!r}")
    return (x1 / w, y1 / h, x2 / w, y2 / h)


def boxes_in_common_space(
    pred: Sequence[float],
    gold: Sequence[float],
    *,
    pred_coord: str = "rel1000",
    gold_coord: str = "rel1000",
    image_size: tuple[float, float] | None = None,
    pred_image_size: tuple[float, float] | None = None,
) -> tuple[Box, Box]:
    """Both boxes as ``[x1, y1, x2, y2]`` in one space.

    Args:
        pred, gold: boxes in their conventions.
        pred_coord, gold_coord: each one of :data:`COORDINATE_CONVENTIONS`.
        image_size: ``(width, height)`` of the original image (the gold's pixel space).
        pred_image_size: ``(width, height)`` of the image the model saw, for ``abs`` predictions of a
            Qwen2.5-VL model (its smart-resized input); defaults to ``image_size``.
    """
    _check_convention(pred_coord)
    _check_convention(gold_coord)
    pred_space = pred_image_size if pred_image_size is not None else image_size
    same_pixels = pred_coord == "rel1000" or pred_space is None or image_size is None
    if pred_coord == gold_coord and (same_pixels or tuple(pred_space) == tuple(image_size)):  # type: ignore[arg-type]
        return _xyxy(pred, pred_coord), _xyxy(gold, gold_coord)
    return to_unit_box(pred, pred_coord, pred_space), to_unit_box(gold, gold_coord, image_size)


def parse_polygon(text: str) -> list[tuple[float, float]]:
    """Vertices of a polygon written as ``[(x, y), (x, y), …]`` (RoboSpatial gold), in order."""
    vertices: list[tuple[float, float]] = []
    for match in _PAIR.finditer(text):
        x, y = python_float(match.group(1)), python_float(match.group(2))
        if x is not None and y is not None:
            vertices.append((x, y))
    return vertices


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting (PNPOLY): a horizontal ray from ``(x, y)`` to +∞ crosses the boundary an odd
    number of times. Edges are counted only where the crossing lies right of the point, which is the guard
    VLMEvalKit's ``point_in_polygon`` misses (it toggles on every vertical edge). Fewer than 3 vertices or a
    non-finite point → ``False``."""
    if len(polygon) < 3 or not (math.isfinite(x) and math.isfinite(y)):
        return False
    inside = False
    n = len(polygon)
    for i in range(n):
        xi, yi = polygon[i]
        xj, yj = polygon[i - 1]
        if (yi > y) != (yj > y):
            x_cross = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < x_cross:
                inside = not inside
    return inside
