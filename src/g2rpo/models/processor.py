"""Image-only Qwen-VL processors: the stock processors minus the video processor.

Why: transformers' Qwen video processors need torchvision, and g2rpo trains on images only. The stock
``Qwen3VLProcessor`` / ``Qwen2_5_VLProcessor`` take a ``video_processor`` argument, so ``from_pretrained`` tries to
build one and fails where torchvision is missing. The subclasses below drop that argument (transformers derives a
processor's sub-processors from its ``__init__`` signature), keep every image and text code path of the parent
unchanged, and are used with the PIL image backend (``Qwen2VLImageProcessorPil``).

``PROCESSORS`` maps a model type (``config.json``'s ``model_type``) to its image-only processor class; an unknown
type is an error listing the valid ones.
"""

from __future__ import annotations

from transformers import AutoTokenizer, Qwen2VLImageProcessorPil
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor


class _ImageOnly:
    """Loads the sub-processors directly: the PIL image processor and ``AutoTokenizer``.

    Why: ``AutoImageProcessor`` itself refuses to run without torchvision in transformers 5.x, so the generic
    ``ProcessorMixin`` loading path cannot be used. Reads ``preprocessor_config.json`` or the ``image_processor``
    entry of ``processor_config.json`` (whichever the checkpoint has), local directory or hub id alike.
    """

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        kwargs.pop("subfolder", None)
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(pretrained_model_name_or_path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return [image_processor, tokenizer]

    def to_dict(self) -> dict:
        # Saved as the stock processor, with a video-processor entry mirroring the image settings, so that
        # ``AutoProcessor`` loads the checkpoint where torchvision exists (GPU machines, vLLM). g2rpo's loader
        # picks the image-only class from ``model_type`` and ignores the video entry.
        out = super().to_dict()
        out["processor_class"] = self.stock_name
        ip = self.image_processor
        out["video_processor"] = {
            "video_processor_type": self.stock_video_processor,
            "patch_size": ip.patch_size,
            "temporal_patch_size": ip.temporal_patch_size,
            "merge_size": ip.merge_size,
            "image_mean": list(ip.image_mean),
            "image_std": list(ip.image_std),
        }
        return out


class Qwen3VLImageProcessor(_ImageOnly, Qwen3VLProcessor):
    """``Qwen3VLProcessor`` without a video processor (images and text only)."""

    stock_name = "Qwen3VLProcessor"
    stock_video_processor = "Qwen3VLVideoProcessor"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


class Qwen2_5_VLImageProcessor(_ImageOnly, Qwen2_5_VLProcessor):
    """``Qwen2_5_VLProcessor`` without a video processor (images and text only)."""

    stock_name = "Qwen2_5_VLProcessor"
    stock_video_processor = "Qwen2VLVideoProcessor"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


PROCESSORS: dict[str, type] = {
    "qwen3_vl": Qwen3VLImageProcessor,
    "qwen3_vl_moe": Qwen3VLImageProcessor,
    "qwen2_5_vl": Qwen2_5_VLImageProcessor,
}
"""``model_type`` → image-only processor class."""


def get_processor_class(model_type: str) -> type:
    """The image-only processor class for ``model_type``; unknown types list the valid ones."""
    try:
        return PROCESSORS[model_type]
    except KeyError:
        raise KeyError(
            f"no image-only processor for model type {model_type!r}; valid model types: {', '.join(PROCESSORS)}"
        ) from None


__all__ = [
    "PROCESSORS",
    "Qwen2VLImageProcessorPil",
    "Qwen2_5_VLImageProcessor",
    "Qwen3VLImageProcessor",
    "get_processor_class",
]
