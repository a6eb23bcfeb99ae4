"""A synthetic multi-task visual data set in the authors' record schema (`g2rpo data synth`).

Ten question generators cover the six task families of the recipe (§2) and their problem types:

| task family | generator | problem type | question |
|---|---|---|---|
| spatial_grounding | `grounding/box` | spatial grounding | box of a named shape, 0–1000 coordinates |
| spatial_reasoning | `spatial/relation` | multiple choice | is shape A left of / right of / above / below B |
| spatial_reasoning | `spatial/count` | numerical | how many shapes of a kind |
| spatial_reasoning | `spatial/distance` | regression | distance between two centres, 0–1000 units |
| general_vqa | `vqa/colour`, `vqa/shape` | multiple choice | colour of a shape / shape of a colour |
| math | `math/arithmetic` | math | value of a sum/difference of digits drawn in the image |
| chart | `chart/tallest` | multiple choice | which bar of a bar chart is tallest |
| chart | `chart/value` | numerical | the value of a named bar |
| ocr_document | `ocr/words` | ocr | read the rendered words |

Every answer is computed from the geometry that was drawn, so it is correct by construction. Each record also
carries `reasoning`: a short correct chain of thought, the target of the cold-start SFT stage
(`<thinking>{reasoning}</thinking><answer>{answer}</answer>`). Reasoning strings are longer for the
reasoning-centric families and shorter for the vision-centric ones, mirroring the recipe's length bands (§5).

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
    COLOURS,
    SHAPE_KINDS,
    Shape,
    draw_bar_chart,
    draw_shapes,
    draw_text,
    place_boxes,
)
from g2rpo.tasks import TASK_FAMILIES

TASKS: tuple[str, ...] = tuple(TASK_FAMILIES)
"""The six task families (`g2rpo.tasks`), in the order records cycle through them."""

LETTERS = "ABCDEFGH"
WORDS: tuple[str, ...] = (
    "apple", "river", "stone", "cloud", "green", "paper", "light", "table", "music", "ocean",
    "plant", "house", "bread", "chair", "dream", "field", "glass", "heart", "lemon", "night",
    "north", "piano", "radio", "sugar", "tiger", "train", "water", "zebra", "model", "vision",
)  # fmt: skip
BAR_LABELS: tuple[str, ...] = ("ant", "bee", "cat", "dog", "elk", "fox")


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


def _distinct_shapes(rng: random.Random, size: int, n: int, *, min_side: int, max_side: int) -> list[Shape]:
    """`n` non-overlapping shapes whose kinds are all different and colours all different (unique names)."""
    kinds = rng.sample(SHAPE_KINDS, n)
    colours = rng.sample(sorted(COLOURS), n)
    boxes = place_boxes(rng, size, n, min_side=min_side, max_side=max_side)
    return [Shape(k, c, b) for k, c, b in zip(kinds, colours, boxes, strict=True)]


def _choices(correct: str, pool: list[str], n: int, rng: random.Random) -> tuple[tuple[str, ...], str]:
    """`n` shuffled options containing `correct` → (`"A. text"` strings, the correct letter)."""
    texts = [correct, *rng.sample([p for p in pool if p != correct], n - 1)]
    rng.shuffle(texts)
    return tuple(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts)), LETTERS[texts.index(correct)]


def gen_grounding_box(rng: random.Random, size: int) -> SynthSample:
    shapes = _distinct_shapes(rng, size, rng.randint(2, 3), min_side=size // 6, max_side=size // 3)
    target = rng.choice(shapes)
    box = [_norm(v, size) for v in target.box]
    return SynthSample(
        task="spatial_grounding",
        kind="grounding/box",
        problem_type="spatial grounding",
        problem=f"<image>Locate the {_name(target)} in the image.",
        answer=json.dumps({"boxes": box}),
        reasoning=f"The {_name(target)} spans x {box[0]}-{box[2]} and y {box[1]}-{box[3]}.",
        image=draw_shapes(size, shapes),
    )


def gen_spatial_relation(rng: random.Random, size: int) -> SynthSample:
    while True:  # resample until one axis clearly dominates, so the relation is unambiguous
        a, b = _distinct_shapes(rng, size, 2, min_side=size // 8, max_side=size // 5)
        (ax, ay), (bx, by) = a.centre, b.centre
        dx, dy = ax - bx, ay - by
        if max(abs(dx), abs(dy)) >= 1.5 * min(abs(dx), abs(dy)) + size / 16:
            break
    if abs(dx) > abs(dy):
        relation, axis = ("left of" if dx < 0 else "right of"), "horizontal"
    else:
        relation, axis = ("above" if dy < 0 else "below"), "vertical"
    options = ("A. left of", "B. right of", "C. above", "D. below")
    letter = LETTERS[[o[3:] for o in options].index(relation)]
    ca = (_norm(ax, size), _norm(ay, size))
    cb = (_norm(bx, size), _norm(by, size))
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/relation",
        problem_type="multiple choice",
        problem=f"<image>Where is the {_name(a)} relative to the {_name(b)}?",
        answer=letter,
        options=options,
        reasoning=(
            f"The {_name(a)} is centred at ({ca[0]}, {ca[1]}) and the {_name(b)} at ({cb[0]}, {cb[1]}). "
            f"The larger offset is {axis}, so the {_name(a)} is {relation} the {_name(b)}."
        ),
        image=draw_shapes(size, [a, b]),
    )


def gen_spatial_count(rng: random.Random, size: int) -> SynthSample:
    kind = rng.choice(SHAPE_KINDS)
    count = rng.randint(1, 5)
    others = rng.randint(0 if count > 1 else 1, 6 - count)
    boxes = place_boxes(rng, size, count + others, min_side=size // 9, max_side=size // 6)
    other_kinds = [k for k in SHAPE_KINDS if k != kind]
    kinds = [kind] * count + [rng.choice(other_kinds) for _ in range(others)]
    shapes = [Shape(k, rng.choice(sorted(COLOURS)), box) for k, box in zip(kinds, boxes, strict=True)]
    tally = ", ".join(str(i + 1) for i in range(count))
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/count",
        problem_type="numerical",
        problem=f"<image>How many {kind}s are in the image? Answer with a number.",
        answer=str(count),
        reasoning=f"Counting the {kind}s one by one: {tally}. There are {count}.",
        image=draw_shapes(size, shapes),
    )


def gen_spatial_distance(rng: random.Random, size: int) -> SynthSample:
    a, b = _distinct_shapes(rng, size, 2, min_side=size // 8, max_side=size // 5)
    (ax, ay), (bx, by) = (tuple(_norm(v, size) for v in s.centre) for s in (a, b))
    dx, dy = abs(ax - bx), abs(ay - by)
    distance = round(math.hypot(dx, dy))
    return SynthSample(
        task="spatial_reasoning",
        kind="spatial/distance",
        problem_type="regression",
        problem=(
            f"<image>What is the distance between the centres of the {_name(a)} and the {_name(b)}, "
            "in coordinates normalised to 0-1000? Answer with a number."
        ),
        answer=str(distance),
        reasoning=(
            f"The centres are ({ax}, {ay}) and ({bx}, {by}), so dx = {dx} and dy = {dy}. "
            f"The distance is sqrt({dx}^2 + {dy}^2) = {distance}."
        ),
        image=draw_shapes(size, [a, b]),
    )


def gen_vqa_colour(rng: random.Random, size: int) -> SynthSample:
    shapes = _distinct_shapes(rng, size, rng.randint(1, 3), min_side=size // 6, max_side=size // 3)
    target = rng.choice(shapes)
    options, letter = _choices(target.colour, sorted(COLOURS), 4, rng)
    return SynthSample(
        task="general_vqa",
        kind="vqa/colour",
        problem_type="multiple choice",
        problem=f"<image>What colour is the {target.kind}?",
        answer=letter,
        options=options,
        reasoning=(
            f"There is one {target.kind} in the image and it is filled with {target.colour}. "
            f"Among the options, {target.colour} is option {letter}."
        ),
        image=draw_shapes(size, shapes),
    )


def gen_vqa_shape(rng: random.Random, size: int) -> SynthSample:
    shapes = _distinct_shapes(rng, size, rng.randint(1, 3), min_side=size // 6, max_side=size // 3)
    target = rng.choice(shapes)
    options, letter = _choices(target.kind, list(SHAPE_KINDS), 3, rng)
    return SynthSample(
        task="general_vqa",
        kind="vqa/shape",
        problem_type="multiple choice",
        problem=f"<image>What shape is the {target.colour} object?",
        answer=letter,
        options=options,
        reasoning=(
            f"The {target.colour} object in the image is a {target.kind}. "
            f"Among the options, {target.kind} is option {letter}."
        ),
        image=draw_shapes(size, shapes),
    )


def gen_math_arithmetic(rng: random.Random, size: int) -> SynthSample:
    terms = [rng.randint(1, 9) for _ in range(rng.randint(2, 3))]
    ops = [rng.choice("+-") for _ in terms[1:]]
    expression = " ".join([str(terms[0])] + [f"{op} {t}" for op, t in zip(ops, terms[1:], strict=True)])
    value, steps = terms[0], []
    for op, term in zip(ops, terms[1:], strict=True):
        new = value + term if op == "+" else value - term
        steps.append(f"{value} {op} {term} = {new}")
        value = new
    return SynthSample(
        task="math",
        kind="math/arithmetic",
        problem_type="math",
        problem="<image>Compute the value of the expression shown in the image.",
        answer=str(value),
        reasoning=f"The image shows {expression}. Working left to right: {'; '.join(steps)}. The value is {value}.",
        image=draw_text(size, [expression, "= ?"], font_size=size // 5),
    )


def _bars(rng: random.Random) -> tuple[list[str], list[int]]:
    n = rng.randint(3, 4)
    labels = rng.sample(BAR_LABELS, n)
    values = rng.sample(range(1, 10), n)  # distinct, so "the tallest bar" is unique
    return labels, values


def _readout(labels: list[str], values: list[int]) -> str:
    return ", ".join(f"{label} = {value}" for label, value in zip(labels, values, strict=True))


def gen_chart_tallest(rng: random.Random, size: int) -> SynthSample:
    labels, values = _bars(rng)
    top = labels[values.index(max(values))]
    options = tuple(f"{LETTERS[i]}. {label}" for i, label in enumerate(labels))
    return SynthSample(
        task="chart",
        kind="chart/tallest",
        problem_type="multiple choice",
        problem="<image>Which bar in the chart is the tallest?",
        answer=LETTERS[labels.index(top)],
        options=options,
        reasoning=f"The bars read {_readout(labels, values)}. The largest value is {max(values)}, the {top} bar.",
        image=draw_bar_chart(size, labels, values, max_value=10),
    )


def gen_chart_value(rng: random.Random, size: int) -> SynthSample:
    labels, values = _bars(rng)
    i = rng.randrange(len(labels))
    return SynthSample(
        task="chart",
        kind="chart/value",
        problem_type="numerical",
        problem=f"<image>What is the value of the {labels[i]} bar? Answer with a number.",
        answer=str(values[i]),
        reasoning=(
            f"The bars read {_readout(labels, values)}. "
            f"The {labels[i]} bar is labelled {values[i]} at its top, so its value is {values[i]}."
        ),
        image=draw_bar_chart(size, labels, values, max_value=10),
    )


def gen_ocr_words(rng: random.Random, size: int) -> SynthSample:
    words = rng.sample(WORDS, rng.randint(1, 2))
    return SynthSample(
        task="ocr_document",
        kind="ocr/words",
        problem_type="ocr",
        problem="<image>Read the text in the image.",
        answer=" ".join(words),
        reasoning=f"The text reads {' '.join(words)}.",
        image=draw_text(size, words, font_size=size // 6),
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


def generate_sample(seed: int, split: str, index: int, *, image_size: int = 128) -> SynthSample:
    """The `index`-th sample of `split` for `seed`: a pure function of its arguments."""
    if image_size < 64:
        raise ValueError(f"image_size must be at least 64 px (got {image_size}): text would not be legible")
    rng = random.Random(f"g2rpo-synth:{seed}:{split}:{index}")
    family = GENERATORS[TASKS[index % len(TASKS)]]
    generator = family[rng.choice(sorted(family))]
    return generator(rng, image_size)


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
