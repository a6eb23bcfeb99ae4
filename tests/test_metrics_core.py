"""Golden tables for extraction, the registry and the core rules (multiple_choice, numeric, math_equiv, iou).

Every expected value is derived by hand from benchmarks.md (the rule quoted in the comment)."""

from __future__ import annotations

import pytest

from g2rpo.metrics import METRICS, compute, extract_answer
from g2rpo.metrics.choice import (
    can_infer,
    lenient_option_letter,
    mmbench_circular_accuracy,
    mmbench_circular_group,
)


# ---------------------------------------------------------------- extraction (benchmarks.md §1)
@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("<answer> B </answer>", "answer_tag", "B"),
        ("x<answer>1</answer><answer>2</answer>", "answer_tag", "1"),  # FIRST block
        ("  no tags  ", "answer_tag", "no tags"),  # whole response, stripped
        ("<answer>unclosed", "answer_tag", "<answer>unclosed"),
        ("  no tags  ", "answer_tag_then_boxed", "  no tags  "),  # whole response UNstripped
        ("<answer> \\boxed{1} and \\boxed{\\frac{a}{b}} </answer>", "answer_tag_then_boxed", "\\frac{a}{b}"),
        ("\\boxed{\\text{yes}}", "answer_tag_then_boxed", "\\text{yes}"),  # \text kept
        ("\\boxed{a} then \\boxed{b{c", "answer_tag_then_boxed", "b{c"),  # unbalanced → to the end
        ("\\boxed{a\n}", "answer_tag_then_boxed", "\\boxed{a\n}"),  # regex `.` stops at newline: no match
        ("\\boxed{a} x\n\\boxed{b\n}", "answer_tag_then_boxed", "b\n"),  # first matches; LAST boxed taken
        ("<thinking>r</thinking> 42 ", "after_think", "42"),
        ("<think>r</think> 42 ", "after_think", "<think>r</think> 42"),  # default tag is thinking
        ("raw ", "none", "raw "),
    ],
)
def test_extract_answer_golden(text: str, mode: str, expected: str) -> None:
    assert extract_answer(text, mode) == expected


def test_think_tag_configurable() -> None:
    assert extract_answer("<think>r</think> 42", "after_think", think_tag="think") == "42"
    with pytest.raises(ValueError, match="think_tag"):
        extract_answer("x", "answer_tag", think_tag="<think>")
    with pytest.raises(KeyError, match="answer_tag_then_boxed"):
        extract_answer("x", "boxed_only")


def test_think_vs_thinking_in_compute() -> None:
    qwen3 = "<think>golden gate</think> bridge"
    # after_think with the matching tag keeps "bridge" only → ANLS 1
    assert compute("anls", qwen3, "bridge", extraction="after_think", think_tag="think") == 1.0
    # default tag (thinking): no closing tag, the whole 33-char response is scored: distance ≥ 33 − 6 → ≤ 0.18 → 0
    assert compute("anls", qwen3, "bridge", extraction="after_think") == 0.0
    # the <answer> rule does not depend on the think tag
    for tag in ("think", "thinking"):
        response = f"<{tag}>A or C?</{tag}><answer>B</answer>"
        assert compute("multiple_choice", response, "B", choices=CH, think_tag=tag) == 1.0


# ---------------------------------------------------------------- registry
def test_unknown_metric_lists_names() -> None:
    with pytest.raises(KeyError, match="multiple_choice"):
        compute("accuracy", "A", "A")


def test_extraction_override() -> None:
    # default for multiple_choice is the VLMEvalKit post-process; "none" scores the raw text.
    raw = "<answer>B</answer>"
    assert compute("multiple_choice", raw, "B") == 1.0
    # raw tokens: "<answer>B<" "/answer>" → no standalone letter token → unmatched.
    assert compute("multiple_choice", raw, "B", extraction="none") == 0.0


def test_every_metric_has_valid_extraction() -> None:
    from g2rpo.metrics.extraction import EXTRACTION_MODES

    for spec in METRICS.values():
        assert spec.extraction in EXTRACTION_MODES
        assert spec.low < spec.high


# ---------------------------------------------------------------- can_infer (benchmarks.md §2.2)
CH = {"A": "cat", "B": "dog", "C": "bird", "D": "fish"}


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("The answer is B.", "B"),  # tokens: The answer is B → B at index 3 > 4-5
        ("B. dog", "B"),
        ("A", "A"),
        ("A dog", None),  # A and... only A is an option token: index 0 > 2-5 → A. see below
        ("B, C", None),  # two letters
        ("b", None),  # lower case is not an option; "b" not an option text either
        ("B because the animal barks loudly at night", None),  # letter followed by ≥ 4 tokens
        ("dog", "B"),  # unique option text
        ("a dog or a cat", None),  # two option texts
        ("Z", "Z"),
        ("Cannot determine the answer", "Z"),
    ],
)
def test_can_infer_golden(pred: str, expected: str | None) -> None:
    if pred == "A dog":
        # tokens ["A", "dog"]: one option letter (A), index 0 > len 2 − 5 → "A" (the article pitfall)
        assert can_infer(pred, CH) == "A"
        return
    assert can_infer(pred, CH) == expected


def test_ai2d_letter_labels() -> None:
    labels = {"A": "D", "B": "C", "C": "A", "D": "B"}
    assert compute("multiple_choice", "<answer>A</answer>", "A", choices=labels) == 1.0  # option letter
    # "(A) D": tokens A, D → two option letters → unmatched; text: "d" and "a" both substrings → unmatched
    assert compute("multiple_choice", "<answer>(A) D</answer>", "A", choices=labels) == 0.0


def test_gold_as_option_text() -> None:
    assert compute("multiple_choice", "<answer>B</answer>", "dog", choices=CH) == 1.0
    with pytest.raises(ValueError, match="neither"):
        compute("multiple_choice", "B", "horse", choices=CH)


def test_mmbench_circular() -> None:
    assert mmbench_circular_group([1.0, 1.0, 1.0, 1.0]) == 1.0
    assert mmbench_circular_group([1.0, 0.0, 1.0, 1.0]) == 0.0
    # groups: 7 → rows 7, 1000007 (both right) → 1; 8 → rows 8, 1000008 (one wrong) → 0; mean 0.5
    assert mmbench_circular_accuracy([7, 1_000_007, 8, 1_000_008], [1, 1, 1, 0]) == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("B", "B"), ("(B)", "B"), ("B.", "B"), ("B) dog", "B"), ("\\boxed{B}", "B"), ("$B$", "B"),
     ("b", "B"), ("{B}", "B"), ("The answer is B", "B"), ("dog", "B"), ("horse", None), ("B dog", None)],
)
def test_lenient_option_letter(text: str, expected: str | None) -> None:
    assert lenient_option_letter(text, CH) == expected


# ---------------------------------------------------------------- numeric / math_equiv
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("3.14159", "3.14", 1.0),  # round(·, 2) both → 3.14
        ("3.146", "3.14", 0.0),  # 3.15 ≠ 3.14
        ("1,234", "1234", 1.0),
        ("12 cm", "12", 1.0),
        ("$45", "45", 1.0),
        ("−3", "-3", 1.0),
        ("inf", "inf", 0.0),
        ("nan", "nan", 0.0),
        ("1e308", "1e308", 1.0),
        ("twelve", "12", 0.0),
    ],
)
def test_numeric_golden(pred: str, gold: str, expected: float) -> None:
    assert compute("numeric", f"<answer>{pred}</answer>", gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("$\\frac{1}{2}$", "0.5", 1.0),
        ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", 1.0),  # bare LaTeX gold wrapped
        ("$x=2$", "2", 1.0),
        ("$\\{1,2\\}$", "$\\{2,1\\}$", 1.0),  # sets are order-free
        ("$3$", "$4$", 0.0),
        ("B", "B", 1.0),  # identical strings (math-verify parses neither)
        ("A", "B", 0.0),
    ],
)
def test_math_equiv_golden(pred: str, gold: str, expected: float) -> None:
    assert compute("math_equiv", f"<answer>{pred}</answer>", gold) == expected


# ---------------------------------------------------------------- iou (benchmarks.md §2.15)
def test_iou_exact_half_and_threshold() -> None:
    # pred [0,0,10,10] ∩ gold [0,0,10,20] = 100; union = 100 + 200 − 100 = 200 → IoU 0.5 → Acc@0.5 = 1
    pred = '<answer>{"boxes": [0, 0, 10, 10]}</answer>'
    assert compute("iou", pred, [0, 0, 10, 20]) == 0.5
    assert compute("acc_iou_0.5", pred, [0, 0, 10, 20]) == 1.0
    # gold [0,0,10,20.01]: union 200.1 → IoU < 0.5 → 0
    assert compute("acc_iou_0.5", pred, [0, 0, 10, 20.01]) == 0.0
    assert compute("acc_iou_0.5", pred, [0, 0, 10, 20], threshold=0.7) == 0.0  # R@0.7
    # rel1000 → unit conversion of an exact-0.5 overlap: [0,0,100,100] vs coco [0,0,64,96] on 640×480
    # = unit [0,0,0.1,0.2]: IoU = 0.01 / 0.02 = 0.5 (up to rounding) → still accepted
    assert compute("acc_iou_0.5", '{"boxes": [0, 0, 100, 100]}', [0, 0, 64, 96], gold_coord="coco_xywh",
                   image_size=(640, 480)) == 1.0


def test_iou_strict_vs_lenient() -> None:
    gold = [100, 100, 300, 300]
    for text in ('[{"bbox_2d": [100, 100, 300, 300], "label": "cat"}]', '```json\n{"boxes": [100,100,300,300]}\n```',
                 "{'boxes': [100, 100, 300, 300]}", "The box is [100, 100, 300, 300]."):
        assert compute("iou", text, gold) == 0.0  # strict OneThinker parser
        assert compute("iou", text, gold, parse="lenient") == 1.0
    assert compute("iou", '{"boxes": ["100", "100", "300", "300"]}', gold) == 1.0  # numeric strings ok


def test_iou_swapped_corners_and_conventions() -> None:
    assert compute("iou", '{"boxes": [300, 300, 100, 100]}', [100, 100, 300, 300]) == 0.0
    # rel1000 [250, 500, 500, 1000] on a 400×200 image = pixels [100, 100, 200, 200] = coco [100, 100, 100, 100]
    pred = '{"boxes": [250, 500, 500, 1000]}'
    assert compute("iou", pred, [100, 100, 100, 100], gold_coord="coco_xywh", image_size=(400, 200)) == 1.0
    assert compute("iou", pred, [100, 100, 200, 200], gold_coord="abs", image_size=(400, 200)) == 1.0
    # Qwen2.5 abs on a resized 800×400 input: [200, 200, 400, 400] → original 400×200: [100, 100, 200, 200]
    assert compute("iou", '{"boxes": [200, 200, 400, 400]}', [100, 100, 200, 200], pred_coord="abs",
                   gold_coord="abs", image_size=(400, 200), pred_image_size=(800, 400)) == 1.0
    with pytest.raises(ValueError, match="image_size"):
        compute("iou", pred, [100, 100, 100, 100], gold_coord="coco_xywh")
    with pytest.raises(ValueError, match="rel1000"):
        compute("iou", pred, [1, 2, 3, 4], gold_coord="xyxy")
