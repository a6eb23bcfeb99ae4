"""The demo's policy: `g2rpo.models.tiny.build_tiny`'s architecture at the demo's sizes, with a vision pathway
initialised so that the decoder can see.

`build_tiny` makes the smallest model that exercises every code path (width 64, 2 layers), which is what tests
need. The demo rebuilds the same architecture at a chosen text width and depth and vision width and depth,
keeping `build_tiny`'s tokenizer, processor, special-token ids and generation config. Weights are random
(`torch.manual_seed(seed)`), except for one data-dependent step (`calibrate_vision`):

A random vision tower's output is mostly the same vector for every image (biases and position embeddings:
about 80% of its energy does not depend on the image, measured on the synthetic images), and its scale is
unrelated to the text embeddings'. The decoder then learns the answer priors from the text and treats the image
tokens as a constant. `calibrate_vision` runs the tower once on a few synthetic images and sets the
output layer of each patch merger (the main one and the DeepStack ones) so that its output has zero mean over
those images and the text embeddings' root-mean-square size: what reaches the decoder is then what differs
between images and positions, at the scale of a word (LSUV-style data-dependent initialisation).

**RoPE base** (`rope_theta`). Qwen3-VL's interleaved M-RoPE gives an image token's row and its column 2 of
the 8 rotary frequencies each at head width 16 (Qwen3-VL-8B, head width 128: 20 each). At the checkpoints'
base, 5e6, the column frequencies are 0.021 and 0.00007 rad per column (8B: 0.62, 0.30, …), so the columns of
a 3 × 3 image grid look nearly alike to attention and the decoder has to tell them apart from the vision
features alone. At base 10 they are 0.56 and 0.24 rad.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEAD_DIM = 16
"""Per-head width of the text decoder; `build_tiny`'s M-RoPE sections (sum 8 = HEAD_DIM / 2) assume it."""


def build_demo_model(
    out_dir: str | Path,
    *,
    arch: str = "qwen3_vl",
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_hidden_size: int | None = None,
    vision_layers: int | None = None,
    rope_theta: float | None = None,
    calibration_images: Sequence | None = None,
) -> Path:
    """A random `arch` checkpoint in `out_dir` with a `hidden_size`-wide, `num_layers`-deep text decoder.

    `hidden_size` must be a positive multiple of 32 (heads of width 16, key/value heads = half the heads).
    `vision_hidden_size` (a multiple of 16) and `vision_layers` resize the vision tower (None: `build_tiny`'s
    32 and 2). `rope_theta` sets the text decoder's RoPE base (None: `build_tiny`'s; see above).
    `calibration_images` (PIL images): calibrate the patch mergers on them (`calibrate_vision`).
    With `build_tiny`'s own sizes and no calibration this is exactly `build_tiny`.
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, GenerationConfig

    from g2rpo.models.tiny import TEXT, build_tiny

    if hidden_size <= 0 or hidden_size % (2 * HEAD_DIM):
        raise ValueError(f"hidden_size must be a positive multiple of {2 * HEAD_DIM}, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
    if vision_hidden_size is not None and (vision_hidden_size <= 0 or vision_hidden_size % 16):
        raise ValueError(f"vision_hidden_size must be a positive multiple of 16, got {vision_hidden_size}")
    if vision_layers is not None and vision_layers < 1:
        raise ValueError(f"vision_layers must be ≥ 1, got {vision_layers}")
    if rope_theta is not None and rope_theta <= 1:
        raise ValueError(f"rope_theta must be > 1, got {rope_theta}")
    path = build_tiny(out_dir, arch=arch, seed=seed)
    same_text = (hidden_size, num_layers) == (TEXT["hidden_size"], TEXT["num_hidden_layers"])
    changed = vision_hidden_size is not None or vision_layers is not None or rope_theta is not None
    if same_text and not changed and not calibration_images:
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
    if rope_theta is not None:
        text.rope_parameters = dict(text.rope_parameters or {}) | {"rope_theta": float(rope_theta)}
    vision = config.vision_config
    vision.out_hidden_size = hidden_size
    if vision_hidden_size is not None:
        vision.hidden_size = vision_hidden_size
        vision.intermediate_size = 2 * vision_hidden_size
        vision.num_heads = max(1, vision_hidden_size // 16)
    if vision_layers is not None:
        vision.depth = vision_layers
        if hasattr(vision, "deepstack_visual_indexes"):
            vision.deepstack_visual_indexes = [i for i in vision.deepstack_visual_indexes if i < vision_layers]
        if hasattr(vision, "fullatt_block_indexes"):
            vision.fullatt_block_indexes = [vision_layers - 1]
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config = GenerationConfig.from_pretrained(path)
    if calibration_images:
        from g2rpo.models import load_model_and_processor

        _, processor = load_model_and_processor(str(path))
        calibrate_vision(model, processor.image_processor, calibration_images)
    model.save_pretrained(path)
    return path


def _mergers(visual) -> list:
    return [visual.merger, *getattr(visual, "deepstack_merger_list", [])]


def vision_features(model, image_processor, images: Sequence) -> list:
    """The vision tower's outputs for `images`: [main merger, DeepStack mergers…], each (tokens, width)."""
    import torch

    inputs = image_processor(images=list(images), return_tensors="pt")
    visual = model.model.visual
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach())) for m in _mergers(visual)]
    try:
        with torch.no_grad():
            visual(inputs["pixel_values"].to(visual.dtype), grid_thw=inputs["image_grid_thw"])
    finally:
        for hook in hooks:
            hook.remove()
    # hooks fire DeepStack mergers first (inside the blocks), the main merger last
    return [outputs[-1], *outputs[:-1]]


def calibrate_vision(model, image_processor, images: Sequence) -> dict[str, float]:
    """Set each patch merger's output layer so that its output over `images` has zero mean per channel and the
    root-mean-square size of the text embeddings. Returns the image-independent share of the main merger's
    output energy before calibration (`image_independent_before`), for the record."""
    import torch

    embed = model.get_input_embeddings().weight
    target = float(embed.detach().pow(2).mean().sqrt())
    feats = vision_features(model, image_processor, images)
    n = len(images)
    main = feats[0].reshape(n, -1, feats[0].shape[-1])
    share = float(main.mean(0).pow(2).sum() * n / main.pow(2).sum())
    with torch.no_grad():
        for merger, out in zip(_mergers(model.model.visual), feats, strict=True):
            fc2 = merger.linear_fc2
            mean = out.mean(0)
            scale = target / float((out - mean).pow(2).mean().sqrt().clamp_min(1e-12))
            fc2.bias.sub_(mean).mul_(scale)
            fc2.weight.mul_(scale)
    return {"image_independent_before": share}
