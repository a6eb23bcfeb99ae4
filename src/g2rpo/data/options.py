"""Multiple-choice options: one shape from the record onward.

A question's options are a mapping **letter → text in letter order** (``{"A": "red", "B": "green"}``), the
type :data:`Options`. Files and hubs write them in three ways, all read by :func:`read_options`:

- lettered strings, the authors' schema: ``["A. red", "B. green"]`` (also ``"(A) red"``, ``"A) red"``,
  ``"A: red"``);
- bare texts, lettered by position: ``["red", "green"]``;
- a mapping: ``{"A": "red", "B": "green"}``.

A list where some strings are lettered and some are not is lettered by position, each string kept whole as the
text (``["A. red", "blue"]`` → ``{"A": "A. red", "B": "blue"}``): guessing which letters were meant would be
worse than keeping what is written.

The record (:class:`g2rpo.data.Record`), the prompt, the training reward and the evaluation item all hold this
mapping. The one place it is written differently is the ``options`` column of the TRL dataset, a list of
``"A. text"`` lines (:func:`option_lines`; a ``datasets`` column cannot hold a mapping whose keys vary per
row); the reward reads the column back with :func:`read_options`, so letters that skip (``A``, ``C``) survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Options = Mapping[str, str]
"""Option letter → option text, in letter order; empty for a question without options."""

MAX_OPTIONS = 26
"""Letters A–Z."""

_LETTERED = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$", re.DOTALL)


class OptionsError(ValueError):
    """Options that cannot be read; ``field`` names the entry (``options`` or ``options[2]``)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def read_options(value: Any) -> dict[str, str]:
    """Any accepted written form (see the module docstring) → :data:`Options`. ``None`` or empty → ``{}``.

    Raises :class:`OptionsError` for a value that is not a list or a mapping, a non-text entry, a repeated
    letter or more than 26 options.
    """
    if value is None or (isinstance(value, list | tuple | Mapping | str) and not value):
        return {}
    if isinstance(value, Mapping):
        items = [(str(k).strip(), v) for k, v in value.items()]
        bad = [k for k, _ in items if len(k) != 1 or not k.isupper()]
        if bad:
            raise OptionsError("options", f"option keys must be letters A–Z, got {bad[0]!r}")
    elif isinstance(value, list | tuple):
        items = []
        for i, v in enumerate(value):
            if not isinstance(v, str | int | float) or isinstance(v, bool):
                raise OptionsError(f"options[{i}]", f"expected text, got {type(v).__name__}")
            m = _LETTERED.match(str(v))
            items.append((m.group(1), m.group(2)) if m else (None, v))
        if any(letter is None for letter, _ in items):
            items = [(chr(ord("A") + i), v) for i, v in enumerate(value)]
    else:
        raise OptionsError("options", f"expected a list or an object, got {type(value).__name__}")
    if len(items) > MAX_OPTIONS:
        raise OptionsError("options", f"{len(items)} options; at most {MAX_OPTIONS} (A–Z)")
    options = {letter: str(text).strip() for letter, text in items}
    if len(options) < len(items):
        seen = [letter for letter, _ in items]
        raise OptionsError("options", f"option letter {next(x for x in seen if seen.count(x) > 1)!r} is repeated")
    return options


def option_lines(options: Options) -> list[str]:
    """``{"A": "red", "B": "green"}`` → ``["A. red", "B. green"]`` (the prompt's lines, the dataset column)."""
    return [f"{letter}. {text}" for letter, text in options.items()]


def format_options(options: Options) -> str:
    """``"Options:\\nA. red\\nB. green"``; ``""`` without options. Training and evaluation prompts both use it."""
    return "Options:\n" + "\n".join(option_lines(options)) if options else ""


def options_or_fail(value: Any, fail: Callable[[str, str], Exception]) -> dict[str, str]:
    """:func:`read_options`, its error raised as ``fail(field, message)`` (the record loader's error type)."""
    try:
        return read_options(value)
    except OptionsError as err:
        raise fail(err.field, str(err)) from None
