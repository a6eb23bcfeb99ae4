"""Every config key with its documentation, read from the config dataclasses themselves.

A field's doc is its ``metadata["help"]`` (TRL's and ``G2RPOConfig``'s convention) or, failing that, the string
literal right under it (``SFTRunConfig``'s). The same reading feeds ``g2rpo train --help`` / ``g2rpo sft --help``
and the generated ``docs/configuration.md``::

    python -m g2rpo.config_docs docs/configuration.md     (or: make docs)

Imports nothing heavy itself: the callers pass the classes (``train_sections`` imports TRL when called).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyDoc:
    """One config key: its name, type and default as text, its doc, and the class that declares it."""

    name: str
    type: str
    default: str
    help: str
    owner: str


@dataclass(frozen=True)
class Section:
    """A titled group of keys (e.g. the recipe's own G2RPOConfig fields)."""

    title: str
    keys: tuple[KeyDoc, ...]


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``name → docstring`` of the string literals written right under annotated fields of ``cls`` itself."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _type_text(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enum members read as their value
        value = value.value
    return repr(value)


REWORDED = {"when training an agent": "when the policy is trained to call tools"}
"""Upstream help phrases shown in other words (the meaning is TRL's)."""


def _reworded(text: str) -> str:
    for phrase, replacement in REWORDED.items():
        text = text.replace(phrase, replacement)
    return text


def key_docs(cls: type) -> list[KeyDoc]:
    """Every init field of the dataclass ``cls`` (inherited ones included), in declaration order."""
    docstrings: dict[str, str] = {}
    owners: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        own = inspect.get_annotations(klass)
        if own:
            docstrings.update(_attribute_docstrings(klass))
            owners.update(dict.fromkeys(own, klass.__name__))
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        text = f.metadata.get("help") or docstrings.get(f.name, "")
        out.append(KeyDoc(f.name, _type_text(f.type), _default_text(f), _reworded(" ".join(str(text).split())),
                          owners.get(f.name, cls.__name__)))
    return out


def own_keys(cls: type) -> list[str]:
    """The fields ``cls`` declares itself (not those it only inherits)."""
    return list(inspect.get_annotations(cls))


def train_sections() -> list[Section]:
    """`g2rpo train`'s keys: ScriptArguments, then G2RPOConfig's own fields, then those it inherits from TRL."""
    from g2rpo.train.config import G2RPOConfig
    from g2rpo.train.run import ScriptArguments

    recipe = set(own_keys(G2RPOConfig))
    config_keys = key_docs(G2RPOConfig)
    return [
        Section("Model and data (ScriptArguments)", tuple(key_docs(ScriptArguments))),
        Section("The recipe (G2RPOConfig's own fields and re-defaulted TRL keys)",
                tuple(k for k in config_keys if k.name in recipe)),
        Section("TRL GRPOConfig / transformers TrainingArguments (inherited)",
                tuple(k for k in config_keys if k.name not in recipe)),
    ]


def sft_sections() -> list[Section]:
    """`g2rpo sft`'s keys (SFTRunConfig)."""
    from g2rpo.train.sft import SFTRunConfig

    return [Section("Cold-start SFT (SFTRunConfig)", tuple(key_docs(SFTRunConfig)))]


def format_help(sections: Sequence[Section], *, width: int = 100) -> str:
    """Plain-text key listing for an argparse epilog: ``--key TYPE (default …)`` then the wrapped doc."""
    lines = []
    for section in sections:
        lines += ["", f"{section.title}:"]
        for key in section.keys:
            lines.append(f"  --{key.name} {key.type}  (default {key.default})")
            if key.help:
                lines += textwrap.wrap(key.help, width=width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _code(text: str) -> str:
    """Text inside a table cell's backticks: only the column bar needs escaping there."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def render_markdown(sections_by_command: dict[str, list[Section]]) -> str:
    """The configuration reference as Markdown: one table per section."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m g2rpo.config_docs docs/configuration.md` (or `make docs`) from the config",
        "dataclasses; do not edit by hand. A test fails when a key is missing here. -->",
        "",
        "Every key below is a YAML key of the command's `--config` file and a `--key value` override on its",
        "command line (see [cli.md](cli.md)); `g2rpo train --help` and `g2rpo sft --help` print the same list.",
    ]
    for command, sections in sections_by_command.items():
        out += ["", f"## `{command}`"]
        for section in sections:
            out += ["", f"### {section.title}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
            out += [f"| `{k.name}` | `{_code(k.type)}` | `{_code(k.default)}` | {_cell(k.help)} |" for k in section.keys]
    return "\n".join(out) + "\n"


def render_reference() -> str:
    """docs/configuration.md as it should read for the installed code."""
    return render_markdown({"g2rpo train": train_sections(), "g2rpo sft": sft_sections()})


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) != 1:
        print("usage: python -m g2rpo.config_docs OUT.md", file=sys.stderr)
        return 2
    from g2rpo.io import write_text_atomic

    write_text_atomic(argv[0], render_reference())
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
