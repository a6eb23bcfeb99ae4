"""Reading benchmark and prediction files: VLMEvalKit TSV, XLSX, JSONL, and local Hugging Face datasets.

A file becomes a :class:`Table` (column names + rows of text values, with row numbers for error messages);
the registry turns table rows into :class:`~g2rpo.evaluation.records.EvalItem` records.

VLMEvalKit's TSV layout (``~/LMUData/<NAME>.tsv``): one row per question with ``index``, ``question``, option
columns ``A``, ``B``, … (empty when absent), ``answer``, ``category``/``l2-category``/``split`` where the
benchmark has them, and ``image`` as base64 text. Three VLMEvalKit conventions are honoured:

* an ``image`` value of at most 64 characters is the ``index`` of another row whose image is shared
  (MMBench's circular copies store each image once);
* an ``image`` value that is a list literal (``['<b64>', '<b64>']``) holds several images;
* list-valued answers (DocVQA, InfoVQA, OCRBench) are stored as list literals (``['a', 'b']``).

Local Hugging Face layout (a directory): either a ``Dataset``/``DatasetDict`` written by ``save_to_disk``,
or ``*.parquet`` / ``*.jsonl`` files (as downloaded from the hub, e.g. ``lmms-lab/RefCOCO``). Image columns
(``datasets.Image`` features) are re-encoded to base64 so that both layouts share one item builder; the split
of a ``DatasetDict`` or the parquet file stem (``testA-00000-of-00001`` → ``testA``) fills ``split``.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import io
import json
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from g2rpo.evaluation.delimited import decode_utf8, parse_delimited
from g2rpo.evaluation.records import DataFormatError, ImageError
from g2rpo.io import write_text_atomic

__all__ = [
    "TABLE_SUFFIXES",
    "Table",
    "decode_image",
    "find_benchmark_source",
    "parse_image_field",
    "parse_list_field",
    "read_hf_dataset",
    "read_table",
    "resolve_image_references",
    "write_table",
]

TABLE_SUFFIXES: tuple[str, ...] = (".tsv", ".xlsx", ".jsonl", ".json", ".csv")
"""File types :func:`read_table` understands."""

_MAX_LITERAL_CHARS = 200_000
_MAX_IMAGE_LIST_CHARS = 1 << 30
_IMAGE_REF_MAX_CHARS = 64


@dataclass(frozen=True)
class Table:
    """A read file: ``columns`` in file order, ``rows`` as text dicts (missing cells → ``""``).

    ``row_numbers[i]`` is the 1-based data-row number of ``rows[i]`` in ``path`` (header excluded).
    """

    path: str
    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    row_numbers: list[int]

    def require(self, columns: Iterable[str], purpose: str) -> None:
        """Raise :class:`DataFormatError` naming the file and every missing column."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise DataFormatError(
                f"{self.path}: missing column(s) {missing} required {purpose}; the file has columns "
                f"{list(self.columns)}"
            )


def _cell(value: Any) -> str:
    """A cell as text: ``None``/NaN → ``""``; lists/dicts → JSON; integral floats → ``"3"`` (pandas-written
    TSVs and XLSX turn integer columns with gaps into floats)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_table(path: str | Path) -> Table:
    """Read a ``.tsv``/``.csv`` (VLMEvalKit), ``.xlsx`` (first sheet) or ``.jsonl``/``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        return _read_delimited(path, "\t" if suffix == ".tsv" else ",")
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    raise DataFormatError(f"{path}: unsupported file type {suffix!r}; use one of {list(TABLE_SUFFIXES)}")


def _read_delimited(path: Path, delimiter: str) -> Table:
    """A TSV/CSV file through :func:`~g2rpo.evaluation.delimited.parse_delimited` (quotes in unquoted fields
    are data; the row count is checked against the file's lines)."""
    parsed = parse_delimited(decode_utf8(path.read_bytes(), path), path, delimiter)
    rows = [dict(zip(parsed.header, values, strict=True)) for values in parsed.rows]
    return Table(str(path), tuple(parsed.header), rows, parsed.row_numbers)


def _read_xlsx(path: Path) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises several unrelated types for a corrupt file
        raise DataFormatError(f"{path}: not a readable XLSX file ({err})") from err
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    header_row = next(values, None)
    if not header_row:
        raise DataFormatError(f"{path}: empty sheet (no header row)")
    header = [_cell(h).strip() for h in header_row]
    rows, numbers = [], []
    for number, row in enumerate(values, start=1):
        if row is None or all(v is None for v in row):
            continue
        rows.append({h: _cell(v) for h, v in zip(header, row, strict=False) if h})
        numbers.append(number)
    book.close()
    return Table(str(path), tuple(h for h in header if h), rows, numbers)


def _read_jsonl(path: Path) -> Table:
    text = decode_utf8(path.read_bytes(), path)
    records: list[tuple[int, Any]] = []
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            records = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{path}: invalid JSON ({err})") from err
    else:
        number = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            number += 1
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                raise DataFormatError(f"{path}, row {number}: invalid JSON ({err.msg})") from err
    columns: dict[str, None] = {}
    rows, numbers = [], []
    for number, record in records:
        if not isinstance(record, dict):
            raise DataFormatError(f"{path}, row {number}: expected a JSON object, got {type(record).__name__}")
        columns.update(dict.fromkeys(record))
        rows.append({k: _cell(v) for k, v in record.items()})
        numbers.append(number)
    return Table(str(path), tuple(columns), rows, numbers)


def write_table(path: str | Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write a TSV in VLMEvalKit's layout (pandas-style quoting: only fields holding a tab, a line break or a
    quote are quoted, inner quotes doubled) with :func:`g2rpo.io.write_text_atomic`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    write_text_atomic(path, buffer.getvalue())


def parse_list_field(value: str, *, max_chars: int = _MAX_LITERAL_CHARS) -> list[str] | None:
    """A list literal (``['a', 'b']`` or JSON ``["a"]``) as a list of strings; ``None`` if not a list.

    Safe: ``json.loads`` then ``ast.literal_eval`` (literals only, never ``eval``), at most ``max_chars``.
    """
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")) or len(text) > max_chars:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    if not isinstance(parsed, (list, tuple)):
        return None
    return [_cell(v) for v in parsed]


def decode_image(value: str, where: str) -> bytes:
    """Base64 text → encoded image bytes, checked to be an image PIL can identify, of at most PIL's
    ``Image.MAX_IMAGE_PIXELS`` pixels (its decompression-bomb limit).

    Raises :class:`ImageError` naming ``where`` (file, row, field) for invalid base64, non-image data or an
    image over the pixel limit: an error of that item alone (see :attr:`EvalItem.error`).
    """
    from PIL import Image, UnidentifiedImageError

    text = value.strip()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageError(f"{where}: invalid base64 image data ({err})") from err
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below, as an error
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:
        raise ImageError(f"{where}: image over the {limit} pixel limit, not decoded ({err})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{where}: base64 decodes to {len(data)} bytes that are not an image ({err})") from err
    if limit is not None and width * height > limit:
        raise ImageError(f"{where}: image of {width}x{height} pixels is over the {limit} pixel limit, not decoded")
    return data


def parse_image_field(value: str, where: str) -> tuple[bytes, ...]:
    """An ``image`` cell: one base64 image, or a list literal of them. Empty → no image."""
    if not value.strip():
        return ()
    listed = parse_list_field(value, max_chars=_MAX_IMAGE_LIST_CHARS) if value.lstrip().startswith("[") else None
    parts = listed if listed is not None else [value]
    return tuple(decode_image(p, f"{where}[{i}]" if listed is not None else where) for i, p in enumerate(parts))


def resolve_image_references(table: Table, column: str = "image") -> None:
    """Replace VLMEvalKit's short image references (another row's ``index``) by that row's image, in place."""
    if column not in table.columns:
        return
    by_index = {row.get("index", ""): row[column] for row in table.rows if len(row.get(column, "")) > _IMAGE_REF_MAX_CHARS}
    for row, number in zip(table.rows, table.row_numbers, strict=True):
        value = row.get(column, "").strip()
        if value and len(value) <= _IMAGE_REF_MAX_CHARS and not value.startswith("["):
            if value not in by_index:
                raise DataFormatError(
                    f"{table.path}, row {number} (index {row.get('index', '?')}), field {column!r}: {value!r} is "
                    f"neither base64 image data nor the index of a row that holds an image"
                )
            row[column] = by_index[value]


def _image_to_b64(value: Any) -> str:
    """A ``datasets.Image`` cell (PIL image or ``{"bytes", "path"}``) → base64 text."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if value.get("bytes"):
            return base64.b64encode(value["bytes"]).decode("ascii")
        if value.get("path"):
            return base64.b64encode(Path(value["path"]).read_bytes()).decode("ascii")
        return ""
    if hasattr(value, "save"):
        buffer = io.BytesIO()
        image = value if value.mode in ("RGB", "L", "RGBA") else value.convert("RGB")
        image.save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode("ascii")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _hf_cell(value: Any) -> str:
    if hasattr(value, "save") or (isinstance(value, dict) and ("bytes" in value or "path" in value)):
        return _image_to_b64(value)
    if isinstance(value, list) and value and (hasattr(value[0], "save") or isinstance(value[0], dict)):
        return json.dumps([_image_to_b64(v) for v in value])
    return _cell(value)


def read_hf_dataset(directory: str | Path) -> Table:
    """Read a local Hugging Face dataset directory (``save_to_disk`` output, or parquet/jsonl files).

    Every split is read; its name goes to the ``split`` column (unless the data has one). Never downloads.
    """
    import datasets

    directory = Path(directory)
    splits: dict[str, Any]
    if (directory / "dataset_dict.json").exists() or (directory / "state.json").exists():
        loaded = datasets.load_from_disk(str(directory))
        splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"": loaded}
    else:
        files = sorted(p for p in directory.rglob("*") if p.suffix in (".parquet", ".jsonl"))
        if not files:
            raise DataFormatError(
                f"{directory}: no Hugging Face dataset here (expected save_to_disk output or *.parquet/*.jsonl files)"
            )
        splits = {}
        for file in files:
            builder = "parquet" if file.suffix == ".parquet" else "json"
            name = file.stem.split("-")[0]
            part = datasets.load_dataset(builder, data_files=str(file), split="train")
            splits[name] = part if name not in splits else datasets.concatenate_datasets([splits[name], part])
    columns: dict[str, None] = {}
    rows, numbers = [], []
    for split, dataset in splits.items():
        for number, record in enumerate(dataset, start=1):
            row = {k: _hf_cell(v) for k, v in record.items()}
            if split and not row.get("split"):
                row["split"] = split
            columns.update(dict.fromkeys(row))
            rows.append(row)
            numbers.append(number)
    return Table(str(directory), tuple(columns), rows, numbers)


def find_benchmark_source(data_root: str | Path, names: Sequence[str]) -> Path:
    """The first existing ``<data_root>/<name><suffix>`` file or ``<data_root>/<name>/`` directory.

    ``names`` are tried in order (e.g. ``RefCOCO_testA`` then ``RefCOCO``); the error lists every path tried.
    """
    root = Path(data_root)
    tried = []
    for name in names:
        for suffix in (".tsv", ".jsonl", ".xlsx", ".json"):
            candidate = root / f"{name}{suffix}"
            tried.append(candidate)
            if candidate.is_file():
                return candidate
        candidate = root / name
        tried.append(candidate)
        if candidate.is_dir():
            return candidate
    raise DataFormatError(
        f"no data for {names[0]} under {root}: tried {', '.join(str(t) for t in tried)}. Put VLMEvalKit's "
        f"<NAME>.tsv (from its LMUData folder) or a local Hugging Face dataset directory there."
    )
