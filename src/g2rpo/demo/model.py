"""The demo's policy: `g2rpo.models.tiny.build_tiny`'s checkpoint, optionally widened and deepened.

`build_tiny` makes the smallest model that exercises every code path (width 64, 2 layers), which is what tests
need. That model cannot fit the demo's six tasks in a few CPU minutes: it learns the answer format but not to
condition on the question. The demo therefore rebuilds the same architecture at a chosen text width and depth,
keeping `build_tiny`'s tokenizer, processor, vision tower, special-token ids and generation config. Weights
are random (`torch.manual_seed(seed)`).
"""

from __future__ import annotations

from pathlib import Path

HEAD_DIM = 16
"""Per-head width of the text decoder; `build_tiny`'s M-RoPE sections (sum 8 = HEAD_DIM / 2) assume it."""


def build_demo_model(
    out_dir: str | Path, *, arch: str = "qwen3_vl", seed: int = 0, hidden_size: int = 64, num_layers: int = 2
) -> Path:
    """A random `arch` checkpoint in `out_dir` with a `hidden_size`-wide, `num_layers`-deep text decoder.

    `hidden_size` must be a positive multiple of 32 (heads of width 16, key/value heads = half the heads).
    With `build_tiny`'s own sizes (64, 2) this is exactly `build_tiny`.
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, GenerationConfig

    from g2rpo.models.tiny import TEXT, build_tiny

    if hidden_size <= 0 or hidden_size % (2 * HEAD_DIM):
        raise ValueError(f"hidden_size must be a positive multiple of {2 * HEAD_DIM}, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
    path = build_tiny(out_dir, arch=arch, seed=seed)
    if (hidden_size, num_layers) == (TEXT["hidden_size"], TEXT["num_hidden_layers"]):
        return path
    config = AutoConfig.from_pretrained(path)
    heads = hidden_size // HEAD_DIM
    text = config.text_config
    text.hidden_size = hidden_size
    text.intermediate_size = 2 * hidden_size
    text.num_hidden_layers = num_layers
    text.num_attention_heads = heads
    text.num_key_value_heads = heads // 2
    if getattr(text, "layer_types", None):  # one attention kind per layer (Qwen2.5-VL: all full attention)
        text.layer_types = [text.layer_types[0]] * num_layers
    if hasattr(text, "head_dim"):
        text.head_dim = HEAD_DIM
    config.vision_config.out_hidden_size = hidden_size
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config = GenerationConfig.from_pretrained(path)
    model.save_pretrained(path)
    return path
