"""The README and docs/ run as written.

Every fenced ``python`` block is executed in a fresh interpreter, and every ``bash`` block is run by bash, both
from a scratch directory with the repository's ``recipes/`` beside it; a block that needs a GPU, a real model
or real data carries ``<!-- skip: why -->`` on the line before it. Every relative link resolves inside the
repository, anchors included.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
DOCS = [p for p in DOCS if p.exists()]
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(\S.*?)\s*-->\s*$")
RUNNABLE = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
BLOCK_TIMEOUT_S = 180


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        start, lang = i, opened.group(1).lower()
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path}:{start + 1}: code block never closed")
        i += 1
        before = lines[start - 1] if start else ""
        marked = SKIP.match(before)
        blocks.append(Block(path, start + 1, lang, "\n".join(body) + "\n", marked.group(1) if marked else None))
    return blocks


ALL_BLOCKS = [block for path in DOCS for block in _blocks(path)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.lang in RUNNABLE]


def test_docs_have_runnable_blocks():
    assert any(b.skip is None for b in RUN_BLOCKS), "no runnable example found in README.md or docs/"


def test_skip_markers_say_why_and_sit_on_code():
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if line.lstrip().startswith("<!-- skip"):
                assert SKIP.match(line), f"{path.name}:{n + 1}: write `<!-- skip: why -->`"
                nxt = lines[n + 1] if n + 1 < len(lines) else ""
                assert FENCE.match(nxt), f"{path.name}:{n + 1}: a skip marker must be right above a code block"


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "recipes", work / "recipes")
    return work


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "src"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.id for b in RUN_BLOCKS])
def test_code_block_runs(block: Block, tmp_path: Path):
    if block.skip is not None:
        pytest.skip(block.skip)
    work = _scratch(tmp_path)
    if RUNNABLE[block.lang] == "python":
        cmd = [sys.executable, "-c", block.code]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", block.code]
    done = subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert done.returncode == 0, f"{block.id} exited {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    out, in_code = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            out.add(_slug(line.lstrip("#")))
    return out


def _links():
    for path in DOCS:
        in_code = False
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue
            for target in LINK.findall(line):
                if not re.match(r"^[a-z]+://|^mailto:", target):
                    yield path, n, target


def test_every_relative_link_resolves_inside_the_repository():
    broken = []
    for path, n, target in _links():
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in dest.parents and dest != ROOT:
            broken.append(f"{path.name}:{n}: {target} leaves the repository")
        elif not dest.exists():
            broken.append(f"{path.name}:{n}: {target} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{path.name}:{n}: {target}: no heading with that anchor")
    assert not broken, "\n".join(broken)
