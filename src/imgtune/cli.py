"""The ``imgtune`` command line.

Conventions every command follows: ``--help`` everywhere; a problem with the
user's input prints one line per problem on stderr and exits 2; any other
failure prints one line and exits 1; never a traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from imgtune.errors import ValidationError

__all__ = ["main", "command"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


def command(name: str, help: str) -> Callable:
    """Registers a sub-command: the decorated function receives the parsed arguments
    and returns the exit code; ``configure`` adds its arguments."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        configure = getattr(run, "configure", lambda parser: None)
        _COMMANDS[name] = (configure, run, help)
        return run

    return register


def arguments(configure: Callable[[argparse.ArgumentParser], None]) -> Callable:
    """Attaches an argument-adding function to a command (use below ``@command``)."""

    def attach(run: Callable) -> Callable:
        run.configure = configure
        return run

    return attach


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as argparse does, with our prefix
        self.print_usage(sys.stderr)
        print(f"imgtune: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imgtune", description="AutoML image classification (Azure ML v2 jobs) on JAX.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"imgtune {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (configure, _, help_text) in _COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        child.add_argument("--debug", action="store_true", help="show tracebacks", default=argparse.SUPPRESS)
        configure(child)
    return parser


def _version() -> str:
    from imgtune import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (the console script exits with it)."""
    _load_commands()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _, run, _ = _COMMANDS[args.command]
    try:
        return run(args)
    except ValidationError as err:
        if args.debug:
            raise
        for line in err.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI's promise: one line, no traceback
        if args.debug:
            raise
        print(f"imgtune: {type(err).__name__}: {err} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


def _load_commands() -> None:
    """Imports the modules that register commands (kept light: no JAX here)."""
    import imgtune.commands  # noqa: F401
    import imgtune.model_commands  # noqa: F401


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a job YAML file (Azure ML v2 schema)")


def print_out(text: str) -> None:
    """Writes to stdout, tolerating a closed pipe (``imgtune ... | head``)."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def _validate_args(parser: argparse.ArgumentParser) -> None:
    _file_argument(parser)
    parser.add_argument("--print", action="store_true", dest="print_yaml",
                        help="print the job as imgtune writes it (normalised YAML)")


@command("validate", "check a job file and report every problem")
@arguments(_validate_args)
def validate(args: argparse.Namespace) -> int:
    import warnings

    from imgtune.serialization import dumps, load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = load(args.file)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.print_yaml:
        print_out(dumps(job))
    else:
        print_out(f"{args.file}: valid {type(job).__name__} ({job.task_type.value}, "
                  f"primary metric {job.primary_metric.value})")
    return EXIT_OK


def _module_main() -> Any:  # python -m imgtune.cli
    raise SystemExit(main())


if __name__ == "__main__":
    _module_main()
