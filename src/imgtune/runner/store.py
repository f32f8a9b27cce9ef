"""The output folder of a run: its layout, and every write atomic.

::

    OUT/
      job.yaml              the job as given
      job.resolved.yaml     the job with every default filled in
      plan.yaml             the plan (rewritten when trials are added)
      run.json              the RunResult: job and trial statuses, histories (rewritten on every change)
      run.log               the run's log
      summary.csv           one row per trial
      trials/<id>/          each trial's folder: parameters.yaml, metrics.jsonl, log.txt, checkpoints
      best/                 the best model: its checkpoint, labels.json, preprocessing.json, metrics.json,
                            and confusion_matrix.json (multiclass) or per_label.json (multilabel)

A kill at any moment leaves a folder that resumes: every file is replaced
whole (temporary file, fsync, rename), never appended to in place.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import attrs
import yaml as pyyaml

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan, dumps_plan, loads_plan, render
from imgtune.errors import Problem, ValidationError
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.serialization import Dumper, dumps, structure, to_dict, unstructure
from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["RunStore", "load_result", "job_difference"]


class RunStore:
    """Reads and writes one run's output folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    # -- paths ---------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def plan_yaml(self) -> Path:
        return self.root / "plan.yaml"

    @property
    def log_path(self) -> Path:
        return self.root / "run.log"

    @property
    def best_dir(self) -> Path:
        return self.root / "best"

    def trial_dir(self, trial_id: str) -> Path:
        return self.root / "trials" / trial_id

    def exists(self) -> bool:
        """Whether a run was started in this folder."""
        return self.run_json.exists()

    # -- writing ---------------------------------------------------------------
    def start(self, job: ImageClassificationJobBase, plan: Plan) -> None:
        """Creates the folder and writes the job and the plan."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.root / "job.yaml", dumps(job))
        write_atomic(self.root / "job.resolved.yaml", render(job))
        self.save_plan(plan)

    def save_plan(self, plan: Plan) -> None:
        write_atomic(self.plan_yaml, dumps_plan(plan))

    def load_plan(self) -> Plan:
        """The plan (``plan.yaml``; its job has no ``base_path``).

        Raises:
            ValidationError: ``plan.yaml`` is not a valid plan.
        """
        return loads_plan(self.plan_yaml.read_text(encoding="utf-8"))

    # -- reading best/ -------------------------------------------------------------
    def read_best(self, name: str) -> Any:
        """A JSON file of ``best/`` (``trial.json``, ``metrics.json``, ...), parsed; ``None`` when
        ``best/`` has no such file: the sweep writes ``best/`` when it ends (a run in progress, or
        one whose trials all failed, has none), and some files are only there for one task.

        Raises:
            ValueError: The file is not JSON (every file of ``best/`` is written whole, so never
                half-written).
        """
        try:
            text = (self.best_dir / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def best_trial_id(self) -> str | None:
        """The trial whose model ``best/`` holds (``best/trial.json``), or ``None`` before the
        sweep has written ``best/``."""
        marker = self.read_best("trial.json")
        return None if marker is None else str(marker["trial"])

    def save_result(self, result: RunResult) -> None:
        write_atomic(self.run_json, json.dumps(unstructure(result), indent=1, default=str) + "\n")

    def write_trial(self, record: TrialRecord) -> None:
        """Writes a trial's parameters and its metrics (one JSON line per evaluation)."""
        folder = self.trial_dir(record.id)
        folder.mkdir(parents=True, exist_ok=True)
        params = folder / "parameters.yaml"
        if not params.exists():
            write_atomic(params, pyyaml.dump(unstructure(record.parameters), Dumper=Dumper, sort_keys=False))
        lines = "".join(json.dumps(dict(h), default=float) + "\n" for h in record.history)
        write_atomic(folder / "metrics.jsonl", lines)

    def write_summary(self, result: RunResult) -> None:
        """``summary.csv``: a row per trial with its status, best metric and searched values."""
        keys = sorted({k for t in result.trials for k in t.sampled})
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["trial", "status", "stop_reason", f"best_{result.primary_metric}", "best_epoch",
                         "evaluations", "seconds", *keys])
        for t in result.trials:
            seconds = (t.ended_at - t.started_at) if t.started_at and t.ended_at else ""
            writer.writerow([t.id, t.status.value, t.stop_reason or "",
                             "" if t.best_metric is None else repr(t.best_metric),
                             "" if t.best_epoch is None else t.best_epoch, len(t.history),
                             f"{seconds:.3f}" if seconds != "" else "", *(t.sampled.get(k, "") for k in keys)])
        write_atomic(self.root / "summary.csv", buffer.getvalue())

    def log(self, line: str) -> None:
        """Appends one line to ``run.log`` (a log; the only file written in place)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")


def load_result(output_dir: str | os.PathLike[str]) -> RunResult:
    """Reads a run's result from its output folder, also while the run is going on.

    Raises:
        ValidationError: The folder holds no run (or an unreadable one).
    """
    store = RunStore(output_dir)
    if not store.exists():
        raise ValidationError([Problem("", f"{store.root} holds no imgtune run (no run.json)")])
    try:
        data = json.loads(store.run_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError([Problem("run.json", f"cannot be read: {exc}")]) from None
    result = structure(data, RunResult)
    return attrs.evolve(result, output_dir=str(store.root))


def job_difference(old: ImageClassificationJobBase, new: ImageClassificationJobBase) -> list[str]:
    """The top-level keys in which two jobs differ, limits excepted."""
    a, b = to_dict(old), to_dict(new)
    keys = sorted((set(a) | set(b)) - {"limits"})
    return [k for k in keys if a.get(k) != b.get(k)]
