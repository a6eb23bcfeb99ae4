"""`g2rpo train --config FILE.yaml [--key value …]`: RL-train a vision-language model with the G2RPO recipe.

The YAML is one flat mapping, TRL style: any key of :class:`g2rpo.train.run.ScriptArguments` (model and data)
or :class:`g2rpo.train.config.G2RPOConfig` (every `GRPOConfig`/`TrainingArguments` key plus the recipe's).
Command-line ``--key value`` pairs after the file override it (TRL's ``TrlParser`` semantics). Keys, types
and the model path are checked here first, so a mistake is one line naming the file, line and key.
"""

from __future__ import annotations

import argparse

HELP = "RL-train a VLM with the G2RPO recipe (TRL GRPOTrainer): g2rpo train --config FILE.yaml [--key value …]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE.yaml",
        help="TRL-style YAML of the keys below (examples: `g2rpo recipes list`; recipes/NAME works outside the "
        "clone too)",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Any key below is a YAML key and a `--key value` override, e.g.\n"
        "  g2rpo train --config recipes/tiny_cpu.yaml --max_steps 4 --learning_rate 1e-5"
    )
    format_help = parser.format_help

    def format_help_with_keys() -> str:
        # The key list needs TRL (seconds to import): built only when --help is asked for.
        from g2rpo.config_docs import format_help as format_keys
        from g2rpo.config_docs import train_sections

        return format_help() + format_keys(train_sections()) + "\n"

    parser.format_help = format_help_with_keys
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        # The overrides are G2RPOConfig keys, known only to TrlParser (imported in `main`, not at `--help` time).
        known, rest = parse_known(args, namespace)
        known.overrides = list(rest)
        return known, []

    parser.parse_known_args = parse_known_args


def check_config(config_path: str, overrides: list[str]):
    """Read and check the YAML and the overrides; returns the resolved config path (see `g2rpo.recipes.resolve`).

    Raises :class:`g2rpo.errors.ConfigError` for a missing file, bad YAML, an unknown key or a mistyped value.
    """
    import dataclasses

    from g2rpo.config_files import check_keys, check_value, load_yaml_mapping, parse_overrides
    from g2rpo.recipes import resolve

    path = resolve(config_path)
    config = load_yaml_mapping(path)
    from g2rpo.train.config import G2RPOConfig  # TRL: imported once the file is known to be there
    from g2rpo.train.run import ScriptArguments

    fields = {f.name: f for cls in (ScriptArguments, G2RPOConfig) for f in dataclasses.fields(cls) if f.init}
    check_keys(config, [*fields, "env"], command="train")
    for key, value in config.values.items():
        if key != "env":
            check_value(key, value, fields[key].type, config.where(key))
    for key, value in parse_overrides(overrides, fields, command="train").items():
        if value is not None:
            check_value(key, value, fields[key].type)
    return path, config


def main(args: argparse.Namespace) -> int:
    from g2rpo.config_files import check_model_reference
    from g2rpo.errors import ConfigError, UserError, did_you_mean

    overrides = list(getattr(args, "overrides", []))
    path, config = check_config(args.config, overrides)
    from g2rpo.train.run import parse_config, run

    try:
        script_args, train_config = parse_config(str(path), overrides)
    except UserError as err:
        raise ConfigError(f"{err}{_closest_choice(str(err), did_you_mean)}") from err
    except ValueError as err:  # raised by TRL / transformers while building the arguments
        raise ConfigError(f"{path}: {' '.join(str(err).split())}") from err
    if not script_args.build_tiny_model:
        check_model_reference(script_args.model_name_or_path, where=config.where("model_name_or_path"),
                              key="model_name_or_path", fix="or set build_tiny_model: true to build a tiny one there")
    run(script_args, train_config)  # Ctrl-C: run() prints the resume command and exits 130
    return 0


def _closest_choice(message: str, did_you_mean) -> str:
    """For ``key='value' is not valid; choose one of: a, b`` the closest valid value (``""`` if none)."""
    import re

    match = re.search(r"=\'?([^'\s]*)'? is not valid; choose one of: (.*)$", message)
    return did_you_mean(match.group(1), [v.strip() for v in match.group(2).split(",")]) if match else ""
