"""Sub-commands beyond ``validate`` (which lives in :mod:`imgtune.cli`).

Importing this module registers every command. Each imports what it needs
inside its function, so ``imgtune --help`` stays fast and JAX is loaded only by
the commands that train.
"""

from __future__ import annotations

import argparse
import json
import sys

from imgtune.cli import EXIT_OK, _file_argument, arguments, command, print_out

__all__ = ["plan_table"]


def _load_job(path: str):
    import warnings

    from imgtune.yaml import load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = load(path)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return job


@command("render", "print the job with every default filled in")
@arguments(_file_argument)
def render_command(args: argparse.Namespace) -> int:
    from imgtune.compiler import render

    print_out(render(_load_job(args.file)))
    return EXIT_OK


def _plan_args(parser: argparse.ArgumentParser) -> None:
    _file_argument(parser)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed when the sampling algorithm has none (default 0)")
    parser.add_argument("--format", choices=("table", "yaml", "json"), default="table",
                        help="table (default), or the whole plan as YAML or JSON")
    parser.add_argument("--output", metavar="FILE", help="also save the plan as YAML (never overwrites)")


def plan_table(plan) -> str:
    """The trials as a text table: id, subspace, then every searched value.

    Example:
        >>> import imgtune
        >>> job = imgtune.loads("type: automl\\ntask: image_classification\\ntarget_column_name: l\\n"
        ...                     "training_data: {path: d}\\nlimits: {max_trials: 2}")
        >>> print(plan_table(imgtune.compile(job)))  # doctest: +ELLIPSIS
        trial          subspace  learning_rate  model_name
        0000-...  0         0.01           seresnext
        0001-...  1         0.0125         vitb16r224
        2 trials (automode, seed 0, up to 1 at a time)
    """
    keys = sorted({k for t in plan.trials for k in t.sampled})
    rows = [["trial", "subspace", *keys]]
    for t in plan.trials:
        rows.append([t.id, "-" if t.subspace is None else str(t.subspace),
                     *(_cell(t.sampled.get(k, "")) for k in keys)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    limits = plan.limits
    lines.append(f"{len(plan.trials)} trial{'s' if len(plan.trials) != 1 else ''} ({plan.sampler.type}, seed "
                 f"{plan.seed}, up to {limits.max_concurrent_trials} at a time)")
    lines.extend(f"note: {n}" for n in plan.notes)
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@command("plan", "compile a job and print its trials")
@arguments(_plan_args)
def plan_command(args: argparse.Namespace) -> int:
    from imgtune.atomic import write_atomic
    from imgtune.compiler import compile, dumps_plan
    from imgtune.yaml import unstructure

    plan = compile(_load_job(args.file), seed=args.seed)
    if args.output:
        write_atomic(args.output, dumps_plan(plan), overwrite=False)
    if args.format == "yaml":
        print_out(dumps_plan(plan))
    elif args.format == "json":
        print_out(json.dumps(unstructure(plan), indent=1))
    else:
        print_out(plan_table(plan))
    return EXIT_OK
