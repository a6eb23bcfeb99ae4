"""A shortened demo end to end: synth → tiny model → SFT (2 steps) → G2RPO RL (1 step) → validation → report.

Sizes are cut to the bone (12 validation records, 8-token generations) so the run takes seconds; what is checked
is the plumbing between the stages and the shape of what they leave behind, not learning.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from g2rpo.demo.pipeline import parse_args, run_demo
from g2rpo.tasks import TASK_FAMILIES

MAX_NEW = 8


@pytest.mark.slow
def test_shortened_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    config = parse_args([
        "--out", str(out), "--n-train", "24", "--n-val", "12", "--sft-steps", "2", "--rl-steps", "1",
        "--eval-max-new-tokens", str(MAX_NEW), "--no-progress",
        "--sft-set", "per_device_train_batch_size=4", "--sft-set", "logging_steps=1",
        "--rl-set", "per_device_train_batch_size=8", "--rl-set", "num_generations=2",
        "--rl-set", f"max_completion_length={MAX_NEW}", "--rl-set", "max_refill_tries=0",
    ])  # fmt: skip
    report, summary_path = run_demo(config)

    summary = json.loads(summary_path.read_text())
    assert set(summary["tasks"]) == set(TASK_FAMILIES)
    for task, both in summary["tasks"].items():
        for stage in ("sft", "rl"):
            numbers = both[stage]
            assert numbers["n"] == 2, (task, stage)  # 12 validation records cycle through 6 families
            assert 0.0 <= numbers["reward"] <= 1.5 and 0.0 <= numbers["accuracy"] <= 1.0
            assert 0.0 <= numbers["length"] <= MAX_NEW
    assert summary["verdict"]["rl_ran"] is True
    assert {"synthetic data", "tiny model", "cold-start SFT", "G2RPO RL", "total"} <= set(summary["timing_s"])

    page = report.read_text()
    assert re.search(r"src='data:image/png;base64,[A-Za-z0-9+/]{100}", page)
    assert not re.search(r"src=['\"]https?:", page)
    assert "Resolved configuration" in page and "advantage_estimator" in page

    rows = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    logged = {key for row in rows for key in row}
    assert {f"train/{t}/reward" for t in TASK_FAMILIES} & logged
    sft_rows = [json.loads(line) for line in (out / "sft" / "sft_metrics.jsonl").read_text().splitlines()]
    assert any("loss" in r and math.isfinite(r["loss"]) for r in sft_rows)
    assert (out / "rl" / "model.safetensors").is_file() and (out / "sft" / "model.safetensors").is_file()
