"""Golden tables for point-in-mask (RefSpatial), RoboSpatial-Home and point-in-polygon (benchmarks.md §2.13–2.14).

Expected values are derived by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from g2rpo.metrics import compute
from g2rpo.metrics.geometry import point_in_polygon
from g2rpo.metrics.points import parse_points


@pytest.fixture
def mask() -> np.ndarray:
    m = np.zeros((100, 200), dtype=bool)  # H = 100 rows, W = 200 columns
    m[10:20, 50:60] = True  # rows (y) 10–19, columns (x) 50–59
    return m


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('[{"point_2d": [275, 150]}]', 1.0),  # max 275 ≤ 1000 → /1000 → (0.275·200, 0.15·100) = (55, 15)
        ('[{"point_2d": [55, 15]}]', 0.0),  # Qwen2.5 pixels misread as 0–1000: (11, 1.5→2) → outside
        ('{"point": [0.275, 0.15]}', 1.0),  # ≤ 1.5 → already unit
        ('[{"point_2d": [275, 150]}, {"point_2d": [900, 900]}]', 0.5),  # one of two points inside
        ("```json\n[{\"point_2d\": [275, 150]}]\n```", 1.0),  # fence stripped
        ("[(0.275, 0.15)]", 1.0),  # Python literal of a tuple pair (extension)
        ("The object is at (55, 15).", 1.0),  # free text: > 1.5 → pixels (no 0–1000 rule)
        ("Box (50, 10, 59, 19)", 1.0),  # 10 × 10 pixels, all inside
        ("Box (50, 10, 69, 19)", 0.5),  # 20 × 10 pixels, 100 inside
        ('{"point_2d": [1.2, 0.15]}', 0.0),  # off the image (unit x = 1.2) → miss
        ("I cannot tell", 0.0),
    ],
)
def test_point_in_mask_golden(mask: np.ndarray, answer: str, expected: float) -> None:
    assert compute("point_in_mask", f"<answer>{answer}</answer>", mask) == pytest.approx(expected)


def test_point_in_mask_row_is_y_and_pil_mask(mask: np.ndarray) -> None:
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    assert compute("point_in_mask", "(55, 15)", image) == 1.0  # x = 55 (column), y = 15 (row)
    assert compute("point_in_mask", "(15, 55)", image) == 0.0  # transposed → mask[55, 15] is False


def test_pixel_points_beyond_1000(mask: np.ndarray) -> None:
    big = np.zeros((2000, 2000), dtype=bool)
    big[1000:1100, 1500:1600] = True
    # max(|x|, |y|) = 1550 > 1000 → pixels / (W, H) → (0.775, 0.525) → (1550, 1050) → inside
    assert compute("point_in_mask", '{"point_2d": [1550, 1050]}', big) == 1.0
    assert parse_points('{"point_2d": [1550, 1050]}').unit_points == [(-1.0, -1.0)]  # no size → miss


SQUARE = "[(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]"


@pytest.mark.parametrize(
    ("answer", "gold", "options", "expected"),
    [
        ("Nope", "no", {}, 1.0),  # startswith("no")
        ("Yes, it fits", "yes", {}, 1.0),
        ("The answer is yes", "yes", {}, 0.0),
        ("(0.5, 0.5)", SQUARE, {}, 1.0),  # inside an axis-aligned square (VLMEvalKit's bug would miss it)
        ("(0.1, 0.5)", SQUARE, {}, 0.0),  # left of the square: the ray crosses two edges
        ("(0.9, 0.5)", SQUARE, {}, 0.0),
        ("(0.9, 0.5) or (0.5, 0.5)", SQUARE, {}, 0.0),  # only the first point counts
        ('[{"point_2d": [500, 500]}]', SQUARE, {}, 1.0),  # VLMEvalKit parser rescales 0–1000
        ("[500, 500]", SQUARE, {"parse": "official"}, 0.0),  # official: no rescaling
        ("[0.5, 0.5]", SQUARE, {"parse": "official"}, 1.0),
        ("no point here", SQUARE, {}, 0.0),
    ],
)
def test_robospatial_golden(answer: str, gold: str, options: dict, expected: float) -> None:
    assert compute("robospatial", f"<answer>{answer}</answer>", gold, **options) == expected


def test_point_in_polygon_triangle() -> None:
    triangle = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    assert point_in_polygon(0.2, 0.2, triangle)
    assert not point_in_polygon(0.6, 0.6, triangle)  # beyond the hypotenuse x + y = 1
    assert not point_in_polygon(float("nan"), 0.2, triangle)
    assert not point_in_polygon(0.2, 0.2, triangle[:2])


def test_robospatial_bad_gold() -> None:
    with pytest.raises(ValueError, match="polygon"):
        compute("robospatial", "(0.5, 0.5)", "maybe")
