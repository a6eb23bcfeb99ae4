"""Grounding and spatial metrics: IoU / Acc@IoU≥0.5 (RefCOCO/+/g), point-in-mask (RefSpatial),
RoboSpatial-Home (benchmarks.md §2.13–2.17)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from g2rpo.metrics.geometry import (
    box_iou,
    boxes_in_common_space,
    parse_box,
    parse_polygon,
    point_in_polygon,
)
from g2rpo.metrics.points import (
    PointSet,
    parse_first_point_official,
    parse_points,
)

__all__ = ["IOU_THRESHOLD_EPS", "acc_iou_05", "as_mask", "iou", "iou_hit", "point_in_mask", "robospatial"]

IOU_THRESHOLD_EPS = 1e-9
"""Acc@IoU≥0.5 accepts ``IoU >= 0.5 − 1e-9``: exact-0.5 overlaps stay accepted after the float rounding of a
coordinate conversion (``>=``, as OneThinker R@0.5 and lmms-eval ACC@0.5)."""

GoldBox = str | Sequence[float]


def _gold_box(gold: GoldBox) -> tuple[float, float, float, float]:
    if isinstance(gold, str):
        box = parse_box(gold, "lenient")
        if box is None:
            raise ValueError(f"gold box {gold!r} is not a box of 4 numbers")
        return box
    values = [float(v) for v in gold]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"gold box must be 4 finite numbers; got {gold!r}")
    return (values[0], values[1], values[2], values[3])


def iou(
    pred: str,
    gold: GoldBox,
    *,
    pred_coord: str = "rel1000",
    gold_coord: str = "rel1000",
    image_size: tuple[float, float] | None = None,
    pred_image_size: tuple[float, float] | None = None,
    parse: str = "strict",
) -> float:
    """IoU of the predicted box with the gold box, in [0, 1] (RefCOCO mean IoU; training reward).

    The prediction is parsed with ``parse="strict"`` (OneThinker: a JSON object whose ``boxes`` is 4 numbers;
    anything else → 0) or ``"lenient"`` (fences, ``bbox_2d``, lists, surrounding text; see
    :func:`g2rpo.metrics.geometry.parse_box_lenient`). The gold is a box (4 numbers) or its text. Boxes in
    different conventions are mapped to one space (see :mod:`g2rpo.metrics.geometry`); no clipping and no
    corner reordering (swapped corners → 0).

    Deviation: OneThinker's published ``eval_bench.py`` raises ``TypeError`` on its intersection line
    (``inter_x2, inter_y2 = min(x2, X2)``); this computes the intended ``min(x2, X2), min(y2, Y2)``.
    """
    gold_box = _gold_box(gold)
    box = parse_box(pred, parse)
    if box is None:
        return 0.0
    a, b = boxes_in_common_space(
        box,
        gold_box,
        pred_coord=pred_coord,
        gold_coord=gold_coord,
        image_size=image_size,
        pred_image_size=pred_image_size,
    )
    return box_iou(a, b)


def iou_hit(value: float, threshold: float = 0.5) -> float:
    """1.0 iff an IoU ``value`` counts as a hit at ``threshold`` (``>=``, see :data:`IOU_THRESHOLD_EPS`).

    The one threshold rule: :func:`acc_iou_05` applies it to :func:`iou`, and the RefCOCO item scorer applies
    it to the IoU it already computed (one parse per response)."""
    return 1.0 if value >= threshold - IOU_THRESHOLD_EPS else 0.0


def acc_iou_05(pred: str, gold: GoldBox, *, threshold: float = 0.5, **options: Any) -> float:
    """Acc@IoU≥0.5 item score: :func:`iou_hit` of :func:`iou` (same options). ``threshold=0.3`` / ``0.7``
    give OneThinker's R@0.3 / R@0.7."""
    return iou_hit(iou(pred, gold, **options), threshold)


def as_mask(gold: Any) -> np.ndarray:
    """A boolean (H, W) mask from a numpy array or a PIL image: ``mask > 0``; a colour image counts a pixel
    when any channel is > 0."""
    array = np.asarray(gold)
    if array.ndim == 3:
        array = array.max(axis=-1)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"gold mask must be an (H, W) array or image; got shape {array.shape}")
    return array > 0


def point_in_mask(pred: str, gold: Any, *, parse: str = "vlmevalkit") -> float:
    """RefSpatial item score: fraction of the predicted points inside the gold mask (``mask[y, x]``).

    Points are parsed with :func:`g2rpo.metrics.points.parse_points` (VLMEvalKit ``Point2DParser``: JSON
    ``point_2d``/``point`` values with the per-point scale rule ≤1.5 unit / ≤1000 Qwen3-VL relative / pixels;
    else free-text ``(x, y)`` tuples and ``(x0, y0, x1, y1)`` boxes whose every pixel is a point). No point
    → 0. Points outside the image count as misses.

    Deviation: VLMEvalKit clips off-image points onto the border (``clip(x·W, 0, W−1)``); here they count 0,
    as the metric's definition says ("out-of-range points count 0").
    """
    if parse != "vlmevalkit":
        raise ValueError(f"unknown point parser {parse!r}; valid: vlmevalkit")
    mask = as_mask(gold)
    height, width = mask.shape
    points = parse_points(pred, image_size=(width, height))
    return _fraction_in_mask(points, mask)


def _fraction_in_mask(points: PointSet, mask: np.ndarray) -> float:
    height, width = mask.shape
    hits = 0
    total = 0
    for xn, yn in points.unit_points:
        total += 1
        if 0.0 <= xn <= 1.0 and 0.0 <= yn <= 1.0:
            x = min(round(xn * width), width - 1)
            y = min(round(yn * height), height - 1)
            hits += bool(mask[y, x])
    for x0, y0, x1, y1 in points.pixel_boxes:
        count = (x1 - x0 + 1) * (y1 - y0 + 1)
        if count <= 0:
            continue
        total += count
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x1, width - 1), min(y1, height - 1)
        if cx0 <= cx1 and cy0 <= cy1:
            hits += int(mask[cy0 : cy1 + 1, cx0 : cx1 + 1].sum())
    return hits / total if total else 0.0


def robospatial(
    pred: str,
    gold: str,
    *,
    parse: str = "vlmevalkit",
    image_size: tuple[float, float] | None = None,
) -> float:
    """RoboSpatial-Home item score (0 or 1).

    * Gold ``yes`` / ``no``: ``pred.strip().lower().startswith(gold)`` (so "Nope" counts as "no").
    * Gold polygon ``[(x, y), …]`` in unit coordinates: the FIRST predicted point must lie inside
      (even-odd ray casting). ``parse="vlmevalkit"``: VLMEvalKit ``Point2DParser(output="norm")`` (0–1000 and,
      with ``image_size``, pixel points are rescaled); ``parse="official"``: RoboSpatial-Eval (first
      ``(x, y)``, else ``[x, y]``, else first bracketed list; no rescaling).

    Deviation: VLMEvalKit's ``point_in_polygon`` toggles on every vertical edge (it lacks the
    ``x <= max(p1x, p2x)`` guard), so an axis-aligned rectangle essentially never contains a point; this uses
    a correct point-in-polygon test.
    """
    answer = gold.strip().lower()
    if answer in ("yes", "no"):
        return 1.0 if pred.strip().lower().startswith(answer) else 0.0
    polygon = parse_polygon(gold)
    if len(polygon) < 3:
        raise ValueError(f"robospatial gold must be 'yes', 'no' or a polygon of ≥ 3 points; got {gold!r}")
    if parse == "official":
        point = parse_first_point_official(pred)
    elif parse == "vlmevalkit":
        points = parse_points(pred, image_size=image_size)
        point = points.unit_points[0] if points.unit_points else None
    else:
        raise ValueError(f"unknown point parser {parse!r}; valid: vlmevalkit, official")
    if point is None:
        return 0.0
    return 1.0 if point_in_polygon(point[0], point[1], polygon) else 0.0
