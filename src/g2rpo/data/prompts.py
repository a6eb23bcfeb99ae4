"""Prompt templates: how a record becomes the user turn (recipe §8), and its chat-message form.

A template turns a :class:`~g2rpo.data.Record` into one string, the user turn, with ``<image>`` where each image
goes; :func:`prompt_text` returns that string and :func:`record_messages` splits it into TRL's typed content
parts, so the text a model is trained on is exactly what ``prompt_text`` shows. No system prompt. Templates
(config key ``prompt_template``):

- ``g2rpo``: our wording (:func:`build_prompt`), shared with the evaluation prompts
  (``g2rpo.evaluation.prompts``) so a model is scored on the protocol it was trained with; text parts stripped.
  Layout (lines joined by ``\\n``; empty parts dropped)::

      {problem}                      # the question, <image> placeholders kept
      Options:                       # multiple choice with options only
      A. …
      {THINK_INSTRUCTION}            # think inside <thinking> </thinking>, answer inside <answer> </answer>
      {tail for the problem type}    # e.g. grounding: only the box as JSON {"boxes": [x1, y1, x2, y2]}

- ``openvlthinker_v2``: the authors' released prompt byte for byte (Jinja source in
  :mod:`g2rpo.data.templates`); text parts kept exactly as they are (a leading space included), as the
  authors' loader keeps them.
- a path to a Jinja file: your own. It renders the whole user turn from the variables of
  :func:`template_variables`; undefined variables are errors; text parts are kept as rendered.

Text without ``<image>`` placeholders gets its images first (the authors' loader would drop them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from g2rpo.data.options import format_options, option_lines
from g2rpo.data.records import IMAGE_PLACEHOLDER, Record
from g2rpo.errors import UserError

THINK_INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <{tag}> </{tag}> tags. "
    "The final answer MUST BE put in <answer> </answer> tags."
)
"""The ``g2rpo`` template's think/answer instruction; ``{tag}`` is the think tag (``thinking`` for OpenVLThinkerV2)."""

_NUMBER_TAIL = "Please provide the numerical value (e.g., 42 or 3.14) within the <answer> </answer> tags."
_BOX_TAIL = (
    'Please provide only the bounding box of the referred object as JSON {{"boxes": [x1, y1, x2, y2]}} '
    "with coordinates {units} within the <answer> </answer> tags."
)
BOX_UNITS: dict[str, str] = {"0-1000": "normalised to 0-1000", "pixels": "in absolute pixels"}
"""Grounding coordinate convention → its wording (Qwen3-VL: ``0-1000``; Qwen2.5-VL: ``pixels``; recipe §4)."""

PROBLEM_TYPE_TAILS: dict[str, str] = {
    "multiple choice": "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the "
    "<answer> </answer> tags.",
    "numerical": _NUMBER_TAIL,
    "regression": _NUMBER_TAIL,
    "math": "Please provide the final answer (a number, an expression or an option letter) within the "
    "<answer> </answer> tags.",
    "ocr": "Please provide only the text you read, exactly as written, within the <answer> </answer> tags.",
    "spatial grounding": _BOX_TAIL,
    "open-ended": "Please provide only the final answer (a word, phrase or sentence) within the "
    "<answer> </answer> tags.",
}
"""Canonical problem type → the prompt's last sentence (what goes inside ``<answer>``)."""


def build_prompt(
    record: Record, *, think_tag: str = "thinking", box_units: Literal["0-1000", "pixels"] = "0-1000"
) -> str:
    """The ``g2rpo`` template: the user-turn text for ``record``; ``<image>`` placeholders stay where they are.

    The options block is added for multiple-choice records that carry options, unless ``problem`` already lists
    them (a line starting ``Options:``). ``box_units`` words the grounding tail. Unknown problem types cannot
    reach here: :func:`g2rpo.data.load_records` canonicalises them.
    """
    _check_think_tag(think_tag)
    if box_units not in BOX_UNITS:
        raise KeyError(f"unknown box_units {box_units!r}; valid: {', '.join(BOX_UNITS)}")
    try:
        tail = PROBLEM_TYPE_TAILS[record.problem_type]
    except KeyError:
        raise KeyError(
            f"no prompt tail for problem type {record.problem_type!r}; valid: {', '.join(PROBLEM_TYPE_TAILS)}"
        ) from None
    problem = record.problem.strip()
    lists_options = re.search(r"^\s*options\s*:", problem, re.IGNORECASE | re.MULTILINE) is not None
    options = (
        format_options(record.options)
        if record.problem_type == "multiple choice" and not lists_options
        else ""
    )
    parts = [
        problem,
        options,
        THINK_INSTRUCTION.format(tag=think_tag),
        tail.format(units=BOX_UNITS[box_units]),
    ]
    return "\n".join(p for p in parts if p)


def prompt_messages(text: str, n_images: int, *, strip: bool = True) -> list[dict]:
    """The prompt text as one user message with typed content parts, TRL's conversational VLM format.

    Each ``<image>`` becomes ``{"type": "image"}`` at its place (TRL fills the parts, in order, from the row's
    ``images``); text between placeholders becomes ``{"type": "text", "text": …}``, with surrounding whitespace
    stripped when ``strip`` (else kept as is; empty pieces are dropped either way). Text without placeholders
    gets its ``n_images`` image parts first.
    """
    segments = text.split(IMAGE_PLACEHOLDER)
    n_placeholders = len(segments) - 1
    if n_placeholders not in (0, n_images):
        raise ValueError(f"{n_placeholders} {IMAGE_PLACEHOLDER} placeholder(s) for {n_images} image(s)")
    content: list[dict] = []
    if n_placeholders == 0:
        content += [{"type": "image"} for _ in range(n_images)]
    for i, segment in enumerate(segments):
        if i > 0:
            content.append({"type": "image"})
        piece = segment.strip() if strip else segment
        if piece:
            content.append({"type": "text", "text": piece})
    return [{"role": "user", "content": content}]


class PromptTemplateError(UserError, ValueError):
    """A prompt template that cannot be found, parsed or rendered; the message names it and the fix."""


AUTHORS_PROBLEM_TYPE_SPELLING: dict[str, str] = {"ocr": "OCR"}
"""Canonical problem type → the authors' spelling where they differ, for records built in code (no
``problem_type_as_written``): the ``openvlthinker_v2`` tails are keyed by the authors' spelling."""


def template_variables(record: Record, *, think_tag: str = "thinking", box_units: str = "0-1000") -> dict[str, Any]:
    """What a Jinja template sees when it renders ``record``.

    ``problem`` (as stored, ``<image>`` placeholders kept), ``problem_type`` (canonical) and
    ``problem_type_as_written`` (the file's spelling), ``options`` (``["A. cat", …]``) and ``options_as_written``
    (the file's list), ``choices`` (``{"A": "cat", …}``, in order), ``task`` (the family), ``think_tag``,
    ``box_units`` (``0-1000`` or ``pixels``), ``n_images``, ``problem_id`` and ``extra`` (the record's other
    fields, e.g. ``data_source``).
    """
    return {
        "problem": record.problem,
        "problem_type": record.problem_type,
        "problem_type_as_written": record.problem_type_as_written
        or AUTHORS_PROBLEM_TYPE_SPELLING.get(record.problem_type, record.problem_type),
        "options": option_lines(record.options),
        "options_as_written": list(record.options_as_written or option_lines(record.options)),
        "choices": dict(record.options),
        "task": record.task,
        "think_tag": think_tag,
        "box_units": box_units,
        "n_images": len(record.images),
        "problem_id": record.problem_id,
        "extra": dict(record.extra),
    }


@dataclass(frozen=True)
class PromptTemplate:
    """A named way to write a record's user turn.

    ``jinja``: the Jinja source (``None`` for the built-in ``g2rpo`` wording, :func:`build_prompt`).
    ``strip_text_parts``: strip whitespace around the text between images in the chat message.
    """

    name: str
    jinja: str | None = None
    strip_text_parts: bool = False

    def __post_init__(self) -> None:
        if self.jinja is not None:
            _compile(self.name, self.jinja)

    def text(self, record: Record, *, think_tag: str = "thinking", box_units: str = "0-1000") -> str:
        """The user turn for ``record`` as one string, ``<image>`` where each image goes."""
        _check_think_tag(think_tag)
        if self.jinja is None:
            return build_prompt(record, think_tag=think_tag, box_units=box_units)
        import jinja2

        try:
            return _compile(self.name, self.jinja).render(
                template_variables(record, think_tag=think_tag, box_units=box_units)
            )
        except jinja2.TemplateError as err:
            where = record.source or f"record {record.problem_id!r}"
            raise PromptTemplateError(f"prompt template {self.name}: {err} (rendering {where})") from None

    def messages(self, record: Record, *, think_tag: str = "thinking", box_units: str = "0-1000") -> list[dict]:
        """:meth:`text` as one user message of typed parts (:func:`prompt_messages`)."""
        text = self.text(record, think_tag=think_tag, box_units=box_units)
        try:
            return prompt_messages(text, len(record.images), strip=self.strip_text_parts)
        except ValueError as err:
            raise PromptTemplateError(f"prompt template {self.name}: {err} ({record.source or record.problem_id})") from None


@functools.lru_cache(maxsize=32)
def _compile(name: str, source: str):
    """The compiled template (sandboxed; undefined variables are errors; Jinja's whitespace defaults)."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise PromptTemplateError(f"prompt template {name}: line {err.lineno}: {err.message}") from None


def _check_think_tag(think_tag: str) -> None:
    if not re.fullmatch(r"[A-Za-z][\w-]*", think_tag):
        raise ValueError(f"think_tag must be a tag name such as 'thinking' or 'think', got {think_tag!r}")


def _builtin_templates() -> dict[str, PromptTemplate]:
    from g2rpo.data.templates import BUILTIN_JINJA

    return {
        "g2rpo": PromptTemplate("g2rpo", None, strip_text_parts=True),
        **{name: PromptTemplate(name, source) for name, source in BUILTIN_JINJA.items()},
    }


PROMPT_TEMPLATES: Mapping[str, PromptTemplate] = _builtin_templates()
"""Built-in template name → :class:`PromptTemplate`: ``g2rpo`` and ``openvlthinker_v2``."""


def get_prompt_template(template: str | Path | PromptTemplate) -> PromptTemplate:
    """A built-in template by name, a user template from a Jinja file path, or ``template`` itself.

    An unknown name that is not an existing file is an error listing the built-in names.
    """
    if isinstance(template, PromptTemplate):
        return template
    if isinstance(template, str) and template in PROMPT_TEMPLATES:
        return PROMPT_TEMPLATES[template]
    path = Path(template)
    if not path.is_file():
        raise PromptTemplateError(
            f"unknown prompt template {str(template)!r}: not a built-in name and no such file; valid: "
            f"{', '.join(PROMPT_TEMPLATES)}, or the path of a Jinja file"
        )
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PromptTemplateError(f"prompt template {path}: cannot read it ({err})") from None
    return PromptTemplate(str(path), source)


def prompt_text(
    record: Record,
    template: str | Path | PromptTemplate = "openvlthinker_v2",
    *,
    think_tag: str = "thinking",
    box_units: Literal["0-1000", "pixels"] = "0-1000",
) -> str:
    """The user turn for ``record`` under ``template``, one string with ``<image>`` where each image goes.

    It is the string the trainer's chat message is built from (:func:`record_messages` splits it at ``<image>``).
    ``template``: a built-in name (``openvlthinker_v2``, the paper's; ``g2rpo``), a Jinja file path, or a
    :class:`PromptTemplate`.
    """
    return get_prompt_template(template).text(record, think_tag=think_tag, box_units=box_units)


def record_messages(
    record: Record,
    template: str | Path | PromptTemplate = "openvlthinker_v2",
    *,
    think_tag: str = "thinking",
    box_units: Literal["0-1000", "pixels"] = "0-1000",
) -> list[dict]:
    """``record``'s user turn as TRL's chat message: :func:`prompt_text` split at each ``<image>``."""
    return get_prompt_template(template).messages(record, think_tag=think_tag, box_units=box_units)
