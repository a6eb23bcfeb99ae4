"""The synthetic data set: determinism, schema, and answers re-derived from the rendered pixels.

The pixel checks are independent of the generator's geometry: they segment the PNG that was written (PIL draws
without anti-aliasing, so every shape is exactly one RGB colour) and recompute each answer from the segments.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from g2rpo.data.render import COLOURS
from g2rpo.data.synth import GENERATORS, TASKS, WORDS, generate_sample
from g2rpo.data.synth_write import synthesize
from g2rpo.tasks import TASK_FAMILIES, canonical_problem_type

SIZE = 96
CELL = 32
N_TRAIN, N_VAL = 60, 60


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, n_train=N_TRAIN, n_val=N_VAL, seed=3, image_size=SIZE, progress=False)
    return root


def _records(root: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (root / f"{split}.jsonl").read_text().splitlines()]


def _all_records(root: Path) -> list[dict]:
    return _records(root, "train") + _records(root, "val")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path, data):
    again = tmp_path / "again"
    synthesize(again, n_train=N_TRAIN, n_val=N_VAL, seed=3, image_size=SIZE, progress=False)
    assert _files(again) == _files(data)
    other = tmp_path / "other"
    synthesize(other, n_train=N_TRAIN, n_val=N_VAL, seed=4, image_size=SIZE, progress=False)
    assert (other / "train.jsonl").read_bytes() != (data / "train.jsonl").read_bytes()


def test_validation_split_is_its_own_stream(data):
    train, val = _records(data, "train"), _records(data, "val")
    assert len(train) == N_TRAIN and len(val) == N_VAL
    assert [r["problem"] + r["answer"] for r in train] != [r["problem"] + r["answer"] for r in val]
    assert all(r["problem_id"].startswith("synth-val-") for r in val)


def test_schema_and_balance(data):
    assert set(GENERATORS) == set(TASK_FAMILIES) == set(TASKS)
    records = _all_records(data)
    ids = [r["problem_id"] for r in records]
    assert len(set(ids)) == len(ids)
    for r in records:
        assert r["problem"].count("<image>") == 1, r
        assert r["problem_type"] == canonical_problem_type(r["problem_type"])
        assert r["task"] in TASK_FAMILIES
        assert r["data_type"] == "image"
        assert [Path(p).is_absolute() for p in r["images"]] == [False]
        assert (data / r["images"][0]).is_file()
        assert r["answer"] and r["reasoning"]
        if r["problem_type"] == "multiple choice":
            letters = [o.split(". ", 1)[0] for o in r["options"]]
            assert letters == list("ABCDEFGH"[: len(letters)]) and r["answer"] in letters
        else:
            assert r["options"] == []
    # 120 records cycle through 6 families: 20 each, 10 per split.
    for split in ("train", "val"):
        counts = {t: sum(r["task"] == t for r in _records(data, split)) for t in TASK_FAMILIES}
        assert set(counts.values()) == {10}
    # every problem type of the issue appears
    assert {r["problem_type"] for r in records} == {
        "spatial grounding", "multiple choice", "numerical", "regression", "math", "ocr",
    }  # fmt: skip


def _segments(path: Path) -> list[dict]:
    """Connected single-colour regions of a shapes image: colour name, kind (by fill ratio), bbox."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    found = []
    for name, rgb in COLOURS.items():
        labels, _ = ndimage.label((pixels == rgb).all(axis=-1))
        for i, sl in enumerate(ndimage.find_objects(labels), start=1):
            area = int((labels[sl] == i).sum())
            h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            fill = area / (h * w)  # square 1.0, circle pi/4 ≈ 0.785, triangle ≈ 0.5
            kind = "square" if fill > 0.95 else "circle" if fill > 0.65 else "triangle"
            box = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
            found.append(
                {
                    "colour": name,
                    "kind": kind,
                    "box": box,
                    "centre": ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                }
            )
    return found


def _named(segments: list[dict], colour: str, kind: str) -> dict:
    matches = [s for s in segments if s["colour"] == colour and s["kind"] == kind]
    assert len(matches) == 1, (colour, kind, segments)
    return matches[0]


def _option(record: dict) -> str:
    return {o[0]: o[3:] for o in record["options"]}[record["answer"]]


def _glyph_cells(path: Path) -> dict[tuple[int, int], np.ndarray]:
    """Cell (row, col) → its pixels, for every cell with any ink."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    cells = {}
    for r in range(SIZE // CELL):
        for c in range(SIZE // CELL):
            crop = pixels[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]
            if (crop != 255).any():
                cells[(r, c)] = crop
    return cells


def _reads(cells: dict, text: str) -> bool:
    """The inked cells, left to right then top to bottom, show `text` (one character per cell): each cell's
    pixels equal that character drawn alone in the same cell."""
    from g2rpo.data.render import draw_glyphs

    if len(cells) != len(text):
        return False
    for ((r, c), crop), char in zip(sorted(cells.items()), text, strict=True):
        alone = np.asarray(draw_glyphs(SIZE, {(r, c): char})).astype(int)
        if not (alone[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] == crop).all():
            return False
    return True


def test_answers_match_the_rendered_pixels(data):
    checked = set()
    for r in _all_records(data):
        kind, image = r["data_source"].removeprefix("synth/"), data / r["images"][0]
        q = r["problem"]
        segs = _segments(image) if not kind.startswith(("math", "ocr", "chart")) else []
        if kind == "grounding/box":
            colour, shape = re.search(r"the (\w+) (\w+) in", q).groups()
            box = _named(segs, colour, shape)["box"]
            gold = json.loads(r["answer"])["boxes"]
            assert gold == [round(v * 1000 / SIZE) for v in box]
        elif kind == "spatial/relation":
            (colour, shape) = re.search(r"the (\w+) (circle|square|triangle)", q).groups()
            x, y = _named(segs, colour, shape)["centre"]
            dx, dy = x - SIZE / 2, y - SIZE / 2
            assert min(abs(dx), abs(dy)) == 0 and max(abs(dx), abs(dy)) >= CELL  # on a centre line
            want = ("left of" if dx < 0 else "right of") if dx else ("above" if dy < 0 else "below")
            assert _option(r) == want
        elif kind == "spatial/distance":
            (colour, shape) = re.search(r"the (\w+) (circle|square|triangle)", q).groups()
            x, y = _named(segs, colour, shape)["centre"]
            # 0–1000 units; the gold rounds the centre first, so allow a unit of rounding
            assert math.hypot(x, y) * 1000 / SIZE == pytest.approx(float(r["answer"]), abs=1.5)
        elif kind == "spatial/count":
            assert len(segs) == int(r["answer"])
        elif kind == "vqa/colour":
            shape = re.search(r"colour is the (\w+)\?", q).group(1)
            assert [s["colour"] for s in segs if s["kind"] == shape] == [_option(r)]
        elif kind == "vqa/shape":
            colour = re.search(r"shape is the (\w+) object", q).group(1)
            assert [s["kind"] for s in segs if s["colour"] == colour] == [_option(r)]
        elif kind in ("chart/tallest", "chart/value"):
            pixels = np.asarray(Image.open(image).convert("RGB")).astype(int)
            n = SIZE // CELL
            bars = []  # per column: (colour name, value = bar height in cells)
            for col in range(n):
                column = pixels[:, col * CELL : (col + 1) * CELL]
                (name,) = [c for c, rgb in COLOURS.items() if (column == rgb).all(axis=-1).any()]
                height = int((column == COLOURS[name]).all(axis=-1).any(axis=1).sum())
                assert height % CELL == 0 and 1 <= height // CELL <= n
                bars.append((name, height // CELL))
            if kind == "chart/tallest":
                assert [o[3:] for o in r["options"]] == [b[0] for b in bars]
                assert _option(r) == max(bars, key=lambda b: b[1])[0]
            else:
                colour = re.search(r"value of the (\w+) bar", q).group(1)
                assert r["answer"] == str(dict(bars)[colour])
        elif kind == "math/arithmetic":
            cells = _glyph_cells(image)
            expression = next(
                f"{a}{op}{b}" for a in range(1, 6) for op in "+-" for b in range(1, 6)
                if _reads(cells, f"{a}{op}{b}")
            )  # fmt: skip
            a, op, b = int(expression[0]), expression[1], int(expression[2])
            assert int(r["answer"]) == (a + b if op == "+" else a - b)
        elif kind == "ocr/words":
            words = r["answer"].split()
            assert all(w in WORDS for w in words)
            assert _reads(_glyph_cells(image), "".join(words).upper())
        else:
            raise AssertionError(f"unchecked generator {kind}")
        checked.add(kind)
    assert checked == {k for family in GENERATORS.values() for k in family}


def test_generate_sample_is_pure_and_rejects_tiny_images():
    a, b = generate_sample(7, "train", 5), generate_sample(7, "train", 5)
    assert a.answer == b.answer and a.image.tobytes() == b.image.tobytes()
    for bad in (32, 100):  # fewer than 3 cells; not a whole number of 32-px cells
        with pytest.raises(ValueError, match="image_size must be a multiple of 32"):
            generate_sample(0, "train", 0, image_size=bad)


def test_records_load_with_the_data_loader(data):
    try:
        from g2rpo.data import load_records
    except ImportError:
        pytest.skip("g2rpo.data.load_records not available yet")
    for split in ("train", "val"):
        records = load_records(data / f"{split}.jsonl", data_root=data)
        assert len(records) == (N_TRAIN if split == "train" else N_VAL)


def test_sft_targets_earn_the_full_training_reward(data):
    """The reasoning-formatted target of every record is a perfect response: accuracy 1, format 1, structure 0.5,
    so overall = 0.9·1 + 0.1·1 + 0.5 = 1.5 (recipe §4)."""
    from g2rpo.rewards import score_response
    from g2rpo.train.sft import sft_target

    for r in _all_records(data):
        b = score_response(
            sft_target(r["reasoning"], r["answer"]),
            r["answer"],
            problem_type=r["problem_type"],
            task=r["task"],
        )
        assert (b.accuracy, b.format, b.structure, b.overall) == (1.0, 1.0, 0.5, pytest.approx(1.5)), r
