"""`g2rpo train --config FILE.yaml [--key value …]`: RL-train a vision-language model with the G2RPO recipe.

The YAML is one flat mapping, TRL style: any key of :class:`g2rpo.train.run.ScriptArguments` (model and data)
or :class:`g2rpo.train.config.G2RPOConfig` (every `GRPOConfig`/`TrainingArguments` key plus the recipe's).
Command-line ``--key value`` pairs after the file override it (TRL's ``TrlParser`` semantics).
"""

from __future__ import annotations

import argparse

HELP = "RL-train a VLM with the G2RPO recipe (TRL GRPOTrainer): g2rpo train --config FILE.yaml [--key value …]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE.yaml",
        help="TRL-style YAML of ScriptArguments + G2RPOConfig keys (see recipes/ and the README's key table)",
    )
    parser.epilog = (
        "Any further --key value pair overrides the YAML, e.g. `g2rpo train --config recipes/tiny_cpu.yaml "
        "--max_steps 4 --learning_rate 1e-5`."
    )
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        # The overrides are G2RPOConfig keys, known only to TrlParser (imported in `main`, not at `--help` time).
        known, rest = parse_known(args, namespace)
        known.overrides = list(rest)
        return known, []

    parser.parse_known_args = parse_known_args


def main(args: argparse.Namespace) -> int:
    from g2rpo.train.run import parse_config, run

    script_args, config = parse_config(args.config, getattr(args, "overrides", []))
    run(script_args, config)
    return 0
