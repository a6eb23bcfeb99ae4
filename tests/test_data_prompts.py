"""Recipe §8 prompts: goldens per problem type, think tag, options block, chat-message form."""

from __future__ import annotations

import pytest

from g2rpo.data import PROBLEM_TYPE_TAILS, THINK_INSTRUCTION, Record, build_prompt, prompt_messages
from g2rpo.tasks import PROBLEM_TYPES

INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <thinking> </thinking> tags. "
    "The final answer MUST BE put in <answer> </answer> tags."
)


def _record(problem: str, problem_type: str, options=(), task="general_vqa") -> Record:
    return Record("p", problem, "x", problem_type, task, images=(), options=tuple(options))


def test_golden_multiple_choice():
    rec = _record("<image>What colour is the square?", "multiple choice", ["A. red", "B. green"])
    assert build_prompt(rec) == (
        "<image>What colour is the square?\n"
        "Options:\nA. red\nB. green\n"
        f"{INSTRUCTION}\n"
        "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer> </answer> tags."
    )


def test_golden_grounding_both_coordinate_conventions():
    rec = _record("<image>Locate the red circle.", "spatial grounding", task="spatial_grounding")
    assert build_prompt(rec) == (
        "<image>Locate the red circle.\n"
        f"{INSTRUCTION}\n"
        'Please provide only the bounding box of the referred object as JSON {"boxes": [x1, y1, x2, y2]} '
        "with coordinates normalised to 0-1000 within the <answer> </answer> tags."
    )
    assert build_prompt(rec, box_units="pixels").endswith(
        'JSON {"boxes": [x1, y1, x2, y2]} with coordinates in absolute pixels within the <answer> </answer> tags.'
    )


def test_golden_numerical_with_think_tag():
    rec = _record("  <image>How many stars?  ", "numerical", ["A. 1"], task="spatial_reasoning")
    assert build_prompt(rec, think_tag="think") == (
        "<image>How many stars?\n"  # stripped; options of a non-MC record are not shown
        "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
        "The reasoning process MUST BE enclosed within <think> </think> tags. "
        "The final answer MUST BE put in <answer> </answer> tags.\n"
        "Please provide the numerical value (e.g., 42 or 3.14) within the <answer> </answer> tags."
    )


def test_options_already_in_problem_are_not_repeated():
    rec = _record("<image>Which?\nOptions:\n(A) x\n(B) y", "multiple choice", ["A. x", "B. y"])
    assert build_prompt(rec).count("Options:") == 1


def test_every_problem_type_has_a_tail_and_bad_arguments_fail():
    assert set(PROBLEM_TYPE_TAILS) == set(PROBLEM_TYPES)
    rec = _record("q", "math")
    with pytest.raises(ValueError, match="think_tag"):
        build_prompt(rec, think_tag="<thinking>")
    with pytest.raises(KeyError, match="valid: 0-1000, pixels"):
        build_prompt(rec, box_units="percent")


def test_wording_matches_the_evaluation_prompts():
    """Train and evaluate on one protocol (benchmarks.md §1): same instruction, same answer tails."""
    evaluation = pytest.importorskip("g2rpo.evaluation.prompts")
    assert evaluation.THINK_INSTRUCTION == THINK_INSTRUCTION
    for kind in ("multiple choice", "numerical", "math"):
        assert evaluation.ANSWER_KINDS[kind] == PROBLEM_TYPE_TAILS[kind]
    assert evaluation.ANSWER_KINDS["spatial grounding"] == PROBLEM_TYPE_TAILS["spatial grounding"].format(
        units="normalised to 0-1000"
    )


def test_prompt_messages_interleave_images_in_place():
    assert prompt_messages("A <image> then <image>\nend", 2) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "A"},
                {"type": "image"},
                {"type": "text", "text": "then"},
                {"type": "image"},
                {"type": "text", "text": "end"},
            ],
        }
    ]
    # No placeholder: images first (TRL's own convention); no images: text only.
    assert prompt_messages("Q", 2)[0]["content"] == [
        {"type": "image"},
        {"type": "image"},
        {"type": "text", "text": "Q"},
    ]
    assert prompt_messages("Q", 0)[0]["content"] == [{"type": "text", "text": "Q"}]
    with pytest.raises(ValueError, match="1 <image> placeholder"):
        prompt_messages("<image>Q", 2)
