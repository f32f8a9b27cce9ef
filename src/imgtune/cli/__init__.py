"""The ``imgtune`` command line: :func:`main`, the console script ``imgtune`` (also ``python -m imgtune``
and ``python -m imgtune.cli``).

What lives where:

- :mod:`imgtune.cli.registry`: what every command shares: :func:`~imgtune.cli.registry.command` and
  :func:`~imgtune.cli.registry.arguments` to register one, the parser, the exit codes,
  :func:`~imgtune.cli.registry.print_out`, :func:`~imgtune.cli.registry.load_job` and the ``FILE`` argument.
  It imports no command module.
- :mod:`imgtune.cli.job_commands`: ``validate``, ``render``, ``plan`` (a job file in, text out).
- :mod:`imgtune.cli.run_commands`: ``run``, ``status``, ``evaluate``.
- :mod:`imgtune.cli.report_command`: ``report``.
- :mod:`imgtune.cli.model_commands`: ``export``, ``predict``.
- :mod:`imgtune.cli.weights_commands`: ``weights list|download|path`` (the ImageNet weights).
- :mod:`imgtune.cli.tables`: the text tables they print (:func:`~imgtune.cli.tables.plan_table`,
  :func:`~imgtune.cli.tables.status_text`, :func:`~imgtune.cli.tables.columns`).

Each command module registers its commands when imported; this module imports them all (which is
what registers them, in the order ``imgtune --help`` lists them) and runs the one asked for.

Conventions every command follows: ``--help`` everywhere; results go to stdout, everything else
(warnings, errors) to stderr, one line each; a problem with the user's input (an invalid job, a missing
file, a bad argument) prints one ``error:`` line per problem and exits 2; any other failure prints one
line and exits 1; Ctrl-C exits 130; never a traceback unless ``--debug``. Importing the command line
loads no JAX: the commands that need it (``evaluate``, ``export``, ``predict``) import it when they run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Importing a command module registers its commands; ``imgtune --help`` lists them in this order.
# isort: off
from imgtune.cli import job_commands  # noqa: F401
from imgtune.cli import run_commands  # noqa: F401
from imgtune.cli import report_command  # noqa: F401
from imgtune.cli import model_commands  # noqa: F401
from imgtune.cli import weights_commands  # noqa: F401
# isort: on
from imgtune.cli.registry import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    arguments,
    build_parser,
    command,
    commands,
    print_out,
)
from imgtune.errors import ValidationError

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "arguments", "command", "main",
           "print_out"]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (the console script exits with it).

    Args:
        argv: The arguments after ``imgtune``; default ``sys.argv[1:]``.

    Example:
        >>> main(["validate", "no-such-job.yml"])
        2
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE overrides may come after the options too (`imgtune plan job.yml --seed 1 a.b=2`)
    if extra and hasattr(args, "overrides") and all("=" in a and not a.startswith("-") for a in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return commands()[args.command].run(args)
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
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the CLI's promise: one line, no traceback
        if args.debug:
            raise
        print(f"imgtune: {type(err).__name__}: {err} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
