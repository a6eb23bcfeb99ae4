"""Record loading: four sources, validation errors naming file/row/field, skip_invalid, task-type mapping."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from g2rpo.data import TASK_TYPE_ALIASES, RecordError, canonical_task, load_records
from g2rpo.data import task_types as task_types_module
from g2rpo.tasks import TASK_FAMILIES


def _good(i: int) -> dict:
    return {
        "problem_id": f"p{i}",
        "problem": "<image>What colour is the square?",
        "answer": "B",
        "images": [f"img/{i}.png"],
        "problem_type": "Multiple Choice",
        "task": "general_vqa",
        "options": ["red", "green"],
        "data_type": "image",
        "data_source": "unit",
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    for i in range(4):
        Image.new("RGB", (8, 6), (i * 60, 0, 0)).save(tmp_path / "img" / f"{i}.png")
    return tmp_path


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_record_is_normalised(root):
    (rec,) = load_records(_jsonl(root / "d.jsonl", [_good(0)]))
    assert rec.problem_id == "p0"
    assert rec.problem_type == "multiple choice"  # canonicalised from "Multiple Choice"
    assert rec.task == "general_vqa"
    assert rec.images == (root / "img" / "0.png",)  # resolved against the file's folder
    assert rec.options == {"A": "red", "B": "green"}  # bare options get letters
    assert rec.extra == {"data_source": "unit"}
    assert rec.source == f"{root / 'd.jsonl'}:line 1"


def test_json_parquet_and_datasets_dir_give_the_same_records(root):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_good(i) for i in range(3)]
    (root / "d.json").write_text(json.dumps(rows))
    pq.write_table(pa.Table.from_pylist(rows), root / "d.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(root / "ds"))
    ref = load_records(_jsonl(root / "d.jsonl", rows))
    for path, kwargs in [(root / "d.json", {}), (root / "d.parquet", {}), (root / "ds", {"data_root": root})]:
        got = load_records(path, **kwargs)
        assert [r.problem_id for r in got] == ["p0", "p1", "p2"]
        assert [dataclasses.replace(r, source="") for r in got] == [
            dataclasses.replace(r, source="") for r in ref
        ]
    assert [r.images for r in load_records(root / "ds", data_root=root)] == [r.images for r in ref]


def test_datasets_dir_with_embedded_images_and_splits(root):
    import datasets

    rows = [{**_good(i), "images": [Image.open(root / "img" / f"{i}.png")]} for i in range(2)]
    features = datasets.Features(
        {
            **{k: datasets.Value("string") for k in _good(0) if k not in ("images", "options")},
            "options": datasets.List(datasets.Value("string")),
            "images": datasets.List(datasets.Image()),
        }
    )
    ds = datasets.Dataset.from_list(rows, features=features)
    datasets.DatasetDict({"train": ds, "val": ds.select([0])}).save_to_disk(str(root / "dd"))
    with pytest.raises(ValueError, match="valid splits: train, val"):
        load_records(root / "dd")
    recs = load_records(root / "dd", split="val")
    assert len(recs) == 1 and isinstance(recs[0].images[0], bytes)
    assert recs[0].images[0][:8] == b"\x89PNG\r\n\x1a\n"  # the encoded PNG, decoded only when used


def _error(root: Path, row: dict | str, line: int = 2) -> RecordError:
    path = _jsonl(root / "bad.jsonl", [_good(0)] * (line - 1) + [row])
    with pytest.raises(RecordError) as info:
        load_records(path)
    err = info.value
    assert err.path == str(path) and err.row == f"line {line}"
    assert str(err).startswith(f"{path}: line {line}: field ")
    return err


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"answer": None}, "answer", "must be a string"),
        ({"answer": "  "}, "answer", "empty"),
        ({"problem": ""}, "problem", "missing or empty"),
        ({"problem": "<image><image>two?"}, "problem", "2 <image> placeholder(s) but 1 image(s)"),
        ({"images": ["img/missing.png"]}, "images[0]", "image file not found"),
        ({"images": ["http://x/y.png"]}, "images[0]", "is a URL"),
        ({"options": 3}, "options", "expected a list"),
        ({"data_type": "video"}, "data_type", "video records are not supported"),
        ({"problem_id": 1.5}, "problem_id", "string or an integer"),
    ],
)
def test_bad_field_is_named(root, change, field, says):
    err = _error(root, {**_good(0), **change})
    assert err.field == field and says in str(err)


def test_unknown_problem_type_and_task_list_the_valid_ones(root):
    err = _error(root, {**_good(0), "problem_type": "essay"})
    assert err.field == "problem_type"
    assert "multiple choice, numerical, regression, math, ocr, spatial grounding, open-ended" in str(err)
    err = _error(root, {**_good(0), "task": "poetry"})
    assert err.field == "task" and ", ".join(TASK_FAMILIES) in str(err)
    bad = {k: v for k, v in _good(0).items() if k != "task"}
    err = _error(root, {**bad, "task_type": "poetry"})
    assert err.field == "task_type"
    err = _error(root, bad)
    assert err.field == "task_type" and "missing" in str(err)


def test_malformed_json_line_and_non_object(root):
    assert _error(root, "{not json", line=3).field == "<json>"
    assert _error(root, "[1, 2]").field == "<record>"


def test_skip_invalid_skips_and_counts(root):
    rows = [_good(0), {**_good(1), "answer": None}, _good(2), "{oops", {**_good(3), "task": "poetry"}]
    recs = load_records(_jsonl(root / "mixed.jsonl", rows), skip_invalid=True)
    assert [r.problem_id for r in recs] == ["p0", "p2"]
    assert recs.n_skipped == 3
    assert [re.search(r"line \d+: field '[^']+'", s).group(0) for s in recs.skipped] == [
        "line 2: field 'answer'",
        "line 4: field '<json>'",
        "line 5: field 'task'",
    ]


def test_answers_become_text_and_options_forms(root):
    rows = [
        {**_good(0), "answer": 3},
        {**_good(1), "answer": 2.5, "options": ["(A) red", "B) green"]},
        {**_good(2), "answer": [1, 2, 3, 4], "options": {"A": "red", "B": "green"}},
        {**_good(3), "answer": {"boxes": [1, 2, 3, 4]}, "options": ["A. red", "blue"]},
    ]
    recs = load_records(_jsonl(root / "a.jsonl", rows))
    assert [r.answer for r in recs] == ["3", "2.5", "[1, 2, 3, 4]", '{"boxes": [1, 2, 3, 4]}']
    assert recs[1].options == recs[2].options == {"A": "red", "B": "green"}
    assert recs[3].options == {"A": "A. red", "B": "blue"}  # not all lettered → all re-lettered, text kept


def test_defaults_data_root_and_text_only(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere")
    row = {k: v for k, v in _good(1).items() if k not in ("problem_id", "data_type", "options")}
    (rec,) = load_records(_jsonl(other / "x.jsonl", [row]), data_root=root)
    assert rec.images == (root / "img" / "1.png",)
    assert rec.problem_id == "x-1" and rec.data_type == "image" and rec.options == {}
    text = {**row, "problem": "2+2?", "images": [], "data_type": "text", "task_type": "Math", "task": None}
    (rec,) = load_records(_jsonl(other / "t.jsonl", [text]))
    assert rec.images == () and rec.task == "math"


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("spatial_grounding", "spatial_grounding"),
        ("Spatial-Grounding", "spatial_grounding"),
        ("grounding", "spatial_grounding"),
        ("RefCOCO", "spatial_grounding"),
        ("spatial", "spatial_reasoning"),
        ("General VQA", "general_vqa"),
        ("geometry", "math"),
        ("ChartQA", "chart"),
        ("DocVQA", "ocr_document"),
        ("doc/vqa", "ocr_document"),
        ("OCR", "ocr_document"),
    ],
)
def test_task_type_mapping(name, family):
    assert canonical_task(name) == family


def test_task_type_table_in_docs_matches_the_registry():
    """The mapping table in the module docstring is the documentation users read: it must be the registry."""
    table: dict[str, str] = {}
    for line in task_types_module.__doc__.splitlines():
        m = re.match(r"^\| (\w+) \| (.+) \|$", line)
        if m and m.group(1) in TASK_FAMILIES:
            table |= {alias.strip(): m.group(1) for alias in m.group(2).split(",")}
    assert table == TASK_TYPE_ALIASES
    assert set(TASK_TYPE_ALIASES.values()) == set(TASK_FAMILIES)


def test_unsupported_file_type(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match=r"valid: \.jsonl, \.json, \.parquet"):
        load_records(tmp_path / "d.csv")
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "nope.jsonl")


def _png_header(width: int, height: int) -> bytes:
    """A PNG with a real header (signature, IHDR) and an empty IDAT: PIL reads its size without any pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_bad_images_are_caught_at_load_with_file_row_and_field(root):
    (root / "img" / "fake.png").write_text("not an image at all\n")
    (root / "img" / "huge.png").write_bytes(_png_header(20000, 20000))
    cases = [
        ("img/fake.png", "not an image PIL can read"),
        ("../../../../etc/passwd", "points outside the data root"),
        ("img/../../outside.png", "points outside the data root"),
        ("img/huge.png", "too many pixels"),
    ]
    for ref, says in cases:
        err = _error(root, {**_good(0), "images": [ref]})
        assert err.field == "images[0]" and says in str(err), (ref, str(err))
    # The root check needs no file system access: it holds with check_images off too.
    path = _jsonl(root / "esc.jsonl", [{**_good(0), "images": ["../../../../etc/passwd"]}])
    with pytest.raises(RecordError, match="points outside the data root"):
        load_records(path, check_images=False)


def test_pixel_bound_is_read_from_the_header(root):
    (root / "img" / "big.png").write_bytes(_png_header(3000, 2000))
    path = _jsonl(root / "big.jsonl", [{**_good(0), "images": ["img/big.png"]}])
    (rec,) = load_records(path)  # 6,000,000 pixels: under the default bound
    assert rec.images == (root / "img" / "big.png",)
    with pytest.raises(RecordError, match=r"3000x2000 = 6,000,000 pixels, over max_image_pixels_at_load=5,999,999"):
        load_records(path, max_image_pixels_at_load=5_999_999)
    assert len(load_records(path, max_image_pixels_at_load=6_000_000)) == 1
    with pytest.raises(ValueError, match="max_image_pixels_at_load must be a positive integer"):
        load_records(path, max_image_pixels_at_load=0)


def test_absolute_image_paths_only_when_allowed(root):
    absolute = str(root / "img" / "2.png")
    path = _jsonl(root / "abs.jsonl", [{**_good(0), "images": [absolute]}])
    with pytest.raises(RecordError, match=r"is an absolute path.*allow_absolute_image_paths: true") as info:
        load_records(path)
    assert info.value.field == "images[0]"
    (rec,) = load_records(path, allow_absolute_image_paths=True)
    assert rec.images == (root / "img" / "2.png",)


def test_skip_invalid_skips_and_counts_bad_images(root, caplog):
    (root / "img" / "fake.png").write_bytes(b"\x00" * 64)
    rows = [
        _good(0),
        {**_good(1), "images": ["img/fake.png"]},
        {**_good(2), "images": ["../../../../etc/passwd"]},
        {**_good(3), "images": ["/etc/passwd"]},
        {**_good(1), "problem_id": "p4"},
    ]
    with caplog.at_level("WARNING", logger="g2rpo.data.records"):
        recs = load_records(_jsonl(root / "imgs.jsonl", rows), skip_invalid=True)
    assert [r.problem_id for r in recs] == ["p0", "p4"]
    assert recs.n_skipped == 3 and recs.skipped_fields == {"images[0]": 3}
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "skipped 3 of 5 record(s) as invalid (images[0]: 3)" in warning


def test_record_text_is_bounded(root):
    path = _jsonl(root / "long.jsonl", [_good(0), {**_good(1), "problem": "<image>" + "x" * 131_072}])
    with pytest.raises(RecordError, match=r"line 2: field 'problem': the record's text is 131,\d{3} characters"):
        load_records(path)  # the default bound: 131,072 characters
    small = _jsonl(root / "small.jsonl", [{**_good(0), "answer": "y" * 50}])
    # problem 33 ("<image>" 7 + "What colour is the square?" 26) + options 3 + 5 ("red", "green") + answer 50 = 91
    assert len(load_records(small, max_record_chars=91)) == 1
    with pytest.raises(RecordError, match=r"field 'answer': the record's text is 91 characters \(answer: 50\)"):
        load_records(small, max_record_chars=90)
    assert len(load_records(path, max_record_chars=None)) == 2
    assert [r.problem_id for r in load_records(path, skip_invalid=True)] == ["p0"]


def test_invalid_utf8_names_file_and_line_and_is_skippable(root):
    path = root / "enc.jsonl"
    lines = [json.dumps(_good(i)).encode() for i in range(3)]
    lines[1] = lines[1].replace(b"What colour", b"What colo\xff\xfeur")
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(RecordError) as info:
        load_records(path)
    assert (info.value.row, info.value.field) == ("line 2", "<utf-8>")
    assert str(info.value).startswith(f"{path}: line 2: field '<utf-8>': not valid UTF-8")
    recs = load_records(path, skip_invalid=True)
    assert [r.problem_id for r in recs] == ["p0", "p2"] and recs.n_skipped == 1
    whole = root / "enc.json"
    whole.write_bytes(b"[\n" + lines[0] + b",\n" + lines[1] + b"\n]\n")
    with pytest.raises(RecordError, match=r"enc\.json: line 3: field '<utf-8>': not valid UTF-8"):
        load_records(whole)


def test_task_type_is_read_before_task_and_nan_means_missing(root):
    row = {**_good(0), "task_type": "chart_figure_qa", "task": "figure question answering", "options": float("nan")}
    (rec,) = load_records(_jsonl(root / "tt.jsonl", [row]))
    assert rec.task == "chart" and rec.extra["task"] == "figure question answering" and rec.options == {}
    (rec,) = load_records(_jsonl(root / "t.jsonl", [{**_good(0), "task_type": float("nan")}]))
    assert rec.task == "general_vqa" and "task_type" not in rec.extra


def test_written_spelling_of_problem_type_and_options_is_kept(root):
    row = {**_good(0), "problem_type": "Multiple Choice", "options": ["(A) red", "B) green"]}
    (rec,) = load_records(_jsonl(root / "w.jsonl", [row]))
    assert rec.problem_type == "multiple choice" and rec.problem_type_as_written == "Multiple Choice"
    assert rec.options == {"A": "red", "B": "green"} and rec.options_as_written == ("(A) red", "B) green")


def test_task_error_note_only_when_both_fields_are_given(root):
    err = _error(root, {**_good(0), "task": "poetry", "task_type": float("nan")})
    assert err.field == "task" and "read from 'task_type'" not in str(err)
    err = _error(root, {**_good(0), "task_type": "poetry"})
    assert err.field == "task_type" and "read from 'task_type'; 'task' is kept as an extra field" in str(err)
