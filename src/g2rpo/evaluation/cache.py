"""The per-item prediction cache and atomic JSON writes.

Layout of a run directory (``--out``)::

    <out>/<benchmark>/run.json            what produced the predictions (model, backend, generation settings)
    <out>/<benchmark>/predictions.jsonl   one line per finished item, appended and fsync'ed per batch
    <out>/<benchmark>/scores.jsonl        per-item scores (rewritten atomically after scoring)
    <out>/<benchmark>/predictions.tsv     VLMEvalKit layout (benchmark columns + prediction) for `g2rpo score`
    <out>/summary.json                    benchmark → metric → value (rewritten atomically)

A crash can only cut the last JSONL line short; :meth:`PredictionCache.load` drops such a line (and only
that one) and the rerun regenerates that item. A rerun with different model/backend/decoding settings refuses
to mix predictions. Each line also stores its request's key (a hash of the exact prompt and image bytes): an
item whose prompt wording or image changed since it was generated is regenerated, never silently reused.
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

from g2rpo.evaluation.records import DataFormatError, Generation, GenerationRequest

__all__ = ["CachedGeneration", "PredictionCache", "request_key", "write_json_atomic"]


def request_key(request: GenerationRequest) -> str:
    """A short hash of what the model sees: the prompt text and every image's bytes, in order."""
    digest = hashlib.sha256(request.prompt.encode("utf-8"))
    for image in request.images:
        digest.update(hashlib.sha256(image).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CachedGeneration:
    """A cache line: the generation and the key of the request that produced it (``""`` if unknown)."""

    generation: Generation
    key: str = ""


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temp file and ``os.replace`` (readers never see a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
            previous = json.loads(info_path.read_text(encoding="utf-8"))
            if previous != info:
                changed = sorted(k for k in set(previous) | set(info) if previous.get(k) != info.get(k))
                raise ValueError(
                    f"{self.directory} holds predictions made with different settings (changed: {changed}); "
                    f"pass --overwrite to start over or choose another --out"
                )
        write_json_atomic(info_path, info)

    def load(self) -> dict[str, CachedGeneration]:
        """Finished items: index → cached generation (the last line wins for an index written twice).
        A truncated final line (crash mid-write) is dropped."""
        done: dict[str, CachedGeneration] = {}
        if not self.path.exists():
            return done
        data = self.path.read_bytes()
        complete, _, partial = data.rpartition(b"\n")
        if partial.strip():
            # Every record ends with a newline: text after the last one is a write cut short by a crash.
            warnings.warn(f"{self.path}: dropping a truncated last line (an interrupted write)", stacklevel=2)
            with self.path.open("r+b") as fh:
                fh.truncate(len(complete) + 1 if complete else 0)
        for number, line in enumerate(complete.decode("utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                generation = Generation(str(record["prediction"]), record.get("n_tokens"))
                done[str(record["index"])] = CachedGeneration(generation, str(record.get("key", "")))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise DataFormatError(f"{self.path}, line {number}: corrupt cache record ({err})") from err
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
