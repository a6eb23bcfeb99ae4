"""`g2rpo demo [--out outputs/demo] [flags of python -m g2rpo.demo.pipeline]`: the whole pipeline on CPU.

Synthetic data → tiny Qwen3-VL → cold-start SFT → G2RPO RL → validation → report.html. The flags are the
pipeline's own (`g2rpo demo --help`); the two recipes default to the shipped ones, so it runs outside the clone.
"""

from __future__ import annotations

HELP = "Run the end-to-end demo (synthetic data, tiny model, SFT, G2RPO RL, report.html) on CPU in minutes."

PASSTHROUGH = True
"""The pipeline parses its own flags (`g2rpo.demo.pipeline.parse_args`)."""


def main(argv: list[str]) -> int:
    from g2rpo.demo import pipeline
    from g2rpo.recipes import recipes_dir

    argv = list(argv)
    given = {token.split("=")[0].replace("_", "-") for token in argv if token.startswith("--")}
    for flag, name in (("--sft-config", "demo_sft.yaml"), ("--rl-config", "demo_rl.yaml")):
        if flag not in given and not (pipeline.REPO_RECIPES / name).is_file():
            argv += [flag, str(recipes_dir() / name)]
    return int(pipeline.main(argv) or 0)
