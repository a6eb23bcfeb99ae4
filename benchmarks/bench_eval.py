"""Throughput of the ``hf`` evaluation backend on the tiny model: batched vs one request at a time.

Builds the tiny Qwen3-VL model offline, makes ``--items`` requests (one 64×64 image + a prompt of varying
length each) and times ``HFBackend.generate`` on the whole set in batches of ``--batch-size`` and one by one,
in the same run, after a warm-up. Prints items/s of both and their ratio. Also checks that greedy outputs
agree between the two (left padding must not change what the model writes).

    .venv/bin/python benchmarks/bench_eval.py [--items 16] [--batch-size 8] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

from PIL import Image

from g2rpo.evaluation.backends import GenerationSettings
from g2rpo.evaluation.backends.hf import HFBackend
from g2rpo.evaluation.records import GenerationRequest
from g2rpo.models.tiny import build_tiny


def requests(n: int) -> list[GenerationRequest]:
    out = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (i * 7 % 256, 40, 200)).save(buffer, format="PNG")
        prompt = f"Question {i}: what is shown? " + "Describe the colours. " * (i % 5)
        out.append(GenerationRequest(prompt, (buffer.getvalue(),)))
    return out


def timed(backend: HFBackend, reqs: list[GenerationRequest], batch: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    texts: list[str] = []
    for k in range(0, len(reqs), batch):
        texts += [g.text for g in backend.generate(reqs[k : k + batch])]
    return time.perf_counter() - start, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny(Path(tmp) / "tiny")
        backend = HFBackend(str(model), GenerationSettings(max_new_tokens=args.max_new_tokens), device=args.device)
        reqs = requests(args.items)
        timed(backend, reqs[:2], 2)  # warm-up
        batched_s, batched = timed(backend, reqs, args.batch_size)
        single_s, single = timed(backend, reqs, 1)
    print(f"hf backend, tiny qwen3_vl on {args.device}: {args.items} items, {args.max_new_tokens} new tokens max")
    print(f"  batched (batch {args.batch_size}): {args.items / batched_s:8.2f} items/s  ({batched_s:.2f} s)")
    print(f"  one at a time        : {args.items / single_s:8.2f} items/s  ({single_s:.2f} s)")
    print(f"  speed-up batched / one at a time: {single_s / batched_s:.2f}x")
    print(f"  greedy outputs identical: {batched == single}")
    print(json.dumps({"batched_items_per_s": round(args.items / batched_s, 3),
                      "single_items_per_s": round(args.items / single_s, 3),
                      "batch_speedup": round(single_s / batched_s, 3), "outputs_identical": batched == single}))


if __name__ == "__main__":
    main()
