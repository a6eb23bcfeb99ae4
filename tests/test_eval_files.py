"""Predictions and benchmark files are read row for row: stray quotes, pandas quoting, bad bytes and bad images.

Expected scores are derived by hand in the comments (MMStar: exact option matching of the ``<answer>`` text).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from g2rpo.evaluation import DataFormatError, resolve_benchmark
from g2rpo.evaluation.loaders import read_table
from g2rpo.evaluation.runner import score_predictions

HEADER = ["index", "question", "A", "B", "C", "D", "answer", "prediction"]


def _raw_tsv(path: Path, rows: list[list[str]]) -> Path:
    """A TSV written without any quoting (what many scripts do): fields joined by tabs, one row per line."""
    path.write_text("\n".join("\t".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _six_rows() -> list[list[str]]:
    opts = ["apple", "banana", "cherry", "date"]
    return [
        ["1", "Q-1", *opts, "A", "<answer>A</answer>"],  # 1
        ["2", "Q-2", *opts, "B", '"B" is my answer <answer>B</answer>'],  # opens a quote, never closed: 1
        ["3", "Q-3", *opts, "C", "<answer>C</answer>"],  # 1
        ["4", "Q-4", *opts, "D", "<answer>A</answer>"],  # 0
        ["5", "Q-5", *opts, "A", "<answer>A</answer>"],  # 1
        ["6", "Q-6", *opts, "B", '<answer>B</answer> "done'],  # 1
    ]


def test_a_leading_quote_does_not_swallow_later_rows(tmp_path: Path) -> None:
    path = _raw_tsv(tmp_path / "MMStar.tsv", _six_rows())
    run = score_predictions(resolve_benchmark("MMStar"), path)
    # every row read: 5 of 6 right → 83.33 %, and the quote stays part of the prediction text
    assert run.result.n_items == 6
    assert run.result.value == pytest.approx(500 / 6)
    assert run.items[1].prediction.startswith('"B" is my answer')
    assert [i.index for i in run.items] == ["1", "2", "3", "4", "5", "6"]


def test_pandas_quoting_round_trips(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    values = [
        ["1", "Q-1", "a", "b", "c", "d", "A", 'say "hi" now'],  # inner quotes → doubled by pandas
        ["2", "Q-2", "a", "b", "c", "d", "B", "line one\nline two"],  # a line break → quoted field
        ["3", "Q-3", "a", "b", "c", "d", "C", "tab\there"],  # a tab → quoted field
        ["4", "Q-4", "a", "b", "c", "d", "D", '"quoted"'],
    ]
    path = tmp_path / "p.tsv"
    pandas.DataFrame(values, columns=HEADER).to_csv(path, sep="\t", index=False)
    table = read_table(path)
    assert [[row[c] for c in HEADER] for row in table.rows] == values
    # the same rows on one line each (no tab or line break inside): the one-row-per-line reading unquotes them
    one_line = [v for v in values if "\n" not in v[-1] and "\t" not in v[-1]]
    pandas.DataFrame(one_line, columns=HEADER).to_csv(path, sep="\t", index=False)
    assert [[row[c] for c in HEADER] for row in read_table(path).rows] == one_line


def test_unreadable_table_names_the_line(tmp_path: Path) -> None:
    rows = _six_rows()
    rows[2][-1] = "first line\nsecond line"  # an unquoted line break: line 5 has 1 field
    rows[1][-1] = '"unclosed'
    path = _raw_tsv(tmp_path / "MMStar.tsv", rows)
    with pytest.raises(DataFormatError) as err:
        read_table(path)
    text = str(err.value)
    assert str(path) in text and "line 5 has 1 field(s), the header 8" in text


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = _raw_tsv(tmp_path / "MMStar.tsv", _six_rows())
    data = path.read_bytes().split(b"\n")
    data[3] = data[3].replace(b"Q-3", b"Q-\xff3")  # line 4 = the third data row
    path.write_bytes(b"\n".join(data))
    with pytest.raises(DataFormatError, match=r"MMStar\.tsv, line 4: not valid UTF-8 \(byte 0xff at column 5\)"):
        read_table(path)
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_bytes(b'{"index": 1}\n{"index": 2}\n{"index": "\xc3"}\n')
    with pytest.raises(DataFormatError, match=r"p\.jsonl, line 3: not valid UTF-8"):
        read_table(jsonl)


def _png_b64(size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("L", size, 0).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
