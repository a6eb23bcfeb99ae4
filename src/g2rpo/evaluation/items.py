"""Benchmark files → :class:`~g2rpo.evaluation.records.EvalItem` records.

:func:`load_items` finds ``<data_root>/<NAME>.tsv`` (or ``.jsonl``/``.xlsx``, or a local Hugging Face dataset
directory ``<NAME>/``), checks the columns the benchmark needs, and builds one item per row. Predictions
files for ``g2rpo score`` go through :func:`items_from_table` too (without decoding images).

Hugging Face rows are mapped to VLMEvalKit's columns: ``options``/``choices`` lists become ``A``, ``B``, …;
``id``/``question_id`` become ``index``; ``images`` becomes ``image``. The RefCOCO family additionally reads
the ``lmms-lab/RefCOCO*`` layout (referring expression in ``answer``, COCO ``bbox`` ``[x, y, w, h]`` in
pixels), converting the box to Qwen3-VL's 0–1000 relative ``[x1, y1, x2, y2]`` with the image size.
"""

from __future__ import annotations

import io
import json
import string
from collections.abc import Sequence
from pathlib import Path

from g2rpo.evaluation.loaders import (
    Table,
    find_benchmark_source,
    parse_image_field,
    parse_list_field,
    read_hf_dataset,
    read_table,
    resolve_image_references,
)
from g2rpo.evaluation.records import DataFormatError, EvalItem, ImageError
from g2rpo.evaluation.registry import BenchmarkRef

__all__ = ["OPTION_LETTERS", "items_from_table", "load_items", "normalize_hf_table"]

OPTION_LETTERS = string.ascii_uppercase[:9]
"""Option columns VLMEvalKit uses (A–I, MMMU has up to nine)."""

_IMAGE_COLUMNS = ("image", "image_path")


def normalize_hf_table(table: Table, ref: BenchmarkRef) -> Table:
    """Map Hugging Face column conventions onto VLMEvalKit's (see module docstring).

    A RefCOCO-family row with several referring expressions becomes one item per expression (index
    ``<id>_<k>``), as lmms-eval evaluates them.
    """
    rows, numbers = [], []
    columns: dict[str, None] = dict.fromkeys(table.columns)
    for position, (row, number) in enumerate(zip(table.rows, table.row_numbers, strict=True)):
        row = dict(row)
        if "index" not in row:
            row["index"] = row.get("question_id") or row.get("id") or str(position)
        if "image" not in row and "images" in row:
            row["image"] = row.pop("images")
        for key in ("options", "choices"):
            listed = parse_list_field(row.get(key, "")) if key in row and "A" not in row else None
            if listed:
                row.update(zip(OPTION_LETTERS, listed, strict=False))
        expanded = [row]
        if ref.benchmark.splits and "bbox" in row:
            expressions, box = _refcoco_hf_row(row, f"{table.path}, row {number}")
            expanded = [
                {**row, "index": row["index"] if len(expressions) == 1 else f"{row['index']}_{k}", "question": e, "answer": box}
                for k, e in enumerate(expressions)
            ]
        for new in expanded:
            columns.update(dict.fromkeys(new))
            rows.append(new)
            numbers.append(number)
    return Table(table.path, tuple(columns), rows, numbers)


def _refcoco_hf_row(row: dict[str, str], where: str) -> tuple[list[str], str]:
    """(referring expressions, gold box as 0–1000 ``[x1, y1, x2, y2]`` JSON) of an lmms-lab RefCOCO row."""
    from PIL import Image

    expressions = [e for e in (parse_list_field(row.get("answer", "")) or [row.get("answer", "")]) if e.strip()]
    if not expressions:
        raise DataFormatError(f"{where}, field 'answer': no referring expression")
    box = parse_list_field(row["bbox"])
    images = parse_image_field(row.get("image", ""), f"{where}, field 'image'")
    if not box or len(box) != 4 or not images:
        raise DataFormatError(f"{where}, field 'bbox': expected [x, y, w, h] pixels and an image")
    with Image.open(io.BytesIO(images[0])) as image:
        width, height = image.size
    x, y, w, h = (float(v) for v in box)
    rel = [round(x / width * 1000, 1), round(y / height * 1000, 1), round((x + w) / width * 1000, 1), round((y + h) / height * 1000, 1)]
    return expressions, json.dumps(rel)


def items_from_table(
    table: Table,
    ref: BenchmarkRef,
    *,
    decode_images: bool = True,
    extra_required: Sequence[str] = (),
    limit: int | None = None,
) -> list[EvalItem]:
    """Build items from a read table: check columns, filter the split, decode images, parse answers."""
    bench = ref.benchmark
    table.require((*bench.required, *extra_required), f"by {ref.name}")
    if decode_images and "image" in table.columns:
        resolve_image_references(table)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for row, number in zip(table.rows, table.row_numbers, strict=True):
        split = row.get("split", "").strip()
        if ref.split and split and split != ref.split:
            continue
        index = row.get("index", "").strip()
        where = f"{table.path}, row {number} (index {index or '?'})"
        if not index:
            raise DataFormatError(f"{where}, field 'index': empty")
        if index in seen:
            raise DataFormatError(f"{where}, field 'index': duplicate of row {seen[index]}")
        seen[index] = number
        answer = row.get("answer", "")
        answers = (parse_list_field(answer) if bench.multi_answer else None) or [answer]
        options = {letter: row[letter] for letter in OPTION_LETTERS if row.get(letter, "").strip()}
        if not options and row.get("choices", "").strip():
            # MathVista / MathVision keep their options as a list literal in `choices`
            listed = parse_list_field(row["choices"])
            if listed is None:
                raise DataFormatError(f"{where}, field 'choices': not a list literal: {row['choices'][:80]!r}")
            options = dict(zip(OPTION_LETTERS, listed, strict=False))
        images: tuple[bytes, ...] = ()
        error = ""
        if decode_images:
            for column in _IMAGE_COLUMNS:
                if row.get(column, "").strip():
                    try:
                        if column == "image_path":
                            images = tuple(_read_image_paths(row[column], table.path, where))
                        else:
                            images = parse_image_field(row[column], f"{where}, field {column!r}")
                    except ImageError as err:  # this item alone: reported and scored 0, the others go on
                        error = str(err)
                    break
        fields = {k: v for k, v in row.items() if k not in _IMAGE_COLUMNS and k not in OPTION_LETTERS}
        items.append(
            EvalItem(
                benchmark=ref.name,
                index=index,
                question=row.get("question", ""),
                answers=tuple(answers),
                options=options,
                images=images,
                category=(row.get(bench.category_field, "") or row.get("category", "")).strip() if bench.category_field else "",
                split=split or ref.split,
                fields=fields,
                source=table.path,
                row=number,
                error=error,
            )
        )
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise DataFormatError(f"{table.path}: no rows for {ref.name}" + (f" (split {ref.split!r})" if ref.split else ""))
    return items


def _read_image_paths(value: str, table_path: str, where: str) -> list[bytes]:
    paths = parse_list_field(value) or [value]
    out = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else Path(table_path).parent / p
        if not path.is_file():
            raise DataFormatError(f"{where}, field 'image_path': no file {path}")
        out.append(path.read_bytes())
    return out


def load_items(ref: BenchmarkRef, data_root: str | Path, *, limit: int | None = None) -> list[EvalItem]:
    """Load a benchmark's items from ``data_root`` (first ``limit`` rows after the split filter)."""
    source = find_benchmark_source(data_root, ref.file_stems)
    table = normalize_hf_table(read_hf_dataset(source), ref) if source.is_dir() else read_table(source)
    return items_from_table(table, ref, limit=limit)
