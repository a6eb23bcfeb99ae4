"""`g2rpo lab` end to end on a tiny configuration, and the --tasks spec syntax."""

from __future__ import annotations

import argparse
import base64
import json

import pytest

from g2rpo.algo import ADVANTAGE_ESTIMATORS
from g2rpo.errors import UserError
from g2rpo.lab import cli
from g2rpo.lab.problems import DEFAULT_TASK_SPEC, DEFAULT_TASKS, TaskSpec, parse_task_spec
from g2rpo.lab.report import FIGURES
from g2rpo.lab.summary import PROBE_FIELDS, SUMMARY_FIELDS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_lab_command_writes_summary_figures_and_html(tmp_path):
    spec = "math=binary:prompts=16,p0=0.3; ocr=outlier:prompts=16; grounding=dense:prompts=16"
    args = _args(["--tasks", spec, "--steps", "4", "--seeds", "2", "--batch-prompts", "24",
                  "--out", str(tmp_path)])
    assert cli.main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == list(ADVANTAGE_ESTIMATORS)  # every registered estimator, in registry order
    for name, tasks in summary.items():
        assert list(tasks) == ["math", "ocr", "grounding"], name
        for task, entry in tasks.items():
            assert tuple(entry) == SUMMARY_FIELDS, (name, task)
            assert 0.0 <= entry["grad_share"] <= 1.0
            assert entry["steps_to_90"] is None or 0 <= entry["steps_to_90"] <= 4
            assert entry["max_abs_advantage"] > 0
            assert 0.0 <= entry["final_reward"] <= entry["achievable_reward"] + 1e-9
        assert sum(e["grad_share"] for e in tasks.values()) == pytest.approx(1.0, abs=1e-3)
        assert tasks["math"]["outlier_probe"] is None and tasks["grounding"]["outlier_probe"] is None
        assert tuple(tasks["ocr"]["outlier_probe"]) == PROBE_FIELDS
    assert summary["dr_grpo"]["ocr"]["outlier_probe"]["update_norm_ratio"] > 1.0
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["grpo"]["math"]) == 5  # before step 1 and after each of the 4 steps
    assert curves["grpo"]["math"][-1] == pytest.approx(summary["grpo"]["math"]["final_reward"], abs=1e-4)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seeds"] == [0, 1] and config["lab"]["steps"] == 4
    page = (tmp_path / "index.html").read_text()
    for name in FIGURES:
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(PNG_MAGIC)
        assert base64.b64encode(png).decode() in page  # inline, self-contained
    assert "src=\"http" not in page
    assert "update_norm_ratio" in page


def test_unknown_estimator_lists_the_valid_ones(tmp_path):
    with pytest.raises(UserError, match="valid: g2rpo"):
        cli.main(_args(["--estimators", "grpo,ppo", "--out", str(tmp_path)]))


def test_unknown_estimator_through_g2rpo_is_one_line_with_the_closest_name(tmp_path, capsys):
    from g2rpo.cli import main

    assert main(["lab", "--estimators", "grpo,ema_grp", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean ema_grpo?" in err[0]


def test_default_spec_string_is_the_default_mix():
    assert parse_task_spec(DEFAULT_TASK_SPEC) == DEFAULT_TASKS


def test_task_spec_syntax():
    tasks = parse_task_spec("a=binary:p0=0.25,correct=3,prompts=64; b=dense:low=0.5,high=0.9;c=outlier")
    assert tasks == (
        TaskSpec("a", "binary", p0=0.25, correct=3, prompts=64),
        TaskSpec("b", "dense", low=0.5, high=0.9),
        TaskSpec("c", "outlier"),
    )


@pytest.mark.parametrize(("spec", "message"), [
    ("a=gaussian", "valid kinds: binary, outlier, dense"),
    ("a=binary:temperature=2", "valid options: prompts, weight"),
    ("a=binary:p0=high", "p0='high' is not a valid float"),
    ("a=binary:p0=1.5", "p0 must be in"),
    ("a=binary;a=dense", "unique"),
    ("binary", "NAME=KIND"),
    ("", "no tasks"),
])
def test_task_spec_errors_say_what_to_fix(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_task_spec(spec)


def test_task_yaml_file(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("tasks:\n  - {name: m, kind: binary, p0: 0.4}\n  - {name: g, kind: dense, prompts: 32}\n")
    assert parse_task_spec(str(path)) == (TaskSpec("m", "binary", p0=0.4), TaskSpec("g", "dense", prompts=32))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: m, kind: binary, p0: 2.0}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: task #0: .*p0 must be in"):
        parse_task_spec(str(bad))
