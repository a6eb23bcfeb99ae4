"""Synthetic benchmark files in every benchmark's format, and the score path on all 18 benchmarks.

Each builder returns VLMEvalKit-layout rows (with a ``prediction`` column) whose item scores are derived by
hand from benchmarks.md in the comments; the expected headline follows from the aggregation rule.
Other eval tests import :func:`write_benchmark` and :data:`SYNTH` from here.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from g2rpo.evaluation import BENCHMARKS, resolve_benchmark
from g2rpo.evaluation.loaders import write_table
from g2rpo.evaluation.runner import score_predictions

T = "<thinking>reasoning</thinking>"


def png_b64(width: int = 8, height: int = 8, color: int = 128, left_half: bool = False) -> str:
    """A tiny PNG as base64; ``left_half`` → a mask whose columns x < width/2 are 255, the rest 0."""
    image = Image.new("L", (width, height), 0 if left_half else color)
    if left_half:
        image.paste(255, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def ans(text: str) -> str:
    return f"{T}<answer>{text}</answer>"


Rows = list[dict[str, str]]


def mmmu() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", A="x", B="y", C="z", D="w", answer="B", category="Art", split="dev", prediction=ans("B")),
        dict(index="2", question="Q-2", A="x", B="y", C="z", D="w", answer="A", category="Art", split="validation", prediction=ans("C")),  # 0
        dict(index="3", question="Q-3", A="x", B="y", C="z", D="w", answer="C", category="Math", split="validation", prediction=ans("C")),  # 1
        dict(index="4", question="Q-4", answer="14", category="Math", split="validation", prediction=ans("14")),  # open: "14" ⊂ "14" → A → 1
        dict(index="5", question="Q-5", answer="14", category="Math", split="validation", prediction=ans("140")),  # "14" ⊂ "140" → 1 (VLMEvalKit pitfall)
    ]
    for r in rows:
        r["image"] = img
    return rows, 75.0  # validation split only: (0 + 1 + 1 + 1) / 4; dev (100) not averaged in


def mmbench() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        # group 1 (index % 1e6 == 1): both rotations right → 1
        dict(index="1", question="Q-1", hint="look", A="cat", B="dog", answer="A", category="attribute", split="dev", image=img, prediction=ans("A")),
        dict(index="1000001", question="Q-1r", hint="look", A="dog", B="cat", answer="B", category="attribute", split="dev", image="1", prediction=ans("B")),
        # group 2: one rotation wrong → 0
        dict(index="2", question="Q-2", A="red", B="blue", answer="B", category="logic", split="dev", image=img, prediction=ans("B")),
        dict(index="1000002", question="Q-2r", A="blue", B="red", answer="A", category="logic", split="dev", image="2", prediction=ans("B")),
    ]
    return rows, 50.0  # circular: (1 + 0) / 2 groups; vanilla 3/4


def mcq4(answers_preds: list[tuple[str, str]]) -> Rows:
    img = png_b64()
    return [
        dict(index=str(i), question=f"Q-{i}", A="apple", B="banana", C="cherry", D="date", answer=gold, category="c1" if i % 2 else "c2", image=img, prediction=pred)
        for i, (gold, pred) in enumerate(answers_preds, start=1)
    ]


def mmstar() -> tuple[Rows, float]:
    rows = mcq4([
        ("A", ans("A")),  # 1
        ("B", ans("C")),  # 0
        ("C", ans("The answer is C")),  # tokens [The, answer, is, C]: C is among the last 4 → 1
        ("D", ans("I do not know")),  # no option letter, no option text → Z → 0
    ])
    return rows, 50.0


def ai2d() -> tuple[Rows, float]:
    img = png_b64()
    opts = dict(A="D", B="C", C="A", D="B")  # masked diagram labels: option texts are letters
    rows = [
        dict(index="1", question="Q-1", **opts, answer="A", image=img, prediction=ans("A")),  # bare letter = option letter → 1
        dict(index="2", question="Q-2", **opts, answer="A", image=img, prediction=ans("(A) D")),  # two letters, two texts → Z → 0
    ]
    return rows, 50.0


def mathvista() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        # multi_choice: gold is the option TEXT "4"; "B" → can_infer → B, the letter of "4" → 1
        dict(index="1", question="Q-1", answer="4", choices="['3', '4']", question_type="multi_choice", answer_type="text", precision="", task="FQA", image=img, prediction=ans("B")),
        dict(index="2", question="Q-2", answer="14", question_type="free_form", answer_type="integer", precision="", task="GPS", image=img, prediction=ans("14")),  # int("14") == 14 → 1
        dict(index="3", question="Q-3", answer="14", question_type="free_form", answer_type="integer", precision="", task="GPS", image=img, prediction=ans("14.0")),  # int("14.0") fails → 0
        dict(index="4", question="Q-4", answer="1.5", question_type="free_form", answer_type="float", precision="1", task="FQA", image=img, prediction=ans("2.5")),  # 2.5 ≠ 1.5 → 0
    ]
    return rows, 50.0


def mathverse() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", answer="\\frac{1}{2}", problem_version="Vision Only", image=img, prediction=ans("0.5")),  # math-verify 1/2 = 0.5 → 1
        dict(index="2", question="Q-2", answer="3", problem_version="Text Dominant", image=img, prediction=ans("4")),  # 0
    ]
    return rows, 50.0


def mathvision() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", A="1", B="2", C="3", D="4", E="5", answer="B", category="algebra", image=img, prediction=ans("B")),  # 1
        dict(index="2", question="Q-2", answer="12", category="algebra", image=img, prediction=ans("12")),  # 1
        dict(index="3", question="Q-3", answer="7", category="counting", image=img, prediction=ans("8")),  # 0
    ]
    return rows, 200.0 / 3


def chartqa() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", answer="12", split="human", image=img, prediction=ans("12.5")),  # |0.5|/12 = 4.2% ≤ 5% → 1
        dict(index="2", question="Q-2", answer="0", split="human", image=img, prediction=ans("0.0")),  # gold 0: string compare "0.0" ≠ "0" → 0
        dict(index="3", question="Q-3", answer="Yes", split="augmented", image=img, prediction=ans("yes")),  # lower-case equal → 1
        dict(index="4", question="Q-4", answer="50", split="augmented", image=img, prediction=ans("47")),  # 6% > 5% → 0
    ]
    return rows, 50.0


def charxiv() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", answer="0.01", inst_category="3", image=img, prediction=ans("10^{-2}")),  # same value → 1
        dict(index="2", question="Q-2", answer="0.01", inst_category="4", image=img, prediction=ans("0.012")),  # 0.012 ≠ 0.01 → 0
        dict(index="3", question="Q-3", answer="alpha", inst_category="Text-in-Chart", image=img, prediction=ans("α")),  # α ≡ alpha → 1
        dict(index="4", question="Q-4", answer="red, blue", inst_category="2", image=img, prediction=ans("green")),  # differing term → 0
        # a named text category: terms compared as text, "0.50" ≠ "0.5" → 0 (a numeric comparison would give 1)
        dict(index="5", question="Q-5", answer="0.5", inst_category="Text-in-Chart", image=img, prediction=ans("0.50")),
    ]
    return rows, 40.0  # (1 + 0 + 1 + 0 + 0) / 5


def docvqa() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", answer="['golden gate', 'Golden Gate Bridge']", image=img, prediction=ans("Golden  Gate")),  # normalised equal → 1
        dict(index="2", question="Q-2", answer="['abcd']", image=img, prediction=ans("abce")),  # 1 − 1/4 = 0.75
        dict(index="3", question="Q-3", answer="['abcd']", image=img, prediction=ans("wxyz")),  # 1 − 4/4 = 0 → 0
    ]
    return rows, 100 * (1 + 0.75 + 0) / 3


def infovqa() -> tuple[Rows, float]:
    img = png_b64()
    rows = [
        dict(index="1", question="Q-1", answer="['12,000']", image=img, prediction=ans("12000")),  # dist 1, max len 6 → 5/6
        dict(index="2", question="Q-2", answer="['ab']", image=img, prediction=ans("ab")),  # 1
    ]
    return rows, 100 * (5 / 6 + 1) / 2


def ocrbench() -> tuple[Rows, float]:
    img = png_b64()
    hme = "Handwritten Mathematical Expression Recognition"
    rows = [
        dict(index="1", question="Q-1", answer="['cat']", category="Regular Text Recognition", image=img, prediction=ans("Catalog")),  # "cat" ⊂ "catalog" → 1
        dict(index="2", question="Q-2", answer="['hello']", category="Regular Text Recognition", image=img, prediction=ans("world")),  # 0
        dict(index="3", question="Q-3", answer="['x^{2}']", category=hme, image=img, prediction=ans("x ^ { 2 }")),  # spaces removed → 1
    ]
    return rows, 1000 * 2 / 3  # 2 of 3 right, on OCRBench's 1000-item scale (raw points 2)


def embspatial() -> tuple[Rows, float]:
    rows = mcq4([("B", ans("B")), ("C", ans("A"))])  # 1, 0
    return rows, 50.0


def refspatial() -> tuple[Rows, float]:
    img, mask = png_b64(10, 10), png_b64(10, 10, left_half=True)  # mask: x < 5 inside
    rows = [
        dict(index="1", question="Q-1", category="location", image=img, mask=mask, prediction=ans('[{"point_2d": [200, 500]}]')),  # (2, 5) inside → 1
        dict(index="2", question="Q-2", category="placement", image=img, mask=mask, prediction=ans('[{"point_2d": [800, 500]}]')),  # (8, 5) outside → 0
        dict(index="3", question="Q-3", category="location", image=img, mask=mask, prediction=ans('[{"point_2d": [200, 500]}, {"point_2d": [800, 500]}]')),  # 1 of 2 → 0.5
    ]
    return rows, 50.0  # (1 + 0 + 0.5) / 3; location 75, placement 0


def robospatial() -> tuple[Rows, float]:
    img = png_b64()
    square = "[(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)]"
    rows = [
        dict(index="1", question="Q-1", answer="yes", category="configuration", image=img, prediction=ans("Yes, it is")),  # startswith yes → 1
        dict(index="2", question="Q-2", answer="no", category="compatibility", image=img, prediction=ans("The answer is no")),  # does not start with no → 0
        dict(index="3", question="Q-3", answer=square, category="context", image=img, prediction=ans('[{"point_2d": [300, 300]}]')),  # (0.3, 0.3) inside → 1
        dict(index="4", question="Q-4", answer=square, category="context", image=img, prediction=ans('[{"point_2d": [800, 800]}]')),  # outside → 0
    ]
    return rows, 50.0


def refcocog() -> tuple[Rows, float]:
    """RefCOCOg has splits val and test: the RefCOCO rows with testA/testB renamed to test."""
    rows, _ = refcoco()
    for r in rows:
        r["split"] = "test" if r["split"].startswith("test") else r["split"]
    return rows, (50.0 + 100.0 / 3) / 2  # val 1/2, test 1/3 (rows 3 hit, 4 and 5 miss)


def refcoco() -> tuple[Rows, float]:
    img = png_b64(20, 20)
    gold = "[100, 100, 300, 300]"
    rows = [
        dict(index="1", question="the red cup", answer=gold, split="val", image=img, prediction=ans('{"boxes": [100, 100, 300, 300]}')),  # IoU 1 → hit
        dict(index="2", question="the blue cup", answer=gold, split="val", image=img, prediction=ans('{"boxes": [200, 200, 400, 400]}')),  # 100²/(2·200² − 100²) = 1/7 → miss
        dict(index="3", question="left man", answer=gold, split="testA", image=img, prediction=ans('{"boxes": [100, 100, 300, 400]}')),  # 200²/(200·300) = 2/3 → hit
        dict(index="4", question="right man", answer=gold, split="testB", image=img, prediction=ans('[{"bbox_2d": [100, 100, 300, 300]}]')),  # strict parser → 0
        dict(index="5", question="middle man", answer=gold, split="testB", image=img, prediction="no answer"),  # 0
    ]
    return rows, (50.0 + 100.0 + 0.0) / 3  # mean over splits (val 1/2, testA 1/1, testB 0/2); pooled 2/5 = 40


SYNTH: dict[str, Callable[[], tuple[Rows, float]]] = {
    "MMMU_DEV_VAL": mmmu,
    "MMBench_DEV_EN": mmbench,
    "MMStar": mmstar,
    "MathVista_MINI": mathvista,
    "MathVerse_MINI": mathverse,
    "MathVision_MINI": mathvision,
    "AI2D_TEST": ai2d,
    "ChartQA_TEST": chartqa,
    "CharXiv_reasoning_val": charxiv,
    "DocVQA_VAL": docvqa,
    "InfoVQA_VAL": infovqa,
    "OCRBench": ocrbench,
    "EmbSpatialBench": embspatial,
    "RefSpatial": refspatial,
    "RoboSpatialHome": robospatial,
    "RefCOCO": refcoco,
    "RefCOCO+": refcoco,
    "RefCOCOg": refcocog,
}


def columns_of(rows: Rows) -> list[str]:
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    return list(columns)


def write_benchmark(root: Path, name: str, *, predictions: bool = False, suffix: str = ".tsv") -> tuple[Path, float]:
    """Write ``<root>/<name><suffix>`` (without the prediction column unless ``predictions``)."""
    rows, expected = SYNTH[name]()
    if not predictions:
        rows = [{k: v for k, v in r.items() if k != "prediction"} for r in rows]
    path = root / f"{name}{suffix}"
    root.mkdir(parents=True, exist_ok=True)
    if suffix == ".tsv":
        write_table(path, columns_of(rows), rows)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        columns = [c for c in columns_of(rows) if c != "image"]  # VLMEvalKit's xlsx drops images
        sheet.append(columns)
        for r in rows:
            sheet.append([r.get(c, "") for c in columns])
        book.save(path)
    return path, expected


def test_every_benchmark_has_a_synthetic_file() -> None:
    assert set(SYNTH) == set(BENCHMARKS)
    assert len(BENCHMARKS) == 18


@pytest.mark.parametrize("name", sorted(SYNTH))
def test_score_path_every_benchmark(tmp_path: Path, name: str) -> None:
    path, expected = write_benchmark(tmp_path, name, predictions=True)
    run = score_predictions(resolve_benchmark(name), path)
    assert run.result.value == pytest.approx(expected, abs=1e-9)
    assert run.result.n_items == len(SYNTH[name]()[0])


def test_breakdowns_hand_derived(tmp_path: Path) -> None:
    path, _ = write_benchmark(tmp_path, "MMMU_DEV_VAL", predictions=True)
    mmmu_run = score_predictions(resolve_benchmark("MMMU_DEV_VAL"), path).result
    assert mmmu_run.per_split["dev"]["accuracy"] == 100.0
    assert mmmu_run.per_split["validation"]["accuracy"] == 75.0
    assert mmmu_run.per_category["Math"]["accuracy"] == 100.0  # validation rows 3, 4, 5 all right
    path, _ = write_benchmark(tmp_path, "MMBench_DEV_EN", predictions=True)
    mmb = score_predictions(resolve_benchmark("MMBench_DEV_EN"), path).result
    assert mmb.metrics["vanilla_accuracy"] == 75.0
    assert mmb.per_category == {"attribute": {"circular_accuracy": 100.0, "n_groups": 1.0}, "logic": {"circular_accuracy": 0.0, "n_groups": 1.0}}
    path, _ = write_benchmark(tmp_path, "OCRBench", predictions=True)
    ocr = score_predictions(resolve_benchmark("OCRBench"), path).result
    assert ocr.metrics["accuracy"] == pytest.approx(200 / 3)
    assert ocr.metrics["points"] == 2.0
    assert ocr.per_category["Regular Text Recognition"]["points"] == 1.0
    path, _ = write_benchmark(tmp_path, "RefSpatial", predictions=True)
    ref = score_predictions(resolve_benchmark("RefSpatial"), path).result
    assert ref.per_category["location"]["accuracy"] == 75.0
    assert ref.per_category["placement"]["accuracy"] == 0.0
    path, _ = write_benchmark(tmp_path, "RefCOCO", predictions=True)
    coco = score_predictions(resolve_benchmark("RefCOCO"), path).result
    assert coco.metrics["acc@0.5_pooled"] == 40.0
    # mean IoU pooled: (1 + 1/7 + 2/3 + 0 + 0) / 5
    assert coco.metrics["miou"] == pytest.approx(100 * (1 + 1 / 7 + 2 / 3) / 5)
    assert coco.per_split["val"]["acc@0.5"] == 50.0


def test_refcoco_split_names_filter_rows(tmp_path: Path) -> None:
    path, _ = write_benchmark(tmp_path, "RefCOCO+", predictions=True)
    run = score_predictions(resolve_benchmark("RefCOCO+_testB"), path)
    assert run.result.n_items == 2
    assert run.result.value == 0.0
    run = score_predictions(resolve_benchmark("RefCOCO+_testA"), path)
    assert (run.result.n_items, run.result.value) == (1, 100.0)


@pytest.mark.parametrize("suffix", [".tsv", ".xlsx", ".jsonl"])
def test_score_reads_tsv_xlsx_jsonl(tmp_path: Path, suffix: str) -> None:
    path, expected = write_benchmark(tmp_path, "DocVQA_VAL", predictions=True, suffix=suffix)
    assert score_predictions(resolve_benchmark("DocVQA_VAL"), path).result.value == pytest.approx(expected)
