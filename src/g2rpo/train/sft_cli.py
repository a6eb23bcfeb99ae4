"""`g2rpo sft --config FILE.yaml [--set key=value ...]`: cold-start SFT (see `g2rpo.train.sft`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

HELP = "Cold-start SFT with TRL's SFTTrainer on <thinking>…</thinking><answer>…</answer> targets."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML file mirroring g2rpo.train.sft.SFTRunConfig")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (YAML value syntax), e.g. --set max_steps=10; repeatable",
    )


def main(args: argparse.Namespace) -> int:
    from g2rpo.train.sft import SFTRunConfig, run_sft

    path = Path(args.config)
    if not path.is_file():
        print(f"g2rpo sft: no config file at {path}")
        return 2
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        print(f"g2rpo sft: {path} must hold a YAML mapping of SFTRunConfig keys")
        return 2
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"g2rpo sft: --set expects KEY=VALUE, got {item!r}")
            return 2
        values[key.strip()] = yaml.safe_load(value)
    try:
        config = SFTRunConfig.from_dict(values, source=args.config)
    except (ValueError, TypeError) as err:
        print(f"g2rpo sft: {err}")
        return 2
    out = run_sft(config)
    print(f"saved the fine-tuned model to {out}")
    return 0
