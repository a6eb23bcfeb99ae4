"""The `g2rpo` command line.

Each sub-command lives in its own module, imported only when it runs, so that `g2rpo lab` never pays for
transformers and `g2rpo train` never for the lab. A command module provides::

    HELP: str                                   # one line for `g2rpo --help`
    def add_arguments(parser) -> None           # its flags (and nested sub-commands, if any)
    def main(args: argparse.Namespace) -> int   # the exit status

or, for a command that owns its whole argument list (``g2rpo demo``), ``PASSTHROUGH = True`` and
``def main(argv: list[str]) -> int``.

One convention across commands: flags are ``--key value``, with hyphens or underscores alike
(``--data-root`` = ``--data_root``); a mistaken name gets the closest valid one. Errors are caught here once:
a :class:`g2rpo.errors.UserError` (and the few library errors mapped below) prints as one or two lines on
stderr and exits 2; ``g2rpo --debug …`` or ``G2RPO_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import importlib
import os
import re
import sys

from g2rpo.errors import UserError, did_you_mean

COMMANDS: dict[str, str] = {
    "train": "g2rpo.train.cli",
    "sft": "g2rpo.train.sft_cli",
    "data": "g2rpo.data.cli",
    "model": "g2rpo.models.cli",
    "eval": "g2rpo.evaluation.cli_eval",
    "score": "g2rpo.evaluation.cli_score",
    "lab": "g2rpo.lab.cli",
    "examples": "g2rpo.examples.worked",
    "recipes": "g2rpo.recipes",
    "demo": "g2rpo.demo.cli",
}
"""Sub-command name → module path. One line here is all a new command needs."""

INTERRUPT_HINTS = {
    "eval": "the predictions made so far are cached; run the same command again to resume",
}
"""What to say after Ctrl-C (`g2rpo train` prints its own resume command)."""

USAGE_ERROR = 2
"""Exit status of every user error (bad flag, bad config, missing file), as argparse uses."""


class Parser(argparse.ArgumentParser):
    """argparse with a closest-name suggestion for a mistyped sub-command, choice or flag."""

    def error(self, message: str):
        choice = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            valid = re.findall(r"'?([^',\s]+)'?", choice.group(3))
            message = f"{message}{did_you_mean(choice.group(2), valid)}"
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
            flag = unknown.group(1).split("=")[0]
            flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            message = f"{message}{did_you_mean(flag.replace('_', '-'), flags)}"
        # One line instead of argparse's usage block: the problem, then where the full usage is.
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (`{self.prog} --help` shows the usage)\n")


def _underscore_aliases(parser: argparse.ArgumentParser) -> None:
    """Accept ``--data_root`` wherever ``--data-root`` is defined (hidden from --help), sub-parsers included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _underscore_aliases(sub)
        for option in action.option_strings:
            alias = option.replace("-", "_").replace("__", "--", 1)
            if option.startswith("--") and alias != option:
                parser._option_string_actions.setdefault(alias, action)


def _command_help(path: str) -> str:
    """The ``HELP`` string of a command module, read from its source without importing it (fast --help)."""
    import ast
    from pathlib import Path

    # find_spec would import the parent packages (g2rpo.models imports transformers): build the path instead.
    source = Path(__file__).resolve().parent.joinpath(*path.split(".")[1:]).with_suffix(".py")
    if not source.is_file():
        raise UserError(f"the module {path} of a g2rpo command is missing at {source}; reinstall g2rpo")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "HELP" for t in node.targets):
            return str(ast.literal_eval(node.value))
    return ""


def _command_stubs() -> dict[str, object]:
    """Every command as a stand-in that carries only its HELP: enough for `g2rpo --help`, no heavy imports."""
    from types import SimpleNamespace

    return {
        name: SimpleNamespace(HELP=_command_help(path), add_arguments=lambda parser: None, main=None)
        for name, path in COMMANDS.items()
    }


def build_parser(modules: dict[str, object]) -> argparse.ArgumentParser:
    parser = Parser(
        prog="g2rpo",
        description="OpenVLThinkerV2's multi-task RL recipe for vision-language models.",
        epilog="`g2rpo COMMAND --help` lists a command's keys. Errors exit with status 2; "
        "`g2rpo --debug COMMAND …` (or G2RPO_DEBUG=1) shows the traceback.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in modules.items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        if getattr(module, "PASSTHROUGH", False):
            cmd.add_argument("argv", nargs=argparse.REMAINDER, help="the command's own arguments")
        else:
            module.add_arguments(cmd)
            _underscore_aliases(cmd)
        cmd.set_defaults(_module=module, _parser=cmd)
    return parser


def _library_message(err: BaseException) -> str | None:
    """A one-line message for the library errors that are user errors (checked by class name: no imports)."""
    names = {klass.__name__ for klass in type(err).__mro__}
    if names & {"HFValidationError", "RepositoryNotFoundError", "GatedRepoError", "LocalEntryNotFoundError"}:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return (f"a model or data set name is neither a local folder nor reachable on the Hugging Face Hub "
                f"({first}); fix the path, or check the name and your network")
    if "YAMLError" in names:
        return f"YAML syntax error: {' '.join(str(err).split())}"
    return None


def _report(command: str | None, message: str) -> None:
    print(f"g2rpo{' ' + command if command else ''}: error: {message}", file=sys.stderr)


_debug = contextvars.ContextVar("g2rpo_debug", default=False)


def _debugging() -> bool:
    return _debug.get() or os.environ.get("G2RPO_DEBUG", "").lower() not in {"", "0", "false", "no"}


def reports_errors(command: str):
    """Decorator for a command's ``main``: the same one-or-two-line report and exit status when it is called
    directly (as a library function) rather than through :func:`main`."""

    def wrap(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except UserError as err:
                if _debugging():
                    raise
                _report(command, str(err))
                return err.exit_code

        return guarded

    return wrap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debugging()
    while argv and argv[0] == "--debug":
        debug = True
        argv.pop(0)
    token = _debug.set(debug)
    try:
        return _main(argv, debug)
    finally:
        _debug.reset(token)


def _main(argv: list[str], debug: bool) -> int:
    requested = argv[0] if argv and not argv[0].startswith("-") else None
    if requested is not None and requested not in COMMANDS:
        _report(None, f"unknown command {requested!r}{did_you_mean(requested, COMMANDS)} "
                      f"(commands: {', '.join(COMMANDS)})")
        return USAGE_ERROR
    try:
        if requested is not None and getattr(module := importlib.import_module(COMMANDS[requested]),
                                              "PASSTHROUGH", False):
            return int(module.main(argv[1:]) or 0)
        # Import just the command that runs: the others may pull in heavy libraries.
        modules = {requested: importlib.import_module(COMMANDS[requested])} if requested else _command_stubs()
        args, rest = build_parser(modules).parse_known_args(argv)
        if rest:  # reported by the command's own parser, so the suggestion comes from its flags
            args._parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return int(args._module.main(args) or 0)
    except UserError as err:
        if debug:
            raise
        _report(requested, str(err))
        return err.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        hint = INTERRUPT_HINTS.get(requested or "", "")
        _report(requested, f"interrupted{'; ' + hint if hint else ''}")
        return 130
    except Exception as err:
        message = _library_message(err)
        if debug or message is None:
            raise
        _report(requested, message)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
