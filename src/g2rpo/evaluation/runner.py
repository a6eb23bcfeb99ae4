"""The evaluation loop: items → prompts → backend → cache → scores → summary (and ``score``'s no-model path).

Generation is resumable: finished items are appended to ``<out>/<benchmark>/predictions.jsonl`` after every
batch, and a rerun generates only the missing ones. Scoring is cheap and always redone from the cache, so a
metric fix re-scores old runs without regenerating.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from g2rpo.evaluation.aggregate import aggregate
from g2rpo.evaluation.backends.base import Backend
from g2rpo.evaluation.cache import PredictionCache, request_key
from g2rpo.evaluation.delimited import decode_utf8
from g2rpo.evaluation.items import OPTION_LETTERS, items_from_table
from g2rpo.evaluation.loaders import read_table, write_table
from g2rpo.evaluation.records import (
    BenchmarkResult,
    DataFormatError,
    EvalItem,
    Generation,
    GenerationRequest,
    ScoredItem,
)
from g2rpo.evaluation.registry import BenchmarkRef
from g2rpo.evaluation.scoring import score_item
from g2rpo.io import write_json_atomic, write_text_atomic

__all__ = [
    "BenchmarkRun",
    "load_run_dir",
    "load_scores",
    "make_request",
    "run_benchmark",
    "score_predictions",
    "update_summary",
    "write_scores",
]


@dataclass(frozen=True)
class BenchmarkRun:
    """One benchmark's outcome: the aggregated result and every scored item (for reports)."""

    result: BenchmarkResult
    items: list[ScoredItem]


def make_request(ref: BenchmarkRef, item: EvalItem, think_tag: str = "thinking") -> GenerationRequest:
    """The backend request for an item: its images and the protocol prompt."""
    # imported here: the prompt wording lives in g2rpo.data, whose import pulls in torch; `score` needs neither
    from g2rpo.evaluation.prompts import build_prompt

    bench = ref.benchmark
    kind = bench.answer_kind_for(bool(item.options), item.answer)
    prompt = build_prompt(item, kind, think_tag=think_tag, grounding_template=bench.grounding_template)
    return GenerationRequest(prompt, item.images)


def _chunks(items: Sequence[EvalItem], size: int) -> Iterator[Sequence[EvalItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _score_all(ref: BenchmarkRef, items: Sequence[EvalItem], generations: dict[str, Generation], think_tag: str) -> BenchmarkRun:
    scored = [
        score_item(ref.benchmark, item, generations.get(item.index, Generation("")), think_tag=think_tag)
        for item in items
    ]
    result = aggregate(ref.benchmark.aggregation, ref.name, scored, ref.benchmark.metric)
    if ref.benchmark.note:
        result = replace(result, notes=(ref.benchmark.note, *result.notes))  # the error count, if any, stays last
    return BenchmarkRun(result, scored)


def write_scores(directory: Path, run: BenchmarkRun) -> None:
    """``<directory>/scores.jsonl``: one :meth:`ScoredItem.to_dict` line per item (written atomically)."""
    lines = [json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in run.items]
    write_text_atomic(Path(directory) / "scores.jsonl", "".join(lines))


def load_scores(path: str | Path) -> list[ScoredItem]:
    """Read a ``scores.jsonl`` back (:meth:`ScoredItem.from_dict` per line); a bad line is a
    :class:`DataFormatError` naming the file and line."""
    path = Path(path)
    items = []
    for number, line in enumerate(decode_utf8(path.read_bytes(), path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(ScoredItem.from_dict(json.loads(line)))
        except (json.JSONDecodeError, ValueError, KeyError, AttributeError) as err:
            raise DataFormatError(
                f"{path}, line {number}: not a scores record ({err}); score the benchmark again to rewrite it"
            ) from None
    return items


def _write_outputs(directory: Path, items: Sequence[EvalItem], run: BenchmarkRun) -> None:
    """``scores.jsonl`` (per item) and ``predictions.tsv`` (VLMEvalKit layout, images left out)."""
    write_scores(directory, run)
    columns: dict[str, None] = {}
    rows = []
    for item, scored in zip(items, run.items, strict=True):
        row = {**dict(item.fields), **dict(item.options), "prediction": scored.prediction}
        columns.update(dict.fromkeys(row))
        rows.append(row)
    ordered = [c for c in columns if c not in OPTION_LETTERS and c != "prediction"]
    head = [c for c in ("index", "question") if c in ordered]
    letters = [c for c in OPTION_LETTERS if c in columns]
    write_table(
        directory / "predictions.tsv",
        [*head, *letters, *[c for c in ordered if c not in head], "prediction"],
        rows,
    )


def run_benchmark(
    ref: BenchmarkRef,
    items: Sequence[EvalItem],
    backend: Backend,
    out_dir: str | Path,
    *,
    batch_size: int = 8,
    think_tag: str = "thinking",
    overwrite: bool = False,
    progress: Any = None,
) -> BenchmarkRun:
    """Generate (resuming from the cache), score and aggregate one benchmark; write its per-item files.

    ``progress`` is an optional ``rich.progress.Progress``; a task per benchmark shows items done.
    """
    directory = Path(out_dir) / ref.name
    cache = PredictionCache(directory, {**backend.describe(), "benchmark": ref.name}, overwrite=overwrite)
    # an item whose image cannot be decoded is not asked: it is scored as an error item (see score_item)
    requests = {item.index: make_request(ref, item, think_tag) for item in items if not item.error}
    keys = {index: request_key(r) for index, r in requests.items()}
    # an item counts as done only if its cached line was made from this exact prompt and these images
    done = {i: c.generation for i, c in cache.load().items() if i in keys and c.key == keys[i]}
    todo = [item for item in items if item.index in requests and item.index not in done]
    # similar lengths share a batch: less padding for batched backends (the cache makes the order irrelevant)
    todo.sort(key=lambda item: (len(requests[item.index].images), len(requests[item.index].prompt)))
    task = progress.add_task(ref.name, total=len(items), completed=len(items) - len(todo)) if progress else None
    for batch in _chunks(todo, max(1, batch_size)):
        generations = backend.generate([requests[item.index] for item in batch])
        if len(generations) != len(batch):
            raise RuntimeError(f"backend {backend.name} returned {len(generations)} generations for {len(batch)} requests")
        cache.append([(item.index, g, keys[item.index]) for item, g in zip(batch, generations, strict=True)])
        done.update((item.index, g) for item, g in zip(batch, generations, strict=True))
        if progress is not None:
            progress.advance(task, len(batch))
    run = _score_all(ref, items, done, think_tag)
    _write_outputs(directory, items, run)
    return run


def score_predictions(
    ref: BenchmarkRef, predictions: str | Path, *, think_tag: str = "thinking", limit: int | None = None
) -> BenchmarkRun:
    """Score a VLMEvalKit-layout predictions file (the benchmark's columns + ``prediction``) without a model."""
    table = read_table(predictions)
    items = items_from_table(table, ref, decode_images=False, extra_required=("prediction",), limit=limit)
    generations = {
        item.index: Generation(item.fields.get("prediction", ""), _n_tokens(item)) for item in items
    }
    return _score_all(ref, items, generations, think_tag)


def _n_tokens(item: EvalItem) -> int | None:
    """The optional ``n_tokens`` column: empty → unknown; a non-negative whole number; anything else is an
    error naming the row (a length is never guessed)."""
    text = item.fields.get("n_tokens", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value.is_integer()):
        raise DataFormatError(f"{item.where('n_tokens')}: {text!r} is not a token count; leave it empty or fix it")
    return int(value)


def _read_summary(path: Path) -> dict[str, Any]:
    """``summary.json`` as a dict ({} when absent); unreadable → :class:`DataFormatError` naming it."""
    if not path.exists():
        return {}
    try:
        summary = json.loads(decode_utf8(path.read_bytes(), path))
    except json.JSONDecodeError as err:
        raise DataFormatError(f"{path}: not valid JSON ({err}); delete it and rerun to rebuild it") from None
    if not isinstance(summary, dict):
        raise DataFormatError(f"{path}: expected a JSON object of benchmark results; delete it and rerun")
    return summary


def update_summary(path: str | Path, results: Sequence[BenchmarkResult]) -> dict[str, Any]:
    """Merge results into ``summary.json`` (benchmark → metric → value …), written atomically; returns it."""
    path = Path(path)
    summary = _read_summary(path)
    for result in results:
        summary[result.benchmark] = result.to_dict()
    write_json_atomic(path, summary)
    return summary


def load_run_dir(out_dir: str | Path) -> tuple[dict[str, BenchmarkResult], dict[str, list[ScoredItem]]]:
    """Every benchmark recorded in ``<out_dir>/summary.json`` with its per-item scores (when present):
    reports cover everything evaluated or scored into one directory, across invocations."""
    out = Path(out_dir)
    summary_path = out / "summary.json"
    summary = _read_summary(summary_path)
    try:
        results = {name: BenchmarkResult.from_dict(name, d) for name, d in summary.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataFormatError(f"{summary_path}: an entry is not a benchmark result ({err!r}); delete it and rerun") from None
    items = {name: load_scores(out / name / "scores.jsonl") for name in results if (out / name / "scores.jsonl").exists()}
    return results, items
