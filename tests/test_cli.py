"""The `g2rpo` dispatcher."""

import subprocess
import sys

import pytest

from g2rpo.cli import COMMANDS, main


def test_examples_command_prints_the_worked_examples(capsys):
    assert main(["examples", "--estimators", "g2rpo,grpo"]) == 0
    out = capsys.readouterr().out
    # Recipe §3: 0,0,0,0,1 → −0.320 ×4, 1.282 under G2RPO; −0.5 ×4, 2.0 under GRPO (population std).
    assert "-0.320" in out and "+1.282" in out and "-0.500" in out and "+2.000" in out


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as err:
        main(["no-such-command"])
    assert err.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_module_runs():
    proc = subprocess.run([sys.executable, "-m", "g2rpo.cli", "examples", "--estimators", "dr_grpo"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "+0.800" in proc.stdout  # Dr.GRPO on 0,0,0,0,1: 1 − 0.2


def test_every_command_module_exists():
    import importlib

    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        assert callable(module.main) and callable(module.add_arguments) and module.HELP, name
