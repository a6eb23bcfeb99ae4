"""Load a Qwen-VL policy and its processor: a real checkpoint (local directory or hub id) or a tiny one.

One code path for both. The model is built by ``AutoModelForImageTextToText`` (``Qwen3VLForConditionalGeneration``
for ``qwen3_vl``, ``Qwen2_5_VLForConditionalGeneration`` for ``qwen2_5_vl``, …). The processor is the stock
``AutoProcessor`` where torchvision is installed, and otherwise the image-only processor of
:mod:`g2rpo.models.processor` (same text and image code, PIL image backend, no video processor).

Image backend (:func:`image_backend`, logged at load): transformers' torchvision-backed Qwen image processor
(``Qwen2VLImageProcessor``: tensor ops, images of one shape batched) where torchvision imports, the PIL one
(``Qwen2VLImageProcessorPil``: NumPy, one image at a time) otherwise. The choice is made here, not left to what
the checkpoint names: a checkpoint saved with either class loads with the backend of the machine.

Deviation to know: the PIL and torchvision image backends resize with different kernels, so ``pixel_values`` can
differ in the last bits between machines with and without torchvision.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, PreTrainedModel
from transformers.utils import is_torchvision_available

from g2rpo.models.processor import get_processor_class

logger = logging.getLogger(__name__)

IMAGE_PROCESSORS: dict[str, str] = {"torchvision": "Qwen2VLImageProcessor", "pil": "Qwen2VLImageProcessorPil"}
"""Image backend → the transformers class that implements it (both serve Qwen2-VL, Qwen2.5-VL and Qwen3-VL)."""

_DTYPES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "float32": torch.float32,
    "fp32": torch.float32,
}


def image_backend() -> str:
    """``"torchvision"`` where torchvision imports, else ``"pil"`` (see :data:`IMAGE_PROCESSORS`)."""
    return "torchvision" if is_torchvision_available() else "pil"


def image_processor_class(backend: str) -> type:
    """The transformers image processor class of ``backend`` (``"torchvision"`` or ``"pil"``)."""
    return getattr(transformers, IMAGE_PROCESSORS[backend])


def _use_backend(processor, backend: str) -> None:
    """Give ``processor`` the image processor class of ``backend``, keeping every setting of the loaded one."""
    wanted = image_processor_class(backend)
    loaded = processor.image_processor
    if type(loaded) is not wanted:
        processor.image_processor = wanted.from_dict(loaded.to_dict())
    reason = "torchvision imports" if backend == "torchvision" else "torchvision is not importable"
    logger.info("image processor: %s (%s backend: %s)", wanted.__name__, backend, reason)


def load_processor(
    path: str | Path, *, min_pixels: int | None = None, max_pixels: int | None = None, **kwargs
):
    """The processor of checkpoint ``path`` (local directory or hub id).

    ``min_pixels`` / ``max_pixels`` override the image processor's pixel bounds (each image is resized, aspect
    ratio kept, so that ``min_pixels ≤ H·W ≤ max_pixels`` with ``H``, ``W`` multiples of ``patch·merge``).
    ``kwargs`` go to ``from_pretrained`` (``revision``, ``local_files_only``, …).
    """
    model_type = AutoConfig.from_pretrained(str(path), **kwargs).model_type
    backend = image_backend()
    if backend == "torchvision":
        processor = AutoProcessor.from_pretrained(str(path), **kwargs)
    else:
        processor = get_processor_class(model_type).from_pretrained(str(path), **kwargs)
    _use_backend(processor, backend)
    image_processor = processor.image_processor
    if min_pixels is not None or max_pixels is not None:
        lo = min_pixels if min_pixels is not None else image_processor.size.shortest_edge
        hi = max_pixels if max_pixels is not None else image_processor.size.longest_edge
        if not 0 < lo <= hi:
            raise ValueError(f"pixel bounds must satisfy 0 < min_pixels <= max_pixels, got {lo} and {hi}")
        image_processor.size = type(image_processor.size)(shortest_edge=lo, longest_edge=hi)
    return processor


def load_model_and_processor(
    path: str | Path,
    *,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    **kwargs,
) -> tuple[PreTrainedModel, object]:
    """Load ``(model, processor)`` from ``path``: a local checkpoint directory or a hub id.

    ``dtype``: ``None`` keeps the checkpoint's own dtype (``"auto"``), else e.g. ``"bfloat16"`` /
    ``torch.float32``. ``device``: where to move the model (``None`` leaves it on CPU; multi-GPU placement is
    accelerate's job). ``min_pixels``/``max_pixels``: see :func:`load_processor`. ``kwargs`` go to both
    ``from_pretrained`` calls. Nothing here downloads unless ``path`` is a hub id not in the local cache.
    """
    if isinstance(dtype, str) and dtype != "auto":
        resolved = _DTYPES.get(dtype) or getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(
                f"unknown dtype {dtype!r}; valid: auto, {', '.join(_DTYPES)} (or any torch dtype name)"
            )
        dtype = resolved
    model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=dtype or "auto", **kwargs)
    if device is not None:
        model = model.to(device)
    processor = load_processor(path, min_pixels=min_pixels, max_pixels=max_pixels, **kwargs)
    return model, processor
