"""The commands that read a job file and run nothing: ``validate``, ``render`` and ``plan``.

Importing this module registers them.
"""

from __future__ import annotations

import argparse
import json
import sys

from imgtune import compiler, serialization
from imgtune.atomic import write_atomic
from imgtune.cli.registry import EXIT_OK, arguments, command, file_argument, load_job, path_map, print_out
from imgtune.cli.tables import plan_table
from imgtune.errors import ValidationError
from imgtune.spec import ImageClassificationJobBase
from imgtune.spec.models import model_spec
from imgtune.train.data.assets import check_assets
from imgtune.train.data.check import check_job_data
from imgtune.train.pretrained import CHECKPOINT, FILE, PRETRAINED, SCRATCH, start_of

__all__ = ["plan_command", "render_command", "start_comment", "validate"]


def _validate_args(parser: argparse.ArgumentParser) -> None:
    file_argument(parser)
    parser.add_argument("--print", action="store_true", dest="print_yaml",
                        help="print the job as imgtune writes it (normalised YAML)")
    parser.add_argument("--data", action="store_true", dest="check_data",
                        help="also check its data, as `run` does before training: the inputs can be read, the "
                             "images exist, enough classes, batch sizes that fit")
    parser.add_argument("--path-map", metavar="PREFIX=DIR", action="append", default=[],
                        help="rewrite data assets and image URLs starting with PREFIX to the local folder DIR")


@command("validate", "check a job file and report every problem")
@arguments(_validate_args)
def validate(args: argparse.Namespace) -> int:
    """Prints ``FILE: valid ...`` (or, with ``--print``, the normalised YAML); every problem is an
    ``error:`` line on stderr, exit 2. ``--data`` also checks the job's data
    (:func:`imgtune.train.data.check.check_job_data`)."""
    job = load_job(args.file, args.overrides)
    try:
        compiler.check_runnable(job)  # a valid record that cannot run yet (a search space without a sweep)
    except ValidationError as err:
        raise err.from_source(args.file) from None
    if not args.check_data:  # data assets must be mapped to local folders (--data checks them too)
        check_assets(job, path_map(args.path_map))
    if args.check_data:
        plan = compiler.compile(job)
        check_job_data(job, [t.parameters for t in plan.trials], path_map=path_map(args.path_map))
    if args.print_yaml:
        print_out(serialization.dumps(job))
    else:
        print_out(f"{args.file}: valid {type(job).__name__} ({job.task_type.value}, "
                  f"primary metric {job.primary_metric.value}){', its data too' if args.check_data else ''}")
    added = job.extensions()
    if added:  # on stderr: --print's YAML stays the job's
        print(f"note: {args.file} uses imgtune's extensions beyond Azure's schema (Azure AutoML does not run "
              f"them): {', '.join(added)}", file=sys.stderr)
    return EXIT_OK


@command("render", "print the job with every default filled in")
@arguments(file_argument)
def render_command(args: argparse.Namespace) -> int:
    """Prints the job as YAML with every default written out, and a closing comment saying how its
    trials start (the model's ImageNet weights, random weights, a file or a checkpoint)."""
    job = load_job(args.file, args.overrides)
    print_out(compiler.render(job) + start_comment(job))
    return EXIT_OK


def start_comment(job: ImageClassificationJobBase) -> str:
    """``# start: ...``: how the job's trials start (see :mod:`imgtune.train.pretrained`)."""
    tp = job.training_parameters
    start = start_of(tp)
    own = model_spec(tp.model_name) if tp.model_name else None
    if own is not None and own.builder is not None and not job.search_space:  # one's own model
        how = (f"{tp.model_name}'s own pretrained(model) hook" if start == PRETRAINED else
               f"random weights ({tp.model_name} is one's own model, without a pretrained hook)"
               if start == SCRATCH else None)
        if how is not None:
            return f"# start: {start}: {how}\n"
    if start == PRETRAINED and tp.model_name and not job.search_space:
        w = model_spec(tp.model_name).weights
        how = f"{tp.model_name}'s ImageNet weights ({w.source}), a new head for the job's classes"
    elif start == PRETRAINED:
        how = "each trial's model's ImageNet weights, a new head for the job's classes (imgtune weights list)"
    else:
        how = {SCRATCH: "random weights (advanced_settings pretrained: false)",
               FILE: "the advanced_settings pretrained_weights file",
               CHECKPOINT: "the checkpoint_run_id checkpoint"}[start]
    return f"# start: {start}: {how}\n"


def _plan_args(parser: argparse.ArgumentParser) -> None:
    file_argument(parser)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed when the sampling algorithm has none (default 0)")
    parser.add_argument("--format", choices=("table", "yaml", "json"), default="table",
                        help="table (default), or the whole plan as YAML or JSON")
    parser.add_argument("--output", metavar="FILE", help="also save the plan as YAML (never overwrites)")


@command("plan", "compile a job and print its trials")
@arguments(_plan_args)
def plan_command(args: argparse.Namespace) -> int:
    """Prints the plan's trials (a table, YAML or JSON); ``--output`` also saves it, refusing to overwrite."""
    plan = compiler.compile(load_job(args.file, args.overrides), seed=args.seed)
    if args.output:
        write_atomic(args.output, compiler.dumps_plan(plan), overwrite=False)
    if args.format == "yaml":
        print_out(compiler.dumps_plan(plan))
    elif args.format == "json":
        print_out(json.dumps(serialization.unstructure(plan), indent=1))
    else:
        print_out(plan_table(plan))
    return EXIT_OK
