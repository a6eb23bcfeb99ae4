"""The `g2rpo` command line.

Each sub-command lives in its own module, imported only when it runs, so that `g2rpo lab` never pays for
transformers and `g2rpo train` never for the lab. A command module provides::

    HELP: str                                   # one line for `g2rpo --help`
    def add_arguments(parser) -> None           # its flags (and nested sub-commands, if any)
    def main(args: argparse.Namespace) -> int   # the exit status
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "train": "g2rpo.train.cli",
    "sft": "g2rpo.train.sft_cli",
    "data": "g2rpo.data.cli",
    "model": "g2rpo.models.cli",
    "eval": "g2rpo.evaluation.cli_eval",
    "score": "g2rpo.evaluation.cli_score",
    "lab": "g2rpo.lab.cli",
    "examples": "g2rpo.examples.worked",
}
"""Sub-command name → module path. One line here is all a new command needs."""


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, path in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(path)
        except ModuleNotFoundError as err:
            # Only a command whose own module is absent is skipped; a missing dependency inside it is a bug.
            if err.name is None or not path.startswith(err.name):
                raise
    return modules


def build_parser(modules: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="g2rpo",
        description="OpenVLThinkerV2's multi-task RL recipe for vision-language models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in modules.items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    requested = argv[0] if argv and not argv[0].startswith("-") else None
    if requested in COMMANDS:
        # Import just the command that runs: the others may pull in heavy libraries.
        modules = {requested: importlib.import_module(COMMANDS[requested])}
    else:
        modules = _available_commands()
    args = build_parser(modules).parse_args(argv)
    return int(args._module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
