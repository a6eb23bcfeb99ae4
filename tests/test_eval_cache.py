"""The prediction cache: one identity per model, corrupt lines reported and skipped (never reinterpreted),
and scored items that round-trip through ``scores.jsonl``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from g2rpo.evaluation import DataFormatError, resolve_benchmark
from g2rpo.evaluation.backends import GenerationSettings, LazyBackend
from g2rpo.evaluation.cache import PredictionCache
from g2rpo.evaluation.items import load_items
from g2rpo.evaluation.records import Generation, ScoredItem
from g2rpo.evaluation.report import build_report
from g2rpo.evaluation.runner import BenchmarkRun, load_scores, run_benchmark, write_scores
from test_eval_run import ScriptedBackend, answers_by_question
from test_eval_synth import write_benchmark


def _lines(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def test_corrupt_lines_are_reported_skipped_and_kept_aside(tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path, {"model": "m"})
    text = _lines(
        {"index": "1", "prediction": "a", "n_tokens": 3, "key": "k1"},
        "GARBAGE",
        {"index": "3", "prediction": None, "key": "k3"},  # null is not the text "None"
        {"index": "4", "prediction": "d", "n_tokens": "lots", "key": "k4"},
        {"index": "5", "prediction": "e", "n_tokens": None, "key": "k5"},
    )
    cache.path.write_text(text, encoding="utf-8")
    with pytest.warns(UserWarning) as caught:
        done = cache.load()
    message = str(caught[0].message)
    assert "skipped 3 corrupt line(s)" in message
    assert "line 2: not JSON" in message and "line 3: 'prediction'" in message and "line 4: 'n_tokens'" in message
    assert sorted(done) == ["1", "5"]
    assert done["1"].generation == Generation("a", 3) and done["5"].generation == Generation("e", None)
    aside = tmp_path / "predictions.jsonl.corrupt-1"
    assert str(aside) in message and aside.read_text(encoding="utf-8") == text  # the file as found
    # the cache now holds the good lines only: the next load is quiet and finds the same items
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(cache.load()) == ["1", "5"]


def test_a_file_of_nul_bytes_is_moved_aside_not_truncated(tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path, {"model": "m"})
    cache.path.write_bytes(b"\x00" * 4096)  # what a power cut can leave in an unflushed file
    with pytest.warns(UserWarning, match=r"skipped 1 corrupt line\(s\).*kept as .*predictions\.jsonl\.corrupt-1"):
        assert cache.load() == {}
    assert (tmp_path / "predictions.jsonl.corrupt-1").read_bytes() == b"\x00" * 4096
    cache.path.write_bytes(b"\x00" * 8)
    with pytest.warns(UserWarning, match=r"corrupt-2"):  # a second corrupt file does not overwrite the first
        cache.load()
    assert (tmp_path / "predictions.jsonl.corrupt-1").stat().st_size == 4096


def test_corrupt_lines_are_regenerated_and_the_report_builds(tmp_path: Path) -> None:
    name = "ChartQA_TEST"
    _, expected = write_benchmark(tmp_path / "data", name)
    ref = resolve_benchmark(name)
    items = load_items(ref, tmp_path / "data")
    answers = answers_by_question(name)
    run_benchmark(ref, items, ScriptedBackend(answers), tmp_path / "out", batch_size=8)
    cache = tmp_path / "out" / name / "predictions.jsonl"
    records = [json.loads(line) for line in cache.read_text().splitlines()]
    records[1]["n_tokens"] = "lots"
    records[2]["prediction"] = None
    cache.write_text(_lines(*records), encoding="utf-8")
    again = ScriptedBackend(answers)
    with pytest.warns(UserWarning, match="line 2: 'n_tokens'.*line 3: 'prediction'"):
        run = run_benchmark(ref, items, again, tmp_path / "out", batch_size=8)
    assert again.batches == [2]  # exactly the two corrupt items were generated again
    assert run.result.value == pytest.approx(expected)
    scored = load_scores(tmp_path / "out" / name / "scores.jsonl")
    assert [s.n_tokens for s in scored] == [s.n_tokens for s in run.items] and None not in [s.n_tokens for s in scored]
    assert "| Chart | ChartQA_TEST |" in build_report({name: run.result}, {name: scored}).markdown


def test_model_identity_is_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "outputs" / "tiny").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    settings = GenerationSettings(max_new_tokens=8)
    spellings = ["outputs/tiny", "outputs/tiny/", str(tmp_path / "outputs" / "tiny"), "./outputs/../outputs/tiny"]
    infos = [LazyBackend("hf", m, settings).describe() for m in spellings]
    assert {i["model"] for i in infos} == {str((tmp_path / "outputs" / "tiny").resolve())}
    PredictionCache(tmp_path / "run", infos[0]).append([("1", Generation("a"), "k")])
    for info in infos[1:]:
        PredictionCache(tmp_path / "run", info)  # the same model: no "changed: ['model']"
    # hub ids and served model names are names, not paths: unchanged
    assert LazyBackend("hf", "Qwen/Qwen3-VL-8B-Instruct", settings).describe()["model"] == "Qwen/Qwen3-VL-8B-Instruct"
    assert LazyBackend("openai", "outputs/tiny", settings).describe()["model"] == "outputs/tiny"


def test_cache_written_with_a_relative_model_path_is_still_the_same_model(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ckpt").mkdir()
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    info = LazyBackend("hf", "ckpt", GenerationSettings()).describe()
    (run / "run.json").write_text(json.dumps({**info, "model": "ckpt/"}))  # as older versions wrote it
    (run / "predictions.jsonl").write_text(_lines({"index": "1", "prediction": "a", "key": "k"}))
    cache = PredictionCache(run, info)
    assert list(cache.load()) == ["1"]


def test_scored_item_round_trips_every_field(tmp_path: Path) -> None:
    item = ScoredItem(
        index="17",
        prediction='<answer>{"boxes": [1, 2, 3, 4]}</answer>',
        extracted='{"boxes": [1, 2, 3, 4]}',
        score=0.25,
        category="cat",
        split="testA",
        n_tokens=12,
        extras={"iou": 0.4375},
        n_chars=40,
        error="some.tsv, row 3 (index 17), field 'image': not an image",
    )
    assert ScoredItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    plain = ScoredItem("1", "text", "t", 1.0)
    assert ScoredItem.from_dict(plain.to_dict()) == plain
    result = BenchmarkRun(None, [item, plain])  # type: ignore[arg-type]  (write_scores reads only the items)
    write_scores(tmp_path, result)
    assert load_scores(tmp_path / "scores.jsonl") == [item, plain]


def test_scores_file_with_a_bad_line_names_it(tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    path.write_text(_lines(ScoredItem("1", "p", "a", 1.0).to_dict(), {"index": "2", "score": "high"}))
    with pytest.raises(DataFormatError, match=r"scores\.jsonl, line 2: .*field 'score'"):
        load_scores(path)
