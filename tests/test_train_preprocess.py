"""Per-round image cache (g2rpo.train.preprocess) and the explicit image backend choice (g2rpo.models.loading).

The reference is always the plain image processor on the same inputs: a cached round must give the same
``input_ids``, ``pixel_values`` and ``image_grid_thw``, bit for bit, while processing each unique image once.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from transformers import Qwen2VLImageProcessorPil
from trl.data_utils import apply_chat_template

from g2rpo.models import loading
from g2rpo.train import preprocess
from g2rpo.train.preprocess import (
    CachedImageProcessor,
    ImageCache,
    ImageCacheCallback,
    image_key,
    install_image_cache,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from g2rpo.models.tiny import build_tiny

    return str(build_tiny(tmp_path_factory.mktemp("tiny")))


def noise(h: int, w: int, seed: int, mode: str = "RGB") -> Image.Image:
    channels = {"RGB": 3, "L": 1}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode=mode)


@pytest.fixture
def count_processed(monkeypatch):
    """Counts the images the PIL image processor actually resizes, normalises and patchifies."""
    seen = []
    original = Qwen2VLImageProcessorPil._preprocess

    def counting(self, images, *args, **kwargs):
        seen.append(len(images))
        return original(self, images, *args, **kwargs)

    monkeypatch.setattr(Qwen2VLImageProcessorPil, "_preprocess", counting)
    return seen


def conversation(images: list[Image.Image], text: str) -> list[dict]:
    content = [{"type": "image", "image": im} for im in images] + [{"type": "text", "text": text}]
    return [{"role": "user", "content": content}]


def trl_round(processor, prompt_images: list[list[Image.Image]], group_size: int):
    """The two processor calls of one TRL round, on prompts repeated ``group_size`` times (fresh copies of the
    images, as the data loader and ``copy.deepcopy`` in ``GRPOTrainer._generate`` make them)."""
    prompts = [conversation([copy.deepcopy(im) for im in images], f"question {p}")
               for p, images in enumerate(prompt_images) for _ in range(group_size)]
    generation = processor.apply_chat_template(conversation=prompts, add_generation_prompt=True, tokenize=True,
                                               return_dict=True)
    texts = [apply_chat_template({"prompt": p}, processor)["prompt"] for p in prompts]
    images = [[part["image"] for part in p[0]["content"] if part["type"] == "image"] for p in prompts]
    forward = processor(images=images, text=texts, padding=True, return_tensors="pt")
    return generation, forward


def assert_identical(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, torch.Tensor | np.ndarray):
            assert type(x) is type(y) and x.dtype == y.dtype and x.shape == y.shape, key
            assert torch.equal(torch.as_tensor(x), torch.as_tensor(y)), key
        else:
            assert x == y, key


@pytest.mark.parametrize("bounds", [None, (32 * 32, 64 * 64)])
def test_a_round_is_bit_identical_and_processes_each_unique_image_once(tiny, count_processed, bounds, monkeypatch):
    from g2rpo.models import load_processor

    pixels = {} if bounds is None else {"min_pixels": bounds[0], "max_pixels": bounds[1]}
    processor = load_processor(tiny, **pixels)
    cached, cache = install_image_cache(processor)
    a, b, c = noise(64, 96, 0), noise(64, 96, 1), noise(40, 200, 2)  # a and b: same size, other pixels
    prompts = [[a], [b], [c, a]]  # the third prompt shares a with the first
    group_size = 4

    keyed = []
    monkeypatch.setattr(preprocess, "image_key", lambda im: keyed.append(im) or image_key(im))
    plain = trl_round(processor, prompts, group_size)
    # 2 calls × 4 copies × (1 + 1 + 2) images = 32 images processed on TRL's path
    assert sum(count_processed) == 32
    count_processed.clear()
    again = trl_round(cached, prompts, group_size)
    for ours, theirs in zip(again, plain, strict=True):
        assert_identical(ours, theirs)
    assert sum(count_processed) == 3 and len(count_processed) == 1  # a, b and c, in one call
    assert (cache.misses, cache.hits) == (3, 29)
    # keys: the first call's 16 image objects once each; the second call passes the same objects
    assert len(keyed) == 16 and len({id(im) for im in keyed}) == 16
    # a is 64×96 px: inside the tiny bounds (32²…128²) it keeps its size, a 4×6 grid of 16-px patches; with
    # max_pixels 64² smart_resize shrinks it by √(6144/4096) to 52×78 → floored to multiples of 32: 32×64 → 2×4
    assert plain[1]["image_grid_thw"][0].tolist() == ([1, 4, 6] if bounds is None else [1, 2, 4])


def test_the_callers_processor_is_left_alone_and_saves_as_the_stock_one(tiny, tmp_path):
    from g2rpo.models import load_processor

    processor = load_processor(tiny)
    cached, _ = install_image_cache(processor)
    assert type(processor.image_processor) is Qwen2VLImageProcessorPil
    assert isinstance(cached.image_processor, CachedImageProcessor)
    assert cached.tokenizer is processor.tokenizer
    assert install_image_cache(cached)[0] is cached  # installing twice wraps once
    processor.save_pretrained(tmp_path / "plain")
    cached.save_pretrained(tmp_path / "cached")
    for name in ("processor_config.json", "tokenizer_config.json"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "cached" / name).read_text()
    assert type(copy.deepcopy(cached.image_processor)) is Qwen2VLImageProcessorPil
    assert type(pickle.loads(pickle.dumps(cached.image_processor))) is Qwen2VLImageProcessorPil
    # attribute writes reach the wrapped processor (load_processor's pixel bounds are set this way)
    cached.image_processor.merge_size = 2
    assert cached.image_processor.image_processor.__dict__["merge_size"] == 2


def test_no_image_processor_means_no_cache(tiny):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    assert install_image_cache(tokenizer) == (tokenizer, None)
    with pytest.raises(TypeError, match="pixel_values, image_grid_thw"):
        CachedImageProcessor(tokenizer, ImageCache())


def processor_pair(**settings_):
    inner = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2, min_pixels=32 * 32,
                                     max_pixels=128 * 128, **settings_)
    cache = ImageCache()
    return inner, CachedImageProcessor(copy.deepcopy(inner), cache), cache


def test_key_is_the_exact_content():
    a = noise(32, 48, 0)
    twin = Image.frombytes(a.mode, a.size, a.tobytes())
    assert image_key(twin) == image_key(a)  # another object, same pixels
    changed = a.copy()
    changed.putpixel((47, 31), (0, 0, 0) if a.getpixel((47, 31)) != (0, 0, 0) else (1, 1, 1))
    assert image_key(changed) != image_key(a)  # one pixel
    grey = noise(32, 48, 0, mode="L")
    assert image_key(Image.frombytes("P", grey.size, grey.tobytes())) != image_key(grey)  # same bytes, other mode
    p1 = Image.frombytes("P", grey.size, grey.tobytes())
    p2 = p1.copy()
    p1.putpalette(bytes(range(256)) * 3)
    p2.putpalette(bytes(255 - i for i in range(256)) * 3)
    assert p1.tobytes() == p2.tobytes() and image_key(p1) != image_key(p2)  # same indices, other colours
    p3 = p1.copy()
    p3.info["transparency"] = 0
    assert image_key(p3) != image_key(p1)

    # and the cache does not conflate them: each comes out as the plain processor makes it
    inner, cached, cache = processor_pair()
    images = [p1, p2, p3, p1]
    assert_identical(cached(images, return_tensors="pt"), inner(images, return_tensors="pt"))
    assert (cache.misses, cache.hits) == (3, 1)


def test_the_byte_bound_evicts_oldest_first_and_stays_exact():
    a, b = noise(64, 64, 0), noise(64, 64, 1)
    inner, cached, _ = processor_pair()
    one_image = inner([a])["pixel_values"].nbytes + 3 * 8  # rows + one int64 grid row
    cache = ImageCache(max_bytes=one_image)
    cached = CachedImageProcessor(copy.deepcopy(inner), cache)
    assert_identical(cached([a, b, a, b], return_tensors="pt"), inner([a, b, a, b], return_tensors="pt"))
    assert (cache.misses, cache.hits, len(cache)) == (2, 2, 1)  # a was put first, so b's arrival evicted it
    assert cache.nbytes == one_image
    assert_identical(cached([b, a]), inner([b, a]))
    assert (cache.misses, cache.hits) == (3, 3)  # b from the cache, a processed again
    with pytest.raises(ValueError, match="max_bytes"):
        ImageCache(max_bytes=-1)


def test_call_arguments_and_settings_are_part_of_the_key():
    a = noise(64, 64, 0)
    inner, cached, cache = processor_pair()
    assert cached([a])["image_grid_thw"].tolist() == [[1, 4, 4]]
    small = {"min_pixels": 32 * 32, "max_pixels": 32 * 32}
    assert_identical(cached([a], **small), inner([a], **small))  # not the cached 4×4 grid
    assert cached([a], **small)["image_grid_thw"].tolist() == [[1, 2, 2]]
    cached.image_mean = [0.0, 0.0, 0.0]  # a settings change reaches the wrapped processor and the key
    inner.image_mean = [0.0, 0.0, 0.0]
    assert_identical(cached([a], return_tensors="pt"), inner([a], return_tensors="pt"))
    assert cache.misses == 3


def test_inputs_it_cannot_key_go_through_unchanged():
    arrays = [np.asarray(noise(64, 64, 0)), np.asarray(noise(32, 64, 1))]
    inner, cached, cache = processor_pair()
    assert_identical(cached(arrays, return_tensors="pt"), inner(arrays, return_tensors="pt"))
    assert (cache.misses, cache.hits, len(cache)) == (0, 0, 0)


def test_an_object_is_keyed_once_per_round():
    a = noise(64, 64, 0)
    inner, cached, cache = processor_pair()
    cached([a])
    a.paste((0, 0, 0), (0, 0, 8, 8))  # drawn on in place: within the round its key stands (the stated assumption)
    assert cache.key_of(a) != image_key(a)
    cache.clear()  # a new round keys it afresh
    assert_identical(cached([a], return_tensors="pt"), inner([a], return_tensors="pt"))
    assert cache.misses == 2


def test_the_callback_empties_the_cache_after_each_step_and_eval_batch():
    _, cached, cache = processor_pair()
    callback = ImageCacheCallback(cache)
    cached([noise(64, 64, 0)])
    assert len(cache) == 1
    callback.on_step_end(None, None, None)
    assert len(cache) == 0 and cache.nbytes == 0
    cached([noise(64, 64, 0)])
    callback.on_prediction_step(None, None, None)
    assert len(cache) == 0


POOL = [noise(64, 64, 0), noise(64, 64, 1), noise(32, 96, 2), noise(64, 32, 3, mode="L")]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=2), min_size=1, max_size=6),
       st.booleans())
def test_any_batch_equals_the_plain_processor(groups, warm):
    """Property: any nesting and repetition of images, from a cold or a warm cache, is the plain output."""
    inner, cached, cache = processor_pair()
    if warm:
        cached([POOL[0], POOL[2]])
    images = [[POOL[i] for i in group] for group in groups]
    assert_identical(cached(images, return_tensors="pt"), inner(images, return_tensors="pt"))
    flat = [i for group in groups for i in group]
    assert cache.misses == len(set(flat) - ({0, 2} if warm else set())) + (2 if warm else 0)


def test_trainer_round_matches_the_uncached_round(tiny, tmp_path, count_processed):
    """G2RPOTrainer installs the cache; a round through it equals the same round through the plain processor."""
    from datasets import Dataset

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.trainer import G2RPOTrainer

    rows = [{"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"q{p}"}]}],
             "images": [noise(64, 96, p)], "answer": "1", "problem_type": "numerical", "task": "math"}
            for p in range(2)]
    model, processor = load_model_and_processor(tiny)
    args = G2RPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, per_device_train_batch_size=8,
                       num_generations=4, max_completion_length=4, save_strategy="no", dynamic_filtering=False)
    trainer = G2RPOTrainer(model, args=args, train_dataset=Dataset.from_list(rows), processing_class=processor,
                           scorer=_ConstantScorer())
    assert isinstance(trainer.processing_class.image_processor, CachedImageProcessor)
    assert any(isinstance(c, ImageCacheCallback) for c in trainer.callback_handler.callbacks)
    assert type(processor.image_processor) is Qwen2VLImageProcessorPil
    trainer.model.train()
    inputs = [r for r in rows for _ in range(4)]
    torch.manual_seed(0)
    ours = trainer._generate_and_score_completions(inputs)
    assert sum(count_processed) == 2  # two unique images, once each
    count_processed.clear()
    trainer.processing_class = processor
    torch.manual_seed(0)
    theirs = trainer._generate_and_score_completions(inputs)
    assert sum(count_processed) == 16  # 2 calls × 8 rows
    for key in ("prompt_ids", "prompt_mask", "completion_ids", "pixel_values", "image_grid_thw"):
        assert torch.equal(ours[key], theirs[key]), key
    trainer.close()


class _ConstantScorer:
    """`BatchScorer`-compatible: every response scores 0.5."""

    n_timeouts = 0

    def score(self, responses, answers, problem_types, **kwargs):
        from g2rpo.rewards import BatchScore, RewardBreakdown

        out = [RewardBreakdown(accuracy=0.5, format=0.0, structure=0.0, length=0.0, overall=0.5)
               for _ in responses]
        flags = {n: [False] * len(out) for n in ("timed_out", "failed") if n in BatchScore.__dataclass_fields__}
        return BatchScore(breakdowns=out, **flags)

    def close(self):
        pass


# ---- image backend: torchvision where it imports, PIL otherwise, said in the log


def test_pil_backend_without_torchvision(tiny, caplog):
    from g2rpo.models import load_processor

    assert loading.image_backend() == "pil"  # this machine has no torchvision
    with caplog.at_level(logging.INFO, logger="g2rpo.models.loading"):
        processor = load_processor(tiny)
    assert type(processor.image_processor) is Qwen2VLImageProcessorPil
    assert "image processor: Qwen2VLImageProcessorPil (pil backend: torchvision is not importable)" in caplog.text


def test_torchvision_backend_when_importable(tiny, caplog, monkeypatch):
    """With torchvision importable the stock AutoProcessor path runs and its image processor is the
    torchvision class, whatever class the checkpoint was loaded with (here the PIL one), settings kept."""
    from g2rpo.models.processor import get_processor_class

    class TorchvisionStandIn(Qwen2VLImageProcessorPil):
        """Stands in for transformers' Qwen2VLImageProcessor, which cannot be built without torchvision."""

    calls = []

    class StockProcessor:
        @staticmethod
        def from_pretrained(path, **kwargs):
            calls.append(path)
            return get_processor_class("qwen3_vl").from_pretrained(path, **kwargs)

    monkeypatch.setattr(loading, "is_torchvision_available", lambda: True)
    monkeypatch.setattr(loading, "AutoProcessor", StockProcessor)
    real = loading.image_processor_class
    monkeypatch.setattr(loading, "image_processor_class",
                        lambda backend: TorchvisionStandIn if backend == "torchvision" else real(backend))
    assert loading.image_backend() == "torchvision"
    with caplog.at_level(logging.INFO, logger="g2rpo.models.loading"):
        processor = loading.load_processor(tiny, max_pixels=96 * 96)
    assert calls == [tiny]
    ip = processor.image_processor
    assert type(ip) is TorchvisionStandIn
    saved = json.loads(Path(tiny, "processor_config.json").read_text())["image_processor"]
    assert (ip.patch_size, ip.merge_size, list(ip.image_mean)) == (16, 2, saved["image_mean"])
    assert (ip.size.shortest_edge, ip.size.longest_edge) == (saved["size"]["shortest_edge"], 96 * 96)
    assert "image processor: TorchvisionStandIn (torchvision backend: torchvision imports)" in caplog.text
    assert loading.IMAGE_PROCESSORS == {"torchvision": "Qwen2VLImageProcessor", "pil": "Qwen2VLImageProcessorPil"}
