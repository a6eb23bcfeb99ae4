"""`g2rpo sft --config FILE.yaml [--key value …]`: cold-start SFT (see `g2rpo.train.sft`).

Same convention as `g2rpo train`: the YAML holds `SFTRunConfig` keys and ``--key value`` pairs after it
override them. ``--set key=value`` is still read, as a deprecated spelling of ``--key value``.
"""

from __future__ import annotations

import argparse
import sys

HELP = "Cold-start SFT with TRL's SFTTrainer on <thinking>…</thinking><answer>…</answer> targets."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE.yaml", help="YAML of the SFTRunConfig keys below")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=argparse.SUPPRESS)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "Any key below is a YAML key and a `--key value` override, e.g. --max_steps 10."
    format_help = parser.format_help

    def format_help_with_keys() -> str:
        from g2rpo.config_docs import format_help as format_keys
        from g2rpo.config_docs import sft_sections

        return format_help() + format_keys(sft_sections()) + "\n"

    parser.format_help = format_help_with_keys
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        known, rest = parse_known(args, namespace)
        known.overrides = list(rest)
        return known, []

    parser.parse_known_args = parse_known_args


def load_config(config_path: str, overrides: list[str], deprecated_set: list[str] = ()):
    """YAML + overrides → a checked :class:`g2rpo.train.sft.SFTRunConfig` (ConfigError naming file, line, key)."""
    import dataclasses

    from g2rpo.config_files import check_keys, check_value, load_yaml_mapping, parse_overrides
    from g2rpo.errors import ConfigError
    from g2rpo.recipes import resolve
    from g2rpo.train.sft import SFTRunConfig

    config = load_yaml_mapping(resolve(config_path), example="recipes/demo_sft.yaml")
    fields = {f.name: f for f in dataclasses.fields(SFTRunConfig)}
    check_keys(config, fields, command="sft")
    values = {key: check_value(key, value, fields[key].type, config.where(key)) for key, value in config.values.items()}
    tokens = list(overrides)
    for item in deprecated_set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item}: expected KEY=VALUE; better, write --{item.strip()} VALUE")
        tokens += [f"--{key.strip()}", value]
    if deprecated_set:
        print("g2rpo sft: --set KEY=VALUE is deprecated; write --KEY VALUE", file=sys.stderr)
    for key, value in parse_overrides(tokens, fields, command="sft").items():
        values[key] = check_value(key, value, fields[key].type)
    missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING and n not in values]
    if missing:
        raise ConfigError(f"{config.path}: missing required key(s) {', '.join(missing)}; add `{missing[0]}: …`")
    try:
        return SFTRunConfig.from_dict(values, source=str(config.path))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{config.path}: {' '.join(str(err).split())}") from err


def main(args: argparse.Namespace) -> int:
    from g2rpo.config_files import check_model_reference
    from g2rpo.train.sft import run_sft

    overrides = list(getattr(args, "overrides", []))
    config = load_config(args.config, overrides, args.set)
    given_on_command_line = any(t.split("=")[0] in {"--model"} for t in overrides) or any(
        s.partition("=")[0].strip() == "model" for s in args.set)
    if given_on_command_line:
        check_model_reference(config.model, where="--model", key="model")
    else:
        from g2rpo.config_files import load_yaml_mapping
        from g2rpo.recipes import resolve

        check_model_reference(config.model, where=load_yaml_mapping(resolve(args.config)).where("model"), key="model")
    out = run_sft(config)
    print(f"saved the fine-tuned model to {out}")
    return 0
