"""The commands about a run: ``run`` (the sweep, then the best model), ``status`` and ``evaluate``.

Importing this module registers them. It loads no JAX: a run's trials train in their own
processes, and ``evaluate`` imports the model's forward pass when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from imgtune import serialization
from imgtune.cli.registry import (
    EXIT_FAILURE,
    EXIT_OK,
    arguments,
    command,
    file_argument,
    load_job,
    path_map,
    print_out,
)
from imgtune.cli.tables import status_text
from imgtune.launch import run
from imgtune.runner import RayOptions, RunResult, load_result
from imgtune.runner.lock import holder
from imgtune.runner.progress import ConsoleProgress
from imgtune.runner.store import RunLayout, model_folder
from imgtune.serialization.overrides import override
from imgtune.train.data import read_examples

__all__ = ["driver_state", "evaluate_command", "guess_input_type", "run_command", "status_command"]


def _run_args(parser: argparse.ArgumentParser) -> None:
    file_argument(parser)
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
    """Runs (or resumes) the job, printing its progress, then its status; exit 0 when it completed, else 1."""
    job = load_job(args.file)
    final = override(job, args.overrides) if args.overrides else job  # what runs (run applies them, and records them)
    output = args.output or str(Path("runs") / Path(args.file).stem)
    progress = None if args.quiet else ConsoleProgress(verbosity=final.log_verbosity)
    ray = {"max_retries": args.max_retries, "cpus_per_trial": args.cpus_per_trial,
           "gpus_per_trial": args.gpus_per_trial}
    ray_options = RayOptions(**{k: v for k, v in ray.items() if v is not None}) \
        if any(v is not None for v in ray.values()) else None
    result = run(job, output, executor=args.executor, seed=args.seed, retry_failed=args.retry_failed,
                 trial_fn=args.trial_fn, address=args.address, ray_options=ray_options,
                 keep_checkpoints=args.keep_checkpoints, progress=progress,
                 path_map=path_map(args.path_map), mlflow_tracking_uri=args.mlflow, overrides=args.overrides)
    print_out(status_text(result))
    if result.outputs.get("mlflow_model"):
        print_out(f"mlflow model: {result.outputs['mlflow_model']}")
    failed = sum(t.status.value == "Failed" for t in result.trials)
    if failed and not args.retry_failed:
        print(f"note: {failed} trial{'s' if failed != 1 else ''} failed (see the reasons above); once the cause "
              f"is fixed, run again with --retry-failed to rerun {'them' if failed != 1 else 'it'}", file=sys.stderr)
    return EXIT_OK if result.status.value == "Completed" else EXIT_FAILURE


def _status_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run's output folder")
    parser.add_argument("--json", action="store_true", help="the whole result as JSON")


@command("status", "show a run's status, also while it is running")
@arguments(_status_args)
def status_command(args: argparse.Namespace) -> int:
    """Prints the run's status and trials (or, with ``--json``, its whole result)."""
    result = load_result(args.dir)
    if args.json:
        print_out(json.dumps(serialization.unstructure(result), indent=1))
    else:
        print_out(status_text(result, driver=driver_state(args.dir, result)))
    return EXIT_OK


def driver_state(output_dir: str, result: RunResult) -> str | None:
    """Whether the run in ``output_dir`` goes on: ``None`` when it has ended, else ``"live: ..."``
    (its driver holds the folder's lock) or ``"interrupted: ..."`` (its driver is gone)."""
    if result.status.is_terminal:
        return None
    owner = holder(output_dir)
    if owner is not None and owner.live:
        return f"live: held by {owner.describe()}"
    gone = f" (it was {owner.describe()})" if owner is not None and owner.pid else ""
    return f"interrupted: the run's driver is gone{gone}; run the job again on this folder to continue it"


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
    p = Path(path)
    if p.is_file():
        return "uri_file"
    return "mltable" if (p / "MLTable").is_file() else "uri_folder"


@command("evaluate", "score a run's best model on other labelled images")
@arguments(_evaluate_args)
def evaluate_command(args: argparse.Namespace) -> int:
    """Prints the best model's metrics on the images (or, with ``--json``, them as JSON)."""
    from imgtune.train.inference import score_examples  # loads JAX: the best model's forward pass, only here

    result = load_result(args.dir)
    job = serialization.load(RunLayout(args.dir).job)
    examples = read_examples(args.data, args.type or guess_input_type(args.data), base_path=Path.cwd(),
                             target_column_name=job.target_column_name, multilabel=job.multilabel,
                             path_map=path_map(args.path_map), field="data")
    evaluation = score_examples(model_folder(RunLayout(result.output_dir).best.root), examples)
    if args.json:
        print_out(json.dumps({"examples": len(examples), **evaluation.values}, indent=1))
    else:
        print_out(f"{len(examples)} images")
        for name, value in evaluation.values.items():
            marker = "  <- primary" if name == result.primary_metric else ""
            print_out(f"{name:34s} {value:.4f}{marker}")
    return EXIT_OK
