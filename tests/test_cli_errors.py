"""User errors through `g2rpo.cli.main`: one or two lines on stderr naming the place and the fix, exit 2.

Each case was a traceback or a usage dump before (a missing config file, an unknown YAML key, a wrongly
typed value, a YAML syntax error, a model path that does not exist, `--device cuda` without CUDA,
`sft --set max_steps=three`); `--debug` / G2RPO_DEBUG=1 bring the traceback back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from g2rpo.cli import main
from g2rpo.errors import UserError


def _fails(argv: list[str], capsys) -> str:
    """Run ``g2rpo argv``; assert exit 2 and at most two stderr lines; return stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert 1 <= len(err.splitlines()) <= 2, err
    assert "Traceback" not in err
    return err


def _train_yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(f"model_name_or_path: {tmp_path / 'model'}\ntrain_file: {tmp_path / 'train.jsonl'}\n"
                    f"use_cpu: true\noutput_dir: {tmp_path / 'out'}\n{body}")
    return path


def _sft_yaml(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "sft.yaml"
    path.write_text(f"model: {tmp_path / 'model'}\ntrain_file: {tmp_path / 'train.jsonl'}\n{body}")
    return path


def test_missing_config_file(tmp_path, capsys):
    err = _fails(["train", "--config", str(tmp_path / "nope.yaml")], capsys)
    assert f"no config file at {tmp_path / 'nope.yaml'}" in err and "recipes" in err


def test_unknown_yaml_key_names_line_and_closest_key(tmp_path, capsys):
    path = _train_yaml(tmp_path, "lerning_rate: 1.0e-5\n")
    err = _fails(["train", "--config", str(path)], capsys)
    # the key is on line 5 of the file (4 lines written before it)
    assert f"{path}:5: unknown key 'lerning_rate'; did you mean learning_rate?" in err


def test_unknown_override_key(tmp_path, capsys):
    path = _train_yaml(tmp_path, "")
    err = _fails(["train", "--config", str(path), "--max_step", "3"], capsys)
    assert "--max_step: unknown key; did you mean --max_steps?" in err


def test_wrongly_typed_value_names_file_and_key(tmp_path, capsys):
    path = _train_yaml(tmp_path, "learning_rate: fast\n")
    err = _fails(["train", "--config", str(path)], capsys)
    assert f"{path}:5: learning_rate must be float, got 'fast'" in err


def test_wrongly_typed_override(tmp_path, capsys):
    path = _train_yaml(tmp_path, "")
    err = _fails(["train", "--config", str(path), "--max_steps", "many"], capsys)
    assert "--max_steps must be int, got 'many'; e.g. --max_steps 10" in err


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("model_name_or_path: m\nlearning_rate: [1e-5\nmax_steps: 3\n")
    err = _fails(["train", "--config", str(path)], capsys)
    # the unclosed flow sequence opened on line 2 is noticed where the next key starts (line 3, column 10)
    assert f"{path}:3:10: YAML syntax error" in err and "started on line 2" in err


def test_model_path_that_does_not_exist(tmp_path, capsys):
    path = _train_yaml(tmp_path, "")
    err = _fails(["train", "--config", str(path)], capsys)
    assert f"{path}:1: model_name_or_path: no model folder at '{tmp_path / 'model'}'" in err
    assert "build_tiny_model" in err


def test_invalid_recipe_value_suggests_the_closest(tmp_path, capsys):
    path = _train_yaml(tmp_path, "advantage_estimator: g2rp\n")
    err = _fails(["train", "--config", str(path)], capsys)
    assert "advantage_estimator='g2rp' is not valid" in err and "did you mean g2rpo?" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda(tmp_path, capsys):
    err = _fails(["eval", "--model", str(tmp_path), "--benchmarks", "MMStar", "--data-root", str(tmp_path),
                  "--device", "cuda"], capsys)
    assert "--device cuda: no CUDA device is visible" in err and "--device cpu" in err


def test_eval_model_path_that_does_not_exist(tmp_path, capsys):
    err = _fails(["eval", "--model", str(tmp_path / "ckpt"), "--benchmarks", "MMStar", "--data-root",
                  str(tmp_path)], capsys)
    assert f"--model: no model folder at '{tmp_path / 'ckpt'}'" in err


def test_unknown_benchmark_suggests_the_closest(tmp_path, capsys):
    err = _fails(["score", "--benchmark", "MMStr", "--predictions", str(tmp_path / "p.tsv")], capsys)
    assert "'MMStar'" in err and "did you mean" in err


def test_sft_set_with_a_word_for_a_number(tmp_path, capsys):
    path = _sft_yaml(tmp_path)
    err = _fails(["sft", "--config", str(path), "--set", "max_steps=three"], capsys)
    assert "--max_steps must be int, got 'three'" in err and "deprecated" in err


def test_sft_takes_key_value_overrides_like_train(tmp_path, capsys):
    from g2rpo.train.sft_cli import load_config

    path = _sft_yaml(tmp_path, "max_steps: 5\n")
    config = load_config(str(path), ["--max_steps", "7", "--learning-rate", "1e-4", "--max_length", "null"])
    assert (config.max_steps, config.learning_rate, config.max_length) == (7, 1e-4, None)
    err = _fails(["sft", "--config", str(path), "--max_stepz", "3"], capsys)
    assert "--max_stepz: unknown key; did you mean --max_steps?" in err


def test_sft_unknown_yaml_key(tmp_path, capsys):
    path = _sft_yaml(tmp_path, "lerning_rate: 0.1\n")
    err = _fails(["sft", "--config", str(path)], capsys)
    assert f"{path}:3: unknown key 'lerning_rate'; did you mean learning_rate?" in err


def test_debug_flag_and_environment_show_the_traceback(tmp_path, monkeypatch):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="no config file"):
        main(["--debug", "sft", "--config", missing])
    monkeypatch.setenv("G2RPO_DEBUG", "1")
    with pytest.raises(UserError, match="no config file"):
        main(["sft", "--config", missing])


def test_unknown_recipe_suggests_the_closest(tmp_path, capsys):
    err = _fails(["recipes", "copy", "tiny_cpo", str(tmp_path)], capsys)
    assert "did you mean tiny_cpu.yaml?" in err


def test_bad_synth_size_is_one_line(tmp_path, capsys):
    err = _fails(["data", "synth", "--out", str(tmp_path), "--image-size", "50", "--quiet"], capsys)
    assert "image_size must be a multiple of 32" in err


def test_hub_errors_are_mapped_to_one_line(monkeypatch, capsys):
    from huggingface_hub.errors import HFValidationError

    from g2rpo.examples import worked

    def bad_repo(args):
        raise HFValidationError("Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/x/y/z'.")

    monkeypatch.setattr(worked, "main", bad_repo)
    err = _fails(["examples"], capsys)
    assert "neither a local folder nor reachable on the Hugging Face Hub" in err and "'/x/y/z'" in err


def test_missing_recipe_path_suggests_the_shipped_one(capsys):
    err = _fails(["train", "--config", "recipes/tiny_cpu.yml"], capsys)
    assert "no config file at recipes/tiny_cpu.yml: did you mean recipes/tiny_cpu.yaml?" in err


def test_ctrl_c_during_eval_says_how_to_resume(monkeypatch, capsys):
    from g2rpo.evaluation import cli_eval

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_eval, "main", interrupted)
    assert main(["eval", "--model", "m", "--benchmarks", "MMStar", "--data-root", "d"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run the same command again to resume" in err[0]


def test_sft_model_path_that_does_not_exist(tmp_path, capsys):
    path = _sft_yaml(tmp_path)
    err = _fails(["sft", "--config", str(path)], capsys)
    assert f"{path}:1: model: no model folder at '{tmp_path / 'model'}'" in err
    err = _fails(["sft", "--config", str(path), "--model", str(tmp_path / "other")], capsys)
    assert f"--model: no model folder at '{tmp_path / 'other'}'" in err
