"""A synthetic multi-task visual data set in the authors' record schema (`g2rpo data synth`).

Learnability is the design goal: a question is about one salient object, or about cells at fixed positions
(the expression of a math image is always in the middle row, a word starts in the first column, bar `i` is
column `i`), and multiple-choice options keep one fixed order per question kind, so answering needs no
search over objects and no lookup of an option letter.

The world is a grid of 32-px cells (`g2rpo.data.render`): a 96-px image is 3 × 3 cells, one cell per image
token of the tiny Qwen3-VL, and each cell holds at most one large flat object (a coloured shape, a dark
character, or a bar). A tiny vision tower can tell what each of its tokens shows, and the decoder can answer
by finding the right token; the questions cannot be answered without the image (a blank image leaves only the
prior over answers). Ten question generators cover the six task families of the recipe (§2) and their
problem types:

| task family | generator | problem type | question |
|---|---|---|---|
| spatial_grounding | `grounding/box` | spatial grounding | box of a named shape, 0–1000 coordinates |
| spatial_reasoning | `spatial/relation` | multiple choice | is the shape left of / right of / above / below the centre |
| spatial_reasoning | `spatial/count` | numerical | how many shapes |
| spatial_reasoning | `spatial/distance` | regression | distance from the top-left corner to the shape's centre, 0–1000 units |
| general_vqa | `vqa/colour`, `vqa/shape` | multiple choice | colour of a shape / shape of a colour |
| math | `math/arithmetic` | math | value of `a + b` or `a - b` (operands 1–5) drawn as characters in the middle row |
| chart | `chart/tallest` | multiple choice | which bar of a bar chart is tallest |
| chart | `chart/value` | numerical | the value (height in cells) of the bar of a named colour |
| ocr_document | `ocr/words` | ocr | read the three-letter words drawn one per row |

Every answer is computed from the geometry that was drawn, so it is correct by construction. Each record also
carries `reasoning`: a short correct chain of thought, the target of the cold-start SFT stage
(`<thinking>{reasoning}</thinking><answer>{answer}</answer>`). **Length modes:** two families have two ways
of reasoning, drawn per record, so that the SFT model puts them outside their length bands on purpose and RL
has something to choose from (recipe §5): grounding, a vision-centric family, reasons at length in 3 of 4
records (a scan of every object) and briefly in 1 of 4; math, a reasoning-centric family, is terse in 3 of 4
records (`7 + 5 = 12.`) and explains its steps in 1 of 4. The other families have one mode.

Determinism: record `i` of split `s` is drawn from `random.Random(f"g2rpo-synth:{seed}:{s}:{i}")` (string seeds
are hashed with SHA-512 by `random`, so the stream is identical across machines and Python versions). Task
families alternate (`i mod 6`), so every split is balanced across families. Train and validation streams are
independent; a validation question may coincide with a training one by chance, as it would in any
procedurally generated set.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from g2rpo.data.render import (
    CELL,
    COLOURS,
    SHAPE_KINDS,
    SIDES,
    Shape,
    cell_box,
    draw_bars,
    draw_glyphs,
    draw_shapes,
    grid_size,
)
from g2rpo.tasks import TASK_FAMILIES

TASKS: tuple[str, ...] = tuple(TASK_FAMILIES)
"""The six task families (`g2rpo.tasks`), in the order records cycle through them."""

DEFAULT_IMAGE_SIZE = 96
"""Image side in pixels: 3 × 3 cells of 32 px, i.e. 9 image tokens of the tiny Qwen3-VL."""

LETTERS = "ABCDEFGH"
WORDS: tuple[str, ...] = (
    "cat", "dog", "sun", "box", "red", "map", "pen", "cup",
    "hat", "bus", "key", "jar", "fox", "owl", "web", "zip",
)  # fmt: skip
"""Words of the OCR family: three letters each, drawn one letter per cell in capitals."""

MATH_DIGITS: tuple[int, ...] = (1, 2, 3, 4, 5)
"""Operands of the math family: 5 × 5 × 2 = 50 expressions. The demo's 2-layer, 64-wide decoder learns this
table in its SFT budget; with the digits 1–9 (162 expressions) it read the digits right and got the arithmetic
wrong (15% of its own readings added up)."""

LONG_GROUNDING = 0.75
"""Share of grounding records whose reasoning scans every object (else one sentence)."""
LONG_MATH = 0.25
"""Share of math records whose reasoning explains each step (else the bare equation)."""

ROW_NAMES = ("top", "middle", "bottom")
COL_NAMES = ("left", "centre", "right")


@dataclass(frozen=True)
class SynthSample:
    """One generated question before it is written: the image and the record fields that describe it.

    `problem` holds the question with an `<image>` placeholder; `options` are `"A. text"` strings (multiple
    choice only, else empty); `answer` is the gold in the form the problem type's verifier expects.
    """

    task: str
    kind: str
    problem_type: str
    problem: str
    answer: str
    reasoning: str
    image: Image.Image
    options: tuple[str, ...] = ()


Generator = Callable[[random.Random, int], SynthSample]


def _norm(value: float, size: int) -> int:
    """A pixel coordinate on a `size` px image → the 0–1000 scale Qwen3-VL uses for boxes."""
    return round(value * 1000 / size)


def _name(shape: Shape) -> str:
    return f"{shape.colour} {shape.kind}"


def _where(shape: Shape) -> str:
    """`row 2, column 3` (1-based) of the cell a shape is centred in."""
    x, y = shape.centre
    return f"row {int(y // CELL) + 1}, column {int(x // CELL) + 1}"


def _cells(rng: random.Random, n: int, k: int) -> list[tuple[int, int]]:
    """`k` distinct cells of an `n` × `n` grid, in random order."""
    return rng.sample([(r, c) for r in range(n) for c in range(n)], k)


def _shapes(rng: random.Random, size: int, k: int, *, cells=None, big_only: bool = False) -> list[Shape]:
    """`k` shapes in distinct cells with distinct colours (so `colour kind` names one shape); random kinds."""
    cells = cells or _cells(rng, grid_size(size), k)
    colours = rng.sample(sorted(COLOURS), k)
    out = []
    for (row, col), colour in zip(cells, colours, strict=True):
        side = SIDES["large"] if big_only else SIDES[rng.choice(sorted(SIDES))]
        out.append(Shape(rng.choice(SHAPE_KINDS), colour, cell_box(row, col, side)))
    return out


def _fixed_choices(correct: str, pool: list[str]) -> tuple[tuple[str, ...], str]:
    """Every option of `pool` in its fixed order (a letter always means the same answer, so a tiny model
    needs no option lookup) → (`"A. text"` strings, the correct letter)."""
    return tuple(f"{LETTERS[i]}. {t}" for i, t in enumerate(pool)), LETTERS[pool.index(correct)]


def gen_grounding_box(rng: random.Random, size: int) -> SynthSample:
    shapes = _shapes(rng, size, rng.randint(1, 2))
    target = shapes[0]
    box = [_norm(v, size) for v in target.box]
    big = "large" if target.box[2] - target.box[0] == SIDES["large"] else "small"
    if rng.random() < LONG_GROUNDING:
        scan = "; ".join(f"{_name(s)} in {_where(s)}" for s in sorted(shapes, key=lambda s: s.box[::-1]))
        reasoning = (
            f"I scan the grid cell by cell and find {len(shapes)} object(s): {scan}. The {_name(target)} "
            f"is the {big} shape in {_where(target)}, so its box runs from x {box[0]} to {box[2]} "
            f"and from y {box[1]} to {box[3]}."
        )
    else:
        reasoning = f"The {_name(target)} is {big}, in {_where(target)}."
    return SynthSample(
        task="spatial_grounding",
        kind="grounding/box",
        problem_type="spatial grounding",
        problem=f"<image>Locate the {_name(target)} in the image.",
        answer=json.dumps({"boxes": box}),
        reasoning=reasoning,
        image=draw_shapes(size, shapes),
    )


RELATIONS = ("left of", "right of", "above", "below")


def gen_spatial_relation(rng: random.Random, size: int) -> SynthSample:
    n = grid_size(size)
    middle = n // 2
    relation = rng.choice(RELATIONS)
    near = rng.randrange(middle) if relation in ("left of", "above") else rng.randrange(n - middle - 1)
    offset = near if relation in ("left of", "above") else middle + 1 + near
    row, col = (middle, offset) if relation in ("left of", "right of") else (offset, middle)
    (shape,) = _shapes(rng, size, 1, cells=[(row, col)])
    options = tuple(f"{LETTERS[i]}. {r}" for i, r in enumerate(RELATIONS))
    letter = LETTERS[RELATIONS.index(relation)]
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/relation",
        problem_type="multiple choice",
        problem=f"<image>Where is the {_name(shape)} relative to the centre of the image?",
        answer=letter,
        options=options,
        reasoning=f"The {_name(shape)} is in {_where(shape)}, so it is {relation} the centre.",
        image=draw_shapes(size, [shape]),
    )


def gen_spatial_count(rng: random.Random, size: int) -> SynthSample:
    count = rng.randint(1, 4)
    shapes = [
        Shape(rng.choice(SHAPE_KINDS), rng.choice(sorted(COLOURS)), cell_box(r, c, SIDES["large"]))
        for r, c in _cells(rng, grid_size(size), count)
    ]
    tally = ", ".join(str(i + 1) for i in range(count))
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/count",
        problem_type="numerical",
        problem="<image>How many shapes are in the image? Answer with a number.",
        answer=str(count),
        reasoning=f"Counting the shapes one by one: {tally}. There are {count}.",
        image=draw_shapes(size, sorted(shapes, key=lambda s: s.box)),
    )


def gen_spatial_distance(rng: random.Random, size: int) -> SynthSample:
    (shape,) = _shapes(rng, size, 1, big_only=True)
    x, y = (_norm(v, size) for v in shape.centre)
    distance = round(math.hypot(x, y))
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/distance",
        problem_type="regression",
        problem=(
            f"<image>What is the distance from the top-left corner of the image to the centre of the "
            f"{_name(shape)}, in coordinates normalised to 0-1000? Answer with a number."
        ),
        answer=str(distance),
        reasoning=f"The {_name(shape)} is centred at ({x}, {y}), so the distance is sqrt({x}^2 + {y}^2) = {distance}.",
        image=draw_shapes(size, [shape]),
    )


def gen_vqa_colour(rng: random.Random, size: int) -> SynthSample:
    (target,) = _shapes(rng, size, 1)
    options, letter = _fixed_choices(target.colour, sorted(COLOURS))
    return SynthSample(
        task="general_vqa",
        kind="vqa/colour",
        problem_type="multiple choice",
        problem=f"<image>What colour is the {target.kind}?",
        answer=letter,
        options=options,
        reasoning=f"The {target.kind} in {_where(target)} is {target.colour}: option {letter}.",
        image=draw_shapes(size, [target]),
    )


def gen_vqa_shape(rng: random.Random, size: int) -> SynthSample:
    (target,) = _shapes(rng, size, 1)
    options, letter = _fixed_choices(target.kind, list(SHAPE_KINDS))
    return SynthSample(
        task="general_vqa",
        kind="vqa/shape",
        problem_type="multiple choice",
        problem=f"<image>What shape is the {target.colour} object?",
        answer=letter,
        options=options,
        reasoning=f"The {target.colour} object in {_where(target)} is a {target.kind}: option {letter}.",
        image=draw_shapes(size, [target]),
    )


def gen_math_arithmetic(rng: random.Random, size: int) -> SynthSample:
    n = grid_size(size)
    a, b = rng.choice(MATH_DIGITS), rng.choice(MATH_DIGITS)
    op = rng.choice("+-")
    value = a + b if op == "+" else a - b
    row, col = n // 2, 0
    glyphs = {(row, col): str(a), (row, col + 1): op, (row, col + 2): str(b)}
    if rng.random() < LONG_MATH:
        verb = "add" if op == "+" else "subtract"
        reasoning = (
            f"The image shows the expression {a} {op} {b}. The first number is {a}, the "
            f"operator is {op} and the second number is {b}, so I {verb}: {a} {op} {b} = {value}. "
            f"The value is {value}."
        )
    else:
        reasoning = f"{a} {op} {b} = {value}."
    return SynthSample(
        task="math",
        kind="math/arithmetic",
        problem_type="math",
        problem="<image>Compute the value of the expression shown in the image.",
        answer=str(value),
        reasoning=reasoning,
        image=draw_glyphs(size, glyphs),
    )


def _bars(rng: random.Random, size: int) -> tuple[list[str], list[int], int]:
    """One bar per column: distinct colours, distinct values 1..n (so "the tallest bar" is unique), one cell per
    unit: a bar of value v fills the bottom v cells of its column, so each image token is either bar or blank."""
    n = grid_size(size)
    colours = rng.sample(sorted(COLOURS), n)
    values = rng.sample(range(1, n + 1), n)
    return colours, values, CELL


def _readout(colours: list[str], values: list[int]) -> str:
    """Bar by bar, each named by its column (as OCR names its rows): the decoder looks up column i for bar i."""
    return "; ".join(f"bar {i}: {c} {v}" for i, (c, v) in enumerate(zip(colours, values, strict=True), 1))


def gen_chart_tallest(rng: random.Random, size: int) -> SynthSample:
    colours, values, unit = _bars(rng, size)
    top = values.index(max(values))
    options = tuple(f"{LETTERS[i]}. {c}" for i, c in enumerate(colours))
    return SynthSample(
        task="chart",
        kind="chart/tallest",
        problem_type="multiple choice",
        problem="<image>Which bar in the chart is the tallest?",
        answer=LETTERS[top],
        options=options,
        reasoning=f"{_readout(colours, values)}. The tallest is the {colours[top]} bar.",
        image=draw_bars(size, colours, values, unit=unit),
    )


def gen_chart_value(rng: random.Random, size: int) -> SynthSample:
    colours, values, unit = _bars(rng, size)
    i = rng.randrange(len(colours))
    return SynthSample(
        task="chart",
        kind="chart/value",
        problem_type="numerical",
        problem=f"<image>What is the value of the {colours[i]} bar? Answer with a number.",
        answer=str(values[i]),
        reasoning=f"{_readout(colours, values)}. The {colours[i]} bar is {values[i]}.",
        image=draw_bars(size, colours, values, unit=unit),
    )


def gen_ocr_words(rng: random.Random, size: int) -> SynthSample:
    n = grid_size(size)
    rows = sorted(rng.sample(range(n), rng.randint(1, 2)))
    words = [rng.choice(WORDS) for _ in rows]
    glyphs = {(r, i): ch.upper() for r, w in zip(rows, words, strict=True) for i, ch in enumerate(w)}
    spelled = "; ".join(f"row {r + 1}: {' '.join(w.upper())}" for r, w in zip(rows, words, strict=True))
    return SynthSample(
        task="ocr_document",
        kind="ocr/words",
        problem_type="ocr",
        problem="<image>Read the text in the image.",
        answer=" ".join(words),
        reasoning=f"{spelled}.",
        image=draw_glyphs(size, glyphs),
    )


GENERATORS: dict[str, dict[str, Generator]] = {
    "spatial_grounding": {"grounding/box": gen_grounding_box},
    "spatial_reasoning": {
        "spatial/relation": gen_spatial_relation,
        "spatial/count": gen_spatial_count,
        "spatial/distance": gen_spatial_distance,
    },
    "general_vqa": {"vqa/colour": gen_vqa_colour, "vqa/shape": gen_vqa_shape},
    "math": {"math/arithmetic": gen_math_arithmetic},
    "chart": {"chart/tallest": gen_chart_tallest, "chart/value": gen_chart_value},
    "ocr_document": {"ocr/words": gen_ocr_words},
}
"""Task family → {generator name → generator}. A record of a family picks one of its generators uniformly."""


def generate_sample(seed: int, split: str, index: int, *, image_size: int = DEFAULT_IMAGE_SIZE) -> SynthSample:
    """The `index`-th sample of `split` for `seed`: a pure function of its arguments."""
    grid_size(image_size)  # validates the size
    rng = random.Random(f"g2rpo-synth:{seed}:{split}:{index}")
    family = GENERATORS[TASKS[index % len(TASKS)]]
    generator = family[rng.choice(sorted(family))]
    return generator(rng, image_size)


def blank_like(sample: SynthSample) -> Image.Image:
    """A blank image of the sample's size (the control that shows a question needs its image)."""
    return Image.new("RGB", sample.image.size, (255, 255, 255))


def to_record(sample: SynthSample, split: str, index: int) -> tuple[dict[str, object], str]:
    """A sample → (its JSONL record in the authors' schema, its image path relative to the data root)."""
    image_path = f"images/{split}/{index:05d}.png"
    record = {
        "problem_id": f"synth-{split}-{index:05d}",
        "problem": sample.problem,
        "answer": sample.answer,
        "images": [image_path],
        "problem_type": sample.problem_type,
        "task": sample.task,
        "options": list(sample.options),
        "data_type": "image",
        "data_source": f"synth/{sample.kind}",
        "reasoning": sample.reasoning,
    }
    return record, image_path
