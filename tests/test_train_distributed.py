"""Two CPU processes (torch.distributed, gloo) on the tiny Qwen3-VL: the advantages each rank trains on equal the
single-process advantages of the same global batch (the task stage of G2RPO needs every rank's rewards).

The file is also the worker script: `python -m torch.distributed.run --nproc_per_node 2 THIS_FILE OUT_DIR MODEL`.
Generation is replaced by a deterministic function of the global row index (so one process and two processes
see the same responses); rewards, gathering, the task-level estimator and slicing are the trainer's own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

N_ROWS = 16  # global rows: 8 prompts × G = 2
GROUP = 2
TASKS = [("math", "numerical", "3"), ("chart", "numerical", "2"), ("ocr_document", "ocr", "a b"),
         ("general_vqa", "multiple choice", "B")]


def global_rows():
    from PIL import Image

    rows = []
    for p in range(N_ROWS // GROUP):
        task, ptype, answer = TASKS[p % len(TASKS)]
        row = {
            "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"question {p}"}]}],
            "images": [Image.new("RGB", (32, 32), (40 * p % 255, 90, 160))],
            "answer": answer, "problem_type": ptype, "task": task,
        }
        rows += [row] * GROUP
    return rows


def response(g: int) -> str:
    """A deterministic response for global row g: answers cycle so groups and tasks get mixed rewards."""
    words = ["3", "2", "a b", "B", "a", "7"]
    return f"<thinking>r{g}</thinking><answer>{words[(g * 5 + g // 3) % len(words)]}</answer>"


def make_trainer(model_dir: str, out_dir: str, world: int):
    from datasets import Dataset

    from g2rpo.models import load_model_and_processor
    from g2rpo.rewards import BatchScorer
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.trainer import G2RPOTrainer

    model, processor = load_model_and_processor(model_dir)
    args = G2RPOConfig(
        output_dir=out_dir, report_to="none", use_cpu=True, per_device_train_batch_size=N_ROWS // world,
        num_generations=GROUP, max_completion_length=16, dynamic_filtering=False, length_shaping="off",
        advantage_estimator="g2rpo", seed=0, save_strategy="no",
    )
    trainer = G2RPOTrainer(model, args=args, train_dataset=Dataset.from_list(global_rows()),
                           processing_class=processor, scorer=BatchScorer(max_workers=0))
    rank, local = trainer.accelerator.process_index, N_ROWS // world
    tok = trainer._tokenizer

    calls = [0]  # refill rounds get new responses: row g of round k answers like global row g + 1000·k

    def fake_generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        offset = rank * local + 1000 * calls[0]
        calls[0] += 1
        ids = [tok(response(offset + i), add_special_tokens=False)["input_ids"] for i in range(len(prompt_ids))]
        return ids, None

    trainer._generate_single_turn = fake_generate
    return trainer, rank, local


def run_rank(model_dir: str, out_dir: str, world: int, *, then_filter: bool = False):
    """This rank's advantages and the gathered scores of the batch; with ``then_filter``, also one more batch
    with dynamic filtering and refill (keyed by task family) and what each rank trained on."""
    trainer, rank, local = make_trainer(model_dir, out_dir, world)
    trainer.model.train()
    mine = global_rows()[rank * local : (rank + 1) * local]
    batch = trainer._generate_and_score_completions(mine)
    first = batch["advantages"].cpu(), trainer.last_step.rollouts
    filtered = None
    if then_filter:
        trainer.args.dynamic_filtering, trainer.args.max_refill_tries, trainer.args.advantage_key = True, 3, "task"
        batch = trainer._generate_and_score_completions(mine)
        filtered = {
            "advantages": batch["advantages"].cpu(),
            "task_index": batch["task_index"].cpu(),
            "padding": batch["completion_mask"].sum(1).cpu() == 0,
            "tries": trainer._metrics["train"]["filter/tries"][-1],
            "kept_fraction": 1 - trainer._metrics["train"]["filter/fraction_filtered"][-1],
        }
    trainer.close()
    return (*first, filtered)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    from g2rpo.algo import g2rpo_advantages
    from g2rpo.models.tiny import build_tiny

    model_dir = str(build_tiny(tmp_path / "tiny"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
           str(_free_port()), __file__, str(tmp_path), model_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    first_traceback = done.stderr.find("Traceback")  # a rank's own error, before torchrun's summary
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[max(first_traceback, 0):][:4000]

    single, scores, _ = run_rank(model_dir, str(tmp_path / "single"), world=1)
    parts = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    torch.testing.assert_close(torch.cat(parts), single, rtol=0, atol=1e-6)
    # The task stage really mixed ranks: a per-rank (ungathered) computation gives different values.
    groups = torch.arange(N_ROWS) // GROUP
    half = N_ROWS // 2
    per_rank = torch.cat([
        g2rpo_advantages(scores.overall[s], groups[s], scores.problem_type_keys()[s.start:s.stop]).float()
        for s in (slice(0, half), slice(half, N_ROWS))
    ])
    assert not torch.allclose(per_rank, single, atol=1e-3)
    torch.testing.assert_close(g2rpo_advantages(scores.overall, groups, scores.problem_type_keys()).float(), single)

    # Filtering with refill across the two processes: both ran the same number of rounds (no collective was
    # left waiting), some groups were dropped and refilled, padding rows (if any) carry no advantage, and the
    # task stage over both processes' kept rows gives every task family a zero-sum advantage (G2RPO, §3): true
    # only if each process holds its own slice of one gathered computation.
    f0, f1 = (torch.load(tmp_path / f"filtered{r}.pt") for r in range(2))
    assert f0["tries"] == f1["tries"] >= 1 and f0["kept_fraction"] < 1
    advantages = torch.cat([f0["advantages"], f1["advantages"]])
    padding = torch.cat([f0["padding"], f1["padding"]])
    families = torch.cat([f0["task_index"], f1["task_index"]])
    assert advantages[padding].abs().sum() == 0 and (~padding).sum() > 0
    assert advantages[~padding].abs().sum() > 0
    for family in families[~padding].unique():
        rows = (families == family) & ~padding
        assert abs(float(advantages[rows].sum())) < 1e-4, int(family)


if __name__ == "__main__":
    out, model_dir = sys.argv[1], sys.argv[2]
    advantages, _, filtered = run_rank(model_dir, str(Path(out) / "dist"), world=int(os.environ["WORLD_SIZE"]),
                                       then_filter=True)
    torch.save(advantages, Path(out) / f"rank{os.environ['RANK']}.pt")
    torch.save(filtered, Path(out) / f"filtered{os.environ['RANK']}.pt")
