"""The demo's SFT loop with and without its collating worker, side by side, on the demo's own data and model.

Builds the demo's synthetic data and tiny model in a temporary folder (`g2rpo.demo.pipeline.prepare` with a
short SFT), then runs `g2rpo.demo.sft.run_demo_sft` for `--steps` steps twice from the same initial weights:
collating in the loop (`workers=0`) and in one worker process (`workers=1`, the demo's default). Prints each
run's wall time per step (model load and save included) and the speed-up, and checks that the two runs end
with identical weights (`identical`). Last line: one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_demo_sft.py [--steps 200] [--n-train 1200]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from g2rpo.demo.pipeline import DemoConfig, prepare
from g2rpo.demo.sft import run_demo_sft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="SFT steps per run (default 200)")
    parser.add_argument("--n-train", type=int, default=1200, help="training records (default 1200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = DemoConfig(out=tmp, n_train=args.n_train, n_val=12, sft_steps=1, progress=False)
        _, _, sft_config = prepare(config)
        seconds, weights = {}, {}
        for workers in (0, 1):
            run = dataclasses.replace(
                sft_config, max_steps=args.steps, output_dir=str(Path(tmp) / f"sft-w{workers}")
            )
            start = time.perf_counter()
            out = run_demo_sft(run, progress=False, workers=workers)
            seconds[workers] = time.perf_counter() - start
            weights[workers] = load_file(str(out / "model.safetensors"))
    identical = weights[0].keys() == weights[1].keys() and all(
        torch.equal(weights[0][k], weights[1][k]) for k in weights[0]
    )
    per_step = {w: 1000 * s / args.steps for w, s in seconds.items()}
    print(f"collate in the loop : {per_step[0]:.1f} ms/step")
    print(f"collating worker    : {per_step[1]:.1f} ms/step")
    print(f"speed-up {per_step[0] / per_step[1]:.2f}×, identical weights: {identical}")
    print(json.dumps({
        "steps": args.steps, "ms_per_step_inline": round(per_step[0], 1), "ms_per_step_worker": round(per_step[1], 1),
        "speedup": round(per_step[0] / per_step[1], 3), "identical": identical,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
