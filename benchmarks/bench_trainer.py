"""Step time of G2RPOTrainer vs. plain TRL GRPOTrainer on the same tiny Qwen3-VL, data, batch and generation.

    .venv/bin/python benchmarks/bench_trainer.py [--steps 4] [--warmup 1] [--threads 1] [--batch 8] [--generations 4]
                                                 [--completion-length 32] [--repeats 3] [--host-only]

Both trainers get the same reward function (g2rpo.train.TaskReward over the same BatchScorer), the same TRL
loss settings (dapo, ε 0.2/0.3, δ 3, no KL) and generate exactly `--completion-length` tokens (min_new_tokens
= max, so response lengths cannot differ). G2RPOTrainer adds: gathered reward components, G2RPO advantages,
auto length envelopes, the entropy band in the loss and per-task metrics. Dynamic filtering is off because
refill rounds generate more (its cost is the extra generation, reported as `filter/tries` during training).
After one uncounted warm-up pair, runs alternate (plain, g2rpo, plain, g2rpo, …); the script prints the pooled
per-step medians and the per-pair ratios. Target ratio ≤ 1.02.

Then the host-side bookkeeping of one step alone at paper scale (`--host-rows` 4,096 = 8 ranks × 512 rows, G = 8),
fed by a fake generator (benchmarks/host_step.py: synthetic rewards, lengths and families, no model): keep
masks → refill planning → G2RPO advantages → the rank's batch → logged advantages and step metrics, the code as
it was before vectorisation vs the trainer's own, alternating, on the same rounds, results checked identical.
Two mixes: half the groups all right or all wrong (a few refill rounds), and 90% (many rounds, where planning
over all rounds after each refill was quadratic). `--host-only` skips the trainer comparison.

The last line is one JSON object: `step_ratio` (G2RPO / plain wall, median of the per-run ratios; null with
`--host-only`), `host_step_ms_before`, `host_step_ms_after`, `host_step_speedup` (the first mix) and the same
for the many-round mix with `_refill` appended.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
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


def host_side(opts) -> dict:
    """Median ms per step of the host-side bookkeeping, before vs after, per mix; checks the results agree."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from host_step import BeforeHostStepTrainer, HostStepTrainer, fake_rounds

    local_size = opts.host_rows // opts.host_world
    out = {}
    for suffix, drop in (("", 0.5), ("_refill", 0.9)):
        rounds = fake_rounds(opts.max_refill_tries + 1, world=opts.host_world, local_size=local_size,
                             group_size=opts.generations_host, drop=drop, seed=0)
        trainers = {cls: cls.build(rounds, world=opts.host_world, rank=opts.host_world // 2,
                                   group_size=opts.generations_host, max_refill_tries=opts.max_refill_tries)
                    for cls in (BeforeHostStepTrainer, HostStepTrainer)}
        batches = {cls: t.step() for cls, t in trainers.items()}  # warm-up, and the results to compare
        before, after = trainers.values()
        if not _same_step(before, after, *batches.values()):
            raise SystemExit("host-side step: the trainer's results differ from the code before vectorisation")
        times: dict[type, list[float]] = {cls: [] for cls in trainers}
        for _ in range(opts.host_steps):
            for cls, trainer in trainers.items():
                start = time.perf_counter()
                trainer.step()
                times[cls].append(1e3 * (time.perf_counter() - start))
        ms_before, ms_after = (statistics.median(t) for t in times.values())
        print(f"host-side step, {opts.host_rows} rows ({opts.host_world} ranks × {local_size}), G "
              f"{opts.generations_host}, {int(drop * 100)}% of groups dropped, {after._next} rounds: before "
              f"{ms_before:.1f} ms, after {ms_after:.1f} ms (median of {opts.host_steps}), {ms_before / ms_after:.1f}× "
              "less; results identical", flush=True)
        out.update({f"host_step_ms_before{suffix}": round(ms_before, 2), f"host_step_ms_after{suffix}": round(ms_after, 2),
                    f"host_step_speedup{suffix}": round(ms_before / ms_after, 2), f"host_rounds{suffix}": after._next})
    return out


def _same_step(before, after, batch_before: dict, batch_after: dict) -> bool:
    """Same batch (every field, dtype and value), same logged advantages (NaN = NaN), same metrics in order."""
    def equal(a, b) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return a == b or (math.isnan(a) and math.isnan(b))
        return a == b

    if list(batch_before) != list(batch_after):
        return False
    for key, value in batch_before.items():
        other = batch_after[key]
        if isinstance(value, torch.Tensor):
            if not (value.dtype == other.dtype and value.shape == other.shape and torch.equal(value, other)):
                return False
        elif value != other:
            return False
    logged = list(before._logs["advantages"]), list(after._logs["advantages"])
    metrics = before._metrics["train"], after._metrics["train"]
    return (before._next == after._next and len(logged[0]) == len(logged[1])
            and all(equal(a, b) for a, b in zip(*logged, strict=True))
            and list(metrics[0].items()) == list(metrics[1].items()))


def trainer_side(opts) -> float:
    """G2RPOTrainer vs plain GRPOTrainer on the tiny model; returns the median per-run wall ratio."""
    from g2rpo.data import load_records, to_hf_dataset
    from g2rpo.data.synth_write import synthesize
    from g2rpo.models.tiny import build_tiny
    from g2rpo.rewards import BatchScorer

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
          f", median {statistics.median(ratios):.3f}   (target <= 1.02)")
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--completion-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--host-only", action="store_true", help="only the host-side step (seconds)")
    parser.add_argument("--host-rows", type=int, default=4096, help="gathered rows per round of the host-side step")
    parser.add_argument("--host-world", type=int, default=8, help="ranks of the host-side step")
    parser.add_argument("--generations-host", type=int, default=8, help="G of the host-side step")
    parser.add_argument("--max-refill-tries", type=int, default=20, help="refill tries of the host-side step")
    parser.add_argument("--host-steps", type=int, default=9, help="timed host-side steps per side and mix")
    opts = parser.parse_args()

    torch.set_num_threads(opts.threads)
    host = host_side(opts)
    ratio = None if opts.host_only else round(trainer_side(opts), 3)
    print(json.dumps({"step_ratio": ratio, **host}))


if __name__ == "__main__":
    main()
