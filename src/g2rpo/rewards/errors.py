"""Errors of the rewards package."""

from __future__ import annotations


class VerifierConfigError(ValueError):
    """A verifier was called with options that cannot work: a caller bug, raised rather than scored 0."""


class RewardInfrastructureError(RuntimeError):
    """Rewards could not be computed (the worker pool cannot run, or no item of a batch could be scored): an
    environment fault, raised rather than turned into scores of 0."""
