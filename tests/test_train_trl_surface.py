"""Every private TRL (and transformers ``Trainer``) name that ``g2rpo.train`` uses is listed in
:data:`g2rpo.train.trl_surface.TRL_PRIVATE_SURFACE`, and still exists in the installed TRL.

The code is read, not trusted: the test walks ``src/g2rpo/train/*.py`` and collects (a) methods of any class
derived from ``GRPOTrainer`` (``TRLAdapter``, ``G2RPOTrainer`` …) that override a private method of it, (b) private attributes read or written on
any object that ``GRPOTrainer`` or ``transformers.Trainer`` define (``self._metrics``, ``trainer._logs`` …) and
(c) names imported from TRL's internal modules (``trl.trainer.*``). A new use that is not in the list fails,
naming it and its file, and so does a listed name that the code no longer uses or that TRL no longer has, or
a name used outside ``trl_adapter.py`` (and the few files ``OUTSIDE_THE_ADAPTER`` allows it in).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import transformers.trainer as hf_trainer
import trl.trainer.grpo_trainer as grpo_module
from trl import GRPOTrainer

from g2rpo.train.trl_surface import ADAPTER_FILE, OUTSIDE_THE_ADAPTER, TRL_PRIVATE_SURFACE

TRAIN = Path(__file__).resolve().parents[1] / "src" / "g2rpo" / "train"
LIBRARY_SOURCE = inspect.getsource(grpo_module) + inspect.getsource(hf_trainer)
UNDOCUMENTED = {"current_gradient_accumulation_steps"}
"""Library attributes without a leading underscore that are internal all the same (no documentation promises
them); the walker looks for these by name."""


def _defined_by_the_library(name: str) -> bool:
    return hasattr(GRPOTrainer, name) or re.search(rf"self\.{re.escape(name)}\b", LIBRARY_SOURCE) is not None


def _found() -> dict[str, set[str]]:
    """Private library name → the files of ``g2rpo.train`` that use it."""
    trees = {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(TRAIN.glob("*.py"))}
    derived = {"GRPOTrainer"}  # class names that are GRPOTrainer or derive from it, to a fixed point
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(isinstance(b, ast.Name) and b.id in derived for b in c.bases)}
        if more <= derived:
            break
        derived |= more
    found: dict[str, set[str]] = {}
    for filename, tree in trees.items():
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id in derived for b in node.bases
            ):
                names += [
                    f.name for f in node.body
                    if isinstance(f, ast.FunctionDef) and f.name.startswith("_") and not f.name.startswith("__")
                    and hasattr(GRPOTrainer, f.name)
                ]
            elif isinstance(node, ast.Attribute) and (
                (node.attr.startswith("_") and not node.attr.startswith("__")) or node.attr in UNDOCUMENTED
            ):
                if _defined_by_the_library(node.attr):
                    names.append(node.attr)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trl.trainer"):
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                found.setdefault(name, set()).add(filename)
    return found


def test_every_private_name_in_use_is_listed():
    found = _found()
    unlisted = {name: sorted(files) for name, files in found.items() if name not in TRL_PRIVATE_SURFACE}
    unused = sorted(set(TRL_PRIVATE_SURFACE) - set(found))
    assert not unlisted, f"private TRL names used but not listed in g2rpo.train.trl_surface: {unlisted}"
    assert not unused, f"listed in g2rpo.train.trl_surface but no longer used: {unused}"


def test_every_listed_name_still_exists_in_trl():
    import importlib

    missing = []
    for name in TRL_PRIVATE_SURFACE:
        if name.startswith("trl."):
            module, _, attr = name.rpartition(".")
            if not hasattr(importlib.import_module(module), attr):
                missing.append(name)
        elif not _defined_by_the_library(name):
            missing.append(name)
    assert not missing, f"the installed TRL no longer has: {missing} (g2rpo.train.trl_surface says why each is used)"


def test_private_names_are_used_only_in_the_adapter():
    allowed = {name: {ADAPTER_FILE, *OUTSIDE_THE_ADAPTER.get(name, ())} for name in TRL_PRIVATE_SURFACE}
    stray = {name: sorted(files - allowed[name]) for name, files in _found().items()
             if name in allowed and files - allowed[name]}
    assert not stray, (f"private TRL names used outside {ADAPTER_FILE}: {stray}; go through a TRLAdapter hook or "
                       "service, or say in g2rpo.train.trl_surface.OUTSIDE_THE_ADAPTER why not")
    assert set(OUTSIDE_THE_ADAPTER) <= set(TRL_PRIVATE_SURFACE), "OUTSIDE_THE_ADAPTER names an unlisted name"


def test_the_walk_sees_a_known_use():
    # Guards the walker itself: the adapter's override of TRL's loss must be found.
    assert ADAPTER_FILE in _found()["_compute_loss"]
