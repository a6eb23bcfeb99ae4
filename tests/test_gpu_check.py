"""benchmarks/gpu_check.py at its CPU toy size: every phase runs and the last stdout line is the results JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_toy_run_measures_every_phase_and_ends_with_one_json_line(tmp_path, capsys):
    gpu_check = _load()
    out = tmp_path / "gpu_check.json"
    gpu_check.main(["--toy", "--out", str(out)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    results = json.loads(last)
    assert results == json.loads(out.read_text())
    assert results["skipped"] == {} and results["errors"] == {} and results["complete"] is True
    assert results["device"] == "cpu" and results["size"] == "toy"
    for key in ("steps_per_s", "plain_steps_per_s", "tokens_per_s", "generate_tokens_per_s", "eval_items_per_s",
                "step_ratio"):
        assert results[key] > 0, key
    toy = gpu_check.SIZES["toy"]
    # each trainer ran steps + 1 (warm-up) steps; the eval scored every synthetic item
    assert len(results["trainers"]["g2rpo"]["step_s"]) == toy.steps + 1
    assert results["eval"]["n_items_scored"] == toy.eval_items
    # generation is forced to exactly `completion` new tokens per sequence
    assert results["generate"]["new_tokens"] == toy.batch * toy.completion
    # tokens/s of a trainer = completions per step × tokens per completion / median step time
    g2rpo = results["trainers"]["g2rpo"]
    assert g2rpo["tokens_per_s"] == pytest.approx(toy.batch * toy.completion / g2rpo["median_step_s"], rel=1e-3)


@pytest.mark.slow
def test_a_run_stopped_from_outside_keeps_the_phases_it_finished(tmp_path, monkeypatch):
    gpu_check = _load()
    out = tmp_path / "gpu_check.json"

    def killed(*args):
        raise KeyboardInterrupt  # what a SIGINT or a time limit does to the phase in flight

    monkeypatch.setattr(gpu_check, "phase_eval", killed)
    with pytest.raises(KeyboardInterrupt):
        gpu_check.main(["--toy", "--out", str(out), "--phases", "generate,eval"])
    kept = json.loads(out.read_text())
    assert kept["complete"] is False and "eval" not in kept
    assert kept["generate"]["generate_tokens_per_s"] > 0 and kept["generate_wall_s"] > 0


def test_the_gpu_size_is_qwen3_vl_2b():
    # Hand count, Qwen3-VL-2B sizes: text 151,936×2048 tied embedding (311.2M) + 28 layers × (q 4.19M, k 2.10M,
    # v 2.10M, o 4.19M, MLP 3×2048×6144 = 37.75M) ≈ 1,409M; vision 24 blocks × ≈12.6M ≈ 302M, merger ≈ 25.2M,
    # 3 DeepStack mergers ≈ 75.5M, patch and position embeddings ≈ 3.9M: ≈ 2.13B in all.
    n = _load().count_params("2b")
    assert 2.08e9 < n < 2.18e9, n


def test_missing_import_is_a_skip_not_an_error():
    gpu_check = _load()
    try:
        try:
            import no_such_module_for_gpu_check  # noqa: F401
        except ImportError as inner:
            raise RuntimeError("Failed to import trl.trainer.grpo_trainer") from inner
    except RuntimeError as err:
        assert gpu_check._missing_module(err) == "no_such_module_for_gpu_check"
    assert gpu_check._missing_module(ValueError("bad value")) is None
