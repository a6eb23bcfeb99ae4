"""The format check of recipe §4: is the response ``<thinking>…</thinking><answer>…</answer>``?

The rule is the authors' regular expression,
``\\A\\s*<thinking>.*?</thinking>\\s*<answer>.*?</answer>\\s*\\Z`` (DOTALL, lazy), evaluated in linear
time (a backtracking regex is quadratic on adversarial text such as many ``</thinking><answer>`` pairs with
no closing tag). Whitespace is allowed before, between and after the two
blocks; the tags themselves are matched exactly (case-sensitive, no inner spaces).

Deviation from the authors' code under ``rules="g2rpo"``: OneThinker/OpenVLThinkerV2 first delete the
whitespace around *every* ``<``, ``>`` and ``/`` of the response (``re.sub(r"\\s*(<|>|/)\\s*", r"\\1", ...)``),
which also rewrites the answer text (``1 / 2`` → ``1/2``, ``a < b`` → ``a<b``) and accepts ``< / answer >``.
``g2rpo`` keeps the response untouched; ``rules="reference"`` normalises it first
(:func:`g2rpo.rewards.reference.normalise_tag_spacing`) and then applies this same check.
As in the authors' lazy regex, the blocks may contain further tags (``<answer>A</answer><answer>B</answer>``
passes); accuracy grades the first ``<answer>`` block, so a second one earns nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from g2rpo.metrics.extraction import THINK_TAGS, first_answer_block

_ANSWER_CLOSE = "</answer>"
_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,31}")


def check_think_tag(think_tag: str) -> str:
    """``think_tag`` itself if it is a bare tag name (``thinking``, ``think``, ...); otherwise an error."""
    if not isinstance(think_tag, str) or _TAG_NAME.fullmatch(think_tag) is None:
        raise ValueError(
            f"think_tag must be a bare tag name such as {', '.join(map(repr, THINK_TAGS))}; got {think_tag!r}"
        )
    return think_tag


@lru_cache(maxsize=16)
def _bridge(think_tag: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(think_tag)}>\s*<answer>")


def format_score(response: str, think_tag: str = "thinking") -> float:
    """``f ∈ {0, 1}``: 1 iff ``response`` is one reasoning block followed by one answer block (recipe §4).

    Equivalent to the authors' lazy DOTALL regex: the stripped response starts with ``<thinking>``, ends with
    ``</answer>``, and some ``</thinking>\\s*<answer>`` lies between the two (the first such bridge after the
    opening tag is the one the lazy regex finds, and it fits iff any does). Linear time.

    Args:
        response: the model's raw response.
        think_tag: the reasoning tag, ``"thinking"`` (default, OpenVLThinkerV2) or ``"think"`` (OneThinker).
    """
    open_tag = f"<{check_think_tag(think_tag)}>"
    text = response.strip()
    if not (text.startswith(open_tag) and text.endswith(_ANSWER_CLOSE)):
        return 0.0
    bridge = _bridge(think_tag).search(text, len(open_tag))
    return 1.0 if bridge is not None and bridge.end() <= len(text) - len(_ANSWER_CLOSE) else 0.0


def has_answer_block(response: str) -> bool:
    """True iff ``response`` has an ``<answer>`` tag closed later by ``</answer>`` (strict mode's test)."""
    return first_answer_block(response) is not None
