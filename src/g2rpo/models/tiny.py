"""Tiny random Qwen3-VL / Qwen2.5-VL checkpoints built offline, for tests, CPU smoke runs and benchmarks.

``build_tiny(out_dir, arch="qwen3_vl", seed=0)`` writes a complete checkpoint directory — ``config.json``,
weights, ``generation_config.json``, tokenizer, image processor and chat template — that loads with
``from_pretrained`` (and :func:`g2rpo.models.load_model_and_processor`) like a real one. Nothing is downloaded.

The architecture is the real one (same classes, same multimodal RoPE, DeepStack for Qwen3-VL, window attention
for Qwen2.5-VL) scaled down: 2 text layers of width 64, a 2-block vision tower of width 32, a 1,024-token
byte-level BPE vocabulary (:mod:`g2rpo.models.tokenizer`). Patch, temporal-patch and merge sizes keep the real
values (Qwen3-VL: 16/2/2, Qwen2.5-VL: 14/2/2), so image-token counts follow the real formula
``tokens = (H/patch)·(W/patch)/merge²``; the image processor's pixel bounds are small (≤ 16 image tokens) so
CPU steps stay fast. Weights are random (``torch.manual_seed(seed)``): outputs are noise, which is what the
tests need (shapes, plumbing, determinism), not quality.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    PreTrainedModel,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessorPil,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)

from g2rpo.models.processor import Qwen2_5_VLImageProcessor, Qwen3VLImageProcessor
from g2rpo.models.tokenizer import build_tokenizer

VOCAB_SIZE = 1024
TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 8192,
    "vocab_size": VOCAB_SIZE,
}
"""Text-decoder sizes shared by both archs (head_dim = 64/4 = 16, so the M-RoPE sections sum to 8)."""


def _qwen3_vl(tok) -> tuple[PreTrainedModel, Qwen2VLImageProcessorPil]:
    ids = _special_ids(tok)
    config = Qwen3VLConfig(
        text_config={
            **TEXT,
            **_text_ids(tok),
            "head_dim": 16,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
            "tie_word_embeddings": True,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": TEXT["hidden_size"],
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [1],
        },
        tie_word_embeddings=True,
        **ids,
    )
    model = Qwen3VLForConditionalGeneration(config)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=32 * 32,
        max_pixels=128 * 128,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return model, image_processor


def _qwen2_5_vl(tok) -> tuple[PreTrainedModel, Qwen2VLImageProcessorPil]:
    ids = _special_ids(tok)
    config = Qwen2_5_VLConfig(
        text_config={
            **TEXT,
            **_text_ids(tok),
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1_000_000.0,
                "mrope_section": [4, 2, 2],
            },
            "tie_word_embeddings": True,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": TEXT["hidden_size"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            "tokens_per_second": 2,
        },
        tie_word_embeddings=True,
        **ids,
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=28 * 28, max_pixels=112 * 112
    )
    return model, image_processor


ARCHS: dict[str, tuple[Callable, type]] = {
    "qwen3_vl": (_qwen3_vl, Qwen3VLImageProcessor),
    "qwen2_5_vl": (_qwen2_5_vl, Qwen2_5_VLImageProcessor),
}
"""Architecture name → (model + image-processor factory, image-only processor class)."""


def _text_ids(tok) -> dict[str, int]:
    """bos/eos/pad ids of the tiny vocabulary (the config defaults point into the real 151k vocabulary)."""
    return {
        "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tok.pad_token_id,
    }


def _special_ids(tok) -> dict[str, int]:
    def tid(t: str) -> int:
        return tok.convert_tokens_to_ids(t)

    return {
        "image_token_id": tid("<|image_pad|>"),
        "video_token_id": tid("<|video_pad|>"),
        "vision_start_token_id": tid("<|vision_start|>"),
        "vision_end_token_id": tid("<|vision_end|>"),
    }


def build_tiny(out_dir: str | Path, arch: str = "qwen3_vl", seed: int = 0) -> Path:
    """Build a tiny random ``arch`` checkpoint in ``out_dir`` and return its path.

    ``arch``: ``"qwen3_vl"`` (default) or ``"qwen2_5_vl"``; unknown names list the valid ones. Same ``seed`` →
    identical weights. The directory reloads with ``from_pretrained`` (model: the ``*ForConditionalGeneration``
    class; processor: :func:`g2rpo.models.load_model_and_processor`, or ``AutoTokenizer`` +
    ``AutoImageProcessor``). Weights are saved in float32 as safetensors (≈ 0.5 MB).
    """
    if arch not in ARCHS:
        raise KeyError(f"unknown tiny arch {arch!r}; valid archs: {', '.join(ARCHS)}")
    factory, processor_cls = ARCHS[arch]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(VOCAB_SIZE)
    torch.manual_seed(seed)
    model, image_processor = factory(tok)
    model.generation_config = GenerationConfig(
        eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tok.pad_token_id,
        do_sample=True,
        temperature=1.0,
    )
    model.save_pretrained(out)
    processor = processor_cls(image_processor=image_processor, tokenizer=tok, chat_template=tok.chat_template)
    processor.save_pretrained(out)
    return out
