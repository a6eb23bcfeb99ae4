"""Reward composition of recipe §4, with every number derived by hand."""

from __future__ import annotations

import pytest

from g2rpo.algo import Envelope
from g2rpo.rewards import RewardBreakdown, extract_answer, score_response


def tagged(answer: str, tag: str = "thinking") -> str:
    return f"<{tag}>Count the legs: four.</{tag}>\n<answer>{answer}</answer>"


def test_correct_formatted_answer_scores_the_maximum() -> None:
    # 0.9·1 + 0.1·1 + 0.5 = 1.5, the authors' maximum.
    assert score_response(tagged("(B) dog"), "B", problem_type="multiple choice") == RewardBreakdown(
        accuracy=1.0, format=1.0, structure=0.5, length=0.0, overall=1.5
    )


def test_wrong_but_well_formed_answer() -> None:
    # 0.9·0 + 0.1·1 + 0.5 = 0.6
    r = score_response(tagged("C"), "B", problem_type="multiple choice")
    assert (r.accuracy, r.format, r.structure, r.overall) == (0.0, 1.0, 0.5, pytest.approx(0.6))


def test_untagged_response_is_graded_whole_and_loses_format_and_structure() -> None:
    # No <answer>: the whole response "B" is graded (authors' behaviour): 0.9·1 + 0 + 0 = 0.9.
    r = score_response("B", "B", problem_type="multiple choice")
    assert (r.accuracy, r.format, r.structure, r.overall) == (1.0, 0.0, 0.0, pytest.approx(0.9))


def test_strict_mode_scores_a_missing_answer_block_zero() -> None:
    r = score_response("B", "B", problem_type="multiple choice", strict=True)
    assert r == RewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)
    # With the block, strict changes nothing.
    assert score_response(tagged("B"), "B", problem_type="mcq", strict=True).overall == pytest.approx(1.5)


def test_think_tag_variants() -> None:
    # <think> under the default "thinking": format 0 → structure 0 → 0.9·1 = 0.9; with think_tag="think": 1.5.
    assert score_response(tagged("B", "think"), "B", problem_type="multiple choice").overall == pytest.approx(
        0.9
    )
    r = score_response(tagged("B", "think"), "B", problem_type="multiple choice", think_tag="think")
    assert r.overall == pytest.approx(1.5)


def test_structure_is_zero_when_format_fails_even_if_well_formed() -> None:
    r = score_response(
        '<answer>{"boxes": [0, 0, 10, 10]}</answer>',
        '{"boxes": [0, 0, 10, 10]}',
        problem_type="spatial grounding",
    )
    # format 0 (no thinking block); IoU 1 → 0.9·1 + 0 + 0 = 0.9
    assert (r.accuracy, r.format, r.structure, r.overall) == (1.0, 0.0, 0.0, pytest.approx(0.9))


def test_partial_credit_composes_linearly() -> None:
    # OCR: 1 of 2 words wrong → a = 0.5; 0.9·0.5 + 0.1 + 0.5 = 1.05
    r = score_response(tagged("hello word"), "hello world", problem_type="ocr")
    assert r.overall == pytest.approx(1.05)
    # Custom format weight 0.2: 0.8·0.5 + 0.2 + 0.5 = 1.1
    assert score_response(
        tagged("hello word"), "hello world", problem_type="ocr", format_weight=0.2
    ).overall == (pytest.approx(1.1))


def test_length_shaping() -> None:
    env = Envelope(100, 200, 400, 600)
    # Plateau: ℓ = 1 → 0.8·1 + 0.1·1 + 0.5 + 0.1·1 = 1.5
    r = score_response(tagged("B"), "B", problem_type="mcq", length=300, envelope=env, length_weight=0.1)
    assert (r.length, r.overall) == (1.0, pytest.approx(1.5))
    # Rising ramp: ℓ = (150 − 100)/(200 − 100) = 0.5 → 0.8 + 0.1 + 0.5 + 0.05 = 1.45
    r = score_response(tagged("B"), "B", problem_type="mcq", length=150, envelope=env, length_weight=0.1)
    assert (r.length, r.overall) == (0.5, pytest.approx(1.45))
    # Falling ramp: ℓ = 1 − (500 − 400)/(600 − 400) = 0.5; beyond d: ℓ = 0 → 0.8 + 0.1 + 0.5 = 1.4
    r = score_response(tagged("B"), "B", problem_type="mcq", length=500, envelope=env, length_weight=0.1)
    assert r.length == 0.5
    r = score_response(tagged("B"), "B", problem_type="mcq", length=601, envelope=env, length_weight=0.1)
    assert (r.length, r.overall) == (0.0, pytest.approx(1.4))
    # Reported but not weighted when w_ℓ = 0.
    r = score_response(tagged("B"), "B", problem_type="mcq", length=150, envelope=env)
    assert (r.length, r.overall) == (0.5, pytest.approx(1.5))


def test_task_gives_the_default_envelope() -> None:
    # spatial_grounding's default envelope is (5, 20, 150, 400): 60 tokens sits on the plateau → ℓ = 1.
    r = score_response(
        tagged("B"), "B", problem_type="mcq", task="spatial_grounding", length=60, length_weight=0.1
    )
    assert r.length == 1.0
    with pytest.raises(KeyError, match="spatial_grounding"):
        score_response(tagged("B"), "B", problem_type="mcq", task="no_such_task", length=60)


def test_length_weight_without_length_is_an_error() -> None:
    with pytest.raises(ValueError, match="length_weight > 0 needs"):
        score_response(tagged("B"), "B", problem_type="mcq", length_weight=0.1)
    with pytest.raises(ValueError, match="finite number"):
        score_response(
            tagged("B"), "B", problem_type="mcq", length=float("nan"), envelope=Envelope(0, 1, 2, 3)
        )


@pytest.mark.parametrize(("w_f", "w_l"), [(-0.1, 0.0), (0.6, 0.5), (float("nan"), 0.0)])
def test_bad_weights_are_errors(w_f: float, w_l: float) -> None:
    with pytest.raises(ValueError, match="format_weight"):
        score_response(
            tagged("B"),
            "B",
            problem_type="mcq",
            format_weight=w_f,
            length_weight=w_l,
            length=1,
            envelope=Envelope(0, 1, 2, 3),
        )


def test_gold_wrapped_in_answer_tags_and_numeric_gold() -> None:
    assert score_response(tagged("B"), "<answer> B </answer>", problem_type="mcq").accuracy == 1.0
    assert score_response(tagged("3.50"), 3.5, problem_type="numerical").accuracy == 1.0


def test_only_the_first_answer_block_is_graded() -> None:
    r = score_response("<thinking>x</thinking><answer>C</answer><answer>B</answer>", "B", problem_type="mcq")
    assert (r.accuracy, r.format) == (0.0, 1.0)


def test_verifier_options_reach_the_verifier() -> None:
    r = score_response(
        tagged("dog"), "B", problem_type="multiple choice", verifier_options={"choices": {"A": "cat", "B": "dog"}}
    )
    assert r.overall == pytest.approx(1.5)
    with pytest.raises(TypeError, match="valid options: choices"):
        score_response(tagged("dog"), "B", problem_type="multiple choice", verifier_options={"opts": 1})


def test_extract_answer_is_reexported() -> None:
    assert extract_answer(tagged(" B ")) == "B"
