"""Final-answer extraction from a model response (benchmarks.md §1 and §4.1).

Every metric scores an *extracted* answer, never the raw chain of thought: containment rules (OCRBench,
VLMEvalKit's MMMU-open path) are meaningless on a full response. The modes:

``"answer_tag"``
    The first ``<answer>…</answer>`` block, stripped; without one, the whole response stripped. This is the
    OneThinker / OpenVLThinkerV2 reward and ``eval_bench.py`` rule (recipe §4).
``"answer_tag_then_boxed"``
    VLMEvalKit ``Qwen3VLChat(post_process=True)``, the evaluation post-process used for 15 of the 18
    benchmarks: (1) the first ``<answer>`` block stripped, else the whole response *unstripped*; (2) if that
    text matches the regex ``\\boxed\\{(.*?)\\}`` (a ``\\boxed{`` followed by a ``}`` on the same line), it is
    replaced by the content of the LAST ``\\boxed{…}``, braces matched, unbalanced → up to the end.
    ``\\text{…}`` inside is kept.
``"after_think"``
    The text after the last closing think tag (``</thinking>`` by default), stripped; without one, the whole
    response stripped. VLMEvalKit's ``SPLIT_THINK=1`` generalised to a configurable tag (VLMEvalKit only
    knows ``</think>``).
``"none"``
    The response unchanged.

All modes scan with ``str.find`` (linear time, no regular-expression backtracking), so 10 MB responses are
handled in milliseconds.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = [
    "EXTRACTION_MODES",
    "THINK_TAGS",
    "extract_answer",
    "first_answer_block",
    "has_boxed_match",
    "last_boxed_content",
    "text_after_think",
]

EXTRACTION_MODES: tuple[str, ...] = ("answer_tag", "answer_tag_then_boxed", "after_think", "none")
"""Valid values of ``mode`` in :func:`extract_answer`."""

THINK_TAGS: tuple[str, ...] = ("thinking", "think")
"""The think-tag names in use: ``thinking`` (OpenVLThinkerV2's prompt) and ``think`` (Qwen3, OneThinker)."""

_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,31}")
_BOXED = "\\boxed{"


def first_answer_block(text: str, tag: str = "answer") -> str | None:
    """Content of the first ``<tag>…</tag>`` block (not stripped), or ``None`` when there is none.

    Equivalent to ``re.search(r"<tag>(.*?)</tag>", text, re.DOTALL)``: the leftmost opening tag that has a
    closing tag after it. If the first opening tag has no closing tag after it, no later one has either.
    """
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    start = text.find(open_tag)
    if start < 0:
        return None
    start += len(open_tag)
    end = text.find(close_tag, start)
    if end < 0:
        return None
    return text[start:end]


def has_boxed_match(text: str) -> bool:
    """Whether ``re.search(r"\\\\boxed\\{(.*?)\\}", text)`` would match: some ``\\boxed{`` is followed by a
    ``}`` before the next newline (``.`` does not cross newlines without DOTALL).

    Linear time: the next ``}`` / newline positions are cached while scanning occurrences left to right.
    """
    pos = text.find(_BOXED)
    next_close = next_newline = -2
    while pos >= 0:
        body = pos + len(_BOXED)
        if next_close != -1 and next_close < body:
            next_close = text.find("}", body)
        if next_close == -1:
            return False
        if next_newline != -1 and next_newline < body:
            next_newline = text.find("\n", body)
        if next_newline == -1 or next_close < next_newline:
            return True
        pos = text.find(_BOXED, body)
    return False


def last_boxed_content(text: str) -> str | None:
    """Content of the LAST ``\\boxed{…}`` with brace matching; unbalanced → everything after ``\\boxed{``.

    Returns ``None`` when the text has no ``\\boxed{``. Linear time (vectorised for long tails).
    """
    pos = text.rfind(_BOXED)
    if pos < 0:
        return None
    body = text[pos + len(_BOXED) :]
    end = _matching_close(body)
    return body if end is None else body[:end]


def _matching_close(body: str) -> int | None:
    """Index in ``body`` of the ``}`` closing an already-open brace, or ``None`` when unbalanced."""
    if len(body) > 4096:
        codes = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        braces = np.flatnonzero((codes == 123) | (codes == 125))
        if braces.size == 0:
            return None
        depth = 1 + np.cumsum(np.where(codes[braces] == 123, 1, -1))
        closed = np.flatnonzero(depth == 0)
        return int(braces[closed[0]]) if closed.size else None
    depth = 1
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def text_after_think(text: str, think_tag: str = "thinking") -> str | None:
    """Text after the last ``</think_tag>``, or ``None`` when the response has no closing think tag."""
    close_tag = f"</{_check_tag(think_tag)}>"
    pos = text.rfind(close_tag)
    if pos < 0:
        return None
    return text[pos + len(close_tag) :]


def _check_tag(think_tag: str) -> str:
    if not isinstance(think_tag, str) or _TAG_NAME.fullmatch(think_tag) is None:
        raise ValueError(
            f"think_tag must be a bare tag name such as {', '.join(map(repr, THINK_TAGS))}; got {think_tag!r}"
        )
    return think_tag


def extract_answer(text: str, mode: str = "answer_tag", think_tag: str = "thinking") -> str:
    """The final answer of ``text`` under extraction ``mode`` (see the module docstring for the rules).

    Args:
        text: the raw model response (untrusted; any string).
        mode: one of :data:`EXTRACTION_MODES`.
        think_tag: the reasoning tag name (``"thinking"`` default, ``"think"`` accepted; any bare tag name).
            Used by ``"after_think"``; validated in every mode so that a typo fails early.

    Returns:
        The extracted answer (a string; possibly empty).

    Raises:
        KeyError: unknown ``mode`` (the message lists the valid modes).
        ValueError: ``think_tag`` is not a bare tag name.
    """
    _check_tag(think_tag)
    if not isinstance(text, str):
        raise TypeError(f"extract_answer expects the response as str, got {type(text).__name__}")
    if mode == "answer_tag":
        block = first_answer_block(text)
        return (block if block is not None else text).strip()
    if mode == "answer_tag_then_boxed":
        block = first_answer_block(text)
        answer = block.strip() if block is not None else text
        if has_boxed_match(answer):
            boxed = last_boxed_content(answer)
            if boxed is not None:
                answer = boxed
        return answer
    if mode == "after_think":
        tail = text_after_think(text, think_tag)
        return (tail if tail is not None else text).strip()
    if mode == "none":
        return text
    raise KeyError(f"unknown extraction mode {mode!r}; valid modes: {', '.join(EXTRACTION_MODES)}")
