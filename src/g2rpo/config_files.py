"""Reading a command's YAML config and its ``--key value`` overrides, with errors a user can act on.

Every problem is a :class:`g2rpo.errors.ConfigError` naming the file, the line and the key, and saying what to
do: a missing file, a YAML syntax error, a file that is not a mapping, an unknown key (with the closest valid
one), a value of the wrong type. ``g2rpo train`` and ``g2rpo sft`` both go through here, so the two commands
take the same ``--key value`` overrides and report the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from g2rpo.errors import ConfigError, UserError, did_you_mean


@dataclass
class ConfigValues:
    """A YAML mapping and where each of its top-level keys is (1-based line), plus the file it came from."""

    path: Path
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` (just the file when the key came from the command line)."""
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_yaml_mapping(path: str | os.PathLike[str], *, example: str = "recipes/tiny_cpu.yaml") -> ConfigValues:
    """Read ``path`` as one YAML mapping; ConfigError (file, line, fix) for a missing file or bad YAML."""
    path = Path(path)
    if not path.is_file():
        hint = "it is a folder; pass the YAML file inside it" if path.is_dir() else f"see {example} for an example"
        if path.parts and path.parts[0] == "recipes" and not path.is_dir():
            from g2rpo.recipes import list_recipes

            close = did_you_mean(Path(*path.parts[1:]).as_posix(), list_recipes(), prefix="recipes/")
            hint = f"{close.removeprefix('; ')}" if close else hint
        raise ConfigError(f"no config file at {path}: {hint} (`g2rpo recipes list` shows the shipped ones)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the config as UTF-8") from err
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and start is not None and mark is not None and start.line != mark.line:
            problem += f" ({context} started on line {start.line + 1})"
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix that line (keys are `name: value`)") from err
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping of `key: value` lines, not a {type(values).__name__}")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    return ConfigValues(path, {str(k): v for k, v in values.items()}, lines)


def check_keys(config: ConfigValues, valid: Iterable[str], *, command: str) -> None:
    """Every YAML key must be one of ``valid``; else ConfigError with file, line and the closest key."""
    valid = list(valid)
    for key in config.values:
        if key not in valid:
            raise ConfigError(
                f"{config.where(key)}: unknown key {key!r}{did_you_mean(key, valid)} "
                f"(`g2rpo {command} --help` lists every key)"
            )


def parse_overrides(tokens: Sequence[str], valid: Iterable[str], *, command: str) -> dict[str, str | None]:
    """``--key value`` / ``--key=value`` / bare ``--flag`` tokens → ``{key: raw text or None}``, keys checked.

    Hyphens in a key read as underscores (``--learning-rate`` is ``learning_rate``), as TRL's parser allows.
    """
    valid = list(valid)
    out: dict[str, str | None] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"unexpected argument {token!r}: overrides are `--key value` pairs, e.g. --max_steps 10")
        name, sep, value = token[2:].partition("=")
        key = name.replace("-", "_")
        if key not in valid:
            raise ConfigError(
                f"--{name}: unknown key{did_you_mean(key, valid, prefix='--')} (`g2rpo {command} --help` lists every key)"
            )
        if not sep:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is not None and not nxt.startswith("--"):
                value, i = nxt, i + 1
            else:
                value = None
        out[key] = value
        i += 1
    return out


def _base_types(annotation: Any) -> set[str]:
    """The type names in an annotation: ``"int | None"`` → ``{"int", "None"}``; ``list[str]`` → ``{"list", "str"}``."""
    if isinstance(annotation, str):
        text = annotation
    else:
        text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text.replace("typing.", "")))
    return {"None" if n == "NoneType" else n for n in names}


def check_value(key: str, value: Any, annotation: Any, where: str = "") -> Any:
    """``value`` for a field typed ``annotation`` (int, float, bool, str, optional); YAML text is converted.

    Returns the value to use (``"3"`` → 3 for an int key); ConfigError naming ``where`` (``file:line``) and
    ``key`` otherwise. Without ``where`` the value came from the command line (``--key value``).
    """
    kinds = _base_types(annotation)
    if "Literal" in kinds:
        return value  # the config's own validation names the allowed values
    if isinstance(value, str) and value.strip() in {"null", "None", "~"} and "None" in kinds:
        return None
    if value is None:
        if "None" in kinds:
            return None
        place = f"{where}: {key}" if where else f"--{key}"
        raise ConfigError(f"{place} must not be empty (null); give a value or leave the key out")
    if isinstance(value, str) and not kinds & {"str", "Any"}:
        if "bool" in kinds and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.lower() in {"true", "yes", "1"}
        parsed = yaml.safe_load(value) if value.strip() else value
        if not isinstance(parsed, str):
            value = parsed
        else:
            with contextlib.suppress(ValueError):
                value = float(parsed) if "float" in kinds else value
    wanted = [k for k in ("bool", "int", "float", "str", "dict", "list") if k in kinds]
    if not wanted:
        return value
    ok = (
        ("bool" in wanted and isinstance(value, bool))
        or ("int" in wanted and isinstance(value, int) and not isinstance(value, bool))
        or ("float" in wanted and isinstance(value, int | float) and not isinstance(value, bool))
        or ("str" in wanted and isinstance(value, str))
        or ("dict" in wanted and isinstance(value, Mapping))
        or ("list" in wanted and isinstance(value, list))
    )
    if not ok:
        example = {"int": "10", "float": "0.5", "bool": "true", "str": "text", "dict": "{a: 1}", "list": "[1, 2]"}
        place, fix = (f"{where}: {key}", f"{key}: ") if where else (f"--{key}", f"--{key} ")
        raise ConfigError(f"{place} must be {' or '.join(wanted)}, got {value!r}; e.g. {fix}{example[wanted[0]]}")
    return value


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_reference(ref: str, *, where: str, key: str, fix: str = "") -> None:
    """A model given as a folder must exist and hold ``config.json``; a hub id must be reachable when offline.

    ``where`` names the place the value came from (``file:line`` or a flag), ``key`` the key, ``fix`` an extra
    way out. Raises :class:`g2rpo.errors.UserError` in one line; a hub id with the Hub reachable passes.
    """
    fix = f" {fix}" if fix else ""
    label = where if where == f"--{key}" else f"{where}: {key}"
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{label} {ref!r} is a folder without config.json, not a model checkpoint; "
                            f"point it at a saved model{fix}")
        return
    if path.exists():
        raise UserError(f"{label} {ref!r} is a file; point it at the model's folder{fix}")
    if _HUB_ID.match(ref) and not ref.startswith("."):
        if os.environ.get("HF_HUB_OFFLINE", "").lower() not in {"1", "true", "yes", "on"}:
            return
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(ref, "config.json"), str):
            return
        raise UserError(f"{label} {ref!r} is neither a local folder nor in the Hugging Face cache, and "
                        f"HF_HUB_OFFLINE is set; fix the path, or download it first{fix}")
    raise UserError(f"{label}: no model folder at {ref!r}; fix the path{fix}")
