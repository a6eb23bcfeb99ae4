"""Faults a training run must survive or report: a crash inside the checkpoint window, incomplete checkpoints,
orphan metrics rows, a reused output folder, non-finite values, Ctrl-C — plus the validation protocol
(sampling settings, named eval files), the entropy weighting and the thread default.

The tiny-model tests reuse `tests/test_train_trainer.py`'s stub scorer, rows and trainer factory.
"""

from __future__ import annotations

import json
import math
import os
import shlex

import pytest
import torch

from g2rpo.errors import ConfigError, UserError
from g2rpo.train.config import G2RPOConfig
from test_train_trainer import StubScorer, make, rows, tiny  # noqa: F401  (tiny is a fixture)


def config(tmp_path, **kwargs) -> G2RPOConfig:
    return G2RPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, **kwargs)


def steps_of(path, key="train/loss") -> list[int]:
    return [row["step"] for row in map(json.loads, path.read_text().splitlines()) if key in row]


# ---- config values are finite and in range -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learning_rate": math.inf}, "learning_rate=inf is not a finite number"),
        ({"entropy_band_coef": math.inf}, "entropy_band_coef=inf is not a finite number"),
        ({"temperature": math.nan}, "temperature=nan is not a finite number"),
        ({"length_envelopes": {"math": [0, 10, 20, math.inf]}}, "length_envelopes="),
        ({"length_envelopes": {"math": [-50, 10, 20, 30]}}, r"length_envelopes\[math\]"),
        ({"learning_rate": -1e-3}, "learning_rate=-0.001 is out of range"),
        ({"eval_top_p": 1.5}, "eval_top_p=1.5 is out of range"),
        ({"eval_temperature": -0.1}, "eval_temperature=-0.1 is out of range"),
        ({"entropy_weighting": "mean"}, "equal, tokens"),
    ],
)
def test_config_rejects_non_finite_and_out_of_range_values(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, **kwargs)


def test_yaml_with_an_infinite_value_names_the_file_and_the_key(tmp_path):
    from g2rpo.train.run import parse_config

    path = tmp_path / "run.yaml"
    path.write_text(f"model_name_or_path: m\ntrain_file: t.jsonl\noutput_dir: {tmp_path}\nreport_to: none\n"
                    "use_cpu: true\nlearning_rate: .inf\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(str(path))
    assert str(caught.value).startswith(f"{path}: learning_rate=inf")


def test_a_relative_jinja_template_in_a_config_is_read_beside_the_config(tmp_path, monkeypatch):
    from g2rpo.train.run import parse_config

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "short.jinja").write_text("{{ problem }}")
    path = recipes / "run.yaml"
    path.write_text(f"model_name_or_path: m\ntrain_file: t.jsonl\noutput_dir: {tmp_path}\nreport_to: none\n"
                    "use_cpu: true\nprompt_template: short.jinja\n")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # before: the path was read from here, and no file was there
    assert parse_config(str(path))[1].prompt_template == str(recipes / "short.jinja")
    # given on the command line it stays as written (relative to the working directory)
    assert parse_config(str(path), ["--prompt_template", "mine.jinja"])[1].prompt_template == "mine.jinja"
    # names of built-in templates are not paths
    assert parse_config(str(path), ["--prompt_template=g2rpo"])[1].prompt_template == "g2rpo"


def test_resume_values_from_yaml_and_the_command_line_mean_the_same(tmp_path):
    assert config(tmp_path, resume_from_checkpoint="true").resume_from_checkpoint is True
    assert config(tmp_path, resume_from_checkpoint=True).resume_from_checkpoint is True
    assert config(tmp_path, resume_from_checkpoint="false").resume_from_checkpoint is None
    assert config(tmp_path, resume_from_checkpoint="out/checkpoint-4").resume_from_checkpoint == "out/checkpoint-4"


# ---- checkpoints: complete ones only --------------------------------------------------------------------------
def test_latest_complete_checkpoint_skips_empty_and_cut_short_folders(tmp_path):
    from g2rpo.train.checkpoints import checkpoint_problem, latest_complete_checkpoint

    for step in (2, 3, 9, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (2, 3, 10):
        (tmp_path / f"checkpoint-{step}" / "g2rpo_state.json").write_text("{}")
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    (tmp_path / "checkpoint-10" / "trainer_state.json").write_text('{"global_st')  # cut off mid-write
    # 10: trainer_state.json unreadable; 9: empty; 3: no trainer_state.json → 2 is the newest complete one
    assert latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    assert "trainer_state.json is not readable JSON" in checkpoint_problem(str(tmp_path / "checkpoint-10"))
    assert "g2rpo_state.json is missing" in checkpoint_problem(str(tmp_path / "checkpoint-9"))
    assert latest_complete_checkpoint(str(tmp_path / "nothing-here")) is None


def test_truncate_metrics_keeps_rows_up_to_the_resumed_step(tmp_path):
    from g2rpo.train.metrics import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "train/loss": 0.1 * s}) for s in (1, 2, 2, 3, 4)] + ['{"step": 5, "trai']
    path.write_text("\n".join(lines))
    # resuming from step 2: rows of steps 3, 4 and the torn step-5 line go; both step-2 rows (train, eval) stay
    assert truncate_metrics(path, 2) == 3
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [1, 2, 2]
    assert truncate_metrics(tmp_path / "absent.jsonl", 2) == 0 and not (tmp_path / "absent.jsonl").exists()


# ---- entropy weighting: by hand ------------------------------------------------------------------------------
def test_entropy_weighting_by_hand_on_two_micro_batches():
    from g2rpo.algo.loss import microbatch_weight

    # One update = 2 micro-batches: A has 30 response tokens and penalty 0.5, B has 10 tokens and penalty 0.1.
    # equal:  0.5·(1/2) + 0.1·(1/2)     = 0.30
    # tokens: 0.5·(30/40) + 0.1·(10/40) = 0.375 + 0.025 = 0.40
    penalties, tokens = (0.5, 0.1), (30, 10)
    equal = sum(p * microbatch_weight("equal", n, 40, 2) for p, n in zip(penalties, tokens, strict=True))
    by_tokens = sum(p * microbatch_weight("tokens", n, 40, 2) for p, n in zip(penalties, tokens, strict=True))
    assert equal == pytest.approx(0.30) and by_tokens == pytest.approx(0.40)
    weight = microbatch_weight("tokens", torch.tensor(30.0), torch.tensor(40.0), 2)
    assert float(weight) == pytest.approx(0.75)
    assert config_default_weighting() == "equal"


def config_default_weighting() -> str:
    from dataclasses import fields

    return next(f.default for f in fields(G2RPOConfig) if f.name == "entropy_weighting")


# ---- threads ----------------------------------------------------------------------------------------------------
def test_threads_default_one_on_small_machines_all_physical_cores_otherwise():
    from g2rpo.train.run import resolve_threads

    assert resolve_threads(0, {}, cores=(2, 2))[0] == 1
    assert resolve_threads("auto", {}, cores=(4, 2))[0] == 1
    assert resolve_threads("auto", {}, cores=(16, 8))[0] == 8
    assert resolve_threads("auto", {"OMP_NUM_THREADS": "3"}, cores=(16, 8))[0] == 3
    assert resolve_threads("auto", {"G2RPO_THREADS": "5", "OMP_NUM_THREADS": "3"}, cores=(16, 8))[0] == 5
    assert resolve_threads(6, {"G2RPO_THREADS": "5"}, cores=(2, 2))[0] == 6
    with pytest.raises(ConfigError, match="threads='many' is not valid"):
        resolve_threads("many", {})
    with pytest.raises(ConfigError, match="G2RPO_THREADS='0'"):
        resolve_threads("auto", {"G2RPO_THREADS": "0"})


def test_eval_files_and_the_resume_command():
    from g2rpo.train.run import ScriptArguments, resume_command

    args = ScriptArguments(model_name_or_path="m", train_file="t", eval_files='{math: a.jsonl, generalVQA: b.jsonl}')
    assert args.eval_files == {"math": "a.jsonl", "generalVQA": "b.jsonl"}
    with pytest.raises(ConfigError, match="eval_file or eval_files"):
        ScriptArguments(model_name_or_path="m", train_file="t", eval_file="v", eval_files={"math": "a"})
    with pytest.raises(ConfigError, match="threads"):
        ScriptArguments(model_name_or_path="m", train_file="t", threads=-2)
    args.command = ("my run.yaml", ["--max_steps", "8", "--resume_from_checkpoint", "false", "--overwrite_output_dir=1"])
    assert resume_command(args) == "g2rpo train --config 'my run.yaml' --max_steps 8 --resume_from_checkpoint true"


# ---- tiny-model runs -------------------------------------------------------------------------------------------
class Crash(RuntimeError):
    pass


@pytest.mark.slow
def test_crash_after_rotation_leaves_a_resumable_run_and_no_orphan_rows(tiny, tmp_path, monkeypatch):  # noqa: F811
    import transformers.trainer

    rotate = transformers.trainer.rotate_checkpoints

    def rotate_then_crash(output_dir, *args, **kwargs):
        rotate(output_dir, *args, **kwargs)
        if os.path.isdir(os.path.join(output_dir, "checkpoint-2")):
            raise Crash("killed right after the old checkpoint was deleted")

    monkeypatch.setattr(transformers.trainer, "rotate_checkpoints", rotate_then_crash)
    common = {"max_steps": 3, "save_strategy": "steps", "save_steps": 1, "save_total_limit": 1,
              "dynamic_filtering": False, "length_shaping": "off"}
    out = tmp_path / "run"
    first = make(tiny, out, rows(8), **common)
    with pytest.raises(Crash):
        first.train()
    first.close()
    monkeypatch.setattr(transformers.trainer, "rotate_checkpoints", rotate)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]  # checkpoint-1 was deleted
    # what a run killed later leaves: a row logged after the checkpoint, a torn line, an empty newer folder
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 3, "train/loss": 9.0}) + "\n" + '{"step": 3, "tr')
    (out / "checkpoint-9").mkdir()

    resumed = make(tiny, out, rows(8), **common)
    resumed.train(resume_from_checkpoint=True)
    assert resumed.state.global_step == 3
    assert steps_of(out / "metrics.jsonl") == [1, 2, 3]
    resumed.close()

    # a new run into the same folder is refused; overwrite_output_dir starts clean
    again = make(tiny, out, rows(8), **{**common, "max_steps": 1})
    with pytest.raises(UserError, match=r"already holds a run .*resume_from_checkpoint: true.*overwrite_output_dir"):
        again.train()
    again.args.overwrite_output_dir = True
    again.train()
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert steps_of(out / "metrics.jsonl") == [1]
    again.close()


@pytest.mark.slow
def test_a_nan_loss_stops_training_naming_the_step_and_the_last_finite_metrics(tiny, tmp_path, monkeypatch):  # noqa: F811
    from trl import GRPOTrainer

    logps_of = GRPOTrainer._get_per_token_logps_and_entropies

    def overflow_after_step_1(self, *args, **kwargs):
        logps, entropies, aux = logps_of(self, *args, **kwargs)
        if self.state.global_step >= 1 and torch.is_grad_enabled():  # the training forward overflows
            logps = logps * math.nan
        return logps, entropies, aux

    monkeypatch.setattr(GRPOTrainer, "_get_per_token_logps_and_entropies", overflow_after_step_1)
    trainer = make(tiny, tmp_path, rows(8), max_steps=3, dynamic_filtering=False, length_shaping="off")
    with pytest.raises(UserError, match=r"training stopped at step 2: the loss is nan; last finite metrics "
                                        r"\(step 1\): loss [-0-9.e]+, grad_norm [0-9.e]+, learning_rate"):
        trainer.train()
    assert trainer.state.global_step == 1
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    trainer.close()


@pytest.mark.slow
def test_validation_has_its_own_sampling_and_one_namespace_per_named_file(tiny, tmp_path):  # noqa: F811
    evals = {"math": rows(2, offset=4), "generalVQA": rows(2, offset=3)}
    trainer = make(tiny, tmp_path, rows(8), eval_rows=evals, max_steps=2, dynamic_filtering=False,
                   length_shaping="off", eval_strategy="steps", eval_steps=1, per_device_eval_batch_size=2,
                   num_generations_eval=1, eval_temperature=0.7, eval_top_p=0.95)
    seen = []
    generate = trainer._generate_single_turn

    def spy(prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        config = trainer.generation_config
        seen.append((trainer.model.training, config.temperature, config.top_p, len(prompt_ids)))
        return generate(prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs)

    trainer._generate_single_turn = spy
    trainer.train()
    train_calls = {(t, p) for training, t, p, _ in seen if training}
    eval_calls = [(t, p, n) for training, t, p, n in seen if not training]
    assert train_calls == {(1.0, 1.0)}
    # 2 steps × 2 files, each file 2 prompts × 1 sample, at the validation settings
    assert eval_calls == [(0.7, 0.95, 2)] * 4
    assert trainer.generation_config.temperature == 1.0  # restored for training
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for name, family in (("math", "math"), ("generalVQA", "general_vqa")):
        assert steps_of(tmp_path / "metrics.jsonl", f"eval/{name}/{family}/accuracy") == [1, 2]
        assert steps_of(tmp_path / "metrics.jsonl", f"eval/{name}/loss") == [1, 2]
    assert not any(k.startswith("eval/") and k.split("/")[1] not in ("math", "generalVQA")
                   for r in records for k in r), "an eval metric outside the named namespaces"
    trainer.args.eval_temperature = 0  # greedy validation
    with trainer._eval_sampling():
        assert trainer.generation_config.do_sample is False and trainer.generation_kwargs["do_sample"] is False
    assert trainer.generation_config.do_sample is True
    trainer.close()


def train_command(argv: list[str]):
    """What `g2rpo train --config X --key value …` runs (g2rpo.train.run), without the CLI's own checks."""
    from g2rpo.train.run import parse_config, run

    assert argv[:2] == ["train", "--config"]
    return run(*parse_config(argv[2], argv[3:]))


@pytest.mark.slow
def test_ctrl_c_prints_the_resume_command_which_resumes(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from g2rpo.train.trainer import G2RPOTrainer

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny_cpu.yaml"
    out = tmp_path / "run"
    argv = ["train", "--config", str(recipe), "--output_dir", str(out), "--model_name_or_path", str(tmp_path / "tiny"),
            "--train_file", str(tmp_path / "synth" / "train.jsonl"), "--synth_n_train", "16", "--synth_n_val", "4",
            "--eval_file", str(tmp_path / "synth" / "val.jsonl"), "--eval_strategy", "no", "--max_steps", "2",
            "--save_steps", "1", "--max_completion_length", "8",
            "--scorer_workers", "0", "--threads", "1"]
    step = G2RPOTrainer.training_step

    def interrupt_in_step_2(self, *args, **kwargs):
        if self.state.global_step == 1:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(G2RPOTrainer, "training_step", interrupt_in_step_2)
    with pytest.raises(SystemExit) as caught:
        train_command(argv)
    assert caught.value.code == 130
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith(f"interrupted at step 1; resume with: g2rpo train --config {recipe} --output_dir")
    assert message.endswith(" --resume_from_checkpoint true")
    monkeypatch.setattr(G2RPOTrainer, "training_step", step)
    trainer = train_command(shlex.split(message.split("resume with: g2rpo ", 1)[1]))
    assert trainer.state.global_step == 2
    assert steps_of(out / "metrics.jsonl") == [1, 2]


def test_parsing_a_config_leaves_the_declared_field_types(tmp_path):
    import dataclasses

    from g2rpo.train.run import parse_config

    path = tmp_path / "run.yaml"
    path.write_text(f"model_name_or_path: m\ntrain_file: t.jsonl\noutput_dir: {tmp_path}\nreport_to: none\n"
                    "use_cpu: true\nadvantage_kwargs: {stages: group+task}\n")
    _, parsed = parse_config(str(path))
    assert parsed.advantage_kwargs == {"stages": "group+task"}
    types = {f.name: f.type for f in dataclasses.fields(G2RPOConfig)}
    # TRL's parser rewrites these in place (to str) unless they are put back: key checks would then refuse dicts
    assert types["advantage_kwargs"] == "dict | str | None" and types["eval_temperature"] == "float | None"
