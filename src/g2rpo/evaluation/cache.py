"""The per-item prediction cache and atomic JSON writes.

Layout of a run directory (``--out``)::

    <out>/<benchmark>/run.json            what produced the predictions (model, backend, generation settings)
    <out>/<benchmark>/predictions.jsonl   one line per finished item, appended and fsync'ed per batch
    <out>/<benchmark>/scores.jsonl        per-item scores (rewritten atomically after scoring)
    <out>/<benchmark>/predictions.tsv     VLMEvalKit layout (benchmark columns + prediction) for `g2rpo score`
    <out>/summary.json                    benchmark → metric → value (rewritten atomically)

A crash can only cut the last JSONL line short; :meth:`PredictionCache.load` drops such a line (and only
that one) and the rerun regenerates that item. A rerun with different settings refuses to mix predictions.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from g2rpo.evaluation.records import DataFormatError, Generation

__all__ = ["PredictionCache", "write_json_atomic"]


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

    def load(self) -> dict[str, Generation]:
        """Finished items: index → generation. A truncated final line (crash mid-write) is dropped."""
        done: dict[str, Generation] = {}
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
                done[str(record["index"])] = Generation(str(record["prediction"]), record.get("n_tokens"))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise DataFormatError(f"{self.path}, line {number}: corrupt cache record ({err})") from err
        return done

    def append(self, records: Iterable[tuple[str, Generation]]) -> None:
        """Append finished items and fsync, so that a crash after this call loses none of them."""
        lines = [
            json.dumps({"index": index, "prediction": g.text, "n_tokens": g.n_tokens}, ensure_ascii=False) + "\n"
            for index, g in records
        ]
        if not lines:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
