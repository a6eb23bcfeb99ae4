"""`pip install .` as a user does it: build the wheel, install it with `--no-deps` into a fresh virtual
environment that already has the pinned stack, and use it from outside the clone.

The fresh environment sees the test environment's packages (torch, transformers, trl, …) through a `.pth` line
naming that site-packages folder; `.pth` files inside a folder added that way are not run, so the clone's
editable `g2rpo` stays invisible and the installed wheel is the only `g2rpo` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_clone(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # build from a copy, so the clone gets no build/ or egg-info
    src = tmp_path / "src-copy"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("src", "recipes"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(dist), str(src)], tmp_path, env)
    [wheel] = dist.glob("g2rpo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for recipe in ("tiny_cpu.yaml", "paper_results.json", "accelerate/fsdp2.yaml", "demo_sft.yaml"):
        assert f"g2rpo/_recipes/{recipe}" in names, recipe
    assert any(n.startswith("g2rpo/_recipes/paper/") and n.endswith(".yaml") for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], tmp_path, env)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path, env).stdout.strip())
    (site / "pinned_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    g2rpo = str(venv / "bin" / "g2rpo")
    assert "train" in _run([g2rpo, "--help"], work, env).stdout
    listed = _run([g2rpo, "recipes", "list"], work, env).stdout.split()
    assert {"tiny_cpu.yaml", "paper_results.json", "accelerate/fsdp2.yaml"} <= set(listed)
    _run([g2rpo, "recipes", "copy", "tiny_cpu", "."], work, env)
    assert (work / "tiny_cpu.yaml").read_text() == (ROOT / "recipes" / "tiny_cpu.yaml").read_text()
    # one library call, and the baseline path the docs use, from outside the clone
    code = (
        "import g2rpo, torch\n"
        "from g2rpo.algo import make_estimator\n"
        "from g2rpo.evaluation.report import load_baselines\n"
        "from g2rpo.recipes import resolve\n"
        "print(g2rpo.__file__)\n"
        "r = torch.tensor([0., 0., 0., 0., 1.], dtype=torch.float64)\n"
        "ids = torch.zeros(5, dtype=torch.int64)\n"
        "print(round(make_estimator('grpo')(r, ids, ids)[-1].item(), 3))\n"
        "print(len(load_baselines(str(resolve('recipes/paper_results.json')))) > 0)\n"
    )
    out = _run([str(python), "-c", code], work, env).stdout.split()
    assert Path(out[0]).is_relative_to(venv), out[0]  # the installed wheel, not the clone
    assert out[1] == "2.0"  # GRPO on 0,0,0,0,1: (1 − 0.2) / 0.4 (population std)
    assert out[2] == "True"
