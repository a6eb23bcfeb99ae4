"""G2RPO advantages: vectorised vs a per-group Python loop vs GRPO, measured side by side in one run.

At 512 prompts × 8 rollouts over 6 tasks and at 4,096 × 8, prints median wall times and two ratios:
  loop / g2rpo   (target ≥ 40× at 512 × 8)      g2rpo / grpo   (target ≤ 3×)
The loop baseline is the straightforward implementation: for each group, then for each task, sort and assign
tied quantiles with Python-level iteration over the segments.

    python benchmarks/bench_advantages.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from g2rpo.algo import g2rpo_advantages, gaussianize, grpo_advantages


def per_group_loop(rewards: torch.Tensor, group_ids: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
    """The straightforward two-stage G2RPO: a Python loop over groups, then over tasks."""
    stage1 = torch.empty_like(rewards)
    for g in torch.unique(group_ids).tolist():
        idx = torch.nonzero(group_ids == g).flatten()
        stage1[idx] = gaussianize(rewards[idx])
    out = torch.empty_like(rewards)
    for t in torch.unique(task_ids).tolist():
        idx = torch.nonzero(task_ids == t).flatten()
        out[idx] = gaussianize(stage1[idx])
    return out


def make_batch(prompts: int, rollouts: int, tasks: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    task_of_prompt = torch.randint(0, tasks, (prompts,), generator=gen)
    group_ids = torch.arange(prompts).repeat_interleave(rollouts)
    task_ids = task_of_prompt.repeat_interleave(rollouts)
    binary = torch.randint(0, 2, (prompts * rollouts,), generator=gen).float()
    dense = 0.8 + 0.05 * torch.rand(prompts * rollouts, generator=gen)
    rewards = torch.where(task_ids % 2 == 0, binary, dense.round(decimals=2))
    perm = torch.randperm(prompts * rollouts, generator=gen)  # groups need not be contiguous
    return rewards[perm], group_ids[perm], task_ids[perm]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, median of {args.repeats} runs")
    print(f"{'batch':>12} {'g2rpo ms':>10} {'loop ms':>10} {'grpo ms':>10} {'loop/g2rpo':>11} {'g2rpo/grpo':>11}")
    for prompts in (512, 4096):
        r, g, t = make_batch(prompts, 8, 6)
        assert torch.allclose(g2rpo_advantages(r, g, t), per_group_loop(r, g, t), atol=1e-6)
        fast = median_time(lambda r=r, g=g, t=t: g2rpo_advantages(r, g, t), args.repeats)
        loop = median_time(lambda r=r, g=g, t=t: per_group_loop(r, g, t), max(3, args.repeats // 5))
        grpo = median_time(lambda r=r, g=g: grpo_advantages(r, g), args.repeats)
        print(f"{prompts:>6} × 8   {fast * 1e3:>10.2f} {loop * 1e3:>10.1f} {grpo * 1e3:>10.2f} "
              f"{loop / fast:>10.1f}× {fast / grpo:>10.2f}×")


if __name__ == "__main__":
    main()
