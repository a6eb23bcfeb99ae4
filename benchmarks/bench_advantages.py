"""G2RPO advantages: vectorised vs a per-group Python loop vs GRPO, measured side by side in one run.

At 512 prompts × 8 rollouts over 6 tasks and at 4,096 × 8, prints median wall times and two ratios:
  loop / g2rpo   (target ≥ 40× at 512 × 8)      g2rpo / grpo   (target ≤ 3×)
Batches are shuffled (groups not contiguous: the general case); a last row uses TRL's grouped layout.
The loop baseline is the straightforward implementation: for each group, then for each task, sort and assign
tied quantiles with Python-level iteration over the segments.

    python benchmarks/bench_advantages.py [--repeats 201]
"""

from __future__ import annotations

import argparse
import json
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


def make_batch(prompts: int, rollouts: int, tasks: int, seed: int = 0, shuffle: bool = True):
    gen = torch.Generator().manual_seed(seed)
    task_of_prompt = torch.randint(0, tasks, (prompts,), generator=gen)
    group_ids = torch.arange(prompts).repeat_interleave(rollouts)
    task_ids = task_of_prompt.repeat_interleave(rollouts)
    binary = torch.randint(0, 2, (prompts * rollouts,), generator=gen).float()
    dense = 0.8 + 0.05 * torch.rand(prompts * rollouts, generator=gen)
    rewards = torch.where(task_ids % 2 == 0, binary, dense.round(decimals=2))
    if not shuffle:  # TRL's layout: the G rollouts of a prompt are adjacent
        return rewards, group_ids, task_ids
    perm = torch.randperm(prompts * rollouts, generator=gen)  # groups need not be contiguous
    return rewards[perm], group_ids[perm], task_ids[perm]


def interleaved_medians(fns: dict, repeats: int) -> dict[str, float]:
    """Median wall time of each function, calling them in turn every round so that all of them see the same
    machine load (a shared machine's load drifts over seconds; timing one function after another would let
    that drift into the ratios)."""
    for fn in fns.values():
        fn()  # warm-up (caches, lazy tables)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=201)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, median of {args.repeats} runs")
    print(f"{'batch':<19} {'g2rpo ms':>8} {'loop ms':>10} {'grpo ms':>10} {'loop/g2rpo':>11} {'g2rpo/grpo':>11}")
    headline = {}
    for prompts, shuffle in ((512, True), (4096, True), (512, False)):
        r, g, t = make_batch(prompts, 8, 6, shuffle=shuffle)
        assert torch.allclose(g2rpo_advantages(r, g, t), per_group_loop(r, g, t), atol=1e-6)
        fast_and_grpo = interleaved_medians(
            {"g2rpo": lambda r=r, g=g, t=t: g2rpo_advantages(r, g, t), "grpo": lambda r=r, g=g: grpo_advantages(r, g)},
            args.repeats,
        )
        fast, grpo = fast_and_grpo["g2rpo"], fast_and_grpo["grpo"]
        loop = interleaved_medians({"loop": lambda r=r, g=g, t=t: per_group_loop(r, g, t)}, 5)["loop"]
        layout = "shuffled" if shuffle else "grouped"
        print(f"{prompts:>5} × 8 {layout:<9}{fast * 1e3:>8.2f} {loop * 1e3:>10.1f} {grpo * 1e3:>10.2f} "
              f"{loop / fast:>10.1f}× {fast / grpo:>10.2f}×")
        tag = f"{prompts}x8_{layout}"
        headline |= {f"loop_speedup_{tag}": round(loop / fast, 2), f"g2rpo_over_grpo_{tag}": round(fast / grpo, 3),
                     f"g2rpo_ms_{tag}": round(fast * 1e3, 4)}
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
