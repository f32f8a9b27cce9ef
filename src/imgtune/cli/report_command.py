"""``imgtune report DIR``: (re)writes a run's ``report.html``, also while the run is going on.

Importing this module registers the command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imgtune.atomic import write_atomic
from imgtune.cli.registry import EXIT_OK, arguments, command, print_out
from imgtune.report import render_report, write_report

__all__ = ["report_arguments", "report_command"]


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the command's arguments: ``DIR`` and ``--output FILE``."""
    parser.add_argument("dir", metavar="DIR", help="a run's output folder")
    parser.add_argument("--output", metavar="FILE",
                        help="write the report here instead of DIR/report.html (replaced if it exists)")


@command("report", "write a run's self-contained HTML report (report.html), also while it runs")
@arguments(report_arguments)
def report_command(args: argparse.Namespace) -> int:
    """Writes the report and prints its ``file://`` URL; exit 0.

    A folder without a run raises :class:`~imgtune.errors.ValidationError`, which the
    command line turns into one line on stderr and exit 2.
    """
    if args.output:
        path = Path(args.output).resolve()
        write_atomic(path, render_report(args.dir))
    else:
        path = write_report(args.dir)
    print_out(path.as_uri())
    return EXIT_OK
