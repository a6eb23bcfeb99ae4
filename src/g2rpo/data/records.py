"""Training records in the authors' schema: load, validate, normalise (recipe §2, §8).

A record is one prompt with its gold answer. Sources: a ``.jsonl``, ``.json`` (a list of objects) or
``.parquet`` file, or a local Hugging Face ``datasets`` directory (``save_to_disk`` output). Fields:

| field | required | meaning |
|---|---|---|
| ``problem`` | yes | the question; ``<image>`` marks where each image goes (none: all images go first) |
| ``answer`` | yes | the gold answer; numbers and lists/objects are kept as text (JSON for lists/objects) |
| ``problem_type`` | yes | verifier kind, any spelling :func:`g2rpo.tasks.canonical_problem_type` accepts |
| ``task`` / ``task_type`` | yes | task family or an alias (:mod:`g2rpo.data.task_types`) |
| ``images`` | no | image paths relative to the data root (or absolute); HF image features also work |
| ``options`` | no | multiple-choice options: ``["A. cat", …]``, ``["cat", …]`` or ``{"A": "cat", …}`` |
| ``data_type`` | no | ``image`` (default) or ``text``; video records are rejected |
| ``problem_id`` | no | identifier (default ``<file stem>-<row>``) |

Every other field is kept in ``Record.extra``. A bad record raises :class:`RecordError` naming the file, the row
(JSONL: 1-based line; other formats: 0-based index) and the field; ``skip_invalid=True`` skips it instead and
counts it (``LoadedRecords.skipped``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from g2rpo.data.task_types import canonical_task
from g2rpo.errors import UserError
from g2rpo.tasks import canonical_problem_type

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = "<image>"
DATA_TYPES: tuple[str, ...] = ("image", "text")
ImageRef = Path | bytes
"""An image: a file path (resolved against the data root) or encoded bytes (from an HF image feature)."""

_KNOWN_FIELDS = {"problem", "answer", "problem_type", "task", "task_type", "images", "image", "options"}
_KNOWN_FIELDS |= {"data_type", "problem_id"}
_LETTERED = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Record:
    """One validated training prompt.

    ``problem_type`` is canonical (``g2rpo.tasks.PROBLEM_TYPES``), ``task`` a task family name
    (``g2rpo.tasks.TASK_FAMILIES``). ``options`` are ``"A. text"`` strings. ``images`` are resolved paths or
    bytes, as many as ``problem`` has ``<image>`` placeholders (or any number when it has none). ``source`` is
    ``"<file>:<row>"`` for error messages downstream.
    """

    problem_id: str
    problem: str
    answer: str
    problem_type: str
    task: str
    images: tuple[ImageRef, ...] = ()
    options: tuple[str, ...] = ()
    data_type: str = "image"
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class RecordError(UserError, ValueError):
    """A record failed validation; ``path``, ``row`` and ``field`` say where."""

    def __init__(self, path: str | Path, row: str, field_name: str, message: str):
        self.path, self.row, self.field = str(path), row, field_name
        super().__init__(f"{path}: {row}: field {field_name!r}: {message}")


class LoadedRecords(list):
    """``list[Record]`` plus ``skipped``: the error message of every record dropped by ``skip_invalid``."""

    def __init__(self, records: list[Record], skipped: list[str]):
        super().__init__(records)
        self.skipped: tuple[str, ...] = tuple(skipped)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


def load_records(
    path: str | Path,
    *,
    data_root: str | Path | None = None,
    skip_invalid: bool = False,
    split: str | None = None,
    check_images: bool = True,
) -> LoadedRecords:
    """Load and validate every record of ``path`` (``.jsonl``, ``.json``, ``.parquet`` or a datasets directory).

    ``data_root``: where relative image paths start (default: the file's folder, or the datasets directory).
    ``skip_invalid``: drop bad records (counted in ``.skipped`` and logged) instead of raising
    :class:`RecordError`. ``split``: the split of a saved ``DatasetDict`` (needed when it has several).
    ``check_images``: fail on image files that do not exist (one ``stat`` per image).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    root = Path(data_root) if data_root is not None else (path if path.is_dir() else path.parent)
    records: list[Record] = []
    skipped: list[str] = []
    for row, raw in _read_rows(path, split):
        try:
            records.append(_to_record(raw, path, row, root, check_images))
        except RecordError as err:
            if not skip_invalid:
                raise
            skipped.append(str(err))
    if skipped:
        logger.warning("%s: skipped %d invalid record(s); first: %s", path, len(skipped), skipped[0])
    return LoadedRecords(records, skipped)


def _read_rows(path: Path, split: str | None) -> Iterator[tuple[str, Any]]:
    """(row label, raw record) pairs. Malformed JSON lines are reported as field ``<json>``."""
    if path.is_dir():
        yield from _read_datasets_dir(path, split)
        return
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {lineno}", json.loads(line)
                except json.JSONDecodeError as err:
                    yield f"line {lineno}", _Malformed(f"not valid JSON ({err})")
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise RecordError(path, "file", "<json>", f"not valid JSON ({err})") from None
        if not isinstance(data, list):
            raise RecordError(
                path, "file", "<json>", f"expected a list of records, got {type(data).__name__}"
            )
        for i, raw in enumerate(data):
            yield f"row {i}", raw
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, raw in enumerate(pq.read_table(path).to_pylist()):
            yield f"row {i}", raw
    else:
        raise ValueError(
            f"{path}: unsupported data file type {suffix!r}; valid: .jsonl, .json, .parquet, "
            "or a datasets directory (save_to_disk)"
        )


def _read_datasets_dir(path: Path, split: str | None) -> Iterator[tuple[str, Any]]:
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split is None and len(ds) == 1:
            split = next(iter(ds))
        if split not in ds:
            raise ValueError(f"{path}: choose a split with split=...; valid splits: {', '.join(ds)}")
        ds = ds[split]
    elif split is not None:
        raise ValueError(f"{path}: split={split!r} given, but the directory holds a single Dataset")
    features = _undecoded(ds.features)
    if features != ds.features:
        ds = ds.cast(features)
    for i, raw in enumerate(ds):
        yield f"row {i}", raw


def _undecoded(features):
    """The same features with every image left encoded (``{"bytes", "path"}``): decoding is the loader's job."""
    import datasets

    def walk(f):
        if isinstance(f, datasets.Image):
            return datasets.Image(decode=False)
        if isinstance(f, datasets.List):
            return datasets.List(walk(f.feature), length=f.length)
        if isinstance(f, datasets.Sequence):
            return datasets.Sequence(walk(f.feature), length=f.length)
        if isinstance(f, dict):
            return {k: walk(v) for k, v in f.items()}
        return f

    return datasets.Features({k: walk(v) for k, v in features.items()})


@dataclass(frozen=True)
class _Malformed:
    message: str


def _to_record(raw: Any, path: Path, row: str, root: Path, check_images: bool) -> Record:
    def fail(field_name: str, message: str) -> RecordError:
        return RecordError(path, row, field_name, message)

    if isinstance(raw, _Malformed):
        raise fail("<json>", raw.message)
    if not isinstance(raw, Mapping):
        raise fail("<record>", f"expected an object, got {type(raw).__name__}")

    problem = raw.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        raise fail("problem", "missing or empty (the question text is required)")
    answer = _answer_text(raw.get("answer"), fail)
    try:
        problem_type = canonical_problem_type(_required_str(raw, "problem_type", fail))
    except KeyError as err:
        raise fail("problem_type", err.args[0]) from None
    task_field = "task" if raw.get("task") not in (None, "") else "task_type"
    try:
        task = canonical_task(_required_str(raw, task_field, fail))
    except KeyError as err:
        raise fail(task_field, err.args[0]) from None

    data_type = raw.get("data_type") or "image"
    if not isinstance(data_type, str) or data_type not in DATA_TYPES:
        hint = " (video records are not supported)" if "video" in str(data_type).lower() else ""
        raise fail("data_type", f"got {data_type!r}{hint}; valid data types: {', '.join(DATA_TYPES)}")

    images_field = "images" if "images" in raw else "image"
    images = _images(raw.get(images_field), images_field, root, check_images, fail)
    n_placeholders = problem.count(IMAGE_PLACEHOLDER)
    if n_placeholders and n_placeholders != len(images):
        raise fail(
            "problem", f"has {n_placeholders} {IMAGE_PLACEHOLDER} placeholder(s) but {len(images)} image(s)"
        )

    problem_id = raw.get("problem_id")
    if problem_id is None or problem_id == "":
        problem_id = f"{path.stem}-{row.split()[-1]}"
    elif not isinstance(problem_id, str | int):
        raise fail("problem_id", f"must be a string or an integer, got {type(problem_id).__name__}")

    return Record(
        problem_id=str(problem_id),
        problem=problem,
        answer=answer,
        problem_type=problem_type,
        task=task,
        images=images,
        options=_options(raw.get("options"), fail),
        data_type=data_type,
        source=f"{path}:{row}",
        extra={k: v for k, v in raw.items() if k not in _KNOWN_FIELDS},
    )


def _required_str(raw: Mapping, name: str, fail) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        other = " (or 'task_type')" if name == "task" else ""
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


def _images(value: Any, name: str, root: Path, check: bool, fail) -> tuple[ImageRef, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    out: list[ImageRef] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("bytes"):
            out.append(bytes(item["bytes"]))
            continue
        ref = item.get("path") if isinstance(item, Mapping) else item
        if not isinstance(ref, str) or not ref:
            raise fail(f"{name}[{i}]", f"expected an image path, got {type(ref).__name__}")
        if "://" in ref:
            raise fail(f"{name}[{i}]", f"{ref!r} is a URL; download images first and give local paths")
        resolved = Path(ref) if Path(ref).is_absolute() else root / ref
        if check and not resolved.is_file():
            raise fail(f"{name}[{i}]", f"image file not found: {resolved} (data root: {root})")
        out.append(resolved)
    return tuple(out)


def _options(value: Any, fail) -> tuple[str, ...]:
    """Options as ``"A. text"`` strings: lettered strings are kept, bare strings get letters A, B, …"""
    if value is None or (isinstance(value, list | tuple | Mapping | str) and not value):
        return ()
    if isinstance(value, Mapping):
        items = [(str(k).strip(), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = []
        for i, v in enumerate(value):
            if not isinstance(v, str | int | float) or isinstance(v, bool):
                raise fail(f"options[{i}]", f"expected text, got {type(v).__name__}")
            m = _LETTERED.match(str(v))
            items.append((m.group(1), m.group(2)) if m else (None, v))
        if any(letter is None for letter, _ in items):
            items = [(chr(ord("A") + i), v) for i, v in enumerate(value)]
    else:
        raise fail("options", f"expected a list or an object, got {type(value).__name__}")
    if len(items) > 26:
        raise fail("options", f"{len(items)} options; at most 26 (A–Z)")
    return tuple(f"{letter}. {str(text).strip()}" for letter, text in items)
