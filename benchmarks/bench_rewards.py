"""Reward scoring throughput: 4,096 mixed responses (512 prompts × 8 rollouts), sequential vs the pool, and
4,096 hostile math responses (power towers) through the pool.

Run: ``.venv/bin/python benchmarks/bench_rewards.py [--quick] [--prompts 512] [--group 8] [--workers 2]``.

The mixed batch is generated here (seeded): every prompt has one problem type (the seven verifiers in turn), a
gold, and 8 responses of realistic shape — a ``<thinking>`` chain whose length follows the task (short for
grounding and OCR, long for math and general VQA) and an answer that is right, nearly right, wrong, badly
formatted or missing its tags. Both paths score the identical batch in one run; the pool is timed warm (workers
started and used on a whole other batch before, as from the second training step on), and its start-up is
reported separately; the sequential path is warmed on the same other batch. Every score of the pool must
equal the sequential one.

The hostile batch is ``<thinking>x</thinking><answer>a^a^a^a</answer>``-style math (``9^9^9^9`` and six other
shapes of exponent towers, huge factorials and powers of sums, with varying numbers), problem type ``math``:
each must be flagged as timed out and score accuracy 0; the figure is its wall-clock time through the pool.

The last line printed is one JSON object (``pool_speedup``, ``hostile_4096_s``, ``hostile_flagged``, …).
Targets on 2 idle cores: ``pool_speedup >= 1.7``; the 4,096 hostile responses in < 30 s, all flagged. Other
processes on the machine lower the speedup: the load averages are printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter

from g2rpo.rewards import BatchScorer

_VOCABULARY = (
    "the image shows a red car next to two people so we count objects left right above below first then "
    "compare values axis chart bar line label legend total difference ratio angle triangle side area "
    "therefore answer option seems likely because region text line word number value estimate step check"
)
WORDS = _VOCABULARY.split(" ")

# Reasoning length (words) per problem type: roughly the paper's observed lengths, in words.
THINK_WORDS = {
    "multiple choice": 250,
    "numerical": 200,
    "regression": 150,
    "math": 350,
    "ocr": 20,
    "spatial grounding": 30,
    "open-ended": 120,
}


def _think(rng: random.Random, problem_type: str) -> str:
    n = max(5, int(rng.gauss(THINK_WORDS[problem_type], THINK_WORDS[problem_type] / 3)))
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _case(rng: random.Random, problem_type: str) -> tuple[str, list[str], dict]:
    """A gold answer and 8 candidate answers (some right, some wrong) for one prompt."""
    options: dict = {}
    if problem_type == "multiple choice":
        choices = ["a red car", "a blue bus", "two people", "a dog", "nothing"]
        gold = rng.choice("ABCDE")
        text = choices["ABCDE".index(gold)]
        answers = [
            gold,
            f"({gold})",
            f"{gold}. {text}",
            text,
            rng.choice("ABCDE"),
            "(C) two people",
            "The answer is " + rng.choice("ABCDE"),
            "none of these",
        ]
        options = {"choices": dict(zip("ABCDE", choices, strict=True))}
    elif problem_type == "numerical":
        g = round(rng.uniform(0, 5000), rng.choice([0, 1, 2]))
        gold = str(g)
        answers = [
            f"{g:,}",
            f"{g} cm",
            str(round(g + 1, 2)),
            str(g * 10),
            "about " + gold,
            gold,
            f"${g}",
            "n/a",
        ]
    elif problem_type == "regression":
        g = round(rng.uniform(0.5, 30), 1)
        gold = str(g)
        answers = [str(round(g * rng.uniform(0.4, 1.6), 2)) for _ in range(6)] + [gold, "unknown"]
    elif problem_type == "math":
        a, b = rng.randint(1, 9), rng.randint(2, 9)
        gold = rng.choice(
            [f"\\frac{{{a}}}{{{b}}}", f"{a}\\sqrt{{{b}}}", f"x^{{2}}+{a}x+{b}", f"\\{{{a},{b}\\}}"]
        )
        answers = [
            f"${gold}$",
            gold,
            f"\\boxed{{{gold}}}",
            f"${a + 1}/{b}$",
            str(round(a / b, 4)),
            f"${b}\\sqrt{{{a}}}$",
            "x = " + str(a),
            f"({a}, {b}]",
        ]
    elif problem_type == "ocr":
        words = [rng.choice(WORDS).upper() for _ in range(rng.randint(1, 6))]
        gold = " ".join(words)
        answers = [
            gold,
            gold.lower(),
            " ".join(words[:-1]),
            gold + " X",
            " ".join(reversed(words)),
            gold,
            "UNREADABLE",
            "",
        ]
    elif problem_type == "spatial grounding":
        x, y = rng.randint(0, 600), rng.randint(0, 600)
        w, h = rng.randint(20, 400), rng.randint(20, 400)
        gold = f'{{"boxes": [{x}, {y}, {x + w}, {y + h}]}}'
        answers = []
        for _ in range(6):
            dx, dy = rng.randint(-50, 50), rng.randint(-50, 50)
            answers.append(f'{{"boxes": [{x + dx}, {y + dy}, {x + w + dx}, {y + h + dy}]}}')
        answers += [
            f'[{{"bbox_2d": [{x}, {y}, {x + w}, {y + h}]}}]',
            f'{{"boxes": [{x + w}, {y + h}, {x}, {y}]}}',
        ]
    else:  # open-ended
        gold = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
        answers = [
            gold,
            " ".join(rng.sample(gold.split(), k=len(gold.split()))),
            *(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) for _ in range(5)),
            "",
        ]
    rng.shuffle(answers)
    return gold, answers, options


def descendants_cpu_seconds() -> float | None:
    """User + system CPU seconds of every live descendant of this process (the pool's forkserver and workers),
    read from ``/proc`` (Linux); ``None`` elsewhere. Workers are not our children under ``forkserver``, so
    ``RUSAGE_CHILDREN`` cannot see them."""
    if not os.path.isdir("/proc"):
        return None
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    me, total = os.getpid(), 0.0
    for pid in cpu:
        ancestor = parent.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parent.get(ancestor)
        if ancestor == me:
            total += cpu[pid]
    return total


def make_batch(n_prompts: int, group: int, seed: int = 0):
    """``n_prompts × group`` responses with their golds, problem types and verifier options."""
    rng = random.Random(seed)
    types = list(THINK_WORDS)
    responses, golds, problem_types, options = [], [], [], []
    for p in range(n_prompts):
        problem_type = types[p % len(types)]
        gold, answers, opts = _case(rng, problem_type)
        for k in range(group):
            answer = answers[k % len(answers)]
            think = _think(rng, problem_type)
            style = rng.random()
            if style < 0.8:
                response = f"<thinking>{think}</thinking>\n<answer>{answer}</answer>"
            elif style < 0.9:
                response = f"<think>{think}</think>\n<answer>{answer}</answer>"  # wrong think tag
            else:
                response = f"{think} So the answer is {answer}."  # no tags: graded whole
            responses.append(response)
            golds.append(gold)
            problem_types.append(problem_type)
            options.append(opts or None)
    return responses, golds, problem_types, options


HOSTILE_SHAPES = (
    "{a}^{a}^{a}^{a}",
    "${a}^{{{a}^{{{a}^{a}}}}}$",
    "{a}**{a}**{a}**{a}",
    "$\\boxed{{10^{{10^{{{a}00}}}}}}$",
    "$({a}^{{{a}}})^{{{a}^{{{a}}}}}$",
    "$(x+{a})^{{{a}00000}}$",
    "${a}00000!$",
)


def make_hostile(n: int, seed: int = 1) -> tuple[list[str], list[str], list[str]]:
    """``n`` hostile math responses (exponent towers and the like, numbers varied) with ordinary golds."""
    rng = random.Random(seed)
    responses = []
    for i in range(n):
        answer = HOSTILE_SHAPES[i % len(HOSTILE_SHAPES)].format(a=rng.randint(6, 9))
        responses.append(f"<thinking>x</thinking><answer>{answer}</answer>")
    return responses, [str(rng.randint(1, 99)) for _ in range(n)], ["math"] * n


def _load() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return " / ".join(f"{x:.1f}" for x in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 prompts and 512 hostile responses (seconds)")
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--hostile", type=int, default=4096, help="hostile math responses")
    parser.add_argument("--workers", type=int, default=2, help="pool size (the target is on 2 cores)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (fresh batches); median reported")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.hostile, args.repeats = 64, 512, 3

    responses, golds, types, options = make_batch(args.prompts, args.group)
    n = len(responses)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load_start = _load()
    print(f"machine: {cores} usable cores, load average {load_start} (1/5/15 min)")
    print(
        f"batch: {n} responses ({args.prompts} prompts × {args.group}); problem types: {dict(Counter(types))}"
    )

    # Warm-up for both paths: a whole other batch (seed 1) of the same size, as the step before in training
    # (imports, sympy's cache, memoised stems). Then --repeats rounds, each on a fresh batch (new golds) that
    # both paths score back to back, so that both see the same load from other processes; the figure is the
    # median ratio of the rounds.
    warm = make_batch(args.prompts, args.group, seed=1)
    hostile, hostile_golds, hostile_types = make_hostile(args.hostile)
    start = time.perf_counter()
    rounds: list[tuple[float, float, float, float, float | None]] = []
    mismatches = n_timeouts = n_failures = 0
    with BatchScorer(max_workers=args.workers, timeout_s=args.timeout) as pool, BatchScorer(
        max_workers=0, timeout_s=args.timeout
    ) as sequential:
        pool.score(responses[:64], golds[:64], types[:64], verifier_options=options[:64])
        t_start = time.perf_counter() - start
        pool.score(warm[0], warm[1], warm[2], verifier_options=warm[3])
        sequential.score(warm[0], warm[1], warm[2], verifier_options=warm[3])
        for k in range(args.repeats):
            batch = (responses, golds, types, options) if k == 0 else make_batch(args.prompts, args.group, seed=k + 1)
            r, g, t, o = batch
            start, cpu_start = time.perf_counter(), time.process_time()
            expected = sequential.score(r, g, t, verifier_options=o)
            t_seq, cpu_seq = time.perf_counter() - start, time.process_time() - cpu_start
            start, cpu_start, workers_start = time.perf_counter(), time.process_time(), descendants_cpu_seconds()
            result = pool.score(r, g, t, verifier_options=o)
            t_pool, cpu_parent = time.perf_counter() - start, time.process_time() - cpu_start
            workers_end = descendants_cpu_seconds()
            cpu_workers = None if workers_start is None else workers_end - workers_start
            rounds.append((t_seq, t_pool, cpu_seq, cpu_parent, cpu_workers))
            mismatches += sum(a != b for a, b in zip(expected.breakdowns, result.breakdowns, strict=True))
            n_timeouts += result.n_timeouts + expected.n_timeouts
            n_failures += result.n_failures + expected.n_failures
        start = time.perf_counter()
        attacked = pool.score(hostile, hostile_golds, hostile_types)
        t_hostile = time.perf_counter() - start
    load_end = _load()
    ratios = sorted(seq / pooled for seq, pooled, *_ in rounds)
    middle = sorted(rounds, key=lambda x: x[0] / x[1])[len(rounds) // 2]
    t_seq, t_pool, cpu_seq, cpu_parent, cpu_workers = middle

    hostile_flagged = attacked.n_timeouts
    hostile_scored = sum(b.accuracy > 0 for b in attacked.breakdowns)
    mean_overall = sum(b.overall for b in result.breakdowns) / len(result.breakdowns)
    workers = "n/a" if cpu_workers is None else f"{cpu_workers:.2f}"
    speedup = t_seq / t_pool  # the median round
    print(f"{'path':<34}{'seconds':>10}{'responses/s':>14}{'CPU s (parent + workers)':>28}")
    print(f"{'mixed, sequential (1 process)':<34}{t_seq:>10.2f}{n / t_seq:>14.0f}{f'{cpu_seq:.2f}':>28}")
    print(
        f"{f'mixed, pool ({args.workers} workers, warm)':<34}{t_pool:>10.2f}{n / t_pool:>14.0f}"
        f"{f'{cpu_parent:.2f} + {workers}':>28}"
    )
    print(
        f"{f'hostile math, pool ({args.workers} workers)':<34}{t_hostile:>10.2f}"
        f"{len(hostile) / t_hostile:>14.0f}{'':>28}"
    )
    print(
        f"pool / sequential throughput: {speedup:.2f}× (median round of {len(rounds)}; all: "
        f"{', '.join(f'{x:.2f}' for x in ratios)})   (pool start-up and warm-up: {t_start:.2f} s)"
    )
    print(
        f"mixed ({len(rounds)} rounds): timeouts {n_timeouts}, failures {n_failures}, pool vs sequential "
        f"disagreements {mismatches}, mean overall reward {mean_overall:.3f}"
    )
    print(
        f"hostile: {len(hostile)} responses in {t_hostile:.2f} s, {hostile_flagged} flagged as timed out, "
        f"{attacked.n_failures} failures, {hostile_scored} with accuracy > 0"
    )
    print(f"load average at the start {load_start}, at the end {load_end} (1/5/15 min)")
    print(
        json.dumps(
            {
                "pool_speedup": round(speedup, 3),
                "pool_speedup_rounds": [round(x, 3) for x in ratios],
                "sequential_s": round(t_seq, 3),
                "pool_s": round(t_pool, 3),
                "pool_start_s": round(t_start, 3),
                "mixed_n": n,
                "mixed_mismatches": mismatches,
                "mixed_timeouts": n_timeouts,
                "mixed_failures": n_failures,
                "hostile_n": len(hostile),
                "hostile_4096_s": round(t_hostile * 4096 / max(len(hostile), 1), 3),
                "hostile_s": round(t_hostile, 3),
                "hostile_flagged": hostile_flagged,
                "workers": args.workers,
                "cores": cores,
                "load_start": load_start,
                "load_end": load_end,
            }
        )
    )


if __name__ == "__main__":
    main()
