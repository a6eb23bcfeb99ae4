"""The evaluation loop: generation through a backend, the resumable cache, Hugging Face layouts, the
``eval``/``score`` commands, the openai backend against a local fake server, reports, and the tiny model."""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from g2rpo.evaluation import resolve_benchmark
from g2rpo.evaluation.backends import GenerationSettings
from g2rpo.evaluation.backends.openai import OpenAIBackend, ServerError
from g2rpo.evaluation.items import load_items
from g2rpo.evaluation.records import Generation, GenerationRequest
from g2rpo.evaluation.report import build_report, load_baselines
from g2rpo.evaluation.runner import run_benchmark, score_predictions
from test_eval_synth import SYNTH, write_benchmark

ROOT = Path(__file__).resolve().parents[1]


def answers_by_question(name: str) -> dict[str, str]:
    """Question text → the synthetic prediction (prompts contain the question verbatim)."""
    return {r["question"]: r["prediction"] for r in SYNTH[name]()[0]}


def lookup(answers: dict[str, str], prompt: str) -> str:
    # the longest question contained in the prompt (Q-1 is a prefix of Q-1r)
    hits = [q for q in answers if re.search(rf"(?<![\w-]){re.escape(q)}(?![\w-])", prompt)]
    return answers[max(hits, key=len)] if hits else "no idea"


class ScriptedBackend:
    """Answers each prompt with the synthetic prediction of its question; can crash after N batches."""

    name = "scripted"

    def __init__(self, answers: dict[str, str], crash_after: int | None = None) -> None:
        self.answers = answers
        self.crash_after = crash_after
        self.batches: list[int] = []
        self.seen: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if self.crash_after is not None and len(self.batches) >= self.crash_after:
            raise RuntimeError("simulated crash")
        self.batches.append(len(requests))
        out = []
        for r in requests:
            assert r.images, "every synthetic item has an image"
            text = lookup(self.answers, r.prompt)
            self.seen.append(text)
            out.append(Generation(text, len(text.split())))
        return out


@pytest.mark.parametrize("name", ["MMBench_DEV_EN", "OCRBench", "RefSpatial", "RefCOCO"])
def test_eval_loop_matches_score_path(tmp_path: Path, name: str) -> None:
    _, expected = write_benchmark(tmp_path / "data", name)
    ref = resolve_benchmark(name)
    items = load_items(ref, tmp_path / "data")
    run = run_benchmark(ref, items, ScriptedBackend(answers_by_question(name)), tmp_path / "out", batch_size=2)
    assert run.result.value == pytest.approx(expected)
    # predictions.tsv is VLMEvalKit's layout: `g2rpo score` on it gives the same numbers
    rescored = score_predictions(ref, tmp_path / "out" / name / "predictions.tsv")
    assert rescored.result.to_dict() == run.result.to_dict()


def test_prompt_follows_the_protocol(tmp_path: Path) -> None:
    write_benchmark(tmp_path, "MMBench_DEV_EN")
    backend = ScriptedBackend({})
    captured: list[str] = []
    backend.generate = lambda reqs: [captured.append(r.prompt) or Generation("x") for r in reqs]  # type: ignore[method-assign]
    ref = resolve_benchmark("MMBench_DEV_EN")
    run_benchmark(ref, load_items(ref, tmp_path, limit=1), backend, tmp_path / "out")
    assert captured[0] == (
        "Hint: look\nQ-1\nOptions:\nA. cat\nB. dog\n"
        "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
        "The reasoning process MUST BE enclosed within <thinking> </thinking> tags. "
        "The final answer MUST BE put in <answer> </answer> tags.\n"
        "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer> </answer> tags."
    )


def test_prompt_tail_per_item(tmp_path: Path) -> None:
    from g2rpo.evaluation.runner import make_request

    for name, expected in (("RoboSpatialHome", ["yes or no", "yes or no", "point_2d", "point_2d"]),
                           ("MathVision_MINI", ["option letter", "an expression", "an expression"])):
        write_benchmark(tmp_path, name)
        ref = resolve_benchmark(name)
        tails = [make_request(ref, item).prompt.rsplit("\n", 1)[1] for item in load_items(ref, tmp_path)]
        assert [e in t for e, t in zip(expected, tails, strict=True)] == [True] * len(expected), tails


def test_resume_after_interrupted_run(tmp_path: Path) -> None:
    name = "ChartQA_TEST"
    _, expected = write_benchmark(tmp_path / "data", name)
    ref = resolve_benchmark(name)
    items = load_items(ref, tmp_path / "data")
    answers = answers_by_question(name)
    crashing = ScriptedBackend(answers, crash_after=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_benchmark(ref, items, crashing, tmp_path / "out", batch_size=2)
    cache = tmp_path / "out" / name / "predictions.jsonl"
    assert len(cache.read_text().splitlines()) == 2  # the first batch survived the crash
    # a crash in the middle of a write leaves a cut line: it is dropped and regenerated
    with cache.open("a") as fh:
        fh.write('{"index": "3", "predic')
    resumed = ScriptedBackend(answers)
    with pytest.warns(UserWarning, match="truncated last line"):
        run = run_benchmark(ref, items, resumed, tmp_path / "out", batch_size=2)
    assert resumed.batches == [2]  # only the two items not in the cache were generated again
    assert run.result.value == pytest.approx(expected)
    again = ScriptedBackend(answers)
    run_benchmark(ref, items, again, tmp_path / "out", batch_size=2)
    assert again.batches == []  # everything cached
    summary_lines = [json.loads(line) for line in (tmp_path / "out" / name / "scores.jsonl").read_text().splitlines()]
    assert [s["score"] for s in summary_lines] == [1.0, 0.0, 1.0, 0.0]
    # an item whose prompt changed since it was cached (here: its question) is generated again, alone
    changed = [replace(items[0], question=items[0].question + " (reworded)"), *items[1:]]
    again = ScriptedBackend(answers)
    run_benchmark(ref, changed, again, tmp_path / "out", batch_size=2)
    assert again.batches == [1]


def test_hf_layouts(tmp_path: Path) -> None:
    import datasets
    from PIL import Image

    image = Image.new("RGB", (200, 100), (10, 20, 30))
    # lmms-lab/RefCOCO* parquet layout: expression in `answer`, COCO bbox [x, y, w, h] in pixels
    refcocog = datasets.Dataset.from_dict(
        {"question_id": ["a1"], "image": [image], "answer": [["the dark box", "box at the top left"]],
         "bbox": [[20.0, 10.0, 40.0, 20.0]]},
        features=datasets.Features({"question_id": datasets.Value("string"), "image": datasets.Image(),
                                    "answer": datasets.Sequence(datasets.Value("string")),
                                    "bbox": datasets.Sequence(datasets.Value("float32"))}),
    )
    (tmp_path / "RefCOCOg").mkdir()
    refcocog.to_parquet(str(tmp_path / "RefCOCOg" / "val-00000-of-00001.parquet"))
    item, second = load_items(resolve_benchmark("RefCOCOg_val"), tmp_path)  # one item per expression
    # x1 = 20/200·1000 = 100, y1 = 10/100·1000 = 100, x2 = 60/200·1000 = 300, y2 = 30/100·1000 = 300
    assert json.loads(item.answer) == json.loads(second.answer) == [100.0, 100.0, 300.0, 300.0]
    assert (item.question, item.split, item.index, len(item.images)) == ("the dark box", "val", "a1_0", 1)
    assert (second.question, second.index) == ("box at the top left", "a1_1")
    # save_to_disk layout with an options list
    mmstar = datasets.DatasetDict({"val": datasets.Dataset.from_dict(
        {"id": ["7"], "image": [image], "question": ["Q-7"], "options": [["cat", "dog"]], "answer": ["B"]},
        features=datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(), "question": datasets.Value("string"),
                                    "options": datasets.Sequence(datasets.Value("string")), "answer": datasets.Value("string")}),
    )})
    mmstar.save_to_disk(str(tmp_path / "MMStar"))
    [item] = load_items(resolve_benchmark("MMStar"), tmp_path)
    assert dict(item.options) == {"A": "cat", "B": "dog"} and item.index == "7" and item.images


def test_score_command_writes_summary_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from g2rpo.evaluation import cli_score

    path, expected = write_benchmark(tmp_path, "OCRBench", predictions=True, suffix=".jsonl")
    args = argparse.Namespace(benchmark="OCRBench", predictions=str(path), out=str(tmp_path / "o"), think_tag="thinking",
                              baseline=[str(ROOT / "recipes" / "paper_results.json") + ":OpenVLThinkerV2"])
    assert cli_score.main(args) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["OCRBench"]["score"] == pytest.approx(expected, abs=1e-4) and summary["OCRBench"]["primary"] == "score"
    assert "OCRBench" in capsys.readouterr().out
    md = (tmp_path / "o" / "report.md").read_text()
    # OCRBench 1000 · 2/3 = 666.7 vs the paper's 911: Δ = −244.3; document average over 1 of 3 benchmarks
    assert "| Document | OCRBench | score | 3 | 666.7 | 911.0 | -244.3 |" in md
    assert "(1/3)" in md
    html = (tmp_path / "o" / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    # a second benchmark scored into the same directory joins the summary and the report
    path2, _ = write_benchmark(tmp_path, "MMStar", predictions=True)
    assert cli_score.main(argparse.Namespace(**{**vars(args), "benchmark": "MMStar", "predictions": str(path2)})) == 0
    assert set(json.loads((tmp_path / "o" / "summary.json").read_text())) == {"OCRBench", "MMStar"}
    md = (tmp_path / "o" / "report.md").read_text()
    assert "| General VQA | MMStar | accuracy | 4 | 50.0 | 73.8 | -23.8 |" in md and "| Document | OCRBench |" in md
    bad = argparse.Namespace(**{**vars(args), "benchmark": "OCRBenchh"})
    assert cli_score.main(bad) == 2
    assert "unknown benchmark 'OCRBenchh'" in capsys.readouterr().err


class _FakeServer(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, str]] = {}
    failures: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][0]["content"]
        prompt = content[-1]["text"]
        assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
        if "SLOW" in prompt:
            import time

            time.sleep(1.0)
        with self.lock:
            left = self.failures.get(prompt, 0)
            self.failures[prompt] = left - 1
        if left > 0:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        text = lookup(self.answers, prompt)
        payload = json.dumps({"choices": [{"message": {"content": text}}], "usage": {"completion_tokens": 7}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_backend_retries_and_keeps_order(tmp_path: Path, fake_server: str) -> None:
    name = "EmbSpatialBench"
    _FakeServer.answers = answers_by_question(name)
    write_benchmark(tmp_path, name)
    ref = resolve_benchmark(name)
    items = load_items(ref, tmp_path)
    from g2rpo.evaluation.runner import make_request

    requests = [make_request(ref, i) for i in items]
    _FakeServer.failures = {requests[0].prompt: 2}  # first request: 503, 503, then 200
    backend = OpenAIBackend("served", GenerationSettings(max_new_tokens=8), base_url=fake_server, concurrency=4, backoff_s=0.01)
    out = backend.generate(requests)
    assert [g.text for g in out] == [_FakeServer.answers[i.question] for i in items]
    assert out[0].n_tokens == 7
    _FakeServer.failures = {requests[0].prompt: 5}
    impatient = OpenAIBackend("served", GenerationSettings(), base_url=fake_server, max_retries=1, backoff_s=0.01)
    with pytest.raises(ServerError, match="gave up after 2 attempts; last error: HTTP 503"):
        impatient.generate(requests[:1])
    hasty = OpenAIBackend("served", GenerationSettings(), base_url=fake_server, max_retries=0, timeout_s=0.2)
    with pytest.raises(ServerError, match="last error: ReadTimeout"):
        hasty.generate([GenerationRequest("SLOW question", requests[0].images)])


def test_eval_command_with_openai_backend(tmp_path: Path, fake_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from g2rpo.evaluation import cli_eval

    _FakeServer.answers = {**answers_by_question("MMStar"), **answers_by_question("RefCOCO")}
    _FakeServer.failures = {}
    write_benchmark(tmp_path / "data", "MMStar")
    write_benchmark(tmp_path / "data", "RefCOCO")
    parser = argparse.ArgumentParser()
    cli_eval.add_arguments(parser)
    args = parser.parse_args(["--model", "served", "--benchmarks", "MMStar,RefCOCO_val", "--data-root", str(tmp_path / "data"),
                              "--backend", "openai", "--base-url", fake_server, "--out", str(tmp_path / "out"), "--limit", "3"])
    assert cli_eval.main(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["MMStar"]["accuracy"] == pytest.approx(200 / 3)  # first 3 rows: 1, 0, 1
    assert summary["RefCOCO_val"]["acc@0.5"] == 50.0 and summary["RefCOCO_val"]["n_items"] == 2
    assert (tmp_path / "out" / "report.html").exists()
    # a rerun with everything cached never constructs the backend (no model load, no server needed)
    import g2rpo.evaluation.backends.base as base

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("backend constructed although every item was cached")

    monkeypatch.setattr(base, "make_backend", refuse)
    assert cli_eval.main(args) == 0


def test_report_compares_with_baselines() -> None:
    from g2rpo.evaluation.records import BenchmarkResult

    baselines = load_baselines(str(ROOT / "recipes" / "paper_results.json"))
    assert [b.name for b in baselines][:2] == ["OpenVLThinkerV2", "Qwen3-VL-8B-Instruct"]
    results = {n: BenchmarkResult(n, "accuracy", {"accuracy": v}, 10) for n, v in
               {"MMMU_DEV_VAL": 70.0, "MMBench_DEV_EN": 90.0, "MMStar": 74.0}.items()}
    report = build_report(results, baselines=baselines[:2])
    # general VQA average (70 + 90 + 74) / 3 = 78.0; paper 77.9 → +0.1, base 71.3 → +6.7
    assert "| General VQA | **average** | percent | 30 | 78.0 | 77.9 | +0.1 | 71.3 | +6.7 |" in report.markdown
    assert "| General VQA | MMMU_DEV_VAL | accuracy | 10 | 70.0 | 71.6 | -1.6 | 60.2 | +9.8 |" in report.markdown


@pytest.mark.slow
def test_tiny_model_end_to_end(tmp_path: Path) -> None:
    from g2rpo.evaluation.backends.hf import HFBackend
    from g2rpo.models.tiny import build_tiny

    model = build_tiny(tmp_path / "tiny")
    backend = HFBackend(str(model), GenerationSettings(max_new_tokens=6), device="cpu", max_pixels=64 * 64)
    # the lazy wrapper the CLI uses keys the cache exactly as the real backend does
    from g2rpo.evaluation.backends import LazyBackend

    lazy = LazyBackend("hf", str(model), GenerationSettings(max_new_tokens=6), device="cpu", max_pixels=64 * 64)
    assert lazy.describe() == backend.describe()
    for name in ("MMStar", "DocVQA_VAL", "RefCOCO_val"):
        write_benchmark(tmp_path / "data", resolve_benchmark(name).benchmark.name)
        ref = resolve_benchmark(name)
        items = load_items(ref, tmp_path / "data", limit=2)
        run = run_benchmark(ref, items, backend, tmp_path / "out", batch_size=2)
        assert run.result.n_items == len(items)
        assert all(s.n_tokens is not None and 0 <= s.n_tokens <= 6 for s in run.items)
        assert 0.0 <= run.result.value <= 100.0
    # greedy decoding: a batch gives the same texts as one request at a time (left padding is right)
    requests = [GenerationRequest(p, (items[0].images[0],)) for p in ("short", "a much longer prompt " * 5)]
    batched = backend.generate(requests)
    single = [backend.generate([r])[0] for r in requests]
    assert [g.text for g in batched] == [g.text for g in single]


def test_vllm_backend_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vllm backend's calls into vLLM (a stand-in module records them; vLLM itself needs a GPU)."""
    import sys
    import types

    calls: dict[str, Any] = {}

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            calls["llm"] = kwargs

        def chat(self, conversations: list[Any], sampling: Any, use_tqdm: bool) -> list[Any]:
            calls["chat"] = (conversations, sampling, use_tqdm)
            out = types.SimpleNamespace(text="<answer>B</answer>", token_ids=[1, 2, 3])
            return [types.SimpleNamespace(outputs=[out]) for _ in conversations]

    fake = types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from g2rpo.evaluation.backends import make_backend

    backend = make_backend("vllm", "ckpt", GenerationSettings(max_new_tokens=9), tensor_parallel_size=2)
    png = bytes.fromhex("89504e470d0a1a0a") + b"rest"
    out = backend.generate([GenerationRequest("Q?", (png,)), GenerationRequest("R?")])
    assert [(g.text, g.n_tokens) for g in out] == [("<answer>B</answer>", 3)] * 2
    assert calls["llm"] == {"model": "ckpt", "tensor_parallel_size": 2, "limit_mm_per_prompt": {"image": 8}, "seed": 0}
    conversations, sampling, _ = calls["chat"]
    assert sampling == {"max_tokens": 9, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    first = conversations[0][0]["content"]
    assert first[0]["image_url"]["url"].startswith("data:image/png;base64,") and first[1] == {"type": "text", "text": "Q?"}
    assert conversations[1][0]["content"] == [{"type": "text", "text": "R?"}]


def test_vllm_missing_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm → ImportError
    from g2rpo.evaluation.backends import make_backend

    with pytest.raises(ImportError, match=r"pip install 'g2rpo\[vllm\]'.*--backend openai"):
        make_backend("vllm", "ckpt", GenerationSettings())


def test_one_generation_entry_point_places_images_as_asked() -> None:
    from g2rpo.evaluation.backends.hf import HFBackend, chat_messages
    from g2rpo.evaluation.backends.vllm import openai_messages
    from g2rpo.evaluation.cache import request_key

    assert not hasattr(HFBackend, "generate_messages")  # the demo and the harness both call generate
    png = bytes.fromhex("89504e470d0a1a0a")
    default = GenerationRequest("Which is red?", (png, png))
    assert chat_messages(default)[0]["content"] == [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Which is red?"}]
    placed = GenerationRequest("Left <image> right <image> which?", (png, png), at_placeholders=True)
    assert chat_messages(placed)[0]["content"] == [
        {"type": "text", "text": "Left"}, {"type": "image"}, {"type": "text", "text": "right"}, {"type": "image"},
        {"type": "text", "text": "which?"},
    ]  # fmt: skip
    kinds = [p["type"] for p in openai_messages(placed)[0]["content"]]
    assert kinds == ["text", "image_url", "text", "image_url", "text"]
    # the arrangement is part of what the model sees, so part of the cache key; the default key is unchanged
    assert request_key(placed) != request_key(replace(placed, at_placeholders=False))
    import hashlib

    legacy = hashlib.sha256(b"Which is red?")
    legacy.update(hashlib.sha256(png).digest())
    legacy.update(hashlib.sha256(png).digest())
    assert request_key(default) == legacy.hexdigest()[:16]
