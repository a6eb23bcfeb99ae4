"""The shipped recipes (`recipes/` of the source tree), found the same way in a clone and after `pip install`.

In the source tree `src/g2rpo/_recipes` is a link to `recipes/`; building the wheel copies the files behind it
into the package, so an installed `g2rpo` carries them as package data. One folder, two ways to reach it:

* :func:`recipes_dir` is that folder; :func:`list_recipes` names its files (``paper/g2rpo.yaml``, …);
* :func:`resolve` turns a path the docs write as ``recipes/NAME`` into the shipped file when no such file exists
  relative to the working directory, so ``--config recipes/tiny_cpu.yaml`` and
  ``--baseline recipes/paper_results.json`` work outside the clone too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from g2rpo.errors import UserError, did_you_mean
from g2rpo.io import write_bytes_atomic

RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


def recipes_dir() -> Path:
    """The folder holding the shipped recipes (package data, or the clone's `recipes/` through the link)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_recipes", here.parents[1] / "recipes"):
        if candidate.is_dir():
            return candidate
    raise UserError(f"the shipped recipes are missing from {here / '_recipes'}; reinstall g2rpo (pip install .)")


def list_recipes() -> list[str]:
    """Every shipped recipe as a path relative to :func:`recipes_dir`, sorted (``paper/grpo.yaml``, …)."""
    root = recipes_dir()
    names = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in RECIPE_SUFFIXES and not p.name.startswith(".")
    ]
    return sorted(names)


def recipe_path(name: str) -> Path:
    """``NAME`` (``tiny_cpu.yaml``, ``paper/g2rpo``, ``recipes/paper_results.json``) → the shipped file."""
    key = name.removeprefix("recipes/").strip("/")
    names = list_recipes()
    for candidate in (key, f"{key}.yaml", f"{key}.json"):
        if candidate in names:
            return recipes_dir() / candidate
    raise UserError(f"no shipped recipe named {name!r}{did_you_mean(key, names)} (`g2rpo recipes list` shows them all)")


def resolve(path: str | os.PathLike[str]) -> Path:
    """``path`` as given when it exists; else, for ``recipes/…``, the shipped copy; else ``path`` unchanged."""
    given = Path(path)
    if given.exists() or given.is_absolute() or not given.parts or given.parts[0] != "recipes":
        return given
    shipped = recipes_dir() / Path(*given.parts[1:])
    return shipped if shipped.is_file() else given


def copy_recipe(name: str, dest: str | os.PathLike[str]) -> Path:
    """Copy one shipped recipe (or ``all``: every one, keeping sub-folders) to ``dest``; returns what was written.

    ``dest`` may be a folder (the file keeps its name) or a file path. An existing file is never overwritten.
    """
    dest = Path(dest)
    if name == "all":
        dest.mkdir(parents=True, exist_ok=True)
        for rel in list_recipes():
            _copy_new(recipes_dir() / rel, dest / rel)
        return dest
    source = recipe_path(name)
    target = dest / source.name if dest.is_dir() or str(dest).endswith(os.sep) else dest
    _copy_new(source, target)
    return target


def _copy_new(source: Path, target: Path) -> None:
    if target.exists():
        raise UserError(f"{target} already exists; remove it or copy to another place")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, source.read_bytes())


# ---- the `g2rpo recipes` command

HELP = "List the shipped recipes or copy one out to edit: `g2rpo recipes list`, `g2rpo recipes copy NAME DEST`."


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="recipes_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="print every shipped recipe (paths relative to the recipes folder) and the folder")
    copy = sub.add_parser("copy", help="copy one recipe (or `all`) to a file or folder; never overwrites")
    copy.add_argument("name", metavar="NAME", help="a name from `g2rpo recipes list` (the .yaml may be left off)")
    copy.add_argument("dest", metavar="DEST", help="target file or folder")


def main(args) -> int:
    if args.recipes_command == "list":
        for name in list_recipes():
            print(name)
        print(f"(in {recipes_dir()})", file=sys.stderr)
        return 0
    written = copy_recipe(args.name, args.dest)
    print(f"copied {args.name} to {written}")
    return 0
