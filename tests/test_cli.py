"""The `g2rpo` dispatcher."""

import subprocess
import sys
from pathlib import Path

import pytest

from g2rpo.cli import COMMANDS, main


def test_examples_command_prints_the_worked_examples(capsys):
    assert main(["examples", "--estimators", "g2rpo,grpo"]) == 0
    out = capsys.readouterr().out
    # Recipe §3: 0,0,0,0,1 → −0.320 ×4, 1.282 under G2RPO; −0.5 ×4, 2.0 under GRPO (population std).
    assert "-0.320" in out and "+1.282" in out and "-0.500" in out and "+2.000" in out


def test_unknown_command_is_one_line_with_the_closest_name(capsys):
    assert main(["trian", "--config", "x.yaml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown command 'trian'; did you mean train?" in err[0]
    assert main(["no-such-command"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_top_level_help_lists_every_command_without_importing_them(capsys):
    with pytest.raises(SystemExit) as err:
        main(["--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name} " in out, name
    # the help is read from the modules' source: transformers (pulled in by g2rpo.models) stays unimported
    proc = subprocess.run([sys.executable, "-c", "import sys; from g2rpo.cli import main\n"
                           "try: main(['--help'])\nexcept SystemExit: pass\n"
                           "print('transformers' in sys.modules, 'torch' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "False False", proc.stderr


def test_hyphen_flags_also_take_underscores(tmp_path, capsys):
    # `--out_dir`-style spelling is the same flag as `--out-dir` (one convention across commands)
    assert main(["model", "tiny", "--out", str(tmp_path / "m"), "--seed", "0", "--arch", "qwen3_vl"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        main(["data", "synth", "--out", str(tmp_path / "d"), "--n_train", "1", "--n-val", "x"])
    assert err.value.code == 2
    err_text = capsys.readouterr().err
    assert "--n-val: invalid int value: 'x'" in err_text and "--n_train" not in err_text


def test_mistyped_flag_suggests_the_closest(capsys):
    with pytest.raises(SystemExit) as err:
        main(["examples", "--estimatrs", "grpo"])
    assert err.value.code == 2
    err_text = capsys.readouterr().err.strip().splitlines()
    assert len(err_text) == 1 and "did you mean --estimators?" in err_text[0]


def test_demo_command_runs_the_pipeline_with_the_shipped_recipes(monkeypatch):
    from g2rpo.demo import pipeline

    seen = {}
    monkeypatch.setattr(pipeline, "run_demo", lambda config: seen.setdefault("config", config))
    monkeypatch.setattr(pipeline, "REPO_RECIPES", pipeline.REPO_RECIPES / "absent")  # as outside the clone
    assert main(["demo", "--n-train", "12"]) == 0
    config = seen["config"]
    assert config.out == "outputs/demo" and config.n_train == 12
    assert config.sft_config.endswith("demo_sft.yaml") and Path(config.sft_config).is_file()
    assert config.rl_config.endswith("demo_rl.yaml") and Path(config.rl_config).is_file()


def test_console_script_module_runs():
    proc = subprocess.run([sys.executable, "-m", "g2rpo.cli", "examples", "--estimators", "dr_grpo"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "+0.800" in proc.stdout  # Dr.GRPO on 0,0,0,0,1: 1 − 0.2


def test_every_command_module_exists():
    import importlib

    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        takes_argv = getattr(module, "PASSTHROUGH", False)
        assert callable(module.main) and (takes_argv or callable(module.add_arguments)) and module.HELP, name


def test_train_and_sft_help_list_every_key_with_its_doc(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    # ScriptArguments, the recipe's own fields and TRL's inherited ones, each with its help text
    assert "--model_name_or_path str" in out and "Local checkpoint directory or hub id" in out
    assert "--advantage_estimator str  (default 'g2rpo')" in out
    assert "--learning_rate float" in out and "--num_generations" in out
    with pytest.raises(SystemExit):
        main(["sft", "--help"])
    out = capsys.readouterr().out
    # SFTRunConfig documents its fields with a string under each one, not metadata
    assert "--max_steps int  (default 100)" in out and "Optimiser steps." in out


def test_configuration_reference_documents_every_own_key():
    """docs/configuration.md must name every key ScriptArguments and G2RPOConfig declare themselves; when
    this fails, regenerate it: `python -m g2rpo.config_docs docs/configuration.md` (or `make docs`)."""
    import dataclasses

    from g2rpo.config_docs import own_keys
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.run import ScriptArguments
    from g2rpo.train.sft import SFTRunConfig

    text = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = own_keys(ScriptArguments) + own_keys(G2RPOConfig) + [f.name for f in dataclasses.fields(SFTRunConfig)]
    undocumented = [k for k in keys if f"| `{k}` |" not in text]
    assert not undocumented, f"regenerate docs/configuration.md (make docs): missing {undocumented}"


def test_reference_generator_reads_both_doc_styles():
    from dataclasses import dataclass, field

    from g2rpo.config_docs import Section, key_docs, render_markdown

    @dataclass
    class Base:
        inherited: int = field(default=3, metadata={"help": "From the parent | with a bar."})

    @dataclass
    class Child(Base):
        own: str = "x"
        """Documented <under> the field."""

    docs = {k.name: k for k in key_docs(Child)}
    assert docs["inherited"].help == "From the parent | with a bar." and docs["inherited"].owner == "Base"
    assert docs["own"].help == "Documented <under> the field." and docs["own"].default == "'x'"
    md = render_markdown({"g2rpo x": [Section("All", tuple(docs.values()))]})
    assert "| `inherited` | `int` | `3` | From the parent \\| with a bar. |" in md
    assert "| `own` | `str` | `'x'` | Documented &lt;under> the field. |" in md


def test_every_flag_of_every_command_has_help():
    import argparse
    import importlib

    from g2rpo.cli import build_parser

    parser = build_parser({name: importlib.import_module(path) for name, path in COMMANDS.items()})
    undocumented = []

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")
            elif not action.help and action.dest != "help":
                undocumented.append(f"{name} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "g2rpo")
    assert not undocumented
