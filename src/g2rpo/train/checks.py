"""Checks on what the trainer is given: dataset columns and values, the processor's padding side."""

from __future__ import annotations

import logging

from g2rpo.tasks import TASK_FAMILIES, canonical_problem_type

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("prompt", "answer", "problem_type", "task")


def check_dataset(dataset, name: str) -> None:
    """Fail early, naming the column or the bad value, on a dataset the trainer cannot use."""
    if dataset is None:
        return
    if isinstance(dataset, dict):
        for key, value in dataset.items():
            check_dataset(value, f"{name}[{key!r}]")
        return
    columns = dataset.column_names or []
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; G2RPOTrainer needs {list(REQUIRED_COLUMNS)} "
                         "(build it with g2rpo.data.to_hf_dataset)")
    if not hasattr(dataset, "__len__"):
        return  # an IterableDataset: values are checked row by row when scored
    # Read the two columns without the dataset's transform: with it, every row's images would be decoded.
    raw = dataset.with_format(None) if hasattr(dataset, "with_format") else dataset
    unknown = sorted(set(raw["task"]) - set(TASK_FAMILIES))
    if unknown:
        raise ValueError(f"{name}: unknown task families {unknown}; valid: {', '.join(TASK_FAMILIES)}")
    for value in sorted(set(raw["problem_type"])):
        canonical = canonical_problem_type(value)  # an unknown name: KeyError listing the valid ones
        if canonical != value:
            raise ValueError(f"{name}: problem_type {value!r} is not canonical, write {canonical!r} (names are "
                             "canonicalised once, when g2rpo.data loads the records: use g2rpo.data.to_hf_dataset)")


def pad_left(processing_class) -> None:
    """TRL needs left padding; a processor padding right misaligns ``mm_token_type_ids`` with the left-padded
    prompt ids (Qwen-VL's M-RoPE then fails on batches of unequal prompt lengths)."""
    tokenizer = getattr(processing_class, "tokenizer", processing_class)
    if tokenizer is not None and getattr(tokenizer, "padding_side", "left") != "left":
        logger.info("setting the processor's padding_side to 'left' (required by GRPOTrainer)")
        tokenizer.padding_side = "left"
