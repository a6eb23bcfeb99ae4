"""Golden tables for MMMU (VLMEvalKit and official), EmbSpatial and MathVista (benchmarks.md §2.1, §2.4, §2.12).

Expected values are derived by hand in the comments."""

from __future__ import annotations

import pytest

from g2rpo.metrics import compute
from g2rpo.metrics.embspatial import can_match_option
from g2rpo.metrics.mathvista import MathVistaGold
from g2rpo.metrics.mmmu import parse_mmmu_multi_choice


# ---------------------------------------------------------------- MMMU
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("14", "14", 1.0),  # text "14" is a substring; len 2 ≤ 2·(2 + 13)
        ("140", "14", 1.0),  # containment pitfall of the VLMEvalKit path
        ("The final value that we obtain is 14 after all", "14", 0.0),  # 46 chars > 30 → refused
        ("A", "14", 1.0),  # the reformulated option letter
        ("B", "14", 0.0),
    ],
)
def test_mmmu_open_vlmevalkit(pred: str, gold: str, expected: float) -> None:
    assert compute("mmmu_open", f"<answer>{pred}</answer>", gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("140", "14", 0.0),  # floats: 140 ≠ 14
        ("so the answer is 14.0", "14", 1.0),  # tail after "is " → 14.0 == 14.0
        ("The capital is Paris.", "Paris", 1.0),  # string gold contained in the tail
        ("The capital is Rome.", "Paris", 0.0),
        ("x = 2.5", ["2.5", "5/2"], 1.0),  # "=" indicator in the last sentence; several golds
    ],
)
def test_mmmu_official_open(pred: str, gold: str | list[str], expected: float) -> None:
    assert compute("mmmu_official_open", f"<answer>{pred}</answer>", gold) == expected


MMMU_CH = {"A": "cat", "B": "dog", "C": "bird"}


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ("(B)", "B"),
        ("B.", "B"),  # trailing '.' stripped, then " B " found
        ("A or B", "B"),  # two candidates → the one occurring last
        ("(A) is wrong, (C) is right", "C"),  # bracketed candidates; last occurrence
        ("I think the best choice here is a dog", "B"),  # > 5 tokens → option text
        ("a dog", None),  # ≤ 5 tokens: no text matching; deterministic None instead of random
    ],
)
def test_mmmu_official_mc_parser(pred: str, expected: str | None) -> None:
    assert parse_mmmu_multi_choice(pred, MMMU_CH) == expected


def test_mmmu_official_mc_metric() -> None:
    assert compute("mmmu_official_mc", "<answer>(B)</answer>", "B", choices=MMMU_CH) == 1.0
    assert compute("mmmu_official_mc", "<answer>nothing</answer>", "B", choices=MMMU_CH) == 0.0
    with pytest.raises(ValueError, match="choices"):
        compute("mmmu_official_mc", "B", "B")


# ---------------------------------------------------------------- EmbSpatial
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>behind the chair</answer>", "B"),  # (1) block starting with a letter, whatever follows
        ("I pick (C)</answer>", "C"),  # (2) letter right before </answer>
        ("reasoning</think>\n**b**", "B"),  # (3) single-letter line, markdown and lower case allowed
        ("It is on the left.\nD) the shelf", "D"),  # (4) a line starting D)
        ("The answer is B, since it is nearest to the wall on my left side today", "B"),
        ("the correct answer is c because it is nearer to the camera than others\nthanks", "C"),  # (5)
        ("I am not sure", None),
    ],
)
def test_embspatial_can_match_option(text: str, expected: str | None) -> None:
    assert can_match_option(text) == expected


def test_embspatial_metric() -> None:
    assert compute("embspatial_mcq", "<answer>B</answer>", "B") == 1.0
    # the default post-process removes the tags, so step (1) cannot fire: "behind the chair" → no letter
    assert compute("embspatial_mcq", "<answer>behind the chair</answer>", "B") == 0.0
    assert compute("embspatial_mcq", "<answer>behind the chair</answer>", "B", extraction="none") == 1.0
    with pytest.raises(ValueError, match="option letter"):
        compute("embspatial_mcq", "B", "dog")


# ---------------------------------------------------------------- MathVista
MC = MathVistaGold(answer="4", question_type="multi_choice", answer_type="text", choices=("3", "4", "5"))
INT = {"answer": "14", "question_type": "free_form", "answer_type": "integer"}
FLOAT = {"answer": "1.45", "question_type": "free_form", "answer_type": "float", "precision": 2}
LIST = {"answer": "[1, 2]", "question_type": "free_form", "answer_type": "list"}


@pytest.mark.parametrize(
    ("pred", "gold", "rule", "expected"),
    [
        ("B", MC, "vlmevalkit", 1.0),
        ("(B) 4", MC, "vlmevalkit", 1.0),  # tokens B, 4 → one option letter
        ("4", MC, "vlmevalkit", 1.0),  # option text "4" unique substring
        ("b", MC, "vlmevalkit", 0.0),  # lower case is not a letter
        ("(b)", MC, "official", 1.0),  # (x) → upper-cased letter → "4"
        ("4.0", MC, "official", 1.0),  # closest choice by Levenshtein: "4" (distance 2)
        ("14", INT, "vlmevalkit", 1.0),
        ("14.0", INT, "vlmevalkit", 0.0),  # int("14.0") fails
        ("14.6", INT, "official", 1.0),  # str(int(float)) truncates
        ("14.6", INT, "vlmevalkit", 0.0),
        ("1.450", FLOAT, "vlmevalkit", 1.0),  # float equality
        ("1.4523", FLOAT, "vlmevalkit", 0.0),
        ("1.4523", FLOAT, "official", 1.0),  # round(·, 2) → "1.45"
        ("$1.45", FLOAT, "vlmevalkit", 0.0),  # unparseable without the GPT extractor
        ("[1, 2]", LIST, "vlmevalkit", 1.0),  # VLMEvalKit bug fixed: lists compared
        ("[1.0, 2]", LIST, "vlmevalkit", 1.0),
        ("[1, 3]", LIST, "vlmevalkit", 0.0),
        ("[1,2]", LIST, "official", 0.0),  # official: string equality with "[1, 2]"
    ],
)
def test_mathvista_golden(pred: str, gold: object, rule: str, expected: float) -> None:
    assert compute("mathvista", f"<answer>{pred}</answer>", gold, rule=rule) == expected


def test_mathvista_bad_gold() -> None:
    with pytest.raises(ValueError, match="answer_type"):
        compute("mathvista", "1", {"answer": "1", "question_type": "free_form"})
    with pytest.raises(ValueError, match="rule"):
        compute("mathvista", "1", INT, rule="gpt")
