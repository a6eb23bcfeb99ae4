"""`g2rpo data check`: is a data layout complete, and what is missing?

Two kinds of data are checked, each with the loader that will later read it, so a layout that passes here
loads in `g2rpo eval` and `g2rpo train`:

* **benchmarks** under one ``--data-root`` (VLMEvalKit's LMUData folder): for each benchmark the file or
  folder `g2rpo eval` would pick, its items, and the items whose image cannot be decoded;
* **training records** in the authors' schema (``--train-file``, images under ``--image-root``): every
  record validated (schema, task and problem-type names, image paths inside the root, image headers), the
  invalid ones counted per field, the valid ones counted per task family.

Nothing is downloaded; a missing benchmark's line says where its file comes from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from g2rpo.errors import UserError

# Where each benchmark's file comes from (VLMEvalKit writes <NAME>.tsv into its LMUData folder the first time
# it evaluates a dataset; its dataset classes list the download URL of each).
_VLMEVALKIT = "VLMEvalKit's {name}.tsv (its LMUData folder, written on first `run.py --data {name}`)"
SOURCES: dict[str, str] = {
    "RefCOCO": "lmms-lab/RefCOCO (Hugging Face) saved with `save_to_disk` as RefCOCO/, or RefCOCO.tsv",
    "RefCOCO+": "lmms-lab/RefCOCOplus (Hugging Face) saved with `save_to_disk` as RefCOCO+/, or RefCOCO+.tsv",
    "RefCOCOg": "lmms-lab/RefCOCOg (Hugging Face) saved with `save_to_disk` as RefCOCOg/, or RefCOCOg.tsv",
}


@dataclass(frozen=True)
class BenchmarkCheck:
    """One benchmark's state under a data root: ``status`` is ``ok``, ``missing`` or ``invalid``."""

    name: str
    status: str
    source: str = ""
    n_items: int = 0
    n_image_errors: int = 0
    message: str = ""


@dataclass(frozen=True)
class TrainingCheck:
    """A training file's state: valid records per task family and invalid ones per field."""

    path: str
    n_valid: int
    per_family: dict[str, int] = field(default_factory=dict)
    n_invalid: int = 0
    invalid_fields: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    @property
    def ok(self) -> bool:
        return self.n_valid > 0 and self.n_invalid == 0


def where_to_get(name: str) -> str:
    """Where a benchmark's file comes from, in a few words."""
    return SOURCES.get(name, _VLMEVALKIT.format(name=name))


def check_benchmarks(data_root: str | Path, names: Sequence[str] | None = None) -> list[BenchmarkCheck]:
    """Check every benchmark in ``names`` (default: the 18 of the registry) under ``data_root``."""
    from g2rpo.evaluation.items import load_items
    from g2rpo.evaluation.loaders import find_benchmark_source
    from g2rpo.evaluation.records import DataFormatError
    from g2rpo.evaluation.registry import BENCHMARKS, resolve_benchmark

    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise UserError(f"--data-root {root}: no such folder; point it at the folder holding the benchmark files")
    results = []
    for name in names or list(BENCHMARKS):
        try:
            ref = resolve_benchmark(name)
        except KeyError as err:
            raise UserError(str(err.args[0])) from None
        try:
            source = find_benchmark_source(root, ref.file_stems)
        except DataFormatError:
            results.append(BenchmarkCheck(name, "missing", message=f"get {where_to_get(ref.benchmark.name)}"))
            continue
        try:
            items = load_items(ref, root)
        except (DataFormatError, UserError, ValueError, OSError) as err:
            results.append(BenchmarkCheck(name, "invalid", str(source), message=str(err)))
            continue
        bad = [item for item in items if item.error]
        status = "ok" if items and not bad else "invalid"
        message = bad[0].error if bad else ("" if items else "the file holds no items for this benchmark")
        results.append(BenchmarkCheck(name, status, str(source), len(items), len(bad), message))
    return results


def check_training(path: str | Path, image_root: str | Path | None = None) -> TrainingCheck:
    """Validate every record of a training file (the trainer's own loader, invalid records counted)."""
    from g2rpo.data.records import load_records

    records = load_records(path, data_root=image_root, skip_invalid=True)
    families = Counter(record.task for record in records)
    return TrainingCheck(
        path=str(path),
        n_valid=len(records),
        per_family=dict(sorted(families.items())),
        n_invalid=records.n_skipped,
        invalid_fields=dict(records.skipped_fields),
        first_error=records.skipped[0] if records.skipped else "",
    )
