"""Each unique prompt image is preprocessed once per generation round, not 2·G times.

TRL's ``GRPOTrainer`` repeats every prompt ``G`` times before the processor sees it, and a round calls the
processor twice on those repeated prompts: ``apply_chat_template(…, tokenize=True)`` for generation, then
``processing_class(images=…, text=…)`` for the log-prob forward. Each image is therefore resized, normalised and
patchified ``2·G`` times (16× at the paper's ``G = 8``). :class:`CachedImageProcessor` stands in for
``processor.image_processor``: of the images in a call it processes only those it has not seen this round, in
one call to the wrapped image processor, and assembles the answer from per-image rows.

Exactness: the Qwen-VL image processors (PIL and torchvision backends) process each image on its own and
concatenate — ``pixel_values`` holds image ``i``'s ``t·h·w`` patch rows after image ``i − 1``'s, and
``image_grid_thw`` one ``(t, h, w)`` row per image — so per-image rows reassembled in the call's order are the
batched call's output, bit for bit (``tests/test_train_preprocess.py``). The key is exact content: the image's
mode, size, palette and transparency and the SHA-256 of its raw pixel bytes, together with the call's keyword
arguments and the wrapped processor's settings. Anything the cache cannot key exactly (NumPy or tensor images,
positional arguments) goes to the wrapped processor unchanged. Within a round an image object's key is computed
once (TRL's second call passes the very objects of its first): the one assumption is that no image is drawn on
in place between two processor calls of a round, which neither TRL nor g2rpo does.

Memory: :class:`ImageCache` holds at most ``max_bytes`` of rows, least recently used out first (an evicted
image is simply processed again), and :class:`ImageCacheCallback` empties it after every training step and
every evaluation batch, so nothing outlives the round that produced it.

Shape legend: ``n`` images in a call, ``u`` of them unique; ``R_i = t_i·h_i·w_i`` patch rows of image ``i``.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import BatchFeature, TrainerCallback

logger = logging.getLogger(__name__)

MAX_SEEN = 1 << 16
"""Object → key memo entries kept before the memo starts over (it is also emptied with the cache each round)."""

DEFAULT_MAX_BYTES = 4 << 30
"""Default bound on cached rows: 4 GiB ≈ 160 images of 1024² (each 4,096 rows × 1,536 float32 values)."""

OUTPUT_KEYS = ("pixel_values", "image_grid_thw")
"""What the wrapped image processor must return (the Qwen-VL image processors' ``model_input_names``)."""


@dataclass(frozen=True)
class ImageRows:
    """One image's share of an image-processor output."""

    pixel_values: Any  # (R_i, C·t_patch·p·p) np.ndarray or torch.Tensor, as the backend makes it
    image_grid_thw: Any  # (1, 3): (t, h, w) in patches

    @property
    def nbytes(self) -> int:
        return sum(_nbytes(a) for a in (self.pixel_values, self.image_grid_thw))


def _nbytes(array) -> int:
    return array.numel() * array.element_size() if isinstance(array, torch.Tensor) else array.nbytes


def image_key(image: Image.Image) -> tuple:
    """Exact content key of a PIL image: everything preprocessing reads from it.

    Mode and size, the palette (``P`` images), the ``transparency`` entry (``convert("RGBA")`` reads it) and
    the SHA-256 of ``tobytes()``. Cost at 1024² RGB: one 3 MB copy and one hash pass, ~1–2% of processing the
    image (``benchmarks/bench_preprocess.py`` prints both).
    """
    palette = image.getpalette() if image.mode in ("P", "PA") else None
    return (
        image.mode,
        image.size,
        None if palette is None else bytes(palette),
        repr(image.info.get("transparency")),
        hashlib.sha256(image.tobytes()).digest(),
    )


class ImageCache:
    """Per-round memo of image-processor output per unique image, bounded by ``max_bytes`` (LRU).

    ``hits`` / ``misses`` count images since construction (``clear`` keeps them): a hit was answered from
    rows already made (this call's or an earlier one's), a miss was processed.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes < 0:
            raise ValueError(f"ImageCache max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[tuple, ImageRows] = OrderedDict()
        self._seen: dict[int, tuple[weakref.ref, tuple]] = {}  # id(image) → (the image, its image_key)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: tuple) -> ImageRows | None:
        rows = self._rows.get(key)
        if rows is not None:
            self._rows.move_to_end(key)
        return rows

    def put(self, key: tuple, rows: ImageRows) -> None:
        if key in self._rows:
            self.nbytes -= self._rows.pop(key).nbytes
        self._rows[key] = rows
        self.nbytes += rows.nbytes
        while self.nbytes > self.max_bytes and self._rows:
            self.nbytes -= self._rows.popitem(last=False)[1].nbytes

    def key_of(self, image: Image.Image) -> tuple:
        """:func:`image_key` of ``image``, computed once per object per round."""
        seen = self._seen.get(id(image))
        if seen is not None and seen[0]() is image:
            return seen[1]
        if len(self._seen) >= MAX_SEEN:
            self._seen.clear()
        key = image_key(image)
        self._seen[id(image)] = (weakref.ref(image), key)
        return key

    def clear(self) -> None:
        self._rows.clear()
        self._seen.clear()
        self.nbytes = 0


def _flat_pil(images) -> list[Image.Image] | None:
    """``images`` as a flat list (one image, a list, or a list of per-prompt lists), or ``None`` when any
    entry is not a PIL image (then the call is not cached)."""
    if isinstance(images, Image.Image):
        return [images]
    if not isinstance(images, list | tuple) or not images:
        return None
    flat = []
    for item in images:
        group = item if isinstance(item, list | tuple) else [item]
        if not group or not all(isinstance(im, Image.Image) for im in group):
            return None
        flat.extend(group)
    return flat


def _frozen(value) -> Any:
    """A hashable, exact stand-in for a keyword argument's value (dicts, lists and arrays by content)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), value.detach().cpu().numpy().tobytes())
    return (type(value).__name__, repr(value))


def _concat(parts: list) -> Any:
    return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts, axis=0)


class CachedImageProcessor:
    """Drop-in for a Qwen-VL image processor that processes each unique image once per round.

    Attribute reads and writes go to the wrapped processor (``size``, ``merge_size``, ``fetch_images``, …);
    ``copy.deepcopy`` and pickling give the wrapped processor itself, so a saved processor is the stock one.
    """

    def __init__(self, image_processor, cache: ImageCache):
        missing = [k for k in OUTPUT_KEYS if k not in getattr(image_processor, "model_input_names", ())]
        if missing:
            raise TypeError(f"CachedImageProcessor needs an image processor returning {', '.join(OUTPUT_KEYS)}; "
                            f"{type(image_processor).__name__} does not return {', '.join(missing)}")
        object.__setattr__(self, "image_processor", image_processor)
        object.__setattr__(self, "cache", cache)

    def __getattr__(self, name):
        return getattr(self.image_processor, name)

    def __setattr__(self, name, value):
        setattr(self.image_processor, name, value)

    def __repr__(self) -> str:
        return repr(self.image_processor)

    def __deepcopy__(self, memo):
        return copy.deepcopy(self.image_processor, memo)

    def __reduce__(self):
        return (_identity, (self.image_processor,))

    def __call__(self, images, *args, **kwargs) -> BatchFeature:
        flat = None if args else _flat_pil(images)
        if flat is None:
            return self.image_processor(images, *args, **kwargs)
        return_tensors = kwargs.pop("return_tensors", None)
        settings = (self.image_processor.to_json_string(), _frozen(kwargs))
        keys = [(settings, self.cache.key_of(im)) for im in flat]

        found: dict[tuple, ImageRows] = {}
        todo: dict[tuple, Image.Image] = {}
        for key, image in zip(keys, flat, strict=True):
            if key in found or key in todo:
                continue
            rows = self.cache.get(key)
            if rows is None:
                todo[key] = image
            else:
                found[key] = rows
        self.cache.hits += len(keys) - len(todo)
        self.cache.misses += len(todo)
        if todo:
            found.update(self._process(todo, kwargs))
        data = {
            "pixel_values": _concat([found[k].pixel_values for k in keys]),
            "image_grid_thw": _concat([found[k].image_grid_thw for k in keys]),
        }
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _process(self, todo: dict[tuple, Image.Image], kwargs: dict) -> dict[tuple, ImageRows]:
        """Run the wrapped processor once on the ``u`` images not cached and split its output per image."""
        out = self.image_processor(list(todo.values()), return_tensors=None, **kwargs)
        if set(out.keys()) != set(OUTPUT_KEYS):
            raise RuntimeError(f"{type(self.image_processor).__name__} returned {sorted(out.keys())}, expected "
                               f"{list(OUTPUT_KEYS)}: CachedImageProcessor cannot split it per image")
        pixels, grids = out["pixel_values"], out["image_grid_thw"]
        counts = [int(np.prod(np.asarray(g))) for g in grids]
        if len(counts) != len(todo) or sum(counts) != len(pixels):
            raise RuntimeError(f"{type(self.image_processor).__name__} returned {len(pixels)} pixel rows and "
                               f"{len(counts)} grids for {len(todo)} images: rows are not one block per image")
        rows = {}
        start = 0
        for i, (key, count) in enumerate(zip(todo, counts, strict=True)):
            rows[key] = ImageRows(pixels[start : start + count], grids[i : i + 1])
            start += count
            self.cache.put(key, rows[key])
        return rows


def _identity(x):
    return x


class ImageCacheCallback(TrainerCallback):
    """Empties the cache after every training step and every evaluation batch: one round's rows at a time."""

    def __init__(self, cache: ImageCache):
        self.cache = cache

    def on_step_end(self, args, state, control, **kwargs):
        self.cache.clear()

    def on_prediction_step(self, args, state, control, **kwargs):
        self.cache.clear()


def install_image_cache(processing_class, max_bytes: int = DEFAULT_MAX_BYTES):
    """``(processor, cache)``: a shallow copy of ``processing_class`` whose image processor is cached.

    The caller's processor is left as it is (the copy shares its tokenizer and settings). A processor with no
    Qwen-VL-style image processor (a plain tokenizer, another model family) comes back unchanged with
    ``cache = None``, and the reason is logged.
    """
    image_processor = getattr(processing_class, "image_processor", None)
    if isinstance(image_processor, CachedImageProcessor):
        return processing_class, image_processor.cache
    names = getattr(image_processor, "model_input_names", None) or ()
    if image_processor is None or any(k not in names for k in OUTPUT_KEYS):
        logger.info("image cache off: %s has no image processor returning %s",
                    type(processing_class).__name__, " and ".join(OUTPUT_KEYS))
        return processing_class, None
    cache = ImageCache(max_bytes)
    processor = copy.copy(processing_class)
    processor.image_processor = CachedImageProcessor(image_processor, cache)
    logger.info("image cache on: %s, each unique image processed once per round (bound %.1f GiB)",
                type(image_processor).__name__, max_bytes / 2**30)
    return processor, cache


__all__ = [
    "DEFAULT_MAX_BYTES",
    "CachedImageProcessor",
    "ImageCache",
    "ImageCacheCallback",
    "ImageRows",
    "image_key",
    "install_image_cache",
]
