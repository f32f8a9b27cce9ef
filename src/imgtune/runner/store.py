"""The output folder of a run: its layout, and every write atomic.

::

    OUT/
      job.yaml              the job as given
      job.resolved.yaml     the job with every default filled in
      overrides.yaml        the KEY=VALUE overrides the job was made with (imgtune run FILE KEY=VALUE ...;
                            the latest run that had any), when it had some
      plan.yaml             the plan (rewritten when trials are added)
      run.json              the RunResult: job and trial statuses, histories (rewritten on every change)
      run.log               the run's log
      summary.csv           one row per trial
      report.html           the report (imgtune.report)
      mlflow.json           the MLflow runs of the job and its trials (imgtune.tracking)
      images.npy            the sweep's decoded image store, uint8, memory-mapped by the trials, and
      images.json           its index (imgtune.train.data.image_store; made when it fits the budget)
      run.lock              while a run is going on: who runs it (host, process) and its heartbeat
                            (imgtune.runner.lock)
      trials/<id>/          each trial's folder: parameters.yaml, metrics.jsonl, log.txt, payload.json,
                            the model's files (labels.json, preprocessing.json, metrics.json, ...) and
                            train/, the trial's training workdir (its checkpoints, in the format of
                            imgtune.train.checkpoints)
      best/                 the best model: checkpoint/, labels.json, preprocessing.json, metrics.json,
                            confusion_matrix.json (multiclass) or per_label.json (multilabel),
                            trial.json, test_metrics.json (with test data), model.onnx (when exported)

This module is the one place that names them: :class:`RunLayout` (the folder),
:class:`TrialLayout` (a trial's folder) and :class:`BestLayout` (``best/``) give
each file's path, and their upper-case names are the bare names (for a file a
module writes into a folder of its own, e.g. a trial's artifacts). Every other
module asks them; :func:`model_folder` turns any folder a user may name (a run,
``best/``, a trial) into the folder that holds its trained model.

A kill at any moment leaves a folder that resumes: every file is replaced
whole (temporary file, fsync, rename), never appended to in place.

**Format versions.** ``run.json`` records the folder's format version
(:data:`~imgtune.runner.results.RUN_VERSION`), ``plan.yaml`` the plan's
(:data:`~imgtune.compiler.plan.PLAN_VERSION`) and each checkpoint's ``info.json`` the checkpoint's
(:data:`~imgtune.train.checkpoints.CHECKPOINT_VERSION`). Reading a folder checks them
(:mod:`imgtune.formats`): a newer one is refused, saying to upgrade imgtune; an older one is
migrated, or refused saying what to do.

**Moved folders.** ``run.json`` records absolute paths (``output_dir``, ``log_files``,
``outputs``, each trial's ``checkpoint`` and ``artifacts``). :func:`load_result` resolves those
under the recorded ``output_dir`` against the folder it reads, so a folder that was copied or
moved loads, reports, predicts and resumes where it is now.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import yaml as pyyaml

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan, dumps_plan, loads_plan, render
from imgtune.errors import Problem, ValidationError
from imgtune.runner.results import RunResult, TrialRecord, upgrade_run
from imgtune.serialization import Dumper, dumps, structure, to_dict, unstructure
from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["BestLayout", "ModelFiles", "RunLayout", "RunStore", "TrialLayout", "checkpoint_source",
           "default_onnx_path", "job_difference", "load_result", "model_folder"]


class ModelFiles:
    """The names of the files that describe a trained model: a trial writes them into its folder
    (a trial's ``artifacts``: name -> path), the sweep copies the best trial's into ``best/``."""

    LABELS: ClassVar[str] = "labels.json"  #: the class order
    PREPROCESSING: ClassVar[str] = "preprocessing.json"  #: how to prepare an image for the model
    METRICS: ClassVar[str] = "metrics.json"  #: the best evaluation's metrics and epoch
    CONFUSION_MATRIX: ClassVar[str] = "confusion_matrix.json"  #: multiclass
    PER_LABEL: ClassVar[str] = "per_label.json"  #: multilabel

    root: Path

    @property
    def labels(self) -> Path:
        return self.root / self.LABELS

    @property
    def preprocessing(self) -> Path:
        return self.root / self.PREPROCESSING

    @property
    def metrics(self) -> Path:
        return self.root / self.METRICS

    @property
    def confusion_matrix(self) -> Path:
        return self.root / self.CONFUSION_MATRIX

    @property
    def per_label(self) -> Path:
        return self.root / self.PER_LABEL


@attrs.frozen
class BestLayout(ModelFiles):
    """``best/``: the best trial's model (see the module doc).

    >>> best = BestLayout("out/best")
    >>> best.checkpoint.as_posix(), best.model_onnx.name, BestLayout.TEST_METRICS
    ('out/best/checkpoint', 'model.onnx', 'test_metrics.json')
    """

    CHECKPOINT: ClassVar[str] = "checkpoint"  #: the best trial's best checkpoint (a copy)
    TRIAL: ClassVar[str] = "trial.json"  #: which trial, its best metric and epoch
    TEST_METRICS: ClassVar[str] = "test_metrics.json"  #: the scores on the job's test data
    MODEL_ONNX: ClassVar[str] = "model.onnx"  #: the ONNX export

    root: Path = attrs.field(converter=Path)

    @property
    def checkpoint(self) -> Path:
        return self.root / self.CHECKPOINT

    @property
    def trial(self) -> Path:
        return self.root / self.TRIAL

    @property
    def test_metrics(self) -> Path:
        return self.root / self.TEST_METRICS

    @property
    def model_onnx(self) -> Path:
        return self.root / self.MODEL_ONNX


@attrs.frozen
class TrialLayout(ModelFiles):
    """``trials/<id>/``: one trial's folder (see the module doc).

    >>> trial = TrialLayout("out/trials/0003")
    >>> trial.log.as_posix(), trial.history.name, trial.train.name, TrialLayout.LABELS
    ('out/trials/0003/log.txt', 'metrics.jsonl', 'train', 'labels.json')
    """

    PARAMETERS: ClassVar[str] = "parameters.yaml"  #: the trial's parameters
    HISTORY: ClassVar[str] = "metrics.jsonl"  #: one JSON line per evaluation
    LOG: ClassVar[str] = "log.txt"  #: the trial process's output
    PAYLOAD: ClassVar[str] = "payload.json"  #: what the trial process is started with
    LOCK: ClassVar[str] = ".lock"  #: held by the trial's process
    TRAIN: ClassVar[str] = "train"  #: the training workdir (imgtune.train's checkpoints)

    root: Path = attrs.field(converter=Path)

    @property
    def parameters(self) -> Path:
        return self.root / self.PARAMETERS

    @property
    def history(self) -> Path:
        return self.root / self.HISTORY

    @property
    def log(self) -> Path:
        return self.root / self.LOG

    @property
    def payload(self) -> Path:
        return self.root / self.PAYLOAD

    @property
    def lock(self) -> Path:
        return self.root / self.LOCK

    @property
    def train(self) -> Path:
        return self.root / self.TRAIN


@attrs.frozen
class RunLayout:
    """A run's output folder (see the module doc): a path per file, no I/O.

    >>> run = RunLayout("out")
    >>> run.run.as_posix(), run.trial("0003").root.as_posix(), run.best.labels.as_posix()
    ('out/run.json', 'out/trials/0003', 'out/best/labels.json')
    """

    JOB: ClassVar[str] = "job.yaml"
    JOB_RESOLVED: ClassVar[str] = "job.resolved.yaml"
    OVERRIDES: ClassVar[str] = "overrides.yaml"  #: the KEY=VALUE overrides the job was made with
    PLAN: ClassVar[str] = "plan.yaml"
    RUN: ClassVar[str] = "run.json"
    LOG: ClassVar[str] = "run.log"
    SUMMARY: ClassVar[str] = "summary.csv"
    REPORT: ClassVar[str] = "report.html"
    MLFLOW: ClassVar[str] = "mlflow.json"
    LOCK: ClassVar[str] = "run.lock"  #: held by the run going on (imgtune.runner.lock)
    TRIALS: ClassVar[str] = "trials"
    BEST: ClassVar[str] = "best"
    BEST_TMP: ClassVar[str] = ".best.tmp"  #: the next best/, while it is assembled
    BEST_OLD: ClassVar[str] = ".best.old"  #: the previous best/, while it is replaced
    IMAGES: ClassVar[str] = "images.npy"  #: the decoded image store's array
    IMAGES_INDEX: ClassVar[str] = "images.json"  #: its index (written last: present = complete)

    root: Path = attrs.field(converter=Path)

    @property
    def job(self) -> Path:
        return self.root / self.JOB

    @property
    def job_resolved(self) -> Path:
        return self.root / self.JOB_RESOLVED

    @property
    def overrides(self) -> Path:
        return self.root / self.OVERRIDES

    @property
    def plan(self) -> Path:
        return self.root / self.PLAN

    @property
    def run(self) -> Path:
        return self.root / self.RUN

    @property
    def log(self) -> Path:
        return self.root / self.LOG

    @property
    def summary(self) -> Path:
        return self.root / self.SUMMARY

    @property
    def report(self) -> Path:
        return self.root / self.REPORT

    @property
    def mlflow(self) -> Path:
        return self.root / self.MLFLOW

    @property
    def lock(self) -> Path:
        return self.root / self.LOCK

    @property
    def trials(self) -> Path:
        return self.root / self.TRIALS

    def trial(self, trial_id: str) -> TrialLayout:
        return TrialLayout(self.trials / trial_id)

    @property
    def best(self) -> BestLayout:
        return BestLayout(self.root / self.BEST)

    @property
    def best_tmp(self) -> Path:
        return self.root / self.BEST_TMP

    @property
    def best_old(self) -> Path:
        return self.root / self.BEST_OLD

    @property
    def images(self) -> Path:
        return self.root / self.IMAGES

    @property
    def images_index(self) -> Path:
        return self.root / self.IMAGES_INDEX


def model_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding the trained model of ``path``, for :func:`imgtune.train.inference.load_model`:
    a run's folder -> ``best/checkpoint``, ``best/`` (or a copy of it) -> its ``checkpoint``, a
    trial's folder -> its training workdir ``train``; anything else (a checkpoint folder, a
    training workdir) as it is. Only folders are looked at: whether a checkpoint is there is
    for the loader to say.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for folder in (out / "best" / "checkpoint", out / "trials" / "0000" / "train"):
    ...     folder.mkdir(parents=True)
    >>> [model_folder(p).relative_to(out).as_posix()
    ...  for p in (out, out / "best", out / "trials" / "0000", out / "best" / "checkpoint")]
    ['best/checkpoint', 'best/checkpoint', 'trials/0000/train', 'best/checkpoint']
    """
    p = Path(path)
    for folder in (RunLayout(p).best.checkpoint, BestLayout(p).checkpoint, TrialLayout(p).train):
        if folder.is_dir():
            return folder
    return p


def checkpoint_source(checkpoint_run_id: str, base_path: str | os.PathLike[str] | None = None) -> Path:
    """The folder ``training_parameters.checkpoint_run_id`` names, as the checkpoint loader reads it:
    an imgtune run folder -> its best trial's checkpoint (``best/checkpoint``), a trial's folder ->
    its training workdir, a checkpoint folder as it is (:func:`model_folder`). A relative id resolves
    against ``base_path`` (the job's folder) when it exists there, else against the current folder.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "best" / "checkpoint").mkdir(parents=True)
    >>> checkpoint_source("best", base_path=out) == out / "best" / "checkpoint"
    True
    """
    p = Path(os.path.expanduser(checkpoint_run_id))
    if not p.is_absolute() and base_path is not None and (Path(base_path) / p).exists():
        p = Path(base_path) / p
    return model_folder(p)


def default_onnx_path(source: str | os.PathLike[str]) -> Path:
    """Where the ONNX export of ``source`` (as for :func:`model_folder`) goes by default: ``model.onnx``
    in the run's ``best/`` for a run, ``best/`` or ``best/checkpoint``, else beside the model's folder.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "best" / "checkpoint").mkdir(parents=True)
    >>> _ = (out / "best" / "labels.json").write_text("[]")
    >>> [default_onnx_path(p).relative_to(out).as_posix() for p in (out, out / "best", out / "elsewhere")]
    ['best/model.onnx', 'best/model.onnx', 'elsewhere/model.onnx']
    """
    p = Path(source)
    run = RunLayout(p)
    if run.best.checkpoint.is_dir():
        return run.best.model_onnx
    folder = model_folder(p)
    best = BestLayout(folder.parent)
    if folder.name == BestLayout.CHECKPOINT and best.labels.exists():
        return best.model_onnx
    return folder / BestLayout.MODEL_ONNX


class RunStore:
    """Reads and writes one run's output folder (its paths: :attr:`layout`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.layout = RunLayout(self.root)

    # -- paths ---------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.layout.run

    @property
    def plan_yaml(self) -> Path:
        return self.layout.plan

    @property
    def log_path(self) -> Path:
        return self.layout.log

    @property
    def best_dir(self) -> Path:
        return self.layout.best.root

    def trial_dir(self, trial_id: str) -> Path:
        return self.layout.trial(trial_id).root

    def exists(self) -> bool:
        """Whether a run was started in this folder."""
        return self.run_json.exists()

    # -- writing ---------------------------------------------------------------
    def start(self, job: ImageClassificationJobBase, plan: Plan) -> None:
        """Creates the folder and writes the job and the plan."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.layout.job, dumps(job))
        write_atomic(self.layout.job_resolved, render(job))
        self.save_plan(plan)

    def save_overrides(self, overrides: Sequence[str]) -> None:
        """Records the ``KEY=VALUE`` overrides the job (``job.yaml``) was made with: ``overrides.yaml``,
        a YAML list of the texts as given."""
        write_atomic(self.layout.overrides, pyyaml.dump(list(overrides), Dumper=Dumper, sort_keys=False))

    def save_plan(self, plan: Plan) -> None:
        write_atomic(self.plan_yaml, dumps_plan(plan))

    def load_plan(self) -> Plan:
        """The plan (``plan.yaml``; its job has no ``base_path``).

        An older format is migrated, a newer one refused saying to upgrade imgtune
        (:func:`~imgtune.compiler.plan.upgrade_plan_data`); every problem names the file.

        Raises:
            ValidationError: ``plan.yaml`` is not a valid plan, or is of a newer format.
        """
        try:
            return loads_plan(self.plan_yaml.read_text(encoding="utf-8"))
        except ValidationError as err:
            raise err.from_source(str(self.plan_yaml)) from None

    # -- reading best/ -------------------------------------------------------------
    def read_best(self, name: str) -> Any:
        """A JSON file of ``best/`` (``trial.json``, ``metrics.json``, ...), parsed; ``None`` when
        ``best/`` has no such file: the sweep writes ``best/`` when it ends (a run in progress, or
        one whose trials all failed, has none), and some files are only there for one task.

        Raises:
            ValidationError: The file is not JSON (every file of ``best/`` is written whole, so never
                half-written: it was damaged), naming the file.
        """
        path = self.layout.best.root / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError([Problem(str(path), f"is not valid JSON ({exc}); the file is damaged")]) from None

    def best_trial_id(self) -> str | None:
        """The trial whose model ``best/`` holds (``best/trial.json``), or ``None`` before the
        sweep has written ``best/``."""
        marker = self.read_best(BestLayout.TRIAL)
        return None if marker is None else str(marker["trial"])

    def save_result(self, result: RunResult) -> None:
        write_atomic(self.run_json, json.dumps(unstructure(result), indent=1, default=str) + "\n")

    def write_trial(self, record: TrialRecord) -> None:
        """Writes a trial's parameters and its metrics (one JSON line per evaluation)."""
        trial = self.layout.trial(record.id)
        trial.root.mkdir(parents=True, exist_ok=True)
        params = trial.parameters
        if not params.exists():
            write_atomic(params, pyyaml.dump(unstructure(record.parameters), Dumper=Dumper, sort_keys=False))
        lines = "".join(json.dumps(dict(h), default=float) + "\n" for h in record.history)
        write_atomic(trial.history, lines)

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
        write_atomic(self.layout.summary, buffer.getvalue())

    def log(self, line: str) -> None:
        """Appends one line to ``run.log`` (a log; the only file written in place)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")


def load_result(output_dir: str | os.PathLike[str]) -> RunResult:
    """Reads a run's result from its output folder, also while the run is going on.

    Raises:
        ValidationError: The folder holds no run (or an unreadable one).

    Example:
        >>> import tempfile
        >>> load_result(tempfile.mkdtemp())   # a folder that holds no run
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          ... holds no imgtune run (no run.json)
    """
    store = RunStore(output_dir)
    if not store.exists():
        raise ValidationError([Problem("", f"{store.root} holds no imgtune run (no {RunLayout.RUN})")])
    try:
        data = json.loads(store.run_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError([Problem(RunLayout.RUN, f"cannot be read: {exc}")]) from None
    if not isinstance(data, dict):
        raise ValidationError([Problem(RunLayout.RUN, f"cannot be read: not a JSON object, got {type(data).__name__}")])
    data = _moved(upgrade_run(data, str(store.run_json)), store.root)
    result = structure(data, RunResult)
    return attrs.evolve(result, output_dir=str(store.root))


def _moved(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """``run.json``'s content with the paths (and ``file://`` URLs) under the ``output_dir`` it
    records moved under ``root``, where the folder is now; other paths as they are.

    >>> moved = _moved({"output_dir": "/old/run", "log_files": {"run": "/old/run/run.log"},
    ...                 "outputs": {"report": "file:///old/run/report.html", "data": "/old/data"},
    ...                 "trials": [{"id": "0000", "checkpoint": "/old/run/trials/0000/train"}]}, Path("/new/copy"))
    >>> moved["log_files"]["run"], moved["outputs"]["report"], moved["outputs"]["data"]
    ('/new/copy/run.log', 'file:///new/copy/report.html', '/old/data')
    >>> moved["trials"][0]["checkpoint"]
    '/new/copy/trials/0000/train'
    """
    old = data.get("output_dir")
    if not isinstance(old, str) or not os.path.isabs(old) or Path(old) == root:
        return data
    old_uri, new_uri = Path(old).as_uri(), root.as_uri()

    def move(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for before, after, seps in ((old, str(root), (os.sep, "/")), (old_uri, new_uri, ("/",))):
            if value == before or any(value.startswith(before + sep) for sep in seps):
                return after + value[len(before):]
        return value

    def move_all(mapping: Any) -> Any:
        return {k: move(v) for k, v in mapping.items()} if isinstance(mapping, dict) else mapping

    out = {**data, "output_dir": str(root)}
    for key in ("log_files", "outputs"):
        if key in out:
            out[key] = move_all(out[key])
    if "studio_url" in out:
        out["studio_url"] = move(out["studio_url"])
    if isinstance(out.get("trials"), list):
        out["trials"] = [{**t, **({"checkpoint": move(t["checkpoint"])} if "checkpoint" in t else {}),
                          **({"artifacts": move_all(t["artifacts"])} if "artifacts" in t else {})}
                         if isinstance(t, dict) else t for t in out["trials"]]
    return out


def job_difference(old: ImageClassificationJobBase, new: ImageClassificationJobBase) -> list[str]:
    """The top-level keys in which two jobs differ, limits excepted."""
    a, b = to_dict(old), to_dict(new)
    keys = sorted((set(a) | set(b)) - {"limits"})
    return [k for k in keys if a.get(k) != b.get(k)]
