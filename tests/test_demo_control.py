"""Chance levels of the demo: the best constant answer by hand, and a pixel reader that needs the image.

The pixel reader answers the colour, shape, count and relation questions from the rendered pixels alone
(`test_synth._segments`): it is exact on the real images and, given blank images, can do no better than a
constant answer — the property the demo's blank-image control measures for the trained model.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from g2rpo.data.synth_write import synthesize
from g2rpo.demo.control import best_constant
from test_synth import _segments


def _write(path, answers):
    rows = [
        {"problem_id": f"p{i}", "problem": "<image>Which?", "answer": a, "images": ["x.png"],
         "problem_type": "multiple choice", "task": "general_vqa", "options": ["A. a", "B. b"]}
        for i, a in enumerate(answers)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_best_constant_by_hand(tmp_path):
    # training golds A, A, A, B; validation golds A, B, B: "A" scores 1/3, "B" 2/3 → the best constant is 2/3
    _write(tmp_path / "train.jsonl", ["A", "A", "A", "B"])
    _write(tmp_path / "val.jsonl", ["A", "B", "B"])
    (tmp_path / "x.png").write_bytes(b"")
    assert best_constant(tmp_path / "train.jsonl", tmp_path / "val.jsonl") == {"general_vqa": pytest.approx(2 / 3)}


def _read(record: dict, path) -> str | None:
    """The pixel reader's answer (None when the image shows nothing to read)."""
    segs = _segments(path)
    if not segs:
        return None
    letter = {o[3:]: o[0] for o in record["options"]}
    kind = record["data_source"].removeprefix("synth/")
    if kind == "vqa/colour":
        return letter[segs[0]["colour"]]
    if kind == "vqa/shape":
        return letter[segs[0]["kind"]]
    if kind == "spatial/count":
        return str(len(segs))
    x, y = segs[0]["centre"]
    half = Image.open(path).size[0] / 2
    relation = ("left of" if x < half else "right of") if y == half else ("above" if y < half else "below")
    return letter[relation]


def test_questions_need_the_image(tmp_path):
    data = synthesize(tmp_path / "d", n_train=120, n_val=240, seed=5, progress=False)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (96, 96), (255, 255, 255)).save(blank)
    records = [json.loads(line) for line in data.files["val"].read_text().splitlines()]
    kinds = ("vqa/colour", "vqa/shape", "spatial/count", "spatial/relation")
    chosen = [r for r in records if r["data_source"].removeprefix("synth/") in kinds]
    assert len(chosen) >= 40
    real = [_read(r, data.root / r["images"][0]) == r["answer"] for r in chosen]
    assert all(real)  # exact with the real images
    assert all(_read(r, blank) is None for r in chosen)  # nothing to read in a blank image
    # so the blank-image reader is left with a constant; per question type no constant comes near 1
    for kind in kinds:
        golds = [r["answer"] for r in chosen if r["data_source"].endswith(kind)]
        top = max(golds.count(g) for g in set(golds)) / len(golds)
        assert top < 0.6, (kind, top)
