"""Errors meant for the person at the keyboard.

A :class:`UserError` carries a message that already says what is wrong, where (file, row or line, field or
key) and what to do. Every ``g2rpo`` command prints it as one or two lines and exits with status 2; the
traceback is shown only with ``--debug`` or ``G2RPO_DEBUG=1``. Library callers catch it like any exception.
"""

from __future__ import annotations

from os import PathLike


class UserError(Exception):
    """Bad input, a bad config value or a missing file: the message names the place and the fix."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be used (unknown key, wrong type, out-of-range value)."""


class RecordError(UserError, ValueError):
    """A record failed validation; ``path``, ``row`` and ``field`` say where."""

    def __init__(self, path: str | PathLike[str], row: str, field_name: str, message: str):
        self.path, self.row, self.field = str(path), row, field_name
        super().__init__(f"{path}: {row}: field {field_name!r}: {message}")


def did_you_mean(name: str, valid, *, prefix: str = "") -> str:
    """``"; did you mean X?"`` for the closest of ``valid`` to ``name`` (difflib), or ``""`` when none is close.

    ``prefix`` is prepended to the suggestion (``"--"`` for command-line keys).
    """
    import difflib

    valid = [str(v) for v in valid]
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not close:
        lowered = {v.lower(): v for v in valid}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)]
    return f"; did you mean {prefix}{close[0]}?" if close else ""
