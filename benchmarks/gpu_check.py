"""One-GPU check: a random-weight Qwen3-VL of ~2B parameters, G2RPOTrainer vs plain GRPOTrainer, eval items/s.

    python benchmarks/gpu_check.py [--out outputs/gpu_check.json] [--budget-s 480]     (one GPU, bf16)
    python benchmarks/gpu_check.py --toy                                               (CPU, seconds)
    benchmarks/gpu_check.sh                                                            (installs wheels/ first)

Uses the machine's own torch / transformers / accelerate; nothing is downloaded. The model is built from a
config (Qwen3-VL-2B's sizes: 28 text layers of width 2048, a 24-block vision tower of width 1024, the real
151,936-token vocabulary, with the offline 1,024-token tokenizer of `g2rpo.models.tiny`) with random weights.
Phases, each timed on its own and skipped with a reason when a library is missing or the budget is spent:

1. ``generate``: `model.generate` on a batch of image prompts, a fixed number of new tokens (min = max):
   generated tokens/s; no TRL needed.
2. ``trainers``: plain TRL `GRPOTrainer` and `G2RPOTrainer`, same model init, data, batch, loss settings and a
   fixed completion length; one warm-up step, then the median step: steps/s, generated tokens/s, and
   ``step_ratio`` = G2RPO step time / plain step time. Needs TRL (see benchmarks/README.md for carrying it).
3. ``eval``: `g2rpo eval`'s hf backend (generation + scoring + cache) on a synthetic MMStar file: items/s.

Peak GPU memory is reported per phase (``torch.cuda.max_memory_allocated``). The results go to one JSON file,
rewritten after every phase (``"complete": false`` until the last), so a run stopped from outside keeps the
phases it finished; the last stdout line is the same JSON object (``steps_per_s`` is G2RPOTrainer's, null
when phase 2 was skipped).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gc
import io
import json
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))


@dataclass(frozen=True)
class Size:
    """Model and workload sizes of one check."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    mrope: tuple[int, int, int]
    vocab: int
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    vision_heads: int
    deepstack: tuple[int, ...]
    vision_positions: int
    image_side: int
    batch: int
    generations: int
    completion: int
    steps: int
    eval_items: int
    eval_batch: int


SIZES = {
    # Qwen3-VL-2B-Instruct's published sizes (≈2.1B parameters with tied embeddings)
    "2b": Size(hidden=2048, intermediate=6144, layers=28, heads=16, kv_heads=8, head_dim=128, mrope=(24, 20, 20),
               vocab=151_936, vision_depth=24, vision_hidden=1024, vision_intermediate=4096, vision_heads=16,
               deepstack=(5, 11, 17), vision_positions=2304, image_side=448, batch=8, generations=4,
               completion=256, steps=3, eval_items=32, eval_batch=8),
    # the CPU toy: tiny.py's sizes, a few tokens
    "toy": Size(hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, head_dim=16, mrope=(4, 2, 2),
                vocab=1024, vision_depth=2, vision_hidden=32, vision_intermediate=64, vision_heads=2,
                deepstack=(1,), vision_positions=64, image_side=96, batch=4, generations=2, completion=4,
                steps=2, eval_items=4, eval_batch=2),
}


def build_model(size: Size, *, device: str, dtype: Any, seed: int = 0):
    """A random-weight Qwen3VLForConditionalGeneration of ``size`` and its image-only processor, in memory."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLImageProcessorPil,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
    )

    from g2rpo.models.processor import Qwen3VLImageProcessor
    from g2rpo.models.tiny import VOCAB_SIZE, _special_ids, _text_ids
    from g2rpo.models.tokenizer import build_tokenizer

    tok = build_tokenizer(VOCAB_SIZE)
    config = Qwen3VLConfig(
        text_config={
            "hidden_size": size.hidden, "intermediate_size": size.intermediate, "num_hidden_layers": size.layers,
            "num_attention_heads": size.heads, "num_key_value_heads": size.kv_heads, "head_dim": size.head_dim,
            "max_position_embeddings": 32768, "vocab_size": size.vocab, **_text_ids(tok),
            "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000.0,
                                "mrope_section": list(size.mrope), "mrope_interleaved": True},
            "tie_word_embeddings": True,
        },
        vision_config={
            "depth": size.vision_depth, "hidden_size": size.vision_hidden,
            "intermediate_size": size.vision_intermediate, "num_heads": size.vision_heads,
            "out_hidden_size": size.hidden, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "num_position_embeddings": size.vision_positions, "deepstack_visual_indexes": list(size.deepstack),
        },
        tie_word_embeddings=True,
        **_special_ids(tok),
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>")], pad_token_id=tok.pad_token_id,
        do_sample=True, temperature=1.0,
    )
    pixels = size.image_side * size.image_side
    image_processor = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2,
                                               min_pixels=32 * 32, max_pixels=pixels,
                                               image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    processor = Qwen3VLImageProcessor(image_processor=image_processor, tokenizer=tok, chat_template=tok.chat_template)
    return model, processor


def count_params(size_name: str) -> int:
    """Parameters of a size, counted on the meta device (no memory, no init)."""
    import torch

    model, _ = build_model(SIZES[size_name], device="meta", dtype=torch.bfloat16)
    return sum(p.numel() for p in model.parameters())


def _image(side: int, i: int):
    from PIL import Image

    return Image.new("RGB", (side, side), ((37 * i) % 256, (91 * i) % 256, 160))


def _peak_gib(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device.startswith("cuda") else None


def _reset(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def phase_generate(size: Size, device: str, dtype: Any) -> dict[str, Any]:
    """Batched `generate` with images: generated tokens/s (one warm-up call, then one timed)."""
    import torch

    model, processor = build_model(size, device=device, dtype=dtype)
    processor.tokenizer.padding_side = "left"
    n = size.batch
    messages = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"Describe image {i}."}]}]
                for i in range(n)]
    texts = [processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
    inputs = processor(text=texts, images=[_image(size.image_side, i) for i in range(n)], return_tensors="pt",
                       padding=True).to(device)
    kwargs = {"max_new_tokens": size.completion, "min_new_tokens": size.completion, "do_sample": True}
    with torch.no_grad():
        model.generate(**inputs, **{**kwargs, "max_new_tokens": 2, "min_new_tokens": 2})
        _sync(device)
        start = time.perf_counter()
        out = model.generate(**inputs, **kwargs)
        _sync(device)
    seconds = time.perf_counter() - start
    new_tokens = int((out.shape[1] - inputs["input_ids"].shape[1]) * out.shape[0])
    params = sum(p.numel() for p in model.parameters())
    result = {"params": params, "prompt_tokens": int(inputs["input_ids"].shape[1]), "batch": n,
              "new_tokens": new_tokens, "seconds": round(seconds, 3),
              "generate_tokens_per_s": round(new_tokens / seconds, 2), "peak_gpu_gib": _peak_gib(device)}
    del model, inputs, out
    return result


class _StepTimer:
    """Wall time of every optimizer step (a transformers TrainerCallback, built lazily)."""

    def __new__(cls, device: str):
        from transformers import TrainerCallback

        class StepTimer(TrainerCallback):
            def __init__(self) -> None:
                self.times: list[float] = []
                self._start = 0.0

            def on_step_begin(self, args, state, control, **kwargs):
                _sync(device)
                self._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                _sync(device)
                self.times.append(time.perf_counter() - self._start)

        return StepTimer()


def phase_trainers(size: Size, device: str, dtype: Any, work: Path) -> dict[str, Any]:
    """Plain GRPOTrainer, then G2RPOTrainer, on the same model init and data: median step after one warm-up."""
    import torch
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import GRPOConfig, GRPOTrainer

    from g2rpo.data import load_records, to_hf_dataset
    from g2rpo.data.synth_write import synthesize
    from g2rpo.rewards import BatchScorer
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.reward import TaskReward
    from g2rpo.train.trainer import G2RPOTrainer

    cpu = not device.startswith("cuda")
    n_prompts = (size.steps + 1) * size.batch // size.generations
    files = synthesize(work / "synth", n_train=max(n_prompts, 8), n_val=0, image_size=size.image_side,
                       progress=False).files
    dataset = to_hf_dataset(load_records(files["train"]), max_pixels=size.image_side ** 2)
    common = {
        "report_to": "none", "use_cpu": cpu, "bf16": dtype == torch.bfloat16, "save_strategy": "no", "seed": 0,
        "max_steps": size.steps + 1, "logging_steps": 1, "per_device_train_batch_size": size.batch,
        "num_generations": size.generations, "max_completion_length": size.completion,
        "generation_kwargs": {"min_new_tokens": size.completion}, "loss_type": "dapo", "epsilon": 0.2,
        "epsilon_high": 0.3, "delta": 3.0, "beta": 0.0, "learning_rate": 1e-6, "gradient_checkpointing": False,
    }
    result: dict[str, Any] = {}
    with BatchScorer(max_workers=0) as scorer:
        for kind in ("plain", "g2rpo"):
            _reset(device)
            model, processor = build_model(size, device=device, dtype=dtype)
            processor.tokenizer.padding_side = "left"
            timer = _StepTimer(device)
            out = str(work / kind)
            if kind == "plain":
                trainer = GRPOTrainer(model, reward_funcs=[TaskReward(scorer, think_tag="thinking", format_weight=0.1)],
                                      args=GRPOConfig(output_dir=out, **common), train_dataset=dataset,
                                      processing_class=processor, callbacks=[timer])
            else:
                args = G2RPOConfig(output_dir=out, **common, dynamic_filtering=False, length_shaping="auto",
                                   entropy_band_coef=0.02)
                trainer = G2RPOTrainer(model, args=args, train_dataset=dataset, processing_class=processor,
                                       scorer=scorer, callbacks=[timer])
            for callback in (PrinterCallback, ProgressCallback):
                trainer.remove_callback(callback)
            trainer.train()
            step = statistics.median(timer.times[1:])  # the first step warms kernels and caches up
            result[kind] = {"step_s": [round(t, 3) for t in timer.times], "median_step_s": round(step, 4),
                            "steps_per_s": round(1 / step, 4),
                            "tokens_per_s": round(size.batch * size.completion / step, 2),
                            "peak_gpu_gib": _peak_gib(device)}
            if hasattr(trainer, "close"):
                trainer.close()
            del trainer, model
    result["step_ratio"] = round(result["g2rpo"]["median_step_s"] / result["plain"]["median_step_s"], 4)
    return result


def _write_mmstar(path: Path, n: int, side: int) -> None:
    """A synthetic MMStar TSV (VLMEvalKit columns) of ``n`` four-option questions with base64 PNG images."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(["index", "question", "A", "B", "C", "D", "answer", "category", "l2-category", "image"])
        for i in range(n):
            buffer = io.BytesIO()
            _image(side, i).save(buffer, format="PNG")
            writer.writerow([i, f"Which colour dominates image {i}?", "red", "green", "blue", "grey", "ABCD"[i % 4],
                             "coarse perception", "image scene", base64.b64encode(buffer.getvalue()).decode()])


def phase_eval(size: Size, device: str, dtype: Any, work: Path) -> dict[str, Any]:
    """`g2rpo eval`'s hf backend on a synthetic MMStar file: generation + scoring + cache writes, items/s."""
    from g2rpo.evaluation.backends import GenerationSettings
    from g2rpo.evaluation.backends.hf import HFBackend
    from g2rpo.evaluation.items import load_items
    from g2rpo.evaluation.registry import resolve_benchmark
    from g2rpo.evaluation.runner import run_benchmark

    _write_mmstar(work / "data" / "MMStar.tsv", size.eval_items, size.image_side)
    ref = resolve_benchmark("MMStar")
    items = load_items(ref, work / "data")
    model, processor = build_model(size, device=device, dtype=dtype)
    settings = GenerationSettings(max_new_tokens=size.completion, temperature=0.0)
    backend = HFBackend(str(work / "model"), settings, model_and_processor=(model, processor),
                        max_pixels=size.image_side ** 2)
    _sync(device)  # no separate warm-up: the generate phase ran the same kernels in this process
    start = time.perf_counter()
    run = run_benchmark(ref, items, backend, work / "eval", batch_size=size.eval_batch)
    _sync(device)
    seconds = time.perf_counter() - start
    return {"items": len(items), "batch": size.eval_batch, "max_new_tokens": size.completion,
            "seconds": round(seconds, 3), "eval_items_per_s": round(len(items) / seconds, 3),
            "n_items_scored": run.result.n_items, "peak_gpu_gib": _peak_gib(device)}


def _versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "accelerate", "trl", "datasets"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toy", action="store_true", help="CPU, toy sizes (seconds): the check CI runs")
    parser.add_argument("--device", default=None, help="default: cuda if available (the toy: cpu)")
    parser.add_argument("--out", default="outputs/gpu_check.json", help="results JSON file")
    parser.add_argument("--budget-s", type=float, default=480.0, help="skip the phases left after this many seconds")
    parser.add_argument("--phases", default="generate,trainers,eval", help="comma-separated subset to run")
    parser.add_argument("--check-imports", action="store_true",
                        help="only print (as JSON) the modules each phase needs that this Python lacks")
    opts = parser.parse_args(argv)

    import torch

    from g2rpo.io import write_json_atomic

    started = time.perf_counter()
    device = opts.device or ("cpu" if opts.toy or not torch.cuda.is_available() else "cuda")
    size_name = "toy" if opts.toy else "2b"
    size = SIZES[size_name]
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if not opts.toy and not device.startswith("cuda"):
        print("gpu_check: no CUDA device; the 2B check needs a GPU (use --toy on CPU)", file=sys.stderr)
    if not device.startswith("cuda"):
        torch.set_num_threads(1)
    results: dict[str, Any] = {
        "size": size_name, "device": device, "dtype": str(dtype).removeprefix("torch."),
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "versions": _versions(), "sizes": asdict(size), "skipped": {}, "errors": {},
    }
    phases = {"generate": phase_generate, "trainers": phase_trainers, "eval": phase_eval}
    wanted = [p.strip() for p in opts.phases.split(",") if p.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        for name in wanted:
            if time.perf_counter() - started > opts.budget_s:
                results["skipped"][name] = f"budget of {opts.budget_s:.0f} s spent"
                continue
            _reset(device)
            t0 = time.perf_counter()
            try:
                args = (size, device, dtype) if name == "generate" else (size, device, dtype, Path(tmp))
                results[name] = phases[name](*args)
            except Exception as err:
                missing = _missing_module(err)
                if missing:
                    results["skipped"][name] = (f"{missing} is not importable; carry its wheel (benchmarks/README.md, "
                                                "GPU check; --check-imports lists what is missing)")
                else:
                    traceback.print_exc()
                    results["errors"][name] = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
            results.setdefault(f"{name}_wall_s", round(time.perf_counter() - t0, 2))
            print(f"gpu_check: {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
            # the phases finished so far are on disk: a run stopped from outside keeps them
            write_json_atomic(opts.out, results | {"complete": False, "wall_s": round(time.perf_counter() - started, 2)})
    trainers = results.get("trainers", {})
    peaks = [v["peak_gpu_gib"] for v in (results.get("generate"), results.get("eval"), *(trainers.get(k) for k in
             ("plain", "g2rpo"))) if v and v.get("peak_gpu_gib") is not None]
    results.update({
        "params": results.get("generate", {}).get("params"),
        "steps_per_s": trainers.get("g2rpo", {}).get("steps_per_s"),
        "plain_steps_per_s": trainers.get("plain", {}).get("steps_per_s"),
        "tokens_per_s": trainers.get("g2rpo", {}).get("tokens_per_s"),
        "plain_tokens_per_s": trainers.get("plain", {}).get("tokens_per_s"),
        "step_ratio": trainers.get("step_ratio"),
        "generate_tokens_per_s": results.get("generate", {}).get("generate_tokens_per_s"),
        "eval_items_per_s": results.get("eval", {}).get("eval_items_per_s"),
        "peak_gpu_gib": max(peaks) if peaks else None,
        "wall_s": round(time.perf_counter() - started, 2),
        "complete": True,
    })
    write_json_atomic(opts.out, results)
    print(json.dumps(results, sort_keys=True))
    return results


def _missing_module(err: BaseException) -> str | None:
    """The module name when ``err`` is (or wraps, as TRL's lazy imports do) a failed import; else None."""
    while err is not None:
        if isinstance(err, ImportError):
            return err.name or str(err)
        err = err.__cause__ or err.__context__
    return None


PHASE_MODULES = {
    "generate": ("torch", "transformers", "tokenizers", "PIL", "numpy", "yaml"),
    "trainers": ("trl", "accelerate", "datasets", "pandas", "pyarrow", "rich", "pebble", "math_verify",
                 "latex2sympy2_extended", "rouge_score", "nltk", "rapidfuzz", "jinja2", "psutil"),
    "eval": ("rich", "rapidfuzz", "math_verify", "rouge_score", "openpyxl"),
}
"""Third-party modules each phase imports (``--check-imports`` reports the absent ones)."""


def check_imports() -> dict[str, list[str]]:
    """Phase → modules that ``importlib.util.find_spec`` cannot find here."""
    import importlib.util

    return {phase: [m for m in mods if importlib.util.find_spec(m) is None] for phase, mods in PHASE_MODULES.items()}


if __name__ == "__main__":
    if "--check-imports" in sys.argv[1:]:
        print(json.dumps({"missing": check_imports()}, sort_keys=True))
        sys.exit(0)
    sys.exit(1 if main()["errors"] else 0)
