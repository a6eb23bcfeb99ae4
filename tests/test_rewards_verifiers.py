"""Golden tables for every accuracy verifier (recipe §4; benchmarks.md §3.1–3.2), values derived by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from g2rpo.rewards import VERIFIERS, VerifierConfigError, get_verifier, score_response
from g2rpo.rewards.rouge import rouge_f1

CHOICES = {"A": "cat", "B": "dog", "C": "bird"}


@pytest.mark.parametrize(
    ("pred", "gold", "choices", "expected"),
    [
        ("B", "B", None, 1.0),
        ("(B)", "B", None, 1.0),
        ("B.", "B", None, 1.0),
        ("B) dog", "B", None, 1.0),
        ("\\boxed{B}", "B", None, 1.0),
        ("The answer is B", "B", None, 1.0),
        ("C", "B", None, 0.0),
        ("b", "B", None, 1.0),  # a lone lower-case letter is read as the letter
        ("dog", "B", CHOICES, 1.0),  # the option text itself
        ("Dog.", "B", CHOICES, 1.0),  # case and trailing period ignored
        ("dog", "dog", CHOICES, 1.0),  # gold given as option text
        ("B", "dog", CHOICES, 1.0),
        ("cat", "B", CHOICES, 0.0),
        ("dog", "B", None, 0.0),  # without choices, text cannot be matched
        ("D", "B", {"A": "cat", "B": "dog"}, 0.0),  # D is not an option
        ("", "B", None, 0.0),
    ],
)
def test_multiple_choice(pred, gold, choices, expected) -> None:
    options = {} if choices is None else {"choices": choices}
    assert VERIFIERS["multiple choice"](pred, gold, **options) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("1,234.5", "1234.5", 1.0),
        ("3.14159", "3.14", 1.0),  # round(3.14159, 2) = 3.14
        ("3.146", "3.14", 0.0),  # round → 3.15
        ("12 cm", "12", 1.0),  # unit stripped
        ("$12", "12.00", 1.0),  # currency stripped
        ("−3", "-3", 1.0),  # unicode minus
        ("twelve", "12", 0.0),
        ("12 or 13", "12", 0.0),
        ("inf", "inf", 0.0),
        ("nan", "nan", 0.0),
    ],
)
def test_numerical(pred, gold, expected) -> None:
    assert VERIFIERS["numerical"](pred, gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        # tolerances 1 − θ = 0.05, 0.10, …, 0.50; strict <, so a relative error equal to a tolerance fails it.
        ("100", "100", 1.0),
        ("104", "100", 1.0),  # 0.04 < all ten
        ("105", "100", 0.9),  # 0.05: fails 0.05 only
        ("80", "100", 0.6),  # 0.20: passes 0.25 … 0.50 (6 of 10)
        ("149", "100", 0.1),  # 0.49: passes 0.50 only
        ("150", "100", 0.0),  # 0.50: passes none
        ("-9", "-10", 0.8),  # 0.10: passes 0.15 … 0.50 (8 of 10)
        ("1,050", "1000", 0.9),  # commas stripped: 0.05 again
        ("0", "0", 1.0),  # g = 0: exact match only
        ("0.001", "0", 0.0),
        ("abc", "100", 0.0),
        ("1e308", "1", 0.0),
        ("-1e308", "1e308", 0.0),  # |p − g| overflows to inf
    ],
)
def test_regression(pred, gold, expected) -> None:
    assert VERIFIERS["regression"](pred, gold) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("$\\frac{1}{2}$", "0.5", 1.0),
        ("1/2", "$\\frac{1}{2}$", 1.0),
        ("\\frac{1}{2}", "0.5", 1.0),  # bare LaTeX is wrapped in $…$ by the metric
        ("$\\{1, 2\\}$", "$\\{2, 1\\}$", 1.0),  # sets are order-free
        ("x = 2", "2", 1.0),
        ("$\\sqrt{2}$", "1.41", 0.0),
        ("3", "4", 0.0),
        ("", "4", 0.0),
    ],
)
def test_math(pred, gold, expected) -> None:
    assert VERIFIERS["math"](pred, gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("hello world", "hello world", 1.0),
        ("hello word", "hello world", 0.5),  # 1 substitution / 2 gold words
        ("Hello world", "hello world", 0.5),  # case-sensitive, as the reference
        ("a b c", "a b", 0.5),  # 1 insertion / 2
        ("a b c d", "a b", 0.0),  # 2 insertions / 2 → WER 1
        ("a b c d e", "a b", 0.0),  # WER 1.5 → clamped at 0
        ("b a", "a b", 0.0),  # 2 substitutions / 2
        ("", "a b", 0.0),
        ("  hello \n world ", "hello world", 1.0),  # whitespace tokens
        ("", "", 1.0),
        ("x", "", 0.0),
    ],
)
def test_ocr(pred, gold, expected) -> None:
    assert VERIFIERS["ocr"](pred, gold) == pytest.approx(expected)


def test_open_ended_hand_value() -> None:
    # ref: the cat sat on the mat / pred: the cat is on the mat (6 tokens each).
    # ROUGE-1: overlap the×2, cat, on, mat = 5 → 5/6; ROUGE-2: the-cat, on-the, the-mat = 3 of 5 → 0.6;
    # ROUGE-L: LCS "the cat on the mat" = 5 → 5/6. Mean = (5/6 + 0.6 + 5/6) / 3 = 0.755555…
    assert VERIFIERS["open-ended"]("the cat is on the mat", "the cat sat on the mat") == pytest.approx(
        (5 / 6 + 0.6 + 5 / 6) / 3
    )
    # Stemming: "running cats" and "run cat" share stems run, cat.
    assert VERIFIERS["open-ended"]("running cats", "run cat") == pytest.approx(1.0)
    assert VERIFIERS["open-ended"]("", "run cat") == 0.0


_WORDS = st.sampled_from(
    ["the", "cat", "cats", "sat", "running", "run", "on", "mat", "A", "dog", "1.5", ",", "!"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=25), st.lists(_WORDS, max_size=25))
def test_rouge_equals_rouge_score(pred_words: list[str], ref_words: list[str]) -> None:
    # The reference implementation: rouge-score's RougeScorer with the stemmer (pure-Python LCS table).
    pred, ref = " ".join(pred_words), " ".join(ref_words)
    scores = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(ref, pred)
    expected = (scores["rouge1"].fmeasure, scores["rouge2"].fmeasure, scores["rougeL"].fmeasure)
    assert rouge_f1(pred, ref) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Multiple Choice", "multiple choice"),
        ("MCQ", "multiple choice"),
        ("multiple_choice", "multiple choice"),
        ("OCR", "ocr"),
        ("numeric", "numerical"),
        ("grounding", "spatial grounding"),
        ("Open Ended", "open-ended"),
        ("REGRESSION", "regression"),
    ],
)
def test_problem_type_names_and_aliases(name: str, canonical: str) -> None:
    assert get_verifier(name) is VERIFIERS[canonical]


def test_unknown_problem_type_lists_the_valid_names() -> None:
    with pytest.raises(KeyError, match="multiple choice, numerical, regression, math, ocr"):
        get_verifier("temporal grounding")


def test_unknown_option_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(TypeError, match="choices"):
        VERIFIERS["multiple choice"]("B", "B", choice=["a", "b"])


def test_choices_in_another_shape_are_a_config_error_not_a_silent_zero() -> None:
    with pytest.raises(VerifierConfigError, match="choices must be a mapping letter → text"):
        VERIFIERS["multiple choice"]("dog", "B", choices=["cat", "dog"])


def test_bad_gold_scores_zero() -> None:
    # A gold that is neither a letter nor an option text is a data error: the verifier stays total (0).
    assert VERIFIERS["multiple choice"]("B", "elephant", choices=CHOICES) == 0.0


def _box(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'{{"boxes": [{x1}, {y1}, {x2}, {y2}]}}'


@pytest.mark.parametrize(
    ("pred", "gold", "options", "expected"),
    [
        (_box(0, 0, 100, 100), _box(0, 0, 100, 100), {}, 1.0),
        # inter 100·50 = 5000, union 10000 + 5000 − 5000 = 10000 → IoU exactly 0.5
        (_box(0, 0, 100, 100), _box(0, 0, 100, 50), {}, 0.5),
        # inter 50·50 = 2500, union 2·10000 − 2500 = 17500 → 1/7
        (_box(0, 0, 100, 100), _box(50, 50, 150, 150), {}, 2500 / 17500),
        (_box(100, 100, 0, 0), _box(0, 0, 100, 100), {}, 0.0),  # swapped corners: area 0, not reordered
        (_box(0, 0, 10, 10), _box(20, 20, 30, 30), {}, 0.0),  # disjoint
        ('{"boxes": ["0", "0", "100", "100"]}', _box(0, 0, 100, 100), {}, 1.0),  # numeric strings
        ('[{"bbox_2d": [0, 0, 100, 100]}]', _box(0, 0, 100, 100), {}, 0.0),  # strict parser: not "boxes"
        ("```json\n" + _box(0, 0, 100, 100) + "\n```", _box(0, 0, 100, 100), {}, 0.0),  # fences: strict → 0
        (_box(0, 0, 100, 100), "[0, 0, 100, 100]", {}, 1.0),  # gold as a bare list
        # rel1000 prediction vs a COCO [x, y, w, h] pixel gold on a 200×100 image:
        # gold [50, 25, 100, 50] → xyxy [50, 25, 150, 75] px → unit [0.25, 0.25, 0.75, 0.75];
        # pred [250, 250, 750, 750]/1000 → the same unit box → IoU 1.
        (
            _box(250, 250, 750, 750),
            "[50, 25, 100, 50]",
            {"gold_coord": "coco_xywh", "image_size": (200, 100)},
            1.0,
        ),
        # abs pixels of a Qwen2.5-VL input resized to 400×200 vs rel1000 gold: [100, 50, 300, 150] px of
        # 400×200 → unit [0.25, 0.25, 0.75, 0.75] = rel1000 [250, 250, 750, 750] → IoU 1.
        (
            _box(100, 50, 300, 150),
            _box(250, 250, 750, 750),
            {"pred_coord": "abs", "image_size": (800, 400), "pred_image_size": (400, 200)},
            1.0,
        ),
        # The same pixels read as rel1000 (the mixing error) overlap far less: unit [0.1,0.05,0.3,0.15]
        # vs [0.25,0.25,0.75,0.75] → disjoint in y → 0.
        (_box(100, 50, 300, 150), _box(250, 250, 750, 750), {}, 0.0),
        ("not a box", _box(0, 0, 1, 1), {}, 0.0),
    ],
)
def test_spatial_grounding(pred, gold, options, expected) -> None:
    assert VERIFIERS["spatial grounding"](pred, gold, **options) == pytest.approx(expected)


def test_grounding_configuration_errors_are_raised_not_scored() -> None:
    # Mixed conventions without a size cannot be compared: a caller bug, so an error rather than a silent 0.
    with pytest.raises(VerifierConfigError, match="image_size"):
        VERIFIERS["spatial grounding"](_box(0, 0, 10, 10), "[0, 0, 10, 10]", gold_coord="abs")
    with pytest.raises(VerifierConfigError, match="rel1000, abs, coco_xywh"):
        VERIFIERS["spatial grounding"](_box(0, 0, 10, 10), "[0, 0, 10, 10]", pred_coord="xyxy")


_ANSWERS = st.sampled_from(
    [
        "12",
        "12.004",
        "1,234.5 cm",
        "$\\frac{1}{2}$",
        "0.5",
        "x = 2",
        '{"boxes": [0, 0, 100, 100]}',
        '{"boxes": [0, 0, 100, 50]}',
        "[0, 0, 1, 1]",
        "B",
        "",
        "nan",
        "1e308",
    ]
)
_SHARED = {"numerical": "numeric", "math": "math_equiv", "spatial grounding": "iou"}


@settings(max_examples=60, deadline=None)
@given(answer=_ANSWERS, gold=_ANSWERS, problem_type=st.sampled_from(sorted(_SHARED)), tagged=st.booleans())
def test_reward_accuracy_is_the_benchmark_metric(
    answer: str, gold: str, problem_type: str, tagged: bool
) -> None:
    # One code path: for the shared rules the reward's accuracy on a raw response equals compute(metric, …)
    # with the metric's own default extraction (answer_tag), whenever the metric accepts the gold.
    from g2rpo.metrics import compute

    response = f"<thinking>x</thinking><answer>{answer}</answer>" if tagged else answer
    try:
        expected = compute(_SHARED[problem_type], response, gold)
    except (ValueError, TypeError):  # a gold the metric rejects (a data error there); the reward scores 0
        expected = 0.0
    assert score_response(response, gold, problem_type=problem_type).accuracy == expected
