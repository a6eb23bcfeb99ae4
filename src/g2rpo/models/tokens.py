"""Special tokens of the Qwen-VL family that generation must never emit."""

from __future__ import annotations

VISION_TOKENS: tuple[str, ...] = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
"""Qwen-VL placeholder tokens a policy must never emit: in a completion they would be taken for image slots
when the sequence is re-encoded (multimodal RoPE then fails on a token/feature count mismatch)."""


def vision_token_ids(tokenizer) -> list[list[int]]:
    """``bad_words_ids`` for ``generate``: the vision placeholder tokens this tokenizer knows (may be empty)."""
    vocab = tokenizer.get_vocab()
    return [[vocab[t]] for t in VISION_TOKENS if t in vocab]
