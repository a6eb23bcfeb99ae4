"""Reading VLMEvalKit's TSV (and CSV) files without losing rows to a stray quote.

VLMEvalKit writes its tables with pandas (``df.to_csv(path, sep="\\t", index=False)``): a field is wrapped in
double quotes only when it holds a tab, a newline or a quote, and a quote inside is doubled
(``say "hi" now`` → ``"say ""hi"" now"``). Files written by other tools often do no quoting at all, and a
model's answer may well begin with a ``"``. A CSV reader that honours quotes then reads that answer as the
start of a quoted field and swallows every later row into it (6 rows read as 2, with no error).

:func:`parse_delimited` therefore decides per file, and checks the outcome against the physical lines:

1. **One row per line** (tried first): split every line on the delimiter. When every non-blank line has exactly
   as many fields as the header, this is the table; a field that is a complete quoted field
   (``"…"`` with every inner quote doubled) is unquoted, any other quote is data.
2. **Quoted fields across lines** (pandas quoting a field that holds a tab or a newline): parsed with
   :mod:`csv` in strict mode, accepted only if every record has exactly as many fields as the header.

A file that fits neither raises :class:`~g2rpo.evaluation.records.DataFormatError` naming the first line that
does not fit and what was expected there. Bytes that are not UTF-8 raise it too, naming the line.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from g2rpo.evaluation.records import DataFormatError

__all__ = ["ParsedTable", "decode_utf8", "parse_delimited"]


@dataclass(frozen=True)
class ParsedTable:
    """``header`` and ``rows`` (lists of field texts, as many as the header), with each row's 1-based
    data-row number (header excluded, blank lines not counted)."""

    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]


def decode_utf8(data: bytes, path: str | Path) -> str:
    """``data`` as text (a leading byte-order mark dropped); invalid UTF-8 → :class:`DataFormatError` naming
    the file, the line and the byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        byte = data[err.start : err.start + 1].hex()
        raise DataFormatError(
            f"{path}, line {line}: not valid UTF-8 (byte 0x{byte} at column {column}); re-save the file as UTF-8"
        ) from None


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _unquote(field: str) -> str:
    """A complete quoted field (``"…"``, inner quotes doubled) → its text; anything else unchanged."""
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"' and '"' not in field[1:-1].replace('""', ""):
        return field[1:-1].replace('""', '"')
    return field


def _header(first: str, delimiter: str) -> list[str]:
    header = [_unquote(h).strip() for h in first.split(delimiter)]
    if header and header[0] == "":
        header[0] = "_row"  # pandas' unnamed index column
    return header


def _one_row_per_line(lines: list[str], delimiter: str, width: int) -> tuple[ParsedTable | None, str]:
    """Step 1 of the module docstring; ``(None, why)`` when some line has the wrong number of fields."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    for line_number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(delimiter)
        if len(fields) != width:
            return None, f"line {line_number} has {len(fields)} field(s), the header {width}"
        rows.append([_unquote(f) for f in fields])
        numbers.append(len(rows))
    return ParsedTable([], rows, numbers), ""


def _quoted(text: str, delimiter: str, width: int) -> tuple[ParsedTable | None, str]:
    """Step 2 of the module docstring; ``(None, why)`` on a quoting error or a record of the wrong width."""
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    numbers: list[int] = []
    try:
        next(reader, None)
        for values in reader:
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                return None, f"the record ending on line {reader.line_num} has {len(values)} field(s), the header {width}"
            rows.append(values)
            numbers.append(len(rows))
    except csv.Error as err:
        return None, f"line {reader.line_num}: {err}"
    return ParsedTable([], rows, numbers), ""


def parse_delimited(text: str, path: str | Path, delimiter: str = "\t") -> ParsedTable:
    """Parse a TSV/CSV text as the module docstring describes; every row has exactly the header's fields."""
    lines = _lines(text)
    if not lines or not lines[0].strip():
        raise DataFormatError(f"{path}: empty file (no header row)")
    header = _header(lines[0], delimiter)
    width = len(header)
    table, line_problem = _one_row_per_line(lines, delimiter, width)
    if table is None:
        table, quote_problem = _quoted(text, delimiter, width)
        if table is None:
            name = "tab" if delimiter == "\t" else repr(delimiter)
            raise DataFormatError(
                f"{path}, {line_problem} (a {name} or line break inside an unquoted field?; read with quoted "
                f"fields instead: {quote_problem}); fix that row or re-export the file with quoting"
            )
    return ParsedTable(header, table.rows, table.row_numbers)
