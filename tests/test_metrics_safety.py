"""Totality and safety: every metric returns a finite float in its range for any text, quickly; pathological
inputs; hard time limits on symbolic math (main thread and worker threads); extraction properties."""

from __future__ import annotations

import math
import re
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from g2rpo.metrics import METRICS, compute
from g2rpo.metrics.extraction import extract_answer, first_answer_block, has_boxed_match, last_boxed_content
from g2rpo.metrics.math import math_equiv, tower_too_costly, tree_too_costly
from g2rpo.metrics.mathvista import MathVistaGold
from g2rpo.metrics.mmmu import extract_mmmu_numbers
from g2rpo.metrics.parsing import strip_code_fence
from g2rpo.metrics.timeouts import watch_time_limits

CH = {"A": "cat", "B": "dog", "C": "bird", "D": "fish"}
_MASK = np.zeros((50, 80), dtype=bool)
_MASK[10:30, 20:60] = True
SQUARE = "[(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]"

# One representative gold (and options) per metric; math_equiv gets a short limit to keep the sweep fast.
CASES: dict[str, list[tuple[object, dict]]] = {
    "anls": [(["golden gate", "bridge"], {})],
    "relaxed_accuracy": [(["12%", "0.5"], {})],
    "ocrbench": [(["cat"], {}), ("\\frac{a}{b}", {"hme": True})],
    "mathvista": [
        (MathVistaGold("4", "multi_choice", "text", ("3", "4", "5")), {}),
        ({"answer": "14", "question_type": "free_form", "answer_type": "integer"}, {"rule": "official"}),
        ({"answer": "[1, 2]", "question_type": "free_form", "answer_type": "list"}, {}),
    ],
    "math_equiv": [("\\frac{1}{2}", {"timeout_s": 0.5})],
    "numeric": [("12.5", {})],
    "multiple_choice": [("B", {"choices": CH}), ("C", {})],
    "mmbench_circular": [("B", {"choices": CH})],
    "mmmu_open": [("14", {})],
    "mmmu_official_mc": [("B", {"choices": CH})],
    "mmmu_official_open": [("14", {}), (["paris", "3.5"], {})],
    "embspatial_mcq": [("B", {})],
    "point_in_mask": [(_MASK, {})],
    "robospatial": [(SQUARE, {}), ("yes", {}), (SQUARE, {"parse": "official"})],
    "iou": [([100, 100, 300, 300], {}), ([100, 100, 300, 300], {"parse": "lenient"})],
    "acc_iou_0.5": [([10, 10, 20, 40], {"gold_coord": "coco_xywh", "image_size": (640, 480), "parse": "lenient"})],
    "charxiv": [("1500", {}), ("alpha, beta", {"inst_category": 1})],
}


def test_every_metric_is_covered() -> None:
    assert set(CASES) == set(METRICS)


def _check(metric: str, prediction: str) -> None:
    spec = METRICS[metric]
    for gold, options in CASES[metric]:
        value = compute(metric, prediction, gold, **options)
        assert isinstance(value, float)
        assert math.isfinite(value)
        assert spec.low <= value <= spec.high, (metric, prediction[:50], value)


_TOKENS = ["<answer>", "</answer>", "<thinking>", "</thinking>", "\\boxed{", "{", "}", "$", "(", ")", "[", "]",
           ",", "1", "0.5", "500", "A", "B", "b", "\n", " ", '"point_2d":', '"boxes":', "1e308", "nan", "-",
           "%", "\\frac", "^", "yes", "cat", "\x00", "\ufffd", ".", "is "]
_FUZZ_TEXT = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))


# A time-limit signal can land in hypothesis' own gc callback, where Python reports it as "unraisable"; the
# limit re-fires 50 ms later, so the call still ends. The warning is expected noise there.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("metric", sorted(CASES))
@settings(max_examples=40, deadline=None)
@given(text=_FUZZ_TEXT)
def test_fuzz_total_finite_in_range(metric: str, text: str) -> None:
    _check(metric, text)


def _pathological() -> list[str]:
    million_boxes = '{"boxes": [' + ",".join(["[1, 2, 3, 4]"] * 1_000_000) + "]}"
    return [
        "",
        "x" * 10_000_000,  # 10 MB
        "A " * 1_000_000,
        "{" * 1_000_000,
        "\\boxed{" * 200_000,
        "<answer>" * 200_000 + "</answer>",
        "$" + "{" * 5000 + "1" + "}" * 5000 + "$",
        "[" * 100_000,
        "\x00" * 10_000,
        "\ufffd" * 10_000,
        "\ud800 lone surrogate",
        "1e308", "-1e308", "inf", "-inf", "nan", "1e-400", "9" * 200_000, "1." * 100_000,
        million_boxes,
        "(1, 2) " * 200_000,
        "(0, 0, 100000, 100000)",
        "$9^{9^{9^9}}$",
        "\\boxed{10^{10^{10^{10}}}}",
        "$(x+1)^{100000}$",
        "$123456789^{123456789}$",
        "$100000!$",
    ]


@pytest.mark.slow
def test_pathological_inputs_every_metric() -> None:
    inputs = _pathological()
    for metric in sorted(CASES):
        for text in inputs:
            _check(metric, text)
            _check(metric, f"<thinking>x</thinking><answer>{text[:100_000]}</answer>")


def test_timeout_main_thread_and_restores_caller_timer() -> None:
    fired: list[int] = []
    old = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        start = time.monotonic()
        assert math_equiv("$9^{9^{9^9}}$", "5", timeout_s=0.5) == 0.0
        elapsed = time.monotonic() - start
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert elapsed < 10.0  # unbounded, this power tower never finishes
    assert 80.0 < remaining <= 100.0  # the caller's own timer was re-armed
    assert not fired
    assert math_equiv("$\\frac{2}{4}$", "0.5") == 1.0


@pytest.mark.slow
def test_timeout_off_main_thread_uses_worker_process() -> None:
    results: list[tuple[float, float, float]] = []

    def work() -> None:
        start = time.monotonic()
        hard = math_equiv("$(x+1)^{100000}$", "5", timeout_s=0.5)
        easy = math_equiv("$\\frac{2}{4}$", "0.5")
        results.append((hard, easy, time.monotonic() - start))

    def watched() -> None:
        with watch_time_limits() as log:
            work()
        results.append((log.expired,) * 3)

    thread = threading.Thread(target=watched)
    thread.start()
    thread.join(120)
    assert results, "the worker thread did not finish"
    hard, easy, elapsed = results[0]
    assert (hard, easy) == (0.0, 1.0)
    assert elapsed < 60.0
    assert results[1][0] == 1  # the worker process reported the expired limit back to this thread's watcher


def test_expired_math_limits_are_recorded() -> None:
    # Not refused by the guards ((x+1)^900: exponent below 10^3), so math_equiv's own limit expires.
    with watch_time_limits() as outer:
        with watch_time_limits() as log:
            assert math_equiv("$(x+1)^{900} - (x-1)^{900}$", "$x^2$", timeout_s=0.05) == 0.0
        assert log.expired == 1
        with watch_time_limits() as fine:
            assert math_equiv("$\\frac{2}{4}$", "0.5") == 1.0
        assert fine.expired == 0
        assert math_equiv("9^9^9^9", "5") == 0.0  # refused by the tower guard: recorded too
    assert outer.expired == 2


@pytest.mark.parametrize(
    ("text", "costly"),
    [
        ("9^9^9^9", True),  # 9^(9^(9^9)): 9^9^9 alone has ~3.7·10^8 digits
        ("$9^{9^{9^9}}$", True),
        ("9**9**9", True),  # 9^387420489: 3.7·10^8 digits
        ("$2^{2^{2^{2^{2^{2}}}}}$", True),  # 2^65536 has 19,729 digits; 2^(2^65536) does not fit anywhere
        ("2^2^2^2^2", False),  # 2^65536: 19,729 digits, under 10^5
        ("$3^{3^3}$", False),  # 3^27 = 7625597484987
        ("$10^{100001}$", True),  # 100,002 digits
        ("$10^{99998}$", False),  # 99,999 digits
        ("$2^{10} + 1$", False),
        ("$x^{2^{100}}$", False),  # no numeric base: nothing for sympy to compute
        ("0.5^{9^9}", False),  # a base below 1 stays small
        ("0.5^{9^{9^9}}", True),  # …but its exponent 9^(9^9) alone has 3.7·10^8 digits
    ],
)
def test_power_tower_guard(text: str, costly: bool) -> None:
    assert tower_too_costly(text) is costly


@pytest.mark.parametrize(
    ("text", "costly"),
    [
        ("$(9^{9})^{9^{9}}$", True),  # (9^9)^(387420489): 3.4·10^9 digits
        ("$100000!$", True),  # 456,574 digits
        ("$1000!$", False),  # 2,568 digits
        ("$(x+1)^{100000}$", True),  # a 100,001-term expansion
        ("$x^{100000}$", False),  # a single symbol: sympy keeps the power
        ("$\\frac{1}{2}$", False),
    ],
)
def test_parsed_tree_guard(text: str, costly: bool) -> None:
    from math_verify import parse

    assert tree_too_costly(parse(text, parsing_timeout=None)) is costly


# ---------------------------------------------------------------- extraction properties (slow references)
_EXTRACT_TEXT = st.lists(
    st.sampled_from(["<answer>", "</answer>", "\\boxed{", "{", "}", "\n", "a", " ", "</thinking>"]), max_size=30
).map("".join)


def _reference_boxed_content(text: str) -> str:
    start = text.rfind("\\boxed{") + len("\\boxed{")
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return text[start:]


@settings(max_examples=300, deadline=None)
@given(text=_EXTRACT_TEXT)
def test_extraction_matches_regex_reference(text: str) -> None:
    match = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    assert first_answer_block(text) == (match.group(1) if match else None)
    assert has_boxed_match(text) == bool(re.search(r"\\boxed\{(.*?)\}", text))
    if "\\boxed{" in text:
        assert last_boxed_content(text) == _reference_boxed_content(text)
        long = text + "}" * 5000  # exercises the vectorised path (> 4096 characters)
        assert last_boxed_content(long) == _reference_boxed_content(long)
    for mode in ("answer_tag", "answer_tag_then_boxed", "after_think", "none"):
        assert extract_answer(text, mode) in text


def test_extraction_on_ten_megabytes() -> None:
    unbalanced = "\\boxed{" + "{" * 5_000_000 + "}" * 5_000_000  # the outer brace never closes → to the end
    assert extract_answer(unbalanced, "answer_tag_then_boxed") == "{" * 5_000_000 + "}" * 5_000_000
    balanced = "\\boxed{" + "{" * 5_000_000 + "}" * 5_000_001 + " tail"
    assert extract_answer(balanced, "answer_tag_then_boxed") == "{" * 5_000_000 + "}" * 5_000_000
    assert extract_answer("x" * 10_000_000 + "<answer> 7 </answer>") == "7"


_NUMERIC_TEXT = st.lists(st.sampled_from(["1", "23", ".", ",", "e", "E", "-", "+", " ", "a", "000"]), max_size=25).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(text=_NUMERIC_TEXT)
def test_mmmu_number_patterns_match_official(text: str) -> None:
    # the official MMMU patterns, verbatim from benchmarks.md §2.1's description (quadratic on long digit runs)
    official = (
        re.findall(r"-?\b\d{1,3}(?:,\d{3})+\b", text)
        + re.findall(r"-?\d+(?:\.\d+)?[eE][+-]?\d+", text)
        + re.findall(r"-?(?:\d+\.\d+|\.\d+|\d+)(?![eE][+-]?\d+)(?![,\d])", text)
    )
    assert extract_mmmu_numbers(text) == official


@settings(max_examples=200, deadline=None)
@given(text=st.lists(st.sampled_from(["```", "json", " ", "\n", "a", "`", "{}", "+"]), max_size=20).map("".join))
def test_strip_code_fence_matches_regex(text: str) -> None:
    match = re.search(r"```[A-Za-z0-9_+\-]*[ \t]*\n?(.*?)```", text, re.DOTALL)
    assert strip_code_fence(text) == (match.group(1) if match else text)


def test_tiny_limits_never_leave_a_timer_armed() -> None:
    before = signal.getsignal(signal.SIGALRM)
    for i in range(40):  # limits from 0.5 ms to 20 ms land at arbitrary points of parsing and comparison
        value = math_equiv(f"$(x+{i})^{{30}}$", "$x^2$", timeout_s=0.0005 * (1 + i))
        assert value in (0.0, 1.0)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before
    assert math_equiv("$x^2 + 2x + 1$", "$(x+1)^2$") == 1.0  # the process still scores correctly
