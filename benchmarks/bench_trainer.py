"""Step time of G2RPOTrainer vs. plain TRL GRPOTrainer on the same tiny Qwen3-VL, data, batch and generation.

    .venv/bin/python benchmarks/bench_trainer.py [--steps 4] [--warmup 1] [--threads 1] [--batch 8] [--generations 4]
                                                 [--completion-length 32] [--repeats 3]

Both trainers get the same reward function (g2rpo.train.TaskReward over the same BatchScorer), the same TRL
loss settings (dapo, ε 0.2/0.3, δ 3, no KL) and generate exactly `--completion-length` tokens (min_new_tokens
= max, so response lengths cannot differ). G2RPOTrainer adds: gathered reward components, G2RPO advantages,
auto length envelopes, the entropy band in the loss and per-task metrics. Dynamic filtering is off because
refill rounds generate more (its cost is the extra generation, reported as `filter/tries` during training).
After one uncounted warm-up pair, runs alternate (plain, g2rpo, plain, g2rpo, …); the script prints the pooled
per-step medians and the per-pair ratios. Target ratio ≤ 1.10.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback


class StepTimer(TrainerCallback):
    """Wall time and CPU time (this process, all threads) of every optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._start = self._cpu_start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)
        self.cpu.append(time.process_time() - self._cpu_start)


def build(kind: str, model_dir: str, dataset, scorer, out: str, opts) -> tuple[object, StepTimer]:
    from trl import GRPOConfig, GRPOTrainer

    from g2rpo.models import load_model_and_processor
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.reward import TaskReward
    from g2rpo.train.trainer import G2RPOTrainer

    model, processor = load_model_and_processor(model_dir)
    processor.tokenizer.padding_side = "left"
    common = {
        "output_dir": out, "report_to": "none", "use_cpu": True, "save_strategy": "no", "seed": 0,
        "max_steps": opts.warmup + opts.steps, "logging_steps": 1, "per_device_train_batch_size": opts.batch,
        "num_generations": opts.generations, "max_completion_length": opts.completion_length,
        "generation_kwargs": {"min_new_tokens": opts.completion_length}, "loss_type": "dapo", "epsilon": 0.2,
        "epsilon_high": 0.3, "delta": 3.0, "beta": 0.0, "learning_rate": 1e-5,
    }
    timer = StepTimer()
    if kind == "plain":
        reward = TaskReward(scorer, think_tag="thinking", format_weight=0.1)
        trainer = GRPOTrainer(model, reward_funcs=[reward], args=GRPOConfig(**common), train_dataset=dataset,
                              processing_class=processor, callbacks=[timer])
    else:
        args = G2RPOConfig(**common, dynamic_filtering=False, length_shaping="auto", entropy_band_coef=0.02)
        trainer = G2RPOTrainer(model, args=args, train_dataset=dataset, processing_class=processor, scorer=scorer,
                               callbacks=[timer])
    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)
    return trainer, timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--completion-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()

    import torch

    from g2rpo.data import load_records, to_hf_dataset
    from g2rpo.data.synth_write import synthesize
    from g2rpo.models.tiny import build_tiny
    from g2rpo.rewards import BatchScorer

    torch.set_num_threads(opts.threads)
    # max_workers=0 scores in this process, so the reward work is inside the CPU time measured here
    with tempfile.TemporaryDirectory() as tmp, BatchScorer(max_workers=0) as scorer:
        model_dir = str(build_tiny(Path(tmp) / "tiny"))
        files = synthesize(Path(tmp) / "synth", n_train=64, n_val=0, progress=False).files
        dataset = to_hf_dataset(load_records(files["train"]), max_pixels=4096)
        times: dict[str, list[float]] = {"plain": [], "g2rpo": []}
        cpu: dict[str, list[float]] = {"plain": [], "g2rpo": []}
        ratios = []
        for repeat in range(-1, opts.repeats):  # repeat -1 warms the process up and is not counted
            medians = {}
            for kind in ("plain", "g2rpo"):
                trainer, timer = build(kind, model_dir, dataset, scorer, f"{tmp}/{kind}{repeat}", opts)
                trainer.train()
                medians[kind] = statistics.median(timer.times[opts.warmup :])
                if repeat >= 0:
                    times[kind] += timer.times[opts.warmup :]
                    cpu[kind] += timer.cpu[opts.warmup :]
                print(f"run {repeat:>2} {kind:>5}: wall {[round(t, 3) for t in timer.times]} "
                      f"cpu {[round(t, 3) for t in timer.cpu]}", flush=True)
            if repeat >= 0:
                ratios.append(medians["g2rpo"] / medians["plain"])
    plain, ours = statistics.median(times["plain"]), statistics.median(times["g2rpo"])
    print(f"\nsteps per trainer: {len(times['plain'])} (batch {opts.batch}, G {opts.generations}, "
          f"{opts.completion_length} tokens per response, {opts.repeats} interleaved runs after a warm-up run)")
    plain_cpu, ours_cpu = statistics.median(cpu["plain"]), statistics.median(cpu["g2rpo"])
    print(f"plain GRPOTrainer  median step {plain:.3f} s wall, {plain_cpu:.3f} s CPU")
    print(f"G2RPOTrainer       median step {ours:.3f} s wall, {ours_cpu:.3f} s CPU")
    print(f"CPU-time ratio G2RPO / plain = {ours_cpu / plain_cpu:.3f}   (robust to other load on the machine)")
    print(f"wall ratio G2RPO / plain = {ours / plain:.3f} (pooled medians); per-run ratios {[round(r, 3) for r in ratios]}"
          f", median {statistics.median(ratios):.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
