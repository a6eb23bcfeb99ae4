"""The per-item prediction cache and atomic JSON writes.

Layout of a run directory (``--out``)::

    <out>/<benchmark>/run.json            what produced the predictions (model, backend, generation settings)
    <out>/<benchmark>/predictions.jsonl   one line per finished item, appended and fsync'ed per batch
    <out>/<benchmark>/scores.jsonl        per-item scores (rewritten atomically after scoring)
    <out>/<benchmark>/predictions.tsv     VLMEvalKit layout (benchmark columns + prediction) for `g2rpo score`
    <out>/summary.json                    benchmark → metric → value (rewritten atomically)

A crash can only cut the last JSONL line short. :meth:`PredictionCache.load` checks every line (valid UTF-8
JSON object, ``index`` and ``prediction`` strings, ``n_tokens`` a non-negative integer or null, ``key`` a
string): a line that fails is reported with its line number and skipped, so that item is generated again; it is
never reinterpreted (``prediction: null`` is not the text ``"None"``). When any line is skipped, the file as
found is kept beside the cache as ``predictions.jsonl.corrupt-<n>`` and the cache is rewritten with the good
lines only. A rerun with different model/backend/decoding settings refuses to mix predictions (a local model
path counts as one model however it is spelled: :func:`~g2rpo.evaluation.backends.base.model_identity`). Each
line also stores its request's key (a hash of the exact prompt and image bytes): an item whose prompt wording
or image changed since it was generated is regenerated, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from g2rpo.evaluation.backends.base import model_identity
from g2rpo.evaluation.records import DataFormatError, Generation, GenerationRequest
from g2rpo.io import write_bytes_atomic, write_json_atomic

__all__ = ["CachedGeneration", "PredictionCache", "request_key"]


def request_key(request: GenerationRequest) -> str:
    """A short hash of what the model sees: the prompt text, every image's bytes in order, and where the
    images go."""
    digest = hashlib.sha256(request.prompt.encode("utf-8"))
    for image in request.images:
        digest.update(hashlib.sha256(image).digest())
    if request.at_placeholders:  # the same text and images in another arrangement
        digest.update(b"\0at_placeholders")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CachedGeneration:
    """A cache line: the generation and the key of the request that produced it (``""`` if unknown)."""

    generation: Generation
    key: str = ""


class PredictionCache:
    """Append-only JSONL of finished generations for one benchmark run, keyed by item index.

    ``run_info`` (model, backend, prompt and generation settings) is stored in ``run.json`` on first use;
    reopening the directory with different ``run_info`` raises unless ``overwrite=True`` (which starts over).
    """

    def __init__(self, directory: str | Path, run_info: Mapping[str, Any], *, overwrite: bool = False) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "predictions.jsonl"
        info_path = self.directory / "run.json"
        info = json.loads(json.dumps(dict(run_info)))
        if overwrite:
            self.path.unlink(missing_ok=True)
        elif info_path.exists() and self.path.exists():
            try:
                previous = json.loads(info_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise DataFormatError(
                    f"{info_path}: unreadable ({err}), so the cached predictions beside it cannot be matched to "
                    f"their settings; pass --overwrite to start over or choose another --out"
                ) from None
            if isinstance(previous, dict) and previous.get("model") and previous.get("backend") != "openai":
                previous["model"] = model_identity(str(previous["model"]))  # caches written before normalising
            if previous != info:
                changed = sorted(k for k in set(previous) | set(info) if previous.get(k) != info.get(k))
                values = ", ".join(f"{k}: {previous.get(k)!r} → {info.get(k)!r}" for k in changed)
                raise ValueError(
                    f"{self.directory} holds predictions made with different settings (changed: {changed}; "
                    f"{values}); pass --overwrite to start over or choose another --out"
                )
        write_json_atomic(info_path, info)

    def load(self) -> dict[str, CachedGeneration]:
        """Finished items: index → cached generation (the last line wins for an index written twice).

        Corrupt lines are skipped with one warning naming each line and why; see the module docstring."""
        done: dict[str, CachedGeneration] = {}
        if not self.path.exists():
            return done
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        good: list[bytes] = []
        problems: list[str] = []
        for number, raw in enumerate(lines, start=1):
            last = number == len(lines)
            if not raw.strip():
                continue
            try:
                index, cached = _parse_line(raw)
            except ValueError as err:
                problems.append(f"line {number}: {'truncated last line (an interrupted write)' if last else err}")
                continue
            if last:  # a complete record always ends with a newline
                problems.append(f"line {number}: truncated last line (an interrupted write)")
                continue
            done[index] = cached
            good.append(raw)
        if problems:
            aside = _free_name(self.path)
            write_bytes_atomic(aside, data)
            write_bytes_atomic(self.path, b"".join(line + b"\n" for line in good))
            shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
            warnings.warn(
                f"{self.path}: skipped {len(problems)} corrupt line(s) ({shown}); those items will be generated "
                f"again; the file as found is kept as {aside}",
                stacklevel=2,
            )
        return done

    def append(self, records: Iterable[tuple[str, Generation, str]]) -> None:
        """Append finished items ``(index, generation, request key)`` and fsync, so that a crash after this
        call loses none of them."""
        lines = [
            json.dumps({"index": index, "prediction": g.text, "n_tokens": g.n_tokens, "key": key}, ensure_ascii=False)
            + "\n"
            for index, g, key in records
        ]
        if not lines:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())


def _parse_line(raw: bytes) -> tuple[str, CachedGeneration]:
    """One cache line → ``(index, cached generation)``; ``ValueError`` saying what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err.msg})") from None
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object")
    index, text = record.get("index"), record.get("prediction")
    n_tokens, key = record.get("n_tokens"), record.get("key", "")
    if not isinstance(index, str) or not index:
        raise ValueError(f"'index' must be a non-empty string, got {index!r}")
    if not isinstance(text, str):
        raise ValueError(f"'prediction' must be a string, got {text!r}")
    if n_tokens is not None and (isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0):
        raise ValueError(f"'n_tokens' must be a non-negative integer or null, got {n_tokens!r}")
    if not isinstance(key, str):
        raise ValueError(f"'key' must be a string, got {key!r}")
    return index, CachedGeneration(Generation(text, n_tokens), key)


def _free_name(path: Path) -> Path:
    """``<path>.corrupt-<n>`` with the smallest ``n`` not taken."""
    n = 1
    while path.with_name(f"{path.name}.corrupt-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}.corrupt-{n}")
