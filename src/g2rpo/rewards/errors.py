"""Errors of the rewards package."""

from __future__ import annotations


class VerifierConfigError(ValueError):
    """A verifier was called with options that cannot work: a caller bug, raised rather than scored 0."""
