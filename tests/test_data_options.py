"""Multiple-choice options: every written form reads to one letter → text mapping, and back."""

from __future__ import annotations

import pytest

from g2rpo.data.options import OptionsError, format_options, option_lines, read_options


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (["A. red", "B. green"], {"A": "red", "B": "green"}),  # the authors' schema
        (["(A) red", "B) green", "C: blue"], {"A": "red", "B": "green", "C": "blue"}),
        (["red", "green"], {"A": "red", "B": "green"}),  # bare texts, lettered by position
        ({"A": "red", "C": "blue"}, {"A": "red", "C": "blue"}),  # a skipped letter is kept
        (["A. red", "blue"], {"A": "A. red", "B": "blue"}),  # mixed: by position, each string whole
        (["A. 3.5 m", "B. 4"], {"A": "3.5 m", "B": "4"}),  # only the letter's own dot separates
        ([3, 4.5], {"A": "3", "B": "4.5"}),  # numbers are texts
        ([], {}),
        (None, {}),
    ],
)
def test_every_written_form_reads_to_the_mapping(written, expected):
    assert read_options(written) == expected
    assert list(read_options(written)) == list(expected)  # letter order kept


def test_lines_and_the_prompt_block():
    options = {"A": "red", "C": "blue"}
    assert option_lines(options) == ["A. red", "C. blue"]
    assert read_options(option_lines(options)) == options  # the dataset column round-trips
    assert format_options(options) == "Options:\nA. red\nC. blue"
    assert format_options({}) == ""


@pytest.mark.parametrize(
    ("written", "field", "message"),
    [
        ("A. red", "options", "expected a list or an object, got str"),
        (["red", None], "options[1]", "expected text, got NoneType"),
        ([True], "options[0]", "expected text, got bool"),
        ({"a": "red"}, "options", "option keys must be letters A–Z, got 'a'"),
        (["A. red", "A. blue"], "options", "option letter 'A' is repeated"),
        ([str(i) for i in range(27)], "options", "27 options; at most 26"),
    ],
)
def test_unreadable_options_name_the_entry(written, field, message):
    with pytest.raises(OptionsError, match=message) as caught:
        read_options(written)
    assert caught.value.field == field


def test_a_record_built_with_another_shape_says_what_to_do():
    from g2rpo.data import Record

    with pytest.raises(TypeError, match=r"Record\.options must be a mapping letter → text, got tuple"):
        Record("p", "q", "A", "multiple choice", "general_vqa", options=("A. red",))
