"""PIL drawing primitives for the synthetic data set (`g2rpo.data.synth`).

The images are a grid of cells matched to the vision tower's token grid: a cell is `CELL` = 32 px, exactly the
area of one image token of the tiny Qwen3-VL (16-px patches merged 2 × 2), so what a cell holds is what one
image token sees. A 96-px image is a 3 × 3 grid (9 image tokens). Shapes, glyphs and bars are large, flat and
centred in their cells; shapes are drawn without anti-aliasing, so every shape is exactly one RGB colour.

Every function here is pure: the same arguments draw the same pixels. Randomness lives in the caller, which
passes a seeded `random.Random`; geometry is returned alongside the image so that the answer of a question is
computed from exactly what was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

CELL = 32
"""Cell side in pixels: one image token of the tiny Qwen3-VL (patch 16 × spatial merge 2)."""

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

SIDES: dict[str, int] = {"large": CELL - 4, "small": CELL - 12}
"""Shape side (px) per size word; a shape is centred in its cell."""

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


def grid_size(size: int) -> int:
    """Cells per side of a `size`-px image; `size` must be a multiple of `CELL` with at least 3 cells."""
    if size % CELL or size < 3 * CELL:
        raise ValueError(
            f"image_size must be a multiple of {CELL} px and at least {3 * CELL} (got {size}): one cell per "
            "image token"
        )
    return size // CELL


def cell_box(row: int, col: int, side: int) -> tuple[int, int, int, int]:
    """The pixel box of a `side`-px square centred in cell (`row`, `col`)."""
    x1 = col * CELL + (CELL - side) // 2
    y1 = row * CELL + (CELL - side) // 2
    return (x1, y1, x1 + side, y1 + side)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (no font file needed, so images are identical on every machine)."""
    return ImageFont.load_default(size=size)


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


def draw_glyphs(size: int, glyphs: dict[tuple[int, int], str]) -> Image.Image:
    """Dark characters, one per cell (`(row, col)` → character), each centred in its cell on white."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    face = font(CELL - 6)
    for (row, col), char in glyphs.items():
        left, top, right, bottom = draw.textbbox((0, 0), char, font=face, stroke_width=1)
        x = col * CELL + (CELL - (right - left)) / 2 - left
        y = row * CELL + (CELL - (bottom - top)) / 2 - top
        draw.text((x, y), char, fill=INK, font=face, stroke_width=1, stroke_fill=INK)
    return image


def draw_bars(size: int, colours: list[str], values: list[int], *, unit: int) -> Image.Image:
    """A bar chart: bar `i` fills column `i`'s cell width (less 4 px a side) from the bottom, `values[i]·unit`
    px tall, in `COLOURS[colours[i]]`. No axes or labels: the bars are the only ink."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for i, (colour, value) in enumerate(zip(colours, values, strict=True)):
        if not 0 < value * unit <= size:
            raise ValueError(f"bar value {value} × {unit} px does not fit a {size} px image")
        draw.rectangle((i * CELL + 4, size - value * unit, (i + 1) * CELL - 5, size - 1), fill=COLOURS[colour])
    return image
