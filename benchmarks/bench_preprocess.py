"""Host time per step spent preparing images: TRL's path (each image processed 2·G times) vs the per-round cache.

One generation round of ``--prompts`` unique prompts (one image each), each repeated ``G = --group-size`` times,
goes through the two processor calls TRL makes per round — ``apply_chat_template(…, tokenize=True)`` for
generation and ``processor(images=…, text=…)`` for the log-prob forward — once with the plain processor and once
with :func:`g2rpo.train.preprocess.install_image_cache`'s, interleaved, ``--repeats`` times, at 512² and 1024²
images; ``preprocess_speedup`` (the headline: the smaller of the two sizes) is the time inside the image
processor, ``round_speedup`` the whole calls with the chat template and tokenizer work both paths share. The
processor is the tiny Qwen3-VL one built offline with the paper's pixel bounds (min 3,136, max
1,048,576: Qwen3-VL's patch 16 / merge 2 / temporal patch 2, so the per-image work is the real model's). Outputs
of the two paths must be identical (``identical``). Also prints the cost of the cache key (copy + SHA-256 of
the pixels) against processing one image.

    .venv/bin/python benchmarks/bench_preprocess.py [--prompts 8] [--group-size 8] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from trl.data_utils import apply_chat_template

from g2rpo.models import load_processor
from g2rpo.models.tiny import build_tiny
from g2rpo.train.preprocess import CachedImageProcessor, image_key, install_image_cache

SIDES = (512, 1024)
MIN_PIXELS, MAX_PIXELS = 3136, 1048576  # the paper's bounds (recipe configs: min_pixels / max_pixels)


def prompts_for(images: list[Image.Image], group_size: int) -> list[list[dict]]:
    """TRL's layout: each prompt ``group_size`` times in a row, each copy with its own image object."""
    return [[{"role": "user", "content": [{"type": "image", "image": copy.deepcopy(im)},
                                          {"type": "text", "text": f"Question {p}: what is shown?"}]}]
            for p, im in enumerate(images) for _ in range(group_size)]


class ImageTime:
    """Seconds spent inside the image processor (outermost call only) while installed: the image part of a
    round, without the chat template and tokenizer work that both paths share."""

    def __init__(self, *classes):
        self.seconds, self.depth, self.saved = 0.0, 0, [(c, c.__call__) for c in classes]

    def __enter__(self):
        for cls, call in self.saved:
            cls.__call__ = self.timed(call)
        return self

    def __exit__(self, *exc):
        for cls, call in self.saved:
            cls.__call__ = call

    def timed(self, call):
        def wrapper(obj, *args, **kwargs):
            self.depth += 1
            start = time.perf_counter()
            try:
                return call(obj, *args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds += time.perf_counter() - start

        return wrapper


def one_round(processor, prompts) -> tuple[float, tuple]:
    """The two processor calls of a TRL round; returns (seconds, outputs)."""
    start = time.perf_counter()
    generation = processor.apply_chat_template(conversation=prompts, add_generation_prompt=True, tokenize=True,
                                               return_dict=True)
    texts = [apply_chat_template({"prompt": p}, processor)["prompt"] for p in prompts]
    images = [[part["image"] for part in p[0]["content"] if part["type"] == "image"] for p in prompts]
    forward = processor(images=images, text=texts, padding=True, return_tensors="pt")
    return time.perf_counter() - start, (generation, forward)


def same(a: tuple, b: tuple) -> bool:
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for key in x:
            u, v = x[key], y[key]
            if isinstance(u, np.ndarray | torch.Tensor):
                if u.dtype != v.dtype or not torch.equal(torch.as_tensor(u), torch.as_tensor(v)):
                    return False
            elif u != v:
                return False
    return True


def key_cost(image: Image.Image, processor, n: int = 5) -> tuple[float, float]:
    """(ms per cache key, ms to process the image once) for ``image``."""
    image_key(image)
    start = time.perf_counter()
    for _ in range(n):
        image_key(image)
    key_ms = (time.perf_counter() - start) / n * 1e3
    start = time.perf_counter()
    processor.image_processor([image])
    return key_ms, (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8, help="unique prompts (one image each) per round")
    parser.add_argument("--group-size", type=int, default=8, help="G: rollouts per prompt")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per path and size (median)")
    parser.add_argument("--quick", action="store_true", help="2 prompts, 1 repeat (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.repeats = 2, 1
    rng = np.random.default_rng(0)
    rows, result, identical = [], {}, True
    with tempfile.TemporaryDirectory() as tmp:
        processor = load_processor(build_tiny(Path(tmp) / "tiny"), min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
        cached, cache = install_image_cache(processor)
        for side in SIDES:
            images = [Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
                      for _ in range(args.prompts)]
            # untimed first round of each path: the outputs are compared, and the process grows to the memory
            # both rounds' outputs need at once (first-touch page faults are not preprocessing work)
            _, plain = one_round(processor, prompts_for(images, args.group_size))
            _, ours = one_round(cached, prompts_for(images, args.group_size))
            identical &= same(plain, ours)
            del plain, ours
            old, new, old_img, new_img = [], [], [], []
            for _ in range(args.repeats):  # interleaved; each round's outputs are dropped at once
                with ImageTime(type(processor.image_processor), CachedImageProcessor) as timer:
                    old.append(one_round(processor, prompts_for(images, args.group_size))[0])
                old_img.append(timer.seconds)
                cache.clear()  # a new round: nothing carried over
                with ImageTime(type(processor.image_processor), CachedImageProcessor) as timer:
                    new.append(one_round(cached, prompts_for(images, args.group_size))[0])
                new_img.append(timer.seconds)
                cache.clear()
            key_ms, process_ms = key_cost(images[0], processor)
            old_s, new_s = statistics.median(old), statistics.median(new)
            old_i, new_i = statistics.median(old_img), statistics.median(new_img)
            rows.append((side, old_i, new_i, old_s, new_s, key_ms, process_ms))
            result[f"old_image_s_{side}"] = round(old_i, 4)
            result[f"new_image_s_{side}"] = round(new_i, 4)
            result[f"speedup_{side}"] = round(old_i / new_i, 2)
            result[f"old_round_s_{side}"] = round(old_s, 4)
            result[f"new_round_s_{side}"] = round(new_s, 4)
            result[f"round_speedup_{side}"] = round(old_s / new_s, 2)
            result[f"key_over_process_{side}"] = round(key_ms / process_ms, 4)

    n = args.prompts * args.group_size
    print(f"image preprocessing per round: {args.prompts} prompts × G = {args.group_size} ({n} rows), "
          f"Qwen3-VL image processor ({type(processor.image_processor).__name__}), pixel bounds "
          f"{MIN_PIXELS}–{MAX_PIXELS}, median of {args.repeats}, load {os.getloadavg()[0]:.2f}")
    print("  image preprocessing = time inside the image processor; whole calls = with chat template and tokenizer")
    print(f"  {'image':>6} | {'what':>20} | {'TRL path (2·G per image)':>24} | {'cached (1 per image)':>20} | "
          f"{'speed-up':>8}")
    for side, old_i, new_i, old_s, new_s, key_ms, process_ms in rows:
        for what, a, b in (("image preprocessing", old_i, new_i), ("whole calls", old_s, new_s)):
            print(f"  {side:>4}² | {what:>20} | {a:>22.3f} s | {b:>18.3f} s | {a / b:>7.1f}×")
        print(f"  {side:>4}² | {'cache key / image':>20} | {key_ms:.2f} ms to key vs {process_ms:.1f} ms to process "
              f"({key_ms / process_ms:.1%})")
    print(f"  outputs identical (input_ids, pixel_values, image_grid_thw, masks): {identical}")
    speedup = min(result[f"speedup_{side}"] for side in SIDES)
    round_speedup = min(result[f"round_speedup_{side}"] for side in SIDES)
    print(json.dumps({"preprocess_speedup": speedup, "round_speedup": round_speedup, **result, "identical": identical, "prompts": args.prompts,
                      "group_size": args.group_size, "load_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
