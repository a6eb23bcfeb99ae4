"""Bad inputs give clear errors naming the file, row and field (missing columns, broken base64, unknown
benchmark, malformed golds, corrupt caches)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from g2rpo.evaluation import DataFormatError, resolve_benchmark
from g2rpo.evaluation.cache import PredictionCache
from g2rpo.evaluation.items import load_items
from g2rpo.evaluation.loaders import read_table, write_table
from g2rpo.evaluation.runner import score_predictions
from test_eval_synth import columns_of, mcq4, write_benchmark


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    write_table(path, columns_of(rows), rows)
    return path


def test_unknown_benchmark_lists_valid_names() -> None:
    with pytest.raises(KeyError) as err:
        resolve_benchmark("MMStarr")
    message = err.value.args[0]
    assert "MMStarr" in message and "MMStar" in message and "RefCOCO_testA" in message
    with pytest.raises(KeyError, match="RefCOCOg_test"):
        resolve_benchmark("RefCOCOg_testA")  # RefCOCOg has val/test only


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("MMStarr", "MMStar"), ("mmstar", "MMStar"), ("MathVista_Mini", "MathVista_MINI"), ("RefCOCO_testa", "RefCOCO_testA"),
     ("OCRBench_v2", "OCRBench"), ("ChartQA", "ChartQA_TEST")],
)
def test_unknown_benchmark_suggests_the_closest_name(typed: str, meant: str) -> None:
    with pytest.raises(KeyError) as err:
        resolve_benchmark(typed)
    assert f"unknown benchmark {typed!r} (did you mean {meant!r}?); valid names: " in err.value.args[0]


def test_no_suggestion_for_a_name_far_from_every_benchmark() -> None:
    with pytest.raises(KeyError) as err:
        resolve_benchmark("ImageNet")
    assert "did you mean" not in err.value.args[0] and "valid names: MMMU_DEV_VAL" in err.value.args[0]


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "answer"} for r in mcq4([("A", "A")])]
    path = _write(tmp_path / "MMStar.tsv", rows)
    with pytest.raises(DataFormatError) as err:
        load_items(resolve_benchmark("MMStar"), tmp_path)
    assert str(path) in str(err.value) and "'answer'" in str(err.value)


def test_predictions_file_needs_prediction_column(tmp_path: Path) -> None:
    path, _ = write_benchmark(tmp_path, "MMStar")
    with pytest.raises(DataFormatError, match="'prediction'"):
        score_predictions(resolve_benchmark("MMStar"), path)


def test_broken_base64_is_an_error_of_that_row(tmp_path: Path) -> None:
    rows = mcq4([("A", "A"), ("B", "B")])
    rows[1]["image"] = "not*valid*base64" * 8  # longer than 64 chars: not an index reference
    path = _write(tmp_path / "MMStar.tsv", rows)
    first, second = load_items(resolve_benchmark("MMStar"), tmp_path)
    assert first.error == "" and first.images
    text = second.error
    assert str(path) in text and "row 2" in text and "'image'" in text and "base64" in text and not second.images


def test_base64_that_is_not_an_image(tmp_path: Path) -> None:
    rows = mcq4([("A", "A")])
    rows[0]["image"] = base64.b64encode(b"hello world, not a picture" * 4).decode()
    _write(tmp_path / "MMStar.tsv", rows)
    [item] = load_items(resolve_benchmark("MMStar"), tmp_path)
    assert re.search(r"row 1 .*'image'.*not an image", item.error)


def test_dangling_image_reference(tmp_path: Path) -> None:
    rows = mcq4([("A", "A"), ("B", "B")])
    rows[1]["image"] = "99"
    _write(tmp_path / "MMStar.tsv", rows)
    with pytest.raises(DataFormatError, match=r"row 2 \(index 2\), field 'image': '99'"):
        load_items(resolve_benchmark("MMStar"), tmp_path)


def test_duplicate_index(tmp_path: Path) -> None:
    rows = mcq4([("A", "A"), ("B", "B")])
    rows[1]["index"] = "1"
    _write(tmp_path / "MMStar.tsv", rows)
    with pytest.raises(DataFormatError, match=r"row 2.*duplicate of row 1"):
        load_items(resolve_benchmark("MMStar"), tmp_path)


def test_malformed_gold_names_answer_field(tmp_path: Path) -> None:
    rows = [dict(index="7", question="cup", answer="not a box", split="val", prediction='{"boxes": [1, 2, 3, 4]}')]
    path = _write(tmp_path / "RefCOCO.tsv", rows)
    with pytest.raises(DataFormatError) as err:
        score_predictions(resolve_benchmark("RefCOCO"), path)
    assert str(path) in str(err.value) and "row 1 (index 7)" in str(err.value) and "'answer'" in str(err.value)


def test_missing_data_file_lists_paths_tried(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as err:
        load_items(resolve_benchmark("RefCOCO_testA"), tmp_path)
    assert "RefCOCO_testA.tsv" in str(err.value) and "RefCOCO.tsv" in str(err.value)


def test_bad_jsonl_row_and_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"index": 1}\n{"index": 2,\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"p\.jsonl, row 2: invalid JSON"):
        read_table(path)
    other = tmp_path / "p.parquet"
    other.write_bytes(b"x")
    with pytest.raises(DataFormatError, match="unsupported file type"):
        read_table(other)


def test_cache_refuses_other_settings(tmp_path: Path) -> None:
    from g2rpo.evaluation.records import Generation

    PredictionCache(tmp_path, {"model": "m", "max_new_tokens": 8}).append([("1", Generation("a"), "k")])
    with pytest.raises(ValueError, match=r"changed: \['max_new_tokens'\].*--overwrite"):
        PredictionCache(tmp_path, {"model": "m", "max_new_tokens": 16})
    fresh = PredictionCache(tmp_path, {"model": "m", "max_new_tokens": 16}, overwrite=True)
    assert fresh.load() == {}
    assert json.loads((tmp_path / "run.json").read_text())["max_new_tokens"] == 16


def test_image_lists_and_bom(tmp_path: Path) -> None:
    import io

    import numpy as np
    from PIL import Image

    def noise_png(seed: int) -> str:
        pixels = np.random.default_rng(seed).integers(0, 256, (260, 260, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode()

    images = [noise_png(0), noise_png(1)]
    assert sum(map(len, images)) > 200_000  # larger than any other list literal the loader accepts
    rows = mcq4([("A", "A")])
    rows[0]["image"] = repr(images)  # VLMEvalKit's multi-image cell: a Python list literal
    path = _write(tmp_path / "MMStar.tsv", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a UTF-8 byte-order mark (Excel exports)
    [item] = load_items(resolve_benchmark("MMStar"), tmp_path)
    assert [base64.b64encode(b).decode() for b in item.images] == images
