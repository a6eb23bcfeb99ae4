"""Records → the ``datasets.Dataset`` TRL's ``GRPOTrainer`` trains on (conversational, multimodal).

One row per record::

    prompt        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": …}]}]
    images        [PIL.Image, …]   decoded lazily on access, resized into [min_pixels, max_pixels]
    answer        str              the gold answer (reward functions receive it as a column)
    problem_type  str              canonical verifier kind (the default G2RPO normalisation key)
    task          str              task family (shaping bands, dashboards)
    problem_id    str
    options       [str, …]         ``"A. text"`` lines (``g2rpo.data.options.option_lines``); the reward reads
                                   them back with ``read_options``

This is trl 1.16's VLM format: ``GRPOTrainer`` reads the ``images`` column, fills the ``{"type": "image"}``
parts of ``prompt`` in order (``trl.data_utils.prepare_multimodal_messages``), and applies the processor's chat
template itself. Images are stored as a ``datasets`` image feature (paths or bytes), so nothing is decoded until a
row is read; the pixel-bound resize runs in a ``with_transform`` hook at the same moment.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Literal

from PIL import Image

from g2rpo.data.options import option_lines
from g2rpo.data.prompts import PromptTemplate, get_prompt_template
from g2rpo.data.records import ImageRef, Record


def bound_pixels(
    image: Image.Image, *, min_pixels: int | None = None, max_pixels: int | None = None
) -> Image.Image:
    """``image`` in RGB, rescaled (aspect ratio kept) so that ``min_pixels ≤ W·H ≤ max_pixels``.

    Over the maximum: ``s = √(max_pixels / (W·H))``, size ``(⌊W·s⌋, ⌊H·s⌋)``; under the minimum:
    ``s = √(min_pixels / (W·H))``, size ``(⌈W·s⌉, ⌈H·s⌉)``; bicubic. ``None`` bounds are not applied. The model's
    image processor then snaps the size to multiples of patch·merge (within its own bounds).
    """
    image = image.convert("RGB")
    w, h = image.size
    if max_pixels is not None and w * h > max_pixels:
        s = math.sqrt(max_pixels / (w * h))
        image = image.resize((max(1, math.floor(w * s)), max(1, math.floor(h * s))), Image.Resampling.BICUBIC)
    elif min_pixels is not None and w * h < min_pixels:
        s = math.sqrt(min_pixels / (w * h))
        image = image.resize((math.ceil(w * s), math.ceil(h * s)), Image.Resampling.BICUBIC)
    return image


def load_image(ref: ImageRef, *, min_pixels: int | None = None, max_pixels: int | None = None) -> Image.Image:
    """Open a record's image (path or encoded bytes) and apply :func:`bound_pixels`."""
    image = Image.open(io.BytesIO(ref) if isinstance(ref, bytes) else Path(ref))
    return bound_pixels(image, min_pixels=min_pixels, max_pixels=max_pixels)


def record_to_row(
    record: Record,
    *,
    think_tag: str = "thinking",
    box_units: Literal["0-1000", "pixels"] = "0-1000",
    prompt_template: str | Path | PromptTemplate = "g2rpo",
) -> dict:
    """One record as a TRL row, with ``images`` as encoded references (``{"path"}`` / ``{"bytes"}``).

    ``prompt`` is :func:`g2rpo.data.prompt_text` under ``prompt_template``, split at its ``<image>`` markers.
    """
    template = get_prompt_template(prompt_template)
    return {
        "prompt": template.messages(record, think_tag=think_tag, box_units=box_units),
        "images": [
            {"bytes": ref, "path": None} if isinstance(ref, bytes) else {"bytes": None, "path": str(ref)}
            for ref in record.images
        ],
        "answer": record.answer,
        "problem_type": record.problem_type,
        "task": record.task,
        "problem_id": record.problem_id,
        "options": option_lines(record.options),
    }


def _bound_batch(batch: dict, *, min_pixels: int | None, max_pixels: int | None) -> dict:
    batch["images"] = [
        [bound_pixels(im, min_pixels=min_pixels, max_pixels=max_pixels) for im in images]
        for images in batch["images"]
    ]
    return batch


def to_hf_dataset(
    records: Sequence[Record],
    *,
    think_tag: str = "thinking",
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    box_units: Literal["0-1000", "pixels"] = "0-1000",
    prompt_template: str | Path | PromptTemplate = "g2rpo",
):
    """``records`` → a ``datasets.Dataset`` in TRL's conversational VLM format (module docstring).

    ``min_pixels``/``max_pixels`` bound each image's area when a row is read (:func:`bound_pixels`); the
    authors' config uses 3,136 and 1,048,576. ``prompt_template``: ``g2rpo`` (default), ``openvlthinker_v2`` or
    a Jinja file (:mod:`g2rpo.data.prompts`). Rows keep the order of ``records``.
    """
    import datasets

    if not records:
        raise ValueError("no records to convert (the data file was empty or every record was skipped)")
    if min_pixels is not None and max_pixels is not None and not 0 < min_pixels <= max_pixels:
        raise ValueError(
            f"pixel bounds must satisfy 0 < min_pixels <= max_pixels, got {min_pixels}, {max_pixels}"
        )
    features = datasets.Features(
        {
            "prompt": datasets.List(
                {
                    "role": datasets.Value("string"),
                    "content": datasets.List(
                        {"type": datasets.Value("string"), "text": datasets.Value("string")}
                    ),
                }
            ),
            "images": datasets.List(datasets.Image()),
            "answer": datasets.Value("string"),
            "problem_type": datasets.Value("string"),
            "task": datasets.Value("string"),
            "problem_id": datasets.Value("string"),
            "options": datasets.List(datasets.Value("string")),
        }
    )
    template = get_prompt_template(prompt_template)
    rows = [record_to_row(r, think_tag=think_tag, box_units=box_units, prompt_template=template) for r in records]
    dataset = datasets.Dataset.from_list(rows, features=features)
    return dataset.with_transform(partial(_bound_batch, min_pixels=min_pixels, max_pixels=max_pixels))
