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

__all__ = ["columns", "plan_table"]


def _load_job(path: str):
    import warnings

    from imgtune.serialization import load

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


def columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells as lines with left-aligned columns two spaces apart.

    >>> columns([["a", "bb"], ["ccc", "d"]])
    ['a    bb', 'ccc  d']
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


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
    lines = columns(rows)
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
    from imgtune.serialization import unstructure

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


def _run_args(parser: argparse.ArgumentParser) -> None:
    _file_argument(parser)
    parser.add_argument("--output", metavar="DIR", help="the run's folder (default: runs/<job file name>); "
                                                        "an existing run there is resumed")
    parser.add_argument("--path-map", metavar="PREFIX=DIR", action="append", default=[],
                        help="rewrite image URLs starting with PREFIX to the local folder DIR (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed when the sampling algorithm has none")
    parser.add_argument("--retry-failed", action="store_true", help="rerun trials that failed before")
    parser.add_argument("--keep-checkpoints", type=int, default=3, metavar="N",
                        help="keep the checkpoints of the N best trials (default 3)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where trials run: processes on this machine, or Ray actors (pip install 'imgtune[ray]')")
    parser.add_argument("--address", metavar="ADDR", help="with --executor ray: the cluster to join (host:6379, "
                                                          "ray://host:10001; default: RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--max-retries", type=int, metavar="N", help="with --executor ray: start a trial whose "
                        "process, actor or node was lost again N times, from its checkpoint (default 0)")
    parser.add_argument("--cpus-per-trial", type=float, metavar="N", help="with --executor ray: CPUs per trial "
                        "(default: the cluster's over max_concurrent_trials)")
    parser.add_argument("--gpus-per-trial", type=float, metavar="N", help="with --executor ray: GPUs per trial, "
                        "maybe a fraction (default: the cluster's over max_concurrent_trials)")
    parser.add_argument("--mlflow", metavar="URI", help="also log the trials and the best model to this MLflow "
                        "store (sqlite:///mlflow.db, a folder; pip install 'imgtune[mlflow]')")
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.add_argument("--trial-fn", metavar="MODULE:FUNCTION",
                        help="what each trial runs instead of training (advanced; see imgtune.runner.worker)")


@command("run", "run a job: its sweep of trials, then the best model")
@arguments(_run_args)
def run_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imgtune.launch import run
    from imgtune.runner import RayOptions
    from imgtune.runner.progress import ConsoleProgress
    from imgtune.train.data.read import parse_path_map

    job = _load_job(args.file)
    output = args.output or str(Path("runs") / Path(args.file).stem)
    progress = None if args.quiet else ConsoleProgress(verbosity=job.log_verbosity)
    ray = {"max_retries": args.max_retries, "cpus_per_trial": args.cpus_per_trial,
           "gpus_per_trial": args.gpus_per_trial}
    ray_options = RayOptions(**{k: v for k, v in ray.items() if v is not None}) \
        if any(v is not None for v in ray.values()) else None
    result = run(job, output, executor=args.executor, seed=args.seed, retry_failed=args.retry_failed,
                 trial_fn=args.trial_fn, address=args.address, ray_options=ray_options,
                 keep_checkpoints=args.keep_checkpoints, progress=progress,
                 path_map=parse_path_map(args.path_map) if args.path_map else None, mlflow_tracking_uri=args.mlflow)
    print_out(_status_text(result))
    if result.outputs.get("mlflow_model"):
        print_out(f"mlflow model: {result.outputs['mlflow_model']}")
    return EXIT_OK if result.status.value == "Completed" else 1


def _status_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run's output folder")
    parser.add_argument("--json", action="store_true", help="the whole result as JSON")


@command("status", "show a run's status, also while it is running")
@arguments(_status_args)
def status_command(args: argparse.Namespace) -> int:
    from imgtune.runner import load_result
    from imgtune.serialization import unstructure

    result = load_result(args.dir)
    print_out(json.dumps(unstructure(result), indent=1) if args.json else _status_text(result))
    return EXIT_OK


def _status_text(result) -> str:
    """A run's status as a few lines and a table of trials."""
    metric = result.primary_metric
    lines = [f"{result.output_dir}: {result.status.value}"
             + (f" ({result.message})" if result.message else ""),
             "trials: " + ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items()))]
    best = result.best_trial
    if best is not None:
        lines.append(f"best: trial {best.id}, {metric} {best.best_metric:.4f} at epoch {best.best_epoch} "
                     f"({best.parameters.model_name})")
    rows = [["trial", "status", f"best {metric}", "epochs", "reason"]]
    for t in result.trials:
        rows.append([t.id, t.status.value + ("*" if t.resumable else ""),
                     "" if t.best_metric is None else f"{t.best_metric:.4f}", str(len(t.history)),
                     (t.stop_reason or "")[:70]])
    lines += columns(rows)
    if any(t.resumable for t in result.trials):
        lines.append("* interrupted: running the job again on this folder continues it")
    return "\n".join(lines)


def _evaluate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run's output folder (its best model is scored)")
    parser.add_argument("--data", required=True, metavar="INPUT",
                        help="labelled images: an MLTable folder, a JSONL file or a folder of class folders")
    parser.add_argument("--type", choices=("mltable", "uri_file", "uri_folder"),
                        help="the input's type (default: guessed from the path)")
    parser.add_argument("--path-map", metavar="PREFIX=DIR", action="append", default=[])
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")


def guess_input_type(path: str) -> str:
    """``mltable`` for a folder with an ``MLTable`` file, ``uri_file`` for a file, else ``uri_folder``."""
    from pathlib import Path

    p = Path(path)
    if p.is_file():
        return "uri_file"
    return "mltable" if (p / "MLTable").is_file() else "uri_folder"


@command("evaluate", "score a run's best model on other labelled images")
@arguments(_evaluate_args)
def evaluate_command(args: argparse.Namespace) -> int:
    from imgtune.runner import load_result
    from imgtune.train.data import read_examples
    from imgtune.train.data.read import parse_path_map
    from imgtune.train.inference import score_examples
    from imgtune.serialization import load
    from pathlib import Path

    result = load_result(args.dir)
    job = load(Path(args.dir) / "job.yaml")
    examples = read_examples(args.data, args.type or guess_input_type(args.data), base_path=Path.cwd(),
                             target_column_name=job.target_column_name, multilabel=job.multilabel,
                             path_map=parse_path_map(args.path_map) if args.path_map else None, field="data")
    evaluation = score_examples(Path(result.output_dir) / "best", examples)
    if args.json:
        print_out(json.dumps({"examples": len(examples), **evaluation.values}, indent=1))
    else:
        print_out(f"{len(examples)} images")
        for name, value in evaluation.values.items():
            marker = "  <- primary" if name == result.primary_metric else ""
            print_out(f"{name:34s} {value:.4f}{marker}")
    return EXIT_OK


def _report_args(parser: argparse.ArgumentParser) -> None:
    from imgtune.report.cli import configure

    configure(parser)


@command("report", "write a run's self-contained HTML report (report.html), also while it runs")
@arguments(_report_args)
def report_command(args: argparse.Namespace) -> int:
    from imgtune.report.cli import report_command as write

    return write(args)
