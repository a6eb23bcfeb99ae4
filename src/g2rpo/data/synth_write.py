"""Write the synthetic data set to disk: `DIR/{train,val}.jsonl` + `DIR/images/{split}/NNNNN.png`.

Every file goes through `g2rpo.io`'s atomic writer, so an interrupted run never leaves a truncated JSONL or
PNG behind that a later run would trust.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from g2rpo.data.synth import DEFAULT_IMAGE_SIZE, generate_sample, to_record
from g2rpo.io import write_bytes_atomic, write_text_atomic

SPLITS: tuple[str, ...] = ("train", "val")


@dataclass(frozen=True)
class SynthResult:
    """What `synthesize` wrote: the data root, one JSONL per split, and record counts per split and task."""

    root: Path
    files: dict[str, Path]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def synthesize(
    out_dir: str | Path,
    *,
    n_train: int = 600,
    n_val: int = 120,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    progress: bool = True,
) -> SynthResult:
    """Generate `n_train` training and `n_val` validation records under `out_dir` (created if needed).

    The output is a pure function of `(n_train, n_val, seed, image_size)`: two runs write identical bytes.
    """
    sizes = {"train": n_train, "val": n_val}
    for split, n in sizes.items():
        if n < 0:
            raise ValueError(f"--n-{split} must be ≥ 0 (got {n})")
    root = Path(out_dir)
    files: dict[str, Path] = {}
    counts: dict[str, dict[str, int]] = {}
    columns = (TextColumn("synth {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        for split in SPLITS:
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            job = bar.add_task(split, total=sizes[split])
            lines, tally = [], Counter()
            for index in range(sizes[split]):
                sample = generate_sample(seed, split, index, image_size=image_size)
                record, image_path = to_record(sample, split, index)
                buffer = io.BytesIO()
                sample.image.save(buffer, format="PNG", optimize=False)
                write_bytes_atomic(root / image_path, buffer.getvalue())
                lines.append(json.dumps(record, ensure_ascii=False))
                tally[sample.task] += 1
                bar.advance(job)
            files[split] = root / f"{split}.jsonl"
            write_text_atomic(files[split], "\n".join(lines) + "\n" if lines else "")
            counts[split] = dict(sorted(tally.items()))
    return SynthResult(root=root, files=files, counts=counts)
