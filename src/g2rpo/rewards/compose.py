"""Reward composition (recipe §4): ``overall = (1 − w_f − w_ℓ)·a + w_f·f + s + w_ℓ·ℓ``.

``a ∈ [0, 1]`` is the verifier's accuracy on the extracted answer, ``f ∈ {0, 1}`` the format check,
``s ∈ {0, 0.5}`` the structure term (0.5 for a well-formed answer, forced to 0 when ``f = 0``) and
``ℓ ∈ [0, 1]`` the task family's length trapezoid (recipe §5). With the defaults ``w_f = 0.1``, ``w_ℓ = 0``
this is the authors' ``0.9·a + 0.1·f + s`` (maximum 1.5). G2RPO uses ``overall``; dynamic filtering uses
``accuracy``.

Two rule sets (``rules=``, config key ``reward_rules``): ``"g2rpo"`` (our lenient verifiers,
:data:`g2rpo.rewards.registry.VERIFIERS`) and ``"reference"`` (the authors' released reward rule for rule,
:mod:`g2rpo.rewards.reference`). Every difference is listed in ``docs/reward_rules.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from g2rpo.metrics.extraction import extract_answer
from g2rpo.rewards.format import format_score, has_answer_block
from g2rpo.rewards.reference import reference_components, reference_gold
from g2rpo.rewards.registry import Verifier, get_verifier

if TYPE_CHECKING:
    from g2rpo.algo import Envelope

STRUCTURE_REWARD = 0.5
"""The structure term of a well-formed answer (recipe §4)."""

REWARD_RULES: tuple[str, ...] = ("g2rpo", "reference")
"""The two rule sets of ``score_response(..., rules=...)`` and the config key ``reward_rules``: ``g2rpo`` (our
lenient verifiers) and ``reference`` (the authors' released reward, :mod:`g2rpo.rewards.reference`)."""


def check_rules(rules: str) -> str:
    """``rules`` itself if it names a rule set of :data:`REWARD_RULES`; otherwise a ``ValueError``."""
    if rules not in REWARD_RULES:
        raise ValueError(f"unknown reward rules {rules!r}; choose one of: {', '.join(REWARD_RULES)}")
    return rules


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward of one response and its parts (recipe §4). All plain floats.

    ``accuracy`` a ∈ [0, 1]; ``format`` f ∈ {0, 1}; ``structure`` s ∈ {0, 0.5}; ``length`` ℓ ∈ [0, 1] (0 when
    no length was given); ``overall = (1 − w_f − w_ℓ)·a + w_f·f + s + w_ℓ·ℓ``.
    """

    accuracy: float
    format: float
    structure: float
    length: float
    overall: float


def check_weights(format_weight: float, length_weight: float) -> None:
    """Weights must be finite, non-negative and sum to at most 1 (so the accuracy weight stays ≥ 0)."""
    weights = (format_weight, length_weight)
    if not all(math.isfinite(w) and w >= 0 for w in weights) or format_weight + length_weight > 1:
        raise ValueError(
            f"need 0 <= format_weight, length_weight and format_weight + length_weight <= 1, "
            f"got format_weight={format_weight}, length_weight={length_weight}"
        )


def gold_text(answer: object, rules: str = "g2rpo") -> str:
    """The gold answer as text; a gold wrapped in ``<answer>…</answer>`` is unwrapped (as the authors do).

    ``rules="reference"``: :func:`g2rpo.rewards.reference.reference_gold` (an empty block keeps the raw gold,
    and the gold is not stripped).
    """
    if check_rules(rules) == "reference":
        return reference_gold(answer)
    return extract_answer(answer if isinstance(answer, str) else str(answer), mode="answer_tag")


def score_components(
    response: str,
    gold: str,
    verifier: Verifier,
    *,
    think_tag: str = "thinking",
    strict: bool = False,
    options: Mapping[str, object] | None = None,
    rules: str | None = None,
) -> tuple[float, float, float]:
    """``(accuracy, format, structure)`` of one response; ``gold`` is already unwrapped (:func:`gold_text`).

    The accuracy grades the first ``<answer>`` block, or the whole response when there is none (the authors'
    behaviour); with ``strict=True`` a response without an ``<answer>`` block scores accuracy 0 instead.
    The rule set is the verifier's own (``verifier.rules``; :func:`get_verifier` picks it); a ``rules``
    given here must agree with it. ``"reference"`` reads the response as the authors' reward does
    (:func:`g2rpo.rewards.reference.reference_components`).
    """
    if rules is not None and check_rules(rules) != verifier.rules:
        raise ValueError(
            f"rules={rules!r} but the verifier {verifier.name!r} belongs to rules {verifier.rules!r}; "
            f"get it with get_verifier(problem_type, rules={rules!r})"
        )
    if verifier.rules == "reference":
        return reference_components(response, gold, verifier, think_tag=think_tag, strict=strict, options=options)
    opts = dict(options or {})
    fmt = format_score(response, think_tag)
    answer = extract_answer(response, mode="answer_tag", think_tag=think_tag)
    missing = strict and not has_answer_block(response)
    accuracy = 0.0 if missing else verifier(answer, gold, **opts)
    structure = STRUCTURE_REWARD if fmt and verifier.is_well_formed(answer, **opts) else 0.0
    return accuracy, fmt, structure


def compose(
    accuracy: float,
    fmt: float,
    structure: float,
    length: float,
    *,
    format_weight: float,
    length_weight: float,
) -> RewardBreakdown:
    """Combine the parts: ``overall = (1 − w_f − w_ℓ)·a + w_f·f + s + w_ℓ·ℓ``."""
    overall = (1.0 - format_weight - length_weight) * accuracy + format_weight * fmt + structure
    overall += length_weight * length
    return RewardBreakdown(accuracy, fmt, structure, length, overall)


def resolve_envelope(envelope: Envelope | None, task: str | None) -> Envelope | None:
    """``envelope`` if given, else the task family's default envelope (``g2rpo.tasks``), else ``None``."""
    if envelope is not None or task is None:
        return envelope
    from g2rpo.tasks import envelope_for  # torch-importing; see registry.get_verifier

    return envelope_for(task)


def length_components(
    lengths: Sequence[float | None], envelopes: Sequence[Envelope | None], length_weight: float
) -> list[float]:
    """``ℓ_i = g2rpo.algo.length_score(lengths[i], envelopes[i])``, 0 where a length or envelope is missing.

    One vectorised call per distinct envelope. With ``length_weight > 0`` every length and envelope is
    required (a silent 0 would bias every reward of the task).
    """
    out = [0.0] * len(lengths)
    groups: dict[Envelope, list[int]] = {}
    for i, (length, envelope) in enumerate(zip(lengths, envelopes, strict=True)):
        if length is None or envelope is None:
            if length_weight > 0:
                raise ValueError(
                    "length_weight > 0 needs the response length and an envelope (pass envelope=..., or "
                    f"task=... to use the task family's default); item {i} has length={length!r}, "
                    f"envelope={envelope!r}"
                )
            continue
        if not math.isfinite(float(length)) or float(length) < 0:
            raise ValueError(f"a response length must be a finite number >= 0; item {i} has {length!r}")
        groups.setdefault(envelope, []).append(i)
    if groups:
        import torch  # the parent process only: batch-scorer workers never import torch

        from g2rpo.algo import length_score

        for envelope, indices in groups.items():
            values = torch.tensor([float(lengths[i]) for i in indices], dtype=torch.float64)
            for i, value in zip(indices, length_score(values, envelope).tolist(), strict=True):
                out[i] = float(value)
    return out


def score_response(
    response: str,
    answer: object,
    *,
    problem_type: str,
    task: str | None = None,
    think_tag: str = "thinking",
    format_weight: float = 0.1,
    length_weight: float = 0.0,
    length: float | None = None,
    envelope: Envelope | None = None,
    strict: bool = False,
    verifier_options: Mapping[str, object] | None = None,
    rules: str = "g2rpo",
) -> RewardBreakdown:
    """The reward of one response (recipe §4).

    Args:
        response: the model's raw response (untrusted text; never evaluated).
        answer: the gold answer (a string, or a number; ``<answer>…</answer>`` wrapping is removed).
        problem_type: a key of :data:`VERIFIERS`, case-insensitive, aliases accepted.
        task: the task family (``g2rpo.tasks.TASK_FAMILIES``); gives the default ``envelope``.
        think_tag: ``"thinking"`` (OpenVLThinkerV2) or ``"think"`` (OneThinker).
        format_weight: ``w_f``. length_weight: ``w_ℓ`` (recipe default 0.1 when length shaping is on).
        length: the response length (tokens by default; characters if the envelope is in characters).
        envelope: the length trapezoid; defaults to the task family's.
        strict: a response without an ``<answer>`` block scores accuracy 0 (recipe §4, choice) instead of
            being graded as a whole (the authors' behaviour).
        verifier_options: keyword options of the verifier: ``choices`` (multiple choice: a letter → text
            mapping, ``g2rpo.data.options``); ``pred_coord``, ``gold_coord``, ``image_size``
            (spatial grounding). Not in the shared contract; optional.
        rules: ``"g2rpo"`` (our lenient verifiers, the default) or ``"reference"`` (the authors' released
            reward exactly; see :mod:`g2rpo.rewards.reference` and ``docs/reward_rules.md``). ``strict``
            applies to both (under ``"reference"``: no non-empty answer block → accuracy 0).
    Returns:
        :class:`RewardBreakdown`.
    Raises:
        KeyError: unknown ``problem_type`` or ``task`` (the message lists the valid names).
        ValueError: unknown ``rules``, bad weights, bad think tag, or ``length_weight > 0`` without a length
            and an envelope.
    """
    check_rules(rules)
    check_weights(format_weight, length_weight)
    verifier = get_verifier(problem_type, rules)
    options = dict(verifier_options or {})
    verifier.check_options(options)
    (ell,) = length_components([length], [resolve_envelope(envelope, task)], length_weight)
    a, f, s = score_components(
        response, gold_text(answer, rules), verifier, think_tag=think_tag, strict=strict, options=options
    )
    return compose(a, f, s, ell, format_weight=format_weight, length_weight=length_weight)
