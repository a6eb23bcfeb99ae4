"""Tiny offline Qwen-VL checkpoints: build, save, reload, process an image, generate (no hub access)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from g2rpo.models import build_tiny, load_model_and_processor, load_processor
from g2rpo.models.cli import ARCH_NAMES
from g2rpo.models.processor import PROCESSORS, get_processor_class
from g2rpo.models.tiny import ARCHS
from g2rpo.models.tokenizer import build_tokenizer

# Image side per arch chosen so smart_resize leaves it untouched: a multiple of patch·merge
# (Qwen3-VL 16·2 = 32, Qwen2.5-VL 14·2 = 28) inside the tiny processors' pixel bounds.
# 2·(patch·merge) per side → a 4×4 patch grid → 16 patches → 16 / merge² = 4 image tokens.
SIDE = {"qwen3_vl": 64, "qwen2_5_vl": 56}
PATCH = {"qwen3_vl": 16, "qwen2_5_vl": 14}


@pytest.fixture(scope="module", params=sorted(ARCHS))
def tiny(request, tmp_path_factory):
    arch = request.param
    path = build_tiny(tmp_path_factory.mktemp(arch), arch=arch, seed=0)
    model, processor = load_model_and_processor(path)
    return arch, path, model, processor


def _messages(image, text="What colour is it?"):
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]}]


def test_checkpoint_files_and_stock_processor_class(tiny):
    arch, path, _, _ = tiny
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert json.loads((path / "config.json").read_text())["model_type"] == arch
    # Saved under the stock name so AutoProcessor resolves it where torchvision exists.
    stock = {"qwen3_vl": "Qwen3VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}[arch]
    saved = json.loads((path / "processor_config.json").read_text())
    assert saved["processor_class"] == stock
    # A video entry (mirroring the image settings) lets AutoProcessor build the stock processor with torchvision.
    video = {"qwen3_vl": "Qwen3VLVideoProcessor", "qwen2_5_vl": "Qwen2VLVideoProcessor"}[arch]
    assert saved["video_processor"]["video_processor_type"] == video
    assert saved["video_processor"]["patch_size"] == saved["image_processor"]["patch_size"] == PATCH[arch]
    assert sum(p.stat().st_size for p in path.iterdir()) < 5_000_000


def test_reload_gives_the_built_weights(tiny, tmp_path):
    arch, _, model, _ = tiny
    again, _ = load_model_and_processor(build_tiny(tmp_path / "again", arch=arch, seed=0))
    other, _ = load_model_and_processor(build_tiny(tmp_path / "other", arch=arch, seed=1))
    ref = model.state_dict()
    assert ref.keys() == again.state_dict().keys()
    assert all(torch.equal(ref[k], v) for k, v in again.state_dict().items())
    assert any(not torch.equal(ref[k], v) for k, v in other.state_dict().items())
    assert type(model).__name__ == {"qwen3_vl": "Qwen3VLForConditionalGeneration",
                                    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration"}[arch]  # fmt: skip


def test_processor_is_image_only(tiny):
    arch, _, _, processor = tiny
    assert isinstance(processor, PROCESSORS[arch])
    assert not hasattr(processor, "video_processor")
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    assert processor.image_processor.patch_size == PATCH[arch]


def test_chat_template_renders_image_placeholder(tiny):
    _, _, _, processor = tiny
    text = processor.apply_chat_template(_messages(None), tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What colour is it?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_image_tokens_and_generate(tiny):
    arch, _, model, processor = tiny
    side = SIDE[arch]
    inputs = processor.apply_chat_template(
        _messages(Image.new("RGB", (side, side), "red")),
        tokenize=True,
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]
    # 16 patches of 3·2·p·p values each (channels · temporal patch · patch²).
    assert tuple(inputs["pixel_values"].shape) == (16, 3 * 2 * PATCH[arch] ** 2)
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_pad).sum()) == 4
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=True)
    new = out[0, inputs["input_ids"].shape[1] :]
    assert 1 <= new.numel() <= 8
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)


def test_pixel_bounds_override(tiny):
    arch, path, _, _ = tiny
    factor = PATCH[arch] * 2
    processor = load_processor(path, min_pixels=factor * factor, max_pixels=factor * factor)
    grid = processor.image_processor(images=[Image.new("RGB", (200, 200))], return_tensors="pt")[
        "image_grid_thw"
    ]
    assert grid.tolist() == [[1, 2, 2]]  # forced down to one merged token: 2×2 patches
    with pytest.raises(ValueError, match="min_pixels"):
        load_processor(path, min_pixels=100, max_pixels=10)


def test_unknown_names_list_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="valid archs: qwen3_vl, qwen2_5_vl"):
        build_tiny(tmp_path, arch="llava")
    with pytest.raises(KeyError, match="valid model types: qwen3_vl"):
        get_processor_class("llava")
    assert tuple(sorted(ARCHS)) == ARCH_NAMES


def test_tokenizer_is_deterministic_and_round_trips():
    a, b = build_tokenizer(), build_tokenizer()
    assert a.get_vocab() == b.get_vocab() and len(a) == 1024
    for s in ['<thinking>x</thinking><answer>{"boxes": [1, 2, 3, 4]}</answer>', "ünïcødé ✓ 数学", "\x00\t\n"]:
        assert a.decode(a(s)["input_ids"]) == s
    for special in ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"):
        assert len(a(special)["input_ids"]) == 1


def test_cli_writes_a_checkpoint(tmp_path):
    import argparse

    from g2rpo.models import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["tiny", "--out", str(tmp_path / "m"), "--arch", "qwen2_5_vl", "--seed", "3"])
    assert cli.main(args) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "qwen2_5_vl"


def test_loader_reads_the_hub_checkpoint_layout(tmp_path):
    """Hub checkpoints (e.g. Qwen/Qwen2.5-VL-7B-Instruct) keep the image processor in preprocessor_config.json
    (with min_pixels/max_pixels keys), a video processor config, and chat_template.json: the same loader reads it."""
    import shutil

    src = build_tiny(tmp_path / "tiny", arch="qwen2_5_vl")
    hub = tmp_path / "hub"
    shutil.copytree(src, hub)
    image = json.loads((hub / "processor_config.json").read_text())["image_processor"]
    del image["size"]
    image |= {
        "min_pixels": 28 * 28,
        "max_pixels": 56 * 56,
        "image_processor_type": "Qwen2_5_VLImageProcessor",
    }
    (hub / "preprocessor_config.json").write_text(
        json.dumps({**image, "processor_class": "Qwen2_5_VLProcessor"})
    )
    (hub / "video_preprocessor_config.json").write_text(
        json.dumps({"video_processor_type": "Qwen2VLVideoProcessor"})
    )
    (hub / "chat_template.json").write_text(
        json.dumps({"chat_template": (hub / "chat_template.jinja").read_text()})
    )
    (hub / "processor_config.json").unlink()
    (hub / "chat_template.jinja").unlink()

    _, processor = load_model_and_processor(hub)
    assert type(processor).__name__ == "Qwen2_5_VLImageProcessor"
    size = processor.image_processor.size
    assert (size.shortest_edge, size.longest_edge) == (28 * 28, 56 * 56)
    # 112×112 > 56² pixels → smart_resize to 56×56 → a 4×4 grid of 14-px patches.
    grid = processor.image_processor(images=[Image.new("RGB", (112, 112))], return_tensors="pt")[
        "image_grid_thw"
    ]
    assert grid.tolist() == [[1, 4, 4]]
    assert processor.apply_chat_template(_messages(None), tokenize=False).startswith(
        "<|im_start|>user\n<|vision_start|>"
    )


def test_dtype_names(tiny):
    _, path, _, _ = tiny
    model, _ = load_model_and_processor(path, dtype="bf16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype 'float8x'; valid: auto, bfloat16, bf16"):
        load_model_and_processor(path, dtype="float8x")
