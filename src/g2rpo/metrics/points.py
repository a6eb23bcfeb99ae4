"""2-D point parsing for RefSpatial and RoboSpatial answers (benchmarks.md §2.13, §2.14)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from g2rpo.metrics.parsing import load_structured, python_float, strip_code_fence

__all__ = ["MAX_POINTS", "PointSet", "parse_first_point_official", "parse_points", "scale_point"]

MAX_POINTS = 10_000
"""At most this many points (and as many boxes) are read from one answer."""

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TUPLE2 = re.compile(rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_TUPLE4 = re.compile(rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_BRACKET2 = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_BRACKET_LIST = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*(?:,[^\[\]]*)?\]")
_POINT_KEYS = ("point_2d", "point")
_MISS = (-1.0, -1.0)


@dataclass
class PointSet:
    """Parsed points: ``unit_points`` as ``(x, y)`` in the unit square (a point that cannot be placed, e.g.
    pixels without an image size, is ``(-1, -1)``, a miss), and ``pixel_boxes`` as inclusive integer pixel
    ranges ``(x0, y0, x1, y1)`` whose every pixel is a point."""

    unit_points: list[tuple[float, float]] = field(default_factory=list)
    pixel_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


def scale_point(
    x: float, y: float, image_size: tuple[float, float] | None, *, allow_rel1000: bool = True
) -> tuple[float, float]:
    """VLMEvalKit ``Point2DParser`` scale rule by ``m = max(|x|, |y|)``: ``m ≤ 1.5`` → already unit;
    ``m ≤ 1000`` (and ``allow_rel1000``) → divide by 1000 (Qwen3-VL relative); else pixels → ``/W, /H``.

    Note: Qwen2.5-VL absolute pixels ≤ 1000 are misread as 0–1000 relative by this rule (the reference's
    behaviour, kept)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return _MISS
    m = max(abs(x), abs(y))
    if m <= 1.5:
        return (x, y)
    if allow_rel1000 and m <= 1000:
        return (x / 1000.0, y / 1000.0)
    if image_size is None:
        return _MISS
    return (x / float(image_size[0]), y / float(image_size[1]))


def _pair(value: Any, *, allow_tuple: bool = True) -> tuple[float, float] | None:
    if isinstance(value, list | tuple if allow_tuple else list) and len(value) == 2:
        a, b = value
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b)):
            return (float(a), float(b))
    return None


def _collect(obj: Any, out: list[tuple[float, float]], depth: int = 0) -> None:
    if depth > 4 or len(out) >= MAX_POINTS:
        return
    if isinstance(obj, dict):
        for key in _POINT_KEYS:
            if key in obj:
                pair = _pair(obj[key])
                if pair is not None:
                    out.append(pair)
                return
        return
    pair = _pair(obj, allow_tuple=False)  # a tuple is left to the free-text rule, as in the reference
    if pair is not None:
        out.append(pair)
        return
    if isinstance(obj, list | tuple):
        for item in obj[:MAX_POINTS]:
            _collect(item, out, depth + 1)


def parse_points(text: str, *, image_size: tuple[float, float] | None = None) -> PointSet:
    """Points of an answer, VLMEvalKit ``Point2DParser`` rules.

    1. Strip a markdown fence; ``json.loads``, else ``ast.literal_eval``; collect ``point_2d`` (or
       ``point``) ``[x, y]`` values of a dict or a list of dicts (extension: bare JSON ``[x, y]`` pairs and
       lists of them are accepted too); scale each with :func:`scale_point`.
    2. Otherwise free text: ``(x0, y0, x1, y1)`` boxes (every pixel a point) and ``(x, y)`` tuples, scaled
       with ``m ≤ 1.5`` → unit, else pixels (no 0–1000 rule in free text).

    ``image_size`` is ``(width, height)``; without it pixel coordinates cannot be placed (misses) and boxes
    given in unit coordinates are skipped.
    """
    body = strip_code_fence(text).strip()
    found: list[tuple[float, float]] = []
    _collect(load_structured(body), found)
    if found:
        return PointSet(unit_points=[scale_point(x, y, image_size) for x, y in found])
    points = PointSet()
    scan = body[:1_000_000]
    for match in _TUPLE4.finditer(scan):
        if len(points.pixel_boxes) >= MAX_POINTS:
            break
        values = [python_float(g) for g in match.groups()]
        if any(v is None or not math.isfinite(v) for v in values):
            continue
        x0, y0, x1, y1 = values  # type: ignore[misc]
        if max(abs(x0), abs(y0), abs(x1), abs(y1)) <= 1.5:
            if image_size is None:
                continue
            w, h = float(image_size[0]), float(image_size[1])
            x0, x1, y0, y1 = x0 * w, x1 * w, y0 * h, y1 * h
        if max(abs(x0), abs(y0), abs(x1), abs(y1)) > 1e7:
            continue
        points.pixel_boxes.append((int(x0), int(y0), int(x1), int(y1)))
    for match in _TUPLE2.finditer(scan):
        if len(points.unit_points) >= MAX_POINTS:
            break
        x, y = python_float(match.group(1)), python_float(match.group(2))
        if x is not None and y is not None:
            points.unit_points.append(scale_point(x, y, image_size, allow_rel1000=False))
    return points


def parse_first_point_official(text: str) -> tuple[float, float] | None:
    """RoboSpatial-Eval parser: the first ``(x, y)`` tuple, else the first ``[x, y]``, else the first two
    numbers of the first bracketed list; no rescaling (the point must already be in unit coordinates)."""
    scan = text[:1_000_000]
    for pattern in (_TUPLE2, _BRACKET2, _BRACKET_LIST):
        match = pattern.search(scan)
        if match is not None:
            x, y = python_float(match.group(1)), python_float(match.group(2))
            if x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
                return (x, y)
            return None
    return None
