"""Per-task metrics and the JSONL metrics file.

Metric names (one vocabulary, style principle 11). The trainer stores them under ``<task>/…`` in TRL's
``_metrics[mode]``; TRL's ``log`` averages them over the logging window and prefixes eval ones with
``eval_``; logging backends and :class:`JsonlMetricsCallback` write them as ``train/<task>/…`` and
``eval/<task>/…`` (the same rewrite Weights & Biases applies). Per task family present in the batch:

``reward`` (overall), ``reward/accuracy|format|structure|length`` (components), ``accuracy``,
``length/mean``, ``length/p90`` (tokens), ``count`` and ``fraction_filtered`` over every response generated
in the step; ``advantage/mean|std|min|max`` over the rows trained on; from the loss ``entropy`` (exact,
temperature-scaled) and ``sampled_nll`` (−log p of the sampled tokens); with length shaping,
``envelope/a|b|c|d``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence

import torch
from transformers import TrainerCallback

from g2rpo.algo.segments import as_codes
from g2rpo.io import write_text_atomic
from g2rpo.train.reward import COMPONENTS

logger = logging.getLogger(__name__)


def _by_family(families: Sequence[str]) -> list[tuple[str, torch.Tensor]]:
    """``(family, row mask)`` for every family present, sorted by name. ``families`` may be a
    :class:`~g2rpo.algo.CodedKeys` (no per-row Python) or any sequence of names (coded once)."""
    codes, names = as_codes(families)
    return [(name, codes == code) for code, name in sorted(enumerate(names), key=lambda item: item[1])]


def task_metrics(families: Sequence[str], components: torch.Tensor, token_lengths: torch.Tensor) -> dict[str, float]:
    """Per-family reward, accuracy and length statistics of every response generated this step (all rounds,
    gathered over ranks: what the policy does, before filtering).

    Args:
        families: (N,) task family of every row (names, or a :class:`~g2rpo.algo.CodedKeys` of them).
        components: (N, 5) reward components in :data:`~g2rpo.train.reward.COMPONENTS` order.
        token_lengths: (N,) response lengths in tokens.
    """
    out: dict[str, float] = {}
    for family, rows in _by_family(families):
        comp, lengths = components[rows].double(), token_lengths[rows].double()
        out[f"{family}/reward"] = comp[:, COMPONENTS.index("overall")].mean().item()
        for name in COMPONENTS[:-1]:
            out[f"{family}/reward/{name}"] = comp[:, COMPONENTS.index(name)].mean().item()
        out[f"{family}/accuracy"] = comp[:, COMPONENTS.index("accuracy")].mean().item()
        out[f"{family}/length/mean"] = lengths.mean().item()
        out[f"{family}/length/p90"] = torch.quantile(lengths, 0.9).item()
        out[f"{family}/count"] = float(rows.sum())
    return out


def advantage_metrics(families: Sequence[str], advantages: torch.Tensor) -> dict[str, float]:
    """Per-family ``advantage/mean|std|min|max`` of the rows the update trains on (after filtering)."""
    out: dict[str, float] = {}
    for family, rows in _by_family(families):
        adv = advantages[rows].double()
        out[f"{family}/advantage/mean"] = adv.mean().item()
        out[f"{family}/advantage/std"] = adv.std(unbiased=False).item()
        out[f"{family}/advantage/min"] = adv.min().item()
        out[f"{family}/advantage/max"] = adv.max().item()
    return out


def filter_metrics(families: Sequence[str], kept: torch.Tensor) -> dict[str, float]:
    """``<task>/fraction_filtered`` over every response generated this step (all rounds), and the total."""
    out = {"filter/fraction_filtered": 1.0 - kept.double().mean().item() if kept.numel() else 0.0}
    for family, rows in _by_family(families):
        out[f"{family}/fraction_filtered"] = 1.0 - kept[rows].double().mean().item()
    return out


def entropy_sums(
    entropy: torch.Tensor, nll: torch.Tensor, mask: torch.Tensor, codes: torch.Tensor, n_families: int
) -> torch.Tensor:
    """(F, 3) per family: Σ entropy, Σ sampled NLL, token count over the response tokens (for a reduce-sum)."""
    weights = mask.to(entropy.dtype)
    sums = torch.stack([(entropy * weights).sum(1), (nll * weights).sum(1), weights.sum(1)], dim=1).detach()
    return sums.new_zeros(n_families, 3).index_add(0, codes.to(sums.device), sums)


def rewrite_key(key: str) -> str:
    """TRL's raw log key → the published name (``eval_x`` → ``eval/x``, ``x`` → ``train/x``)."""
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_") :]
    return "train/" + key


class JsonlMetricsCallback(TrainerCallback):
    """Append every logged metrics dict to ``<output_dir>/<file>`` as one JSON line (main process only)."""

    def __init__(self, filename: str = "metrics.jsonl") -> None:
        self.filename = filename

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch}
        for key, value in logs.items():
            if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
                record[rewrite_key(key)] = value
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, self.filename), "a") as f:
            f.write(json.dumps(record) + "\n")


def truncate_metrics(path: str | os.PathLike[str], step: int) -> int:
    """Keep the rows of a metrics file up to ``step`` (the step a run resumes from); return how many were dropped.

    Rows logged after the checkpoint (the run went on, then crashed or was stopped) would otherwise appear twice
    once the resumed run logs those steps again. A row that is not JSON (a write cut off by a crash) is dropped
    too, with a warning naming its line. The file is rewritten atomically; a missing file is left missing.
    """
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    kept, torn = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            torn.append(number)
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line)
    if torn:
        logger.warning("%s: dropped unreadable line(s) %s (cut off by an interrupted write)", path, torn)
    dropped = sum(1 for line in lines if line.strip()) - len(kept)
    if dropped:
        write_text_atomic(path, "".join(line + "\n" for line in kept))
        logger.info("%s: dropped %d row(s) logged after step %d (resuming from that step)", path, dropped, step)
    return dropped
