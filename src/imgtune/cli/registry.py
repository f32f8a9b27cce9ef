"""What every command shares: the registry of sub-commands, the parser, the exit codes and
the small helpers for reading a job and writing to stdout.

The command modules import this one and register themselves with :func:`command`; this
module imports none of them (:mod:`imgtune.cli` imports them all, so that they register).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from imgtune import serialization
from imgtune.serialization.overrides import override
from imgtune.spec import ImageClassificationJobBase
from imgtune.train.data.read import parse_path_map
from imgtune.version import __version__

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "arguments",
    "build_parser",
    "command",
    "commands",
    "file_argument",
    "load_job",
    "path_map",
    "print_out",
]

#: Success; a failure that is not the user's input (one line on stderr); a problem with the user's input
#: (one line per problem on stderr, as argparse's own usage errors); Ctrl-C.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Command(NamedTuple):
    """A registered sub-command."""

    name: str
    help: str
    #: Adds the command's arguments to its parser.
    configure: Callable[[argparse.ArgumentParser], None]
    #: Receives the parsed arguments and returns the exit code.
    run: Callable[[argparse.Namespace], int]


_COMMANDS: dict[str, Command] = {}


def command(name: str, help: str) -> Callable:
    """Registers a sub-command: the decorated function receives the parsed arguments
    and returns the exit code; its arguments come from :func:`arguments` (below it).

    Commands are listed in ``imgtune --help`` in the order they register.
    """

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        configure = getattr(run, "configure", lambda parser: None)
        _COMMANDS[name] = Command(name, help, configure, run)
        return run

    return register


def arguments(configure: Callable[[argparse.ArgumentParser], None]) -> Callable:
    """Attaches an argument-adding function to a command (use below ``@command``)."""

    def attach(run: Callable) -> Callable:
        run.configure = configure
        return run

    return attach


def commands() -> Mapping[str, Command]:
    """The registered commands by name, in the order they registered (a copy)."""
    return dict(_COMMANDS)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as argparse does, with our prefix
        self.print_usage(sys.stderr)
        print(f"imgtune: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The ``imgtune`` parser with a sub-parser for every registered command."""
    parser = _Parser(prog="imgtune", description="AutoML image classification (Azure ML v2 jobs) on JAX.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"imgtune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_, help_text, configure, _) in _COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        child.add_argument("--debug", action="store_true", help="show tracebacks", default=argparse.SUPPRESS)
        configure(child)
    return parser


def file_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``FILE``, the job file, and the ``KEY=VALUE`` overrides after it: the arguments of the
    commands that read a job (``main`` also takes overrides given after the options)."""
    parser.add_argument("file", metavar="FILE", help="a job YAML file (Azure ML v2 schema)")
    parser.add_argument("overrides", metavar="KEY=VALUE", nargs="*", default=[],
                        help="set a value of the job: training_parameters.learning_rate=0.01, limits.max_trials=2, "
                             "search_space[0].model_name='{type: choice, values: [resnet18, resnet50]}' (the value "
                             "is YAML; an empty one removes the key)")


def load_job(path: str, overrides: Sequence[str] = ()) -> ImageClassificationJobBase:
    """Reads a job file, with ``overrides`` (``KEY=VALUE`` texts) applied
    (:func:`imgtune.serialization.overrides.override`); its warnings (a legacy schema migrated)
    become ``warning:`` lines on stderr.

    Raises:
        ValidationError: the file is not a valid job, or an override is not valid (the command line
            prints each problem, exit 2).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = serialization.load(path)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return override(job, overrides) if overrides else job


def path_map(values: Sequence[str]) -> dict[str, str] | None:
    """The ``--path-map PREFIX=DIR`` values as a mapping, or ``None`` when none is given."""
    return parse_path_map(values) if values else None


def print_out(text: str) -> None:
    """Writes to stdout, tolerating a closed pipe (``imgtune ... | head``)."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
