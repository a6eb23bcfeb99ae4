"""Training records in the authors' schema: load, validate, normalise (recipe §2, §8).

A record is one prompt with its gold answer. Sources: a ``.jsonl``, ``.json`` (a list of objects) or
``.parquet`` file, or a local Hugging Face ``datasets`` directory (``save_to_disk`` output). Fields (the
authors' released files load unchanged; ``docs/data.md`` maps their schema field by field):

| field | required | meaning |
|---|---|---|
| ``problem`` | yes | the question; ``<image>`` marks where each image goes (none: all images go first) |
| ``answer`` | yes | the gold answer; numbers and lists/objects are kept as text (JSON for lists/objects) |
| ``problem_type`` | yes | verifier kind, any spelling :func:`g2rpo.tasks.canonical_problem_type` accepts |
| ``task_type`` / ``task`` | yes | task family or an alias (:mod:`g2rpo.data.task_types`); ``task_type`` is read when present |
| ``images`` | no | image paths relative to the data root; HF image features (bytes) also work |
| ``options`` | no | multiple-choice options: ``["A. cat", …]``, ``["cat", …]`` or ``{"A": "cat", …}`` |
| ``data_type`` | no | ``image`` (default) or ``text``; video records are rejected |
| ``problem_id`` | no | identifier (default ``<file stem>-<row>``) |

``task_type`` wins over ``task`` because the authors' validation files carry a ``task`` field of their own (the
MathVista task name, e.g. ``"math word problem"``) beside the family in ``task_type``; the field not read is kept
in ``Record.extra``, as is every other field. A missing value may also be written ``NaN`` (pandas exports).

Limits checked at load, so that a bad file fails here and not hours into training:

- image paths stay inside the data root (``..`` cannot leave it); absolute paths only with
  ``allow_absolute_image_paths=True``; every image's header is read (``PIL.Image.open``, no pixel decoding) and
  its pixel count must be at most ``max_image_pixels_at_load``;
- a record's text (problem + options + answer) is at most ``max_record_chars`` characters;
- JSONL lines must be valid UTF-8 and valid JSON.

A bad record raises :class:`RecordError` naming the file, the row (JSONL and the line of a JSON error: 1-based
line; other formats: 0-based index) and the field; ``skip_invalid=True`` skips it instead, counts it
(``LoadedRecords.skipped``) and logs one summary warning with the count per field.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from g2rpo.data.options import option_lines, options_or_fail
from g2rpo.data.readers import Malformed, read_rows
from g2rpo.data.task_types import canonical_task
from g2rpo.errors import RecordError
from g2rpo.tasks import canonical_problem_type

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = "<image>"
DATA_TYPES: tuple[str, ...] = ("image", "text")
ImageRef = Path | bytes
"""An image: a file path (resolved against the data root) or encoded bytes (from an HF image feature)."""

DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
"""Default ``max_image_pixels_at_load``: PIL's own decompression-bomb threshold (``Image.MAX_IMAGE_PIXELS``),
about 9,459²; the recipe downscales every image to at most 1,048,576 pixels when it is read."""

DEFAULT_MAX_RECORD_CHARS = 131_072
"""Default ``max_record_chars``: the recipe's 16,384-token prompt budget at 8 characters per token, twice the
~4 of English text, so a record over it cannot fit the prompt budget."""

_KNOWN_FIELDS = {"problem", "answer", "problem_type", "task", "task_type", "images", "image", "options"}
_KNOWN_FIELDS |= {"data_type", "problem_id"}


@dataclass(frozen=True)
class Record:
    """One validated training prompt.

    ``problem_type`` is canonical (``g2rpo.tasks.PROBLEM_TYPES``), ``task`` a task family name
    (``g2rpo.tasks.TASK_FAMILIES``). ``options`` map option letters to texts in letter order
    (``g2rpo.data.options``). ``images`` are resolved paths or
    bytes, as many as ``problem`` has ``<image>`` placeholders (or any number when it has none). ``source`` is
    ``"<file>:<row>"`` for error messages downstream. ``problem_type_as_written`` and ``options_as_written`` keep
    the file's own spelling (the authors' prompt is built from it, recipe §8); ``""`` / ``()`` when the record
    was built in code.
    """

    problem_id: str
    problem: str
    answer: str
    problem_type: str
    task: str
    images: tuple[ImageRef, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    data_type: str = "image"
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    problem_type_as_written: str = ""
    options_as_written: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping):
            raise TypeError(
                f"Record.options must be a mapping letter → text, got {type(self.options).__name__}; "
                "read a written list with g2rpo.data.options.read_options"
            )


class LoadedRecords(list):
    """``list[Record]`` plus ``skipped``: the error message of every record dropped by ``skip_invalid``, and
    ``skipped_fields``: how many were dropped per field."""

    def __init__(self, records: list[Record], skipped: list[str], skipped_fields: Mapping[str, int] | None = None):
        super().__init__(records)
        self.skipped: tuple[str, ...] = tuple(skipped)
        self.skipped_fields: dict[str, int] = dict(skipped_fields or {})

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


@dataclass(frozen=True)
class _Limits:
    root: Path
    check_images: bool
    allow_absolute: bool
    max_pixels: int | None
    max_chars: int | None

    @functools.cached_property
    def root_prefix(self) -> str:
        """The root's absolute normalised path with a trailing separator (string tests: one per image)."""
        return os.path.join(os.path.abspath(self.root), "")


def load_records(
    path: str | Path,
    *,
    data_root: str | Path | None = None,
    skip_invalid: bool = False,
    split: str | None = None,
    check_images: bool = True,
    allow_absolute_image_paths: bool = False,
    max_image_pixels_at_load: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    max_record_chars: int | None = DEFAULT_MAX_RECORD_CHARS,
) -> LoadedRecords:
    """Load and validate every record of ``path`` (``.jsonl``, ``.json``, ``.parquet`` or a datasets directory).

    ``data_root``: where relative image paths start (default: the file's folder, or the datasets directory);
    no path may leave it. ``skip_invalid``: drop bad records (counted in ``.skipped``, one summary warning)
    instead of raising :class:`RecordError`. ``split``: the split of a saved ``DatasetDict`` (needed when it has
    several). ``check_images``: open every image's header (existence, readable format, pixel count; no
    decoding). ``allow_absolute_image_paths``: accept absolute image paths. ``max_image_pixels_at_load``,
    ``max_record_chars``: the limits of the module docstring (``None``: no limit).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    for name, value in (("max_image_pixels_at_load", max_image_pixels_at_load), ("max_record_chars", max_record_chars)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    root = Path(data_root) if data_root is not None else (path if path.is_dir() else path.parent)
    limits = _Limits(root, check_images, allow_absolute_image_paths, max_image_pixels_at_load, max_record_chars)
    records: list[Record] = []
    skipped: list[RecordError] = []
    for row, raw in read_rows(path, split):
        try:
            records.append(_to_record(raw, path, row, limits))
        except RecordError as err:
            if not skip_invalid:
                raise
            skipped.append(err)
    fields = Counter(err.field for err in skipped)
    if skipped:
        logger.warning(
            "%s: skipped %d of %d record(s) as invalid (%s); first: %s",
            path,
            len(skipped),
            len(skipped) + len(records),
            ", ".join(f"{name}: {n}" for name, n in fields.most_common()),
            skipped[0],
        )
    return LoadedRecords(records, [str(err) for err in skipped], fields)


def _missing(value: Any) -> bool:
    """``None``, ``""`` or a float NaN (how pandas writes a missing value to JSON)."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _to_record(raw: Any, path: Path, row: str, limits: _Limits) -> Record:
    def fail(field_name: str, message: str) -> RecordError:
        return RecordError(path, row, field_name, message)

    if isinstance(raw, Malformed):
        raise fail(raw.field, raw.message)
    if not isinstance(raw, Mapping):
        raise fail("<record>", f"expected an object, got {type(raw).__name__}")

    problem = raw.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        raise fail("problem", "missing or empty (the question text is required)")
    answer = _answer_text(raw.get("answer"), fail)
    options_value = None if _missing(raw.get("options")) else raw.get("options")
    _check_size(problem, answer, options_value, limits.max_chars, fail)
    problem_type_raw = _required_str(raw, "problem_type", fail)
    try:
        problem_type = canonical_problem_type(problem_type_raw)
    except KeyError as err:
        raise fail("problem_type", err.args[0]) from None
    task_field = "task" if _missing(raw.get("task_type")) and not _missing(raw.get("task")) else "task_type"
    unread = "task" if task_field == "task_type" else "task_type"
    try:
        task = canonical_task(_required_str(raw, task_field, fail))
    except KeyError as err:
        both = task_field == "task_type" and not _missing(raw.get("task"))
        note = " (the family is read from 'task_type'; 'task' is kept as an extra field)" if both else ""
        raise fail(task_field, err.args[0] + note) from None

    data_type = "image" if _missing(raw.get("data_type")) else raw.get("data_type")
    if not isinstance(data_type, str) or data_type not in DATA_TYPES:
        hint = " (video records are not supported)" if "video" in str(data_type).lower() else ""
        raise fail("data_type", f"got {data_type!r}{hint}; valid data types: {', '.join(DATA_TYPES)}")

    images_field = "images" if "images" in raw else "image"
    images = _images(raw.get(images_field), images_field, limits, fail)
    n_placeholders = problem.count(IMAGE_PLACEHOLDER)
    if n_placeholders and n_placeholders != len(images):
        raise fail(
            "problem", f"has {n_placeholders} {IMAGE_PLACEHOLDER} placeholder(s) but {len(images)} image(s)"
        )

    problem_id = raw.get("problem_id")
    if _missing(problem_id):
        problem_id = f"{path.stem}-{row.split()[-1]}"
    elif not isinstance(problem_id, str | int) or isinstance(problem_id, bool):
        raise fail("problem_id", f"must be a string or an integer, got {type(problem_id).__name__}")

    options = options_or_fail(options_value, fail)
    extra = {k: v for k, v in raw.items() if k not in _KNOWN_FIELDS}
    if not _missing(raw.get(unread)):
        extra[unread] = raw[unread]
    return Record(
        problem_id=str(problem_id),
        problem=problem,
        answer=answer,
        problem_type=problem_type,
        task=task,
        images=images,
        options=options,
        data_type=data_type,
        source=f"{path}:{row}",
        extra=extra,
        problem_type_as_written=problem_type_raw,
        options_as_written=(
            tuple(str(v) for v in options_value)
            if isinstance(options_value, list | tuple)
            else tuple(option_lines(options))
        ),
    )


def _required_str(raw: Mapping, name: str, fail) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        other = " (the task family is read from 'task_type', or 'task' when there is none)" if name == "task_type" else ""
        raise fail(name, f"missing or not a non-empty string{other}")
    return value


def _answer_text(value: Any, fail) -> str:
    """The gold answer as text: strings as is, numbers as written, lists/objects as JSON."""
    if isinstance(value, bool) or value is None:
        raise fail("answer", f"must be a string, number, list or object, got {value!r}")
    if isinstance(value, str):
        if not value.strip():
            raise fail("answer", "empty")
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail("answer", f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value if not isinstance(value, tuple) else list(value))
    raise fail("answer", f"must be a string, number, list or object, got {type(value).__name__}")


def _check_size(problem: str, answer: str, options: Any, limit: int | None, fail) -> None:
    """Fail when problem + options + answer exceed ``limit`` characters, naming the largest of the three."""
    if limit is None:
        return
    if isinstance(options, Mapping):
        options = list(options.values())
    n_options = sum(len(str(o)) for o in options) if isinstance(options, list | tuple) else 0
    sizes = {"problem": len(problem), "options": n_options, "answer": len(answer)}
    total = sum(sizes.values())
    if total > limit:
        largest = max(sizes, key=sizes.__getitem__)
        raise fail(
            largest,
            f"the record's text is {total:,} characters ({largest}: {sizes[largest]:,}), over max_record_chars="
            f"{limit:,}; shorten it, or raise max_record_chars if such prompts are intended",
        )


def _images(value: Any, name: str, limits: _Limits, fail) -> tuple[ImageRef, ...]:
    if _missing(value):
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    out: list[ImageRef] = []
    for i, item in enumerate(items):
        label = f"{name}[{i}]"
        if isinstance(item, Mapping) and item.get("bytes"):
            data = bytes(item["bytes"])
            if limits.check_images:
                _check_image(data, "the embedded image", limits.max_pixels, label, fail)
            out.append(data)
            continue
        ref = item.get("path") if isinstance(item, Mapping) else item
        if not isinstance(ref, str) or not ref:
            raise fail(label, f"expected an image path, got {type(ref).__name__}")
        resolved = _image_path(ref, limits, label, fail)
        if limits.check_images:
            if not resolved.is_file():
                raise fail(label, f"image file not found: {resolved} (data root: {limits.root})")
            _check_image(resolved, str(resolved), limits.max_pixels, label, fail)
        out.append(resolved)
    return tuple(out)


def _image_path(ref: str, limits: _Limits, label: str, fail) -> Path:
    """``ref`` resolved against the data root; it may not leave the root (symbolic links inside it are followed,
    as the user placed them). Absolute paths only when allowed."""
    if "://" in ref:
        raise fail(label, f"{ref!r} is a URL; download images first and give local paths")
    if "\x00" in ref:
        raise fail(label, "the path contains a NUL character")
    if os.path.isabs(ref):
        if not limits.allow_absolute:
            raise fail(
                label,
                f"{ref!r} is an absolute path; give paths relative to the data root ({limits.root}), or allow "
                "absolute ones (allow_absolute_image_paths: true)",
            )
        return Path(os.path.normpath(ref))
    resolved = os.path.normpath(os.path.join(limits.root, ref))
    if not os.path.join(os.path.abspath(resolved), "").startswith(limits.root_prefix):
        raise fail(label, f"{ref!r} points outside the data root {limits.root}; image paths must stay inside it")
    return Path(resolved)


def _check_image(source: Path | bytes, what: str, max_pixels: int | None, label: str, fail) -> None:
    """Read the image header (format and size; no pixel decoding) and bound its pixel count."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:
        raise fail(label, f"{what} has too many pixels to decode ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        raise fail(label, f"{what} is not an image PIL can read ({type(err).__name__}: {err})") from None
    if max_pixels is not None and width * height > max_pixels:
        raise fail(
            label,
            f"{what} is {width}x{height} = {width * height:,} pixels, over max_image_pixels_at_load={max_pixels:,}; "
            "downscale it or raise the limit",
        )
