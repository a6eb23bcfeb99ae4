"""PIL drawing primitives for the synthetic data set (`g2rpo.data.synth`).

Every function here is pure: the same arguments draw the same pixels. Randomness lives in the caller, which
passes a seeded `random.Random`; geometry is returned alongside the image so that the answer of a question is
computed from exactly what was drawn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 130, 20),
}
"""Colour name → RGB. Far apart in RGB so that a small image still separates them."""

SHAPE_KINDS: tuple[str, ...] = ("circle", "square", "triangle")
"""Shape names used in questions."""

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass(frozen=True)
class Shape:
    """One filled shape. `box` is its pixel bounding box `(x1, y1, x2, y2)`, `x2`/`y2` exclusive."""

    kind: str
    colour: str
    box: tuple[int, int, int, int]

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (no font file needed, so images are identical on every machine)."""
    return ImageFont.load_default(size=size)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], margin: int) -> bool:
    return not (
        a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1]
    )


def place_boxes(
    rng: random.Random, size: int, n: int, *, min_side: int, max_side: int, margin: int = 4, tries: int = 500
) -> list[tuple[int, int, int, int]]:
    """`n` square, non-overlapping pixel boxes inside a `size`×`size` canvas (rejection sampling).

    Boxes are at least `margin` px apart and from the border. Raises `ValueError` when `n` boxes do not fit
    in `tries` attempts (the canvas is too small for the requested sides).
    """
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(tries):
        if len(boxes) == n:
            break
        side = rng.randint(min_side, max_side)
        x1 = rng.randint(margin, size - margin - side)
        y1 = rng.randint(margin, size - margin - side)
        box = (x1, y1, x1 + side, y1 + side)
        if all(not _overlaps(box, other, margin) for other in boxes):
            boxes.append(box)
    if len(boxes) < n:
        raise ValueError(f"could not place {n} boxes of side {min_side}-{max_side} px on a {size} px canvas")
    return boxes


def draw_shapes(size: int, shapes: list[Shape]) -> Image.Image:
    """A white `size`×`size` RGB image with each shape filled in its colour inside its box."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for shape in shapes:
        x1, y1, x2, y2 = shape.box
        fill = COLOURS[shape.colour]
        if shape.kind == "circle":
            draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=fill)
        elif shape.kind == "square":
            draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=fill)
        elif shape.kind == "triangle":
            draw.polygon([((x1 + x2 - 1) / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)], fill=fill)
        else:
            raise ValueError(f"unknown shape kind {shape.kind!r}; valid: {', '.join(SHAPE_KINDS)}")
    return image


def draw_text(size: int, lines: list[str], *, font_size: int) -> Image.Image:
    """Dark text lines centred on a white `size`×`size` image; raises `ValueError` if a line does not fit."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    face = font(font_size)
    heights = [draw.textbbox((0, 0), line, font=face)[3] for line in lines]
    gap = font_size // 3
    y = (size - sum(heights) - gap * (len(lines) - 1)) // 2
    for line, height in zip(lines, heights, strict=True):
        left, _, right, _ = draw.textbbox((0, 0), line, font=face)
        if right - left > size - 4:
            raise ValueError(f"text {line!r} is wider than the {size} px image at {font_size} px")
        draw.text(((size - (right - left)) // 2 - left, y), line, fill=INK, font=face)
        y += height + gap
    return image


def draw_bar_chart(size: int, labels: list[str], values: list[int], *, max_value: int) -> Image.Image:
    """A vertical bar chart: one bar per label, its value printed above it, labels under the axis.

    Bar heights are linear in value, 0 at the axis and `max_value` at the top of the plot area.
    """
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    label_font = font(max(8, size // 10))
    top, bottom, left, right = size // 8, size - size // 6, size // 10, size - size // 20
    draw.line((left, bottom, right, bottom), fill=INK, width=1)
    draw.line((left, top, left, bottom), fill=INK, width=1)
    slot = (right - left) / len(labels)
    colours = list(COLOURS.values())
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x1 = round(left + slot * i + slot * 0.2)
        x2 = round(left + slot * (i + 1) - slot * 0.2)
        y1 = round(bottom - (bottom - top) * value / max_value)
        draw.rectangle((x1, y1, x2, bottom - 1), fill=colours[i % len(colours)])
        for text, y in ((str(value), y1 - size // 10 - 1), (label, bottom + 2)):
            width = draw.textlength(text, font=label_font)
            draw.text(((x1 + x2 - width) / 2, y), text, fill=INK, font=label_font)
    return image
