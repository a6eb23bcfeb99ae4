"""Format and structure checks of recipe §4 (golden tables, and the authors' regex as the reference)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from g2rpo.rewards import VERIFIERS, format_score, has_answer_block

GOOD = "<thinking>two cats, one dog</thinking><answer>B</answer>"


@pytest.mark.parametrize(
    ("response", "think_tag", "expected"),
    [
        (GOOD, "thinking", 1.0),
        ("  <thinking>x</thinking>\n\n<answer> B </answer>\n", "thinking", 1.0),  # whitespace around tags
        ("<thinking></thinking><answer></answer>", "thinking", 1.0),  # empty blocks: the regex allows them
        ("<think>x</think><answer>B</answer>", "thinking", 0.0),  # <think> is not <thinking>
        ("<think>x</think><answer>B</answer>", "think", 1.0),
        ("<thinking>x</thinking><answer>B</answer>", "think", 0.0),
        ("<thinking>x</thinking><answer>B</answer> so B", "thinking", 0.0),  # text after the answer
        ("<thinking>x</thinking> so <answer>B</answer>", "thinking", 0.0),  # text between the blocks
        ("<answer>B</answer>", "thinking", 0.0),
        ("<thinking>x</thinking><answer>B", "thinking", 0.0),
        ("<thinking>x<answer>B</answer>", "thinking", 0.0),
        ("<THINKING>x</THINKING><answer>B</answer>", "thinking", 0.0),  # tags are case-sensitive
        ("< thinking>x</thinking><answer>B</answer>", "thinking", 0.0),  # no OneThinker whitespace squeeze
        (
            "<thinking>x</thinking><answer>A</answer><answer>B</answer>",
            "thinking",
            1.0,
        ),  # authors' lazy regex
        ("<thinking>a</thinking>b</thinking><answer>B</answer>", "thinking", 1.0),  # lazy: 2nd bridge works
        ("", "thinking", 0.0),
    ],
)
def test_format_golden(response: str, think_tag: str, expected: float) -> None:
    assert format_score(response, think_tag) == expected


def test_bad_think_tag_is_an_error() -> None:
    with pytest.raises(ValueError, match="thinking"):
        format_score(GOOD, "<thinking>")


# Unicode whitespace (an em space, an information separator) must be treated as the regex's \s treats it.
FRAGMENTS = [
    "\u2003",
    "\x1c",
    "<thinking>",
    "</thinking>",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    " ",
    "\n",
    "x",
    "<",
    "/",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.sampled_from(["thinking", "think"]))
def test_format_equals_the_authors_regex(parts: list[str], tag: str) -> None:
    # The reference: OpenVLThinkerV2's pattern (OneThinker's with <think>), DOTALL, whole string.
    reference = re.compile(rf"\A\s*<{tag}>.*?</{tag}>\s*<answer>.*?</answer>\s*\Z", re.DOTALL)
    text = "".join(parts)
    assert format_score(text, tag) == (1.0 if reference.match(text) else 0.0)


def test_format_is_linear_on_adversarial_text() -> None:
    # Backtracking regexes are quadratic here; 200k bridges with no closing tag must still be instant.
    text = "<thinking>" + "</thinking><answer>" * 200_000
    assert format_score(text) == 0.0
    assert format_score(text + "</answer>") == 1.0


def test_has_answer_block() -> None:
    assert has_answer_block("x <answer>B</answer>")
    assert not has_answer_block("x <answer>B")
    assert not has_answer_block("</answer> x <answer>")


@pytest.mark.parametrize(
    ("problem_type", "answer", "options", "expected"),
    [
        ("multiple choice", "B", {}, True),
        ("multiple choice", "(B) dog", {}, True),
        ("multiple choice", "dog", {"choices": {"A": "cat", "B": "dog"}}, True),  # option text
        ("multiple choice", "dog", {}, False),  # text without choices names no option
        ("multiple choice", "", {}, False),
        ("numerical", "1,234.5 cm", {}, True),
        ("numerical", "about twelve", {}, False),
        ("numerical", "1e999", {}, False),  # overflows to inf: not a finite number
        ("regression", "3.5", {}, True),
        ("math", "\\frac{1}{2}", {}, True),
        ("math", "\\frac{1}{2", {}, False),  # unbalanced braces
        ("math", "}{", {}, False),
        ("math", "", {}, False),
        ("ocr", "STOP", {}, True),
        ("ocr", "   ", {}, False),
        ("open-ended", "a cat", {}, True),
        ("spatial grounding", '{"boxes": [1, 2, 3, 4]}', {}, True),
        ("spatial grounding", '{"boxes": ["1", "2.5", "3", "4"]}', {}, True),  # numeric strings (OneThinker)
        ("spatial grounding", '{"boxes": [1, 2, 3]}', {}, False),
        ("spatial grounding", '{"boxes": [[1, 2, 3, 4]]}', {}, False),  # nested list
        ("spatial grounding", '[{"bbox_2d": [1, 2, 3, 4]}]', {}, False),  # Qwen3-VL native shape
        ("spatial grounding", "{'boxes': [1, 2, 3, 4]}", {}, False),  # not JSON (single quotes)
        ("spatial grounding", '{"boxes": [1, 2, 3, NaN]}', {}, False),
        ("spatial grounding", '{"boxes": [true, 2, 3, 4]}', {}, False),
    ],
)
def test_well_formed_golden(problem_type: str, answer: str, options: dict, expected: bool) -> None:
    assert VERIFIERS[problem_type].is_well_formed(answer, **options) is expected
