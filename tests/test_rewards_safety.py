"""Totality and safety: pathological model output always gets a finite, in-range reward (issue 3, item 3)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from g2rpo.rewards import VERIFIERS, RewardBreakdown, score_response

GOLDS = {
    "multiple choice": "B",
    "numerical": "12.5",
    "regression": "3",
    "math": "\\frac{1}{2}",
    "ocr": "hello world",
    "spatial grounding": '{"boxes": [10, 20, 300, 400]}',
    "open-ended": "a cat sits on the mat",
}

PATHOLOGICAL = {
    "10 MB": "a" * 10_000_000,
    "10 MB of words, tagged": "<thinking>x</thinking><answer>" + "hello " * 1_700_000 + "</answer>",
    "deep braces": "{" * 100_000 + "}" * 100_000,
    "deep JSON": '{"boxes": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "a million boxes": '{"boxes": [' + ",".join(["1"] * 1_000_000) + "]}",
    "a million answer tags": "<answer>" * 1_000_000,
    "NUL bytes": "<thinking>\x00</thinking><answer>\x00B\x00" + "\x00" * 10_000 + "</answer>",
    "replacement chars": "\ufffd" * 100_000,
    "1e308": "<thinking>big</thinking><answer>1e308</answer>",
    "-1e308": "-1e308",
    "1e309": "1e309",
    "inf": "<thinking>x</thinking><answer>inf</answer>",
    "nan": "nan",
    "nan box": '<thinking>x</thinking><answer>{"boxes": [NaN, Infinity, -Infinity, 1e999]}</answer>',
    "empty": "",
    "lone surrogate-free garbage": "<<<>>>///\\\\\\$$$^^^___{{{",
}


def assert_valid(r: RewardBreakdown) -> None:
    values = (r.accuracy, r.format, r.structure, r.length, r.overall)
    assert all(isinstance(v, float) and math.isfinite(v) for v in values), r
    assert 0.0 <= r.accuracy <= 1.0
    assert r.format in (0.0, 1.0)
    assert r.structure in (0.0, 0.5)
    assert r.structure == 0.0 or r.format == 1.0
    assert 0.0 <= r.overall <= 1.5 + 1e-12


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_responses_score_finite(name: str) -> None:
    response = PATHOLOGICAL[name]
    for problem_type, gold in GOLDS.items():
        assert_valid(score_response(response, gold, problem_type=problem_type))
        assert_valid(
            score_response(response, gold, problem_type=problem_type, strict=True, think_tag="think")
        )


def test_exploding_latex_is_cut_by_the_math_time_limit() -> None:
    # 2^(2^(2^(2^(2^2)))) has ~10^19,728 digits: sympy would never finish; math_equiv's hard limit returns 0.
    response = "<thinking>x</thinking><answer>$2^{2^{2^{2^{2^{2}}}}}$</answer>"
    r = score_response(response, "1", problem_type="math")
    assert_valid(r)
    assert (r.accuracy, r.overall) == (0.0, pytest.approx(0.6))  # format 1, structure 0.5, accuracy 0


def test_numbers_at_the_edge_of_float() -> None:
    assert VERIFIERS["numerical"]("1e308", "1e308") == 1.0
    assert VERIFIERS["numerical"]("1e309", "1e309") == 0.0  # both overflow to inf: never equal
    assert VERIFIERS["regression"]("1e308", "1e308") == 1.0
    assert VERIFIERS["regression"]("1e308", "-1e308") == 0.0


_FRAGMENTS = st.sampled_from(
    [
        "<thinking>",
        "</thinking>",
        "<answer>",
        "</answer>",
        "{",
        "}",
        "B",
        "(B)",
        "1,5",
        "\\frac{1}{2}",
        '{"boxes": [1, 2, 3, 4]}',
        " ",
        "\n",
        "\x00",
        "\ufffd",
        "nan",
    ]
)
_TEXT = st.one_of(st.text(max_size=80), st.lists(_FRAGMENTS, max_size=10).map("".join))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prediction=_TEXT, gold=_TEXT)
@pytest.mark.parametrize("problem_type", list(GOLDS))
def test_every_verifier_is_total_on_arbitrary_text(problem_type: str, prediction: str, gold: str) -> None:
    verifier = VERIFIERS[problem_type]
    value = verifier(prediction, gold)
    assert isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0
    assert isinstance(verifier.is_well_formed(prediction), bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response=_TEXT, gold=_TEXT, problem_type=st.sampled_from(list(GOLDS)), strict=st.booleans())
def test_score_response_is_total_on_arbitrary_text(
    response: str, gold: str, problem_type: str, strict: bool
) -> None:
    assert_valid(score_response(response, gold, problem_type=problem_type, strict=strict))


def test_model_text_is_never_evaluated(tmp_path) -> None:
    # A Python expression with a side effect, as an answer to every verifier: nothing may execute it.
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for problem_type, gold in GOLDS.items():
        assert_valid(
            score_response(
                f"<thinking>x</thinking><answer>{payload}</answer>", gold, problem_type=problem_type
            )
        )
    assert not marker.exists()
