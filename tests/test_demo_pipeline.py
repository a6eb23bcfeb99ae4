"""A shortened demo end to end: synth → tiny model → SFT (2 steps) → G2RPO RL (1 step) → validation (+ blank
images) → report, and the shortened ablation.

Sizes are cut to the bone (12 validation records, 8-token generations) so the run takes seconds; what is checked
is the plumbing between the stages and the shape of what they leave behind, not learning. The blank-image
control of a model this untrained is at chance: it scores no more than the best constant answer allows.
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
        "--out", str(out), "--rope-theta", "10", "--n-train", "24", "--n-val", "12", "--sft-steps", "2", "--rl-steps", "1",
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
    for task, t in summary["tasks"].items():
        assert t["chance"] == max(t["chance_blank"], t["chance_constant"])
        # near chance: an untrained model answering blank images does no better than chance + one record in 2
        assert t["chance_blank"] <= t["chance_constant"] + 0.5, task
        a, b, c, d = t["envelope"]
        assert a < b <= c < d
        assert t["rl"]["accuracy_se"] >= 0 and t["gain"]["accuracy_se"] >= 0
    assert 0.0 <= summary["rl_full_batch_fraction"] <= 1.0
    assert set(summary["verdict"]["targets"]) >= {"sft_sees_every_family", "mean_gain_over_3_se"}
    assert {"synthetic data", "tiny model", "cold-start SFT", "G2RPO RL", "total"} <= set(summary["timing_s"])

    page = report.read_text()
    assert re.search(r"src='data:image/png;base64,[A-Za-z0-9+/]{100}", page)
    assert not re.search(r"src=['\"]https?:", page)
    assert "Resolved configuration" in page and "advantage_estimator" in page
    assert "<details><summary>RL (resolved)</summary>" in page and "Sample completions" in page

    rows = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    logged = {key for row in rows for key in row}
    assert {f"train/{t}/reward" for t in TASK_FAMILIES} & logged
    sft_rows = [json.loads(line) for line in (out / "sft" / "sft_metrics.jsonl").read_text().splitlines()]
    assert any("loss" in r and math.isfinite(r["loss"]) for r in sft_rows)
    assert (out / "rl" / "model.safetensors").is_file() and (out / "sft" / "model.safetensors").is_file()
    for stage in ("sft", "rl"):  # --rope-theta reaches the decoder and travels with its checkpoints
        text_config = json.loads((out / stage / "config.json").read_text())["text_config"]
        assert text_config["rope_parameters"]["rope_theta"] == config.rope_theta == 10.0


@pytest.mark.slow
def test_shortened_ablation_writes_table_summary_and_report_and_resumes(tmp_path):
    from g2rpo.demo.ablation import main

    out = tmp_path / "ablation"
    args = [
        "--out", str(out), "--arms", "sft", "g2rpo", "--seeds", "0", "1", "--n-train", "24", "--n-val", "12",
        "--sft-steps", "1", "--rl-steps", "1", "--eval-max-new-tokens", "4", "--no-progress",
        "--sft-set", "per_device_train_batch_size=4", "--rl-set", "per_device_train_batch_size=8",
        "--rl-set", "num_generations=2", "--rl-set", "max_completion_length=4", "--rl-set", "max_refill_tries=0",
    ]  # fmt: skip
    main([*args, "--jobs", "2"])  # the two RL runs in two worker processes
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["arms"]) == ["sft", "g2rpo"]
    for arm, seeds in (("sft", 1), ("g2rpo", 2)):
        for task in TASK_FAMILIES:
            stats = summary["arms"][arm][task]
            assert len(stats["accuracies"]) == seeds
            assert stats["accuracy_mean"] == pytest.approx(sum(stats["accuracies"]) / seeds)
            assert 0.0 <= stats["length_mean"] <= 4 and stats["accuracy_sd"] >= 0
    assert (out / "table.md").read_text().startswith("| arm | chart | general_vqa |")
    assert "claims" in summary and "data:image/png;base64," in (out / "report.html").read_text()
    runs = out / "runs" / "g2rpo"
    assert (runs / "seed1" / "model.safetensors").is_file()

    # Again, with one run's result gone: seed 0 is reused as it is, seed 1 trains again (inline this time) to the
    # numbers its worker got.
    (runs / "seed1" / "result.json").unlink()
    kept = (runs / "seed0" / "model.safetensors").stat().st_mtime_ns
    main([*args, "--jobs", "1"])
    again = json.loads((out / "summary.json").read_text())
    assert (runs / "seed0" / "model.safetensors").stat().st_mtime_ns == kept
    assert (runs / "seed1" / "result.json").is_file()
    assert again["arms"] == summary["arms"]
    assert "g2rpo seed 1" in again["timing_s"] and "g2rpo seed 0" not in again["timing_s"]


@pytest.mark.slow
def test_demo_model_rebuilds_the_tiny_architecture_wider_and_deeper(tmp_path):
    import torch

    from g2rpo.data import load_image
    from g2rpo.demo.evaluate import generate
    from g2rpo.demo.model import build_demo_model
    from g2rpo.models import load_model_and_processor

    path = build_demo_model(tmp_path / "m", hidden_size=96, num_layers=3)
    model, processor = load_model_and_processor(str(path))
    text = model.config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        96, 3, 6, 3,
    )  # fmt: skip
    assert model.config.vision_config.out_hidden_size == 96
    # the checkpoint is usable end to end: an image prompt generates (greedily, deterministically)
    image = load_image(_write_png(tmp_path))
    torch.manual_seed(0)
    first = generate(model, processor, ["<image>Describe."], [[image]], max_new_tokens=4, progress=False)
    again = generate(model, processor, ["<image>Describe."], [[image]], max_new_tokens=4, progress=False)
    assert first == again and 0 <= first[0][1] <= 4
    with pytest.raises(ValueError, match="multiple of 32"):
        build_demo_model(tmp_path / "bad", hidden_size=80)


def _write_png(tmp_path):
    from PIL import Image

    path = tmp_path / "x.png"
    Image.new("RGB", (128, 128), (200, 30, 30)).save(path)
    return path
