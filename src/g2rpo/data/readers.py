"""The record files `g2rpo.data.records.load_records` reads: JSONL, JSON, parquet and `datasets` directories.

`read_rows` yields `(row label, raw record)` pairs: `"line N"` (1-based) for JSONL, `"row i"` (0-based) for the
others. A JSONL line that is not UTF-8 or not JSON comes out as a `Malformed` value, so that the loader can skip
it like any other bad record or raise a `RecordError` naming the line; a whole JSON file that does not parse
raises at once. Images of a `datasets` directory stay encoded (bytes and path): decoding is the loader's job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from g2rpo.errors import RecordError


def read_rows(path: Path, split: str | None) -> Iterator[tuple[str, Any]]:
    """(row label, raw record) pairs. Undecodable JSONL lines are reported as ``<utf-8>`` / ``<json>``."""
    if path.is_dir():
        yield from _read_datasets_dir(path, split)
        return
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as f:
            for lineno, data in enumerate(f, start=1):
                parsed = _parse_line(data, first=lineno == 1)
                if parsed is not BLANK:
                    yield f"line {lineno}", parsed
    elif suffix == ".json":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise RecordError(
                path, f"line {line}", "<utf-8>", f"not valid UTF-8 ({err.reason} at byte {err.start}); re-encode the file"
            ) from None
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise RecordError(path, f"line {err.lineno}", "<json>", f"not valid JSON ({err.msg})") from None
        if not isinstance(records, list):
            raise RecordError(
                path, "file", "<json>", f"expected a list of records, got {type(records).__name__}"
            )
        for i, raw in enumerate(records):
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


def _parse_line(data: bytes, *, first: bool) -> Any:
    try:
        line = data.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as err:
        return Malformed("<utf-8>", f"not valid UTF-8 ({err.reason} at byte {err.start} of the line)")
    if not line.strip():
        return BLANK
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        return Malformed("<json>", f"not valid JSON ({err})")


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
class Malformed:
    field: str
    message: str


BLANK = object()
"""A blank JSONL line: not a record."""
