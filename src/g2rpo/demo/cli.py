"""`g2rpo demo [--out outputs/demo] [flags of python -m g2rpo.demo.pipeline]`: the whole pipeline on CPU.

Synthetic data → tiny Qwen3-VL → cold-start SFT → G2RPO RL → validation → report.html. The flags are the
pipeline's own (`g2rpo demo --help`); the two recipes default to the shipped ones, so it runs outside the clone.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from unittest.mock import patch

from g2rpo.cli import Parser

HELP = "Run the end-to-end demo (synthetic data, tiny model, SFT, G2RPO RL, report.html) on CPU in minutes."

PASSTHROUGH = True
"""The pipeline parses its own flags (`g2rpo.demo.pipeline.parse_args`)."""


class DemoParser(Parser):
    """The pipeline's parser under the name `g2rpo demo`, with the one-line errors of every command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "prog": "g2rpo demo"})


def main(argv: list[str]) -> int:
    from g2rpo.demo import pipeline
    from g2rpo.recipes import recipes_dir

    argv = list(argv)
    given = {token.split("=")[0].replace("_", "-") for token in argv if token.startswith("--")}
    for flag, name in (("--sft-config", "demo_sft.yaml"), ("--rl-config", "demo_rl.yaml")):
        if flag not in given and not (pipeline.REPO_RECIPES / name).is_file():
            argv += [flag, str(recipes_dir() / name)]
    # the pipeline's own module sees DemoParser as argparse.ArgumentParser, only while its flags are parsed
    with patch.object(pipeline, "argparse", SimpleNamespace(**{**vars(argparse), "ArgumentParser": DemoParser})):
        config = pipeline.parse_args(argv)
    pipeline.run_demo(config)
    return 0
