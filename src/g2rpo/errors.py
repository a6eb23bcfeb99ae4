"""Errors meant for the person at the keyboard.

A :class:`UserError` carries a message that already says what is wrong, where (file, row or line, field or
key) and what to do. Every ``g2rpo`` command prints it as one or two lines and exits with status 2; the
traceback is shown only with ``--debug`` or ``G2RPO_DEBUG=1``. Library callers catch it like any exception.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input, a bad config value or a missing file: the message names the place and the fix."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be used (unknown key, wrong type, out-of-range value)."""
