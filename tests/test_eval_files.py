"""Predictions and benchmark files are read row for row: stray quotes, pandas quoting, bad bytes and bad images.

Expected scores are derived by hand in the comments (MMStar: exact option matching of the ``<answer>`` text).
"""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import pytest

from g2rpo.evaluation import DataFormatError, resolve_benchmark
from g2rpo.evaluation.items import load_items
from g2rpo.evaluation.loaders import read_table, write_table
from g2rpo.evaluation.records import Generation
from g2rpo.evaluation.runner import load_scores, run_benchmark, score_predictions

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


def _bomb_b64(width: int = 20000, height: int = 20000) -> str:
    """A PNG whose header claims ``width``×``height`` pixels (PIL reads only the header to refuse it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode("ascii")


class _Echo:
    """Answers every request with the option letter named after ``Q-<i>:`` in ``answers``."""

    name = "echo"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def describe(self) -> dict[str, str]:
        return {"backend": self.name}

    def generate(self, requests):
        out = []
        for r in requests:
            question = next(q for q in self.answers if f"{q}\n" in r.prompt or r.prompt.startswith(q))
            self.asked.append(question)
            out.append(Generation(f"<answer>{self.answers[question]}</answer>", 3))
        return out


@pytest.mark.parametrize("size", [(20000, 20000), (10000, 10000)])  # over 2× PIL's limit (its error) and over 1×
def test_decompression_bomb_in_an_image_cell_is_that_row_alone(tmp_path: Path, size: tuple[int, int]) -> None:
    from test_eval_synth import columns_of, mcq4

    rows = mcq4([("A", ""), ("B", ""), ("C", "")])
    rows[1]["image"] = _bomb_b64(*size)
    rows = [{k: v for k, v in r.items() if k != "prediction"} for r in rows]
    write_table(tmp_path / "MMStar.tsv", columns_of(rows), rows)
    ref = resolve_benchmark("MMStar")
    items = load_items(ref, tmp_path)
    assert "row 2 (index 2), field 'image'" in items[1].error and "pixel limit" in items[1].error
    backend = _Echo({"Q-1": "A", "Q-2": "B", "Q-3": "D"})
    run = run_benchmark(ref, items, backend, tmp_path / "out")
    # rows 1 and 3 are asked and scored (1 + 0); row 2 is never asked, scores 0 and is reported: 1/3
    assert sorted(backend.asked) == ["Q-1", "Q-3"]
    assert run.result.n_items == 3 and run.result.value == pytest.approx(100 / 3) and run.result.n_errors == 1
    assert "1 item(s) could not be scored" in run.result.notes[-1] and "row 2 (index 2)" in run.result.notes[-1]
    assert run.result.to_dict()["n_errors"] == 1
    [error] = [s for s in load_scores(tmp_path / "out" / "MMStar" / "scores.jsonl") if s.error]
    assert error.index == "2" and error.score == 0.0


def test_undecodable_mask_in_score_is_that_row_alone(tmp_path: Path) -> None:
    from test_eval_synth import columns_of, png_b64

    mask = png_b64(10, 10, left_half=True)  # columns x < 5 inside
    rows = [
        dict(index="1", question="Q-1", mask=mask, category="location", prediction="<answer>[(0.2, 0.5)]</answer>"),  # inside → 1
        dict(index="2", question="Q-2", mask=_bomb_b64(), category="location", prediction="<answer>[(0.2, 0.5)]</answer>"),
        dict(index="3", question="Q-3", mask=mask, category="location", prediction="<answer>[(0.8, 0.5)]</answer>"),  # outside → 0
    ]
    path = tmp_path / "RefSpatial.tsv"
    write_table(path, columns_of(rows), rows)
    run = score_predictions(resolve_benchmark("RefSpatial"), path)
    assert [s.score for s in run.items] == [1.0, 0.0, 0.0] and run.result.value == pytest.approx(100 / 3)
    assert run.result.n_errors == 1 and "row 2 (index 2), field 'mask'" in run.items[1].error


def test_predictions_n_tokens_must_be_a_count(tmp_path: Path) -> None:
    rows = _six_rows()
    header = [*HEADER, "n_tokens"]
    lines = ["\t".join(header)] + ["\t".join([*r, n]) for r, n in zip(rows, ["12", "", "7.0", "lots", "3", "4"], strict=True)]
    path = tmp_path / "MMStar.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"row 4 \(index 4\), field 'n_tokens': 'lots' is not a token count"):
        score_predictions(resolve_benchmark("MMStar"), path)
    path.write_text(path.read_text().replace("\tlots\n", "\t9\n"), encoding="utf-8")
    run = score_predictions(resolve_benchmark("MMStar"), path)
    assert [s.n_tokens for s in run.items] == [12, None, 7, 9, 3, 4]


def test_unreadable_summary_names_the_file(tmp_path: Path) -> None:
    from g2rpo.evaluation.runner import load_run_dir, update_summary

    (tmp_path / "summary.json").write_bytes(b"\x00" * 64)
    with pytest.raises(DataFormatError, match=r"summary\.json: not valid JSON .*delete it and rerun"):
        load_run_dir(tmp_path)
    with pytest.raises(DataFormatError, match=r"summary\.json: not valid JSON"):
        update_summary(tmp_path / "summary.json", [])
