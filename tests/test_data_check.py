"""`g2rpo data check`: each benchmark found, missing or invalid; training records counted per family and
invalid ones per field."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from g2rpo.data.check import check_benchmarks, check_training, where_to_get
from g2rpo.errors import UserError


def _png_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
def root(tmp_path):
    image = _png_b64()
    (tmp_path / "MMStar.tsv").write_text(
        "index\tquestion\tA\tB\tanswer\timage\n"
        f"1\tWhich?\tcat\tdog\tA\t{image}\n"
        f"2\tWhich?\tcat\tdog\tB\t{image}\n"
    )
    not_an_image = base64.b64encode(b"plain text, not a picture " * 8).decode()
    (tmp_path / "ChartQA_TEST.tsv").write_text(
        "index\tquestion\tanswer\timage\n"
        f"1\tHow many?\t['4']\t{image}\n"
        f"2\tHow many?\t['5']\t{not_an_image}\n"
        f"3\tHow many?\t['6']\t{image}\n"
    )
    return tmp_path


def test_benchmarks_found_missing_and_invalid(root):
    found = {c.name: c for c in check_benchmarks(root, ["MMStar", "ChartQA_TEST", "DocVQA_VAL"])}
    assert (found["MMStar"].status, found["MMStar"].n_items, found["MMStar"].n_image_errors) == ("ok", 2, 0)
    assert found["MMStar"].source.endswith("MMStar.tsv")
    chart = found["ChartQA_TEST"]
    assert (chart.status, chart.n_items, chart.n_image_errors) == ("invalid", 3, 1)
    assert "row 2" in chart.message
    assert found["DocVQA_VAL"].status == "missing"
    assert "DocVQA_VAL.tsv" in found["DocVQA_VAL"].message


def test_default_checks_all_18_and_names_the_grounding_source(root):
    checks = check_benchmarks(root)
    assert len(checks) == 18
    assert sum(c.status == "missing" for c in checks) == 16
    assert "lmms-lab/RefCOCO" in where_to_get("RefCOCO")


def test_bad_root_and_unknown_name_are_user_errors(root):
    with pytest.raises(UserError, match="no such folder"):
        check_benchmarks(root / "nope")
    with pytest.raises(UserError, match="did you mean 'MMStar'"):
        check_benchmarks(root, ["MMstarr"])


def test_training_records_counted_per_family_and_invalid_per_field(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "a.png")
    base = {"problem": "<image> How many?", "answer": "<answer>3</answer>", "options": []}
    rows = [
        {**base, "problem_type": "numerical", "task_type": "math_reasoning", "images": ["a.png"]},
        {**base, "problem_type": "OCR", "task_type": "ocr", "images": ["a.png"]},
        {**base, "problem_type": "numerical", "task_type": "math_reasoning", "images": ["../../etc/passwd"]},
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(rows))
    result = check_training(path, images)
    assert (result.n_valid, result.n_invalid, result.ok) == (2, 1, False)
    assert sum(result.per_family.values()) == 2 and len(result.per_family) == 2
    assert result.invalid_fields == {"images[0]": 1}
    assert "images" in result.first_error


def test_command_exit_status_says_whether_anything_is_missing(root, capsys):
    from g2rpo.cli import main

    assert main(["data", "check", "--data-root", str(root), "--benchmarks", "MMStar"]) == 0
    assert main(["data", "check", "--data-root", str(root), "--benchmarks", "MMStar,DocVQA_VAL"]) == 1
    out = capsys.readouterr().out
    assert "missing" in out and "1 problem(s) found" in out
