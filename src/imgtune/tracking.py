"""MLflow interoperability: trials as MLflow runs, the best model as an MLflow pyfunc model.

Needs MLflow (``pip install 'imgtune[mlflow]'``); ``import imgtune.tracking`` does not import it.
``imgtune.run(job, out, mlflow_tracking_uri=URI)`` (``imgtune run job.yml --mlflow URI``) logs to
the MLflow store at ``URI``: a local ``sqlite:///mlflow.db`` or a folder (a plain path or a
``file://`` URI), or any other store MLflow can reach.

* **The job** is a parent run in the experiment named by the job's ``experiment_name``
  (``"imgtune"`` when it has none), named by its ``display_name``, else ``name``, else the output
  folder. Its params are the task, primary metric, sampler, early-termination policy and seed; its
  tags the output folder, the limits and ``imgtune.status``. At the end it gets the best trial's
  best evaluation as metrics (``test_<metric>`` for the test data) and Azure's
  ``automl_best_child_run_id`` tag; its status is ``FINISHED``, ``FAILED`` or ``KILLED``.
* **Each trial** is a child run (tag ``mlflow.parentRunId``), named by the trial id and written when
  the trial ends: params are every resolved training parameter (and the searched values), metrics
  every evaluation of its history with ``step`` = the epoch, tags ``imgtune.trial_id``,
  ``imgtune.status`` (Azure's), ``imgtune.stop_reason`` (a policy's reason, the error) and
  ``imgtune.resumable``; its status is ``FINISHED`` (Completed), ``FAILED`` or ``KILLED``
  (Canceled).
* **The best model** is logged in the best trial's run as the pyfunc model ``mlflow-model``
  (:class:`ImgtuneModel`, holding a copy of ``best/``); its URI is the result's
  ``outputs["mlflow_model"]``. ``mlflow.pyfunc.load_model(uri).predict(images)`` returns what
  :func:`imgtune.prediction.predict` returns for the same images.
* **Resume**: ``mlflow.json`` in the output folder maps the job and each trial to their MLflow
  runs, so running the folder again reuses them and logs nothing twice (a resumed trial's run gets
  only its new evaluations). Trials that finished before tracking was enabled are logged then.
* **Never fails the sweep**: an MLflow error while logging is written to ``run.log`` and the run
  goes on, like the report. :class:`MlflowTracker` is a run observer
  (:class:`~imgtune.runner.observers.RunObserver`) that :func:`imgtune.run` subscribes. MLflow's own messages go to ``run.log`` too. Telemetry is off
  (``MLFLOW_DISABLE_TELEMETRY``) unless set otherwise.

In a sqlite store, the experiments imgtune creates keep their artifacts beside the database
(``<folder of the .db>/mlartifacts/<experiment>``) rather than in ``./mlruns`` of whatever the
current folder is. MLflow 3.7+ refuses folder stores unless ``MLFLOW_ALLOW_FILE_STORE=true``;
imgtune sets it (when unset) for a folder URI, and a process that reads such a store back with
MLflow needs it too.
"""

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan
from imgtune.errors import Problem, ValidationError
from imgtune.runner.observers import RunObserver
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.runner.store import BestLayout, RunLayout, RunStore
from imgtune.serialization import unstructure
from imgtune.values import finite
from imgtune.version import __version__

__all__ = ["BEST_CHILD_TAG", "DEFAULT_EXPERIMENT", "ImgtuneModel", "MAPPING_FILE", "MODEL_NAME", "MlflowTracker",
           "images_of", "model_class", "normalize_uri", "pip_requirements", "require_mlflow", "run_status"]

#: The name of the logged pyfunc model (its artifact path in the best trial's run).
MODEL_NAME = "mlflow-model"
#: The experiment when the job has no ``experiment_name``.
DEFAULT_EXPERIMENT = "imgtune"
#: Azure's tag on the parent run naming the best child run.
BEST_CHILD_TAG = "automl_best_child_run_id"
#: The file in the output folder that maps the job and its trials to MLflow runs.
MAPPING_FILE = RunLayout.MLFLOW
INSTALL_HINT = "needs MLflow: pip install 'imgtune[mlflow]'"

_RUN_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}
_MAX_PARAM_VALUE = 6000  # MLflow's limit on a param's value
_METRIC_KEY = re.compile(r"^[\w\-. /:]+$")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
                b"RIFF")


def run_status(status: Any) -> str:
    """MLflow's run status for an imgtune (Azure) job or trial status.

    >>> run_status("Completed"), run_status("Failed"), run_status("Canceled"), run_status("Running")
    ('FINISHED', 'FAILED', 'KILLED', 'RUNNING')
    """
    value = getattr(status, "value", status)
    return _RUN_STATUS.get(value, "KILLED" if value == "CancelRequested" else "RUNNING")


def normalize_uri(uri: str | os.PathLike[str]) -> str:
    """The tracking URI with local paths made absolute, so a resume from another folder finds
    the same store: a plain path becomes a ``file://`` URI, a relative sqlite file absolute.

    >>> normalize_uri("/tmp/store")
    'file:///tmp/store'
    >>> normalize_uri("sqlite:////tmp/mlflow.db")
    'sqlite:////tmp/mlflow.db'
    >>> normalize_uri("sqlite:///mlflow.db") == "sqlite:///" + str(Path("mlflow.db").resolve())
    True
    >>> normalize_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    text = os.fspath(uri)
    if text.startswith("sqlite:///") and text != "sqlite:///:memory:":
        path = text[len("sqlite:///"):]
        if path and not path.startswith("/"):
            return "sqlite:///" + str(Path(path).resolve())
        return text
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).resolve().as_uri() if parsed.path else text
    if not parsed.scheme or (len(parsed.scheme) == 1 and os.name == "nt"):  # a path (or a Windows drive)
        return Path(text).expanduser().resolve().as_uri()
    return text


def _sqlite_file(uri: str) -> Path | None:
    if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        return Path(uri[len("sqlite:///"):].split("?")[0])
    return None


def require_mlflow() -> Any:
    """Imports MLflow (telemetry off unless set otherwise) and returns it.

    Raises:
        ValidationError: MLflow is not installed (``pip install 'imgtune[mlflow]'``).

    Example:
        >>> require_mlflow().__name__
        'mlflow'
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
    except ImportError:
        raise ValidationError([Problem("mlflow_tracking_uri", INSTALL_HINT)]) from None
    return mlflow


def pip_requirements() -> list[str]:
    """What the logged model needs, pinned to this environment (given to MLflow explicitly, so
    it infers nothing).

    Example:
        >>> pip_requirements()[0].startswith("imgtune=="), any(r.startswith("mlflow==") for r in pip_requirements())
        (True, True)
    """
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("imgtune", "mlflow", "cloudpickle"):
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            if name == "imgtune":
                out.append(f"imgtune=={__version__}")
    return out


def _ms(seconds: float | None) -> int:
    return int((seconds if seconds is not None else time.time()) * 1000)


def _param_value(value: Any) -> str:
    value = getattr(value, "value", value)  # enums
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, default=str, sort_keys=True)
    text = str(value)
    return text if len(text) <= _MAX_PARAM_VALUE else text[:_MAX_PARAM_VALUE - 3] + "..."


def trial_params(record: TrialRecord) -> dict[str, str]:
    """A trial's params: every resolved training parameter that is set, then the searched values."""
    params = {k: _param_value(v) for k, v in unstructure(record.parameters).items() if v is not None}
    params.update({k: _param_value(v) for k, v in record.sampled.items() if v is not None})
    return params


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "experiment"


class MlflowTracker(RunObserver):
    """Logs a sweep to an MLflow store (see the module doc), as a run observer: its hooks call
    :meth:`start` (when the sweep starts), :meth:`trial_ended`, :meth:`finalize` (when it finishes)
    and :meth:`finish` (when it has ended); none of them raises: an MLflow failure is written to
    ``run.log``.

    Args:
        tracking_uri: The MLflow store (``sqlite:///...``, a folder, ``file://...``, ...).

    Raises:
        ValidationError: MLflow is not installed, or the store cannot be opened.

    Example:
        >>> import tempfile
        >>> from imgtune.runner.observers import RunObserver
        >>> tracker = MlflowTracker(tempfile.mkdtemp())   # a folder store; imgtune.run(..., mlflow_tracking_uri=...)
        >>> isinstance(tracker, RunObserver)
        True
    """

    def __init__(self, tracking_uri: str | os.PathLike[str]) -> None:
        if not isinstance(tracking_uri, (str, os.PathLike)) or not os.fspath(tracking_uri).strip():
            raise ValidationError([Problem("mlflow_tracking_uri", f"must be a non-empty URI or path, "
                                                                  f"got {tracking_uri!r}")])
        self.uri = normalize_uri(tracking_uri)
        if self.uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.7+ refuses folder stores otherwise
        self.mlflow = require_mlflow()
        self.store: RunStore | None = None
        self.plan: Plan | None = None
        self.state: dict[str, Any] = {}
        self.started_at: float | None = None
        self._checked: str | None = None
        self._loaded = False
        db = _sqlite_file(self.uri)
        try:
            if db is not None:
                db.parent.mkdir(parents=True, exist_ok=True)
            with self._mlflow_messages():
                self.client = self.mlflow.MlflowClient(self.uri)
                self.client.search_experiments(max_results=1)
        except Exception as exc:  # noqa: BLE001 - any failure to open the store is the URI's problem
            raise ValidationError([Problem("mlflow_tracking_uri", f"cannot open the MLflow store {self.uri}: "
                                                                  f"{type(exc).__name__}: {exc}")]) from None

    # -- the observer's hooks -----------------------------------------------------------------
    def started(self, plan: Plan, store: RunStore, result: RunResult) -> None:
        self.start(plan, store, result.trials, started_at=result.started_at)

    def finishing(self, result: RunResult) -> RunResult:
        return self.finalize(result)

    def finished(self, result: RunResult) -> None:
        self.finish(result)

    # -- the work, step by step -------------------------------------------------------------
    def start(self, plan: Plan, store: RunStore, records: Iterable[TrialRecord], *,
              started_at: float | None = None) -> None:
        """Creates the parent run, or reuses the one in ``mlflow.json`` (a resume), and logs the
        finished trials that have no run yet."""
        self.plan, self.store, self.started_at = plan, store, started_at
        self._guarded("starting", self._start, list(records))

    def trial_ended(self, record: TrialRecord) -> None:
        """Logs a trial that ended (creating its run, or adding to it after a resume)."""
        self._guarded(f"logging trial {record.id}", self._log_trial, record)

    def finalize(self, result: RunResult) -> RunResult:
        """Logs the best model in the best trial's run, and the best trial's metrics on the parent;
        returns ``result`` with ``outputs["mlflow_model"]`` (the model's URI) when it was logged."""
        uri = self._guarded("logging the best model", self._finalize, result)
        if not uri:
            return result
        return attrs.evolve(result, outputs={**result.outputs, "mlflow_model": uri})

    def finish(self, result: RunResult) -> None:
        """Ends the parent run with the job's status."""
        self._guarded("ending the parent run", self._finish, result)

    # -- the work ---------------------------------------------------------------------------
    def _start(self, records: list[TrialRecord]) -> None:
        self._parent()
        for record in records:
            if record.finished and record.id not in self.state.get("trials", {}):
                self._log_trial(record)

    def _load_state(self) -> None:
        path = self.store.layout.mlflow
        state: dict[str, Any] = {}
        if path.exists():
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.store.log(f"mlflow: {MAPPING_FILE} unreadable ({exc}); starting new MLflow runs")
                state = {}
            if state and state.get("tracking_uri") != self.uri:
                self.store.log(f"mlflow: {MAPPING_FILE} names another store ({state.get('tracking_uri')}); "
                               f"logging this run to {self.uri} anew")
                state = {}
        self.state, self._loaded = state, True

    def _save_state(self) -> None:
        write_atomic(self.store.layout.mlflow, json.dumps(self.state, indent=1, sort_keys=True) + "\n")

    def _alive(self, run_id: str | None) -> Any:
        """The run, when it exists and is not deleted."""
        if not run_id:
            return None
        try:
            run = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - missing (another store, deleted for good)
            return None
        return run if run.info.lifecycle_stage == "active" else None

    def _experiment(self) -> str:
        name = self.plan.job.experiment_name or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            db = _sqlite_file(self.uri)
            location = (db.parent / "mlartifacts" / _slug(name)).as_uri() if db is not None else None
            return self.client.create_experiment(name, artifact_location=location)
        if experiment.lifecycle_stage != "active":
            raise RuntimeError(f"the MLflow experiment {name!r} is deleted; restore it or set another "
                               f"experiment_name")
        return experiment.experiment_id

    def _parent(self) -> str:
        """The parent run's id: the mapped one (set running again), else a new one."""
        if not self._loaded:
            self._load_state()
        run_id = self.state.get("parent_run_id")
        if run_id and self._checked == run_id:
            return run_id
        if self._alive(run_id):
            self.client.update_run(run_id, status="RUNNING")
        else:
            experiment_id = self._experiment()
            job = self.plan.job
            name = job.display_name or job.name or self.store.root.name
            policy = self.plan.policy
            params = {"task": "image_classification_multilabel" if job.multilabel else "image_classification",
                      "primary_metric": job.primary_metric.value, "sampling_algorithm": self.plan.sampler.type,
                      "early_termination": _param_value(getattr(policy, "type", None) or "none"),
                      "seed": str(self.plan.seed), "target_column_name": str(job.target_column_name)}
            run = self.client.create_run(experiment_id, start_time=_ms(self.started_at), run_name=name,
                                         tags={"imgtune.output_dir": str(self.store.root),
                                               "mlflow.source.name": "imgtune", "mlflow.source.type": "LOCAL"})
            run_id = run.info.run_id
            self.state = {"tracking_uri": self.uri, "experiment_id": experiment_id, "parent_run_id": run_id,
                          "trials": {}}
            self._save_state()
            self._log_batch(run_id, params=params)
        limits = self.plan.limits
        self._log_batch(run_id, tags={"imgtune.status": "Running", "imgtune.max_trials": str(limits.max_trials),
                                      "imgtune.max_concurrent_trials": str(limits.max_concurrent_trials),
                                      "imgtune.timeout_minutes": str(limits.timeout_minutes)})
        self._checked = run_id  # checked (and set running) once per process
        return run_id

    def _log_trial(self, record: TrialRecord) -> str:
        parent = self._parent()
        trials = self.state.setdefault("trials", {})
        run = self._alive(trials.get(record.id))
        if run is None:
            created = self.client.create_run(self.state["experiment_id"], start_time=_ms(record.started_at),
                                             run_name=record.id,
                                             tags={"mlflow.parentRunId": parent, "imgtune.trial_id": record.id,
                                                   "imgtune.trial_index": str(record.index)})
            run_id = created.info.run_id
            trials[record.id] = run_id
            self._save_state()  # at once: a crash from here on resumes into this run
            params, tags, logged = {}, {}, set()
        else:
            run_id = run.info.run_id
            params, tags = dict(run.data.params), dict(run.data.tags)
            logged = {(m.key, m.step, m.value) for key in run.data.metrics
                      for m in self.client.get_metric_history(run_id, key)}
        new_params = {k: v for k, v in trial_params(record).items() if k not in params}
        new_tags = {"imgtune.status": record.status.value, "imgtune.resumable": str(bool(record.resumable)).lower(),
                    "imgtune.attempts": str(record.attempts)}
        if record.stop_reason:
            new_tags["imgtune.stop_reason"] = _param_value(record.stop_reason)
        elif "imgtune.stop_reason" in tags:
            self.client.delete_tag(run_id, "imgtune.stop_reason")
        from mlflow.entities import Metric

        stamp = _ms(record.ended_at)
        metrics = []
        for position, evaluation in enumerate(record.history):
            step = evaluation.get("epoch")
            step = int(step) if finite(step) is not None else position + 1
            for key, value in evaluation.items():
                value = finite(value)
                if key == "epoch" or value is None or not _METRIC_KEY.match(str(key)) \
                        or (key, step, value) in logged:
                    continue
                metrics.append(Metric(key=str(key), value=value, timestamp=stamp, step=step))
        self._log_batch(run_id, params=new_params, metrics=metrics, tags=new_tags)
        self.client.set_terminated(run_id, status=run_status(record.status), end_time=_ms(record.ended_at))
        return run_id

    def _finalize(self, result: RunResult) -> str | None:
        best = result.best_trial
        if best is None:
            return None
        parent = self._parent()
        child = self.state.get("trials", {}).get(best.id)
        if not self._alive(child):
            child = self._log_trial(best)
        from mlflow.entities import Metric

        evaluation = next((h for h in best.history if h.get("epoch") == best.best_epoch), {})
        values = {k: v for k, v in evaluation.items() if k != "epoch"}
        values[result.primary_metric] = best.best_metric
        values.update({f"test_{k}": v for k, v in (result.test_metrics or {}).items()})
        latest = self.client.get_run(parent).data.metrics
        metrics = [Metric(key=str(k), value=f, timestamp=_ms(None), step=0) for k, v in values.items()
                   if (f := finite(v)) is not None and _METRIC_KEY.match(str(k)) and latest.get(k) != f]
        self._log_batch(parent, metrics=metrics, tags={BEST_CHILD_TAG: child, "imgtune.best_trial_id": best.id})
        best_dir = Path(result.outputs.get("best") or self.store.best_dir)
        if not BestLayout(best_dir).checkpoint.is_dir():
            return None
        key = f"{best.id}:{best.best_epoch}:{best.best_metric!r}"
        logged = self.state.get("model") or {}
        if logged.get("key") == key and logged.get("run_id") == child and logged.get("uri"):
            return logged["uri"]  # a resume that changed nothing: the model is there already
        uri = self._log_model(child, best_dir)
        self.state["model"] = {"key": key, "run_id": child, "uri": uri, "trial": best.id}
        self._save_state()
        self.client.set_tag(parent, "imgtune.mlflow_model", uri)
        self.store.log(f"mlflow: best model (trial {best.id}) logged as {uri}")
        return uri

    def _log_model(self, run_id: str, best_dir: Path) -> str:
        mlflow = self.mlflow
        run = self.client.get_run(run_id)
        status, end_time = run.info.status, run.info.end_time
        quiet = _environ(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
        with self._mlflow_messages(), quiet, _tracking_uri(mlflow, self.uri), \
                mlflow.start_run(run_id=run_id, nested=True):
            info = mlflow.pyfunc.log_model(name=MODEL_NAME, python_model=model_class()(),
                                           artifacts={"best": str(best_dir)}, pip_requirements=pip_requirements(),
                                           signature=_signature(mlflow))
        self.client.set_terminated(run_id, status=status, end_time=end_time)  # start_run made it FINISHED
        return info.model_uri or f"runs:/{run_id}/{MODEL_NAME}"

    def _finish(self, result: RunResult) -> None:
        parent = self.state.get("parent_run_id")
        if not parent:
            return
        self.client.set_tag(parent, "imgtune.status", result.status.value)
        self.client.set_terminated(parent, status=run_status(result.status), end_time=_ms(result.ended_at))

    # -- plumbing ---------------------------------------------------------------------------
    def _log_batch(self, run_id: str, *, params: Mapping[str, str] | None = None, metrics: list | None = None,
                   tags: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import Param, RunTag

        params_, tags_ = [Param(k, v) for k, v in (params or {}).items()], [RunTag(k, v) for k, v in
                                                                             (tags or {}).items()]
        metrics = list(metrics or ())
        for start in range(0, len(params_), 100):  # MLflow's limits per batch
            self.client.log_batch(run_id, params=params_[start:start + 100])
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start:start + 1000])
        for start in range(0, len(tags_), 100):
            self.client.log_batch(run_id, tags=tags_[start:start + 100])

    def _guarded(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            with self._mlflow_messages():
                return fn(*args)
        except Exception as exc:  # noqa: BLE001 - tracking is a view of the run, never part of it
            if self.store is not None:
                self.store.log(f"mlflow: {what} failed: {type(exc).__name__}: {exc}")
            return None

    @contextlib.contextmanager
    def _mlflow_messages(self) -> Iterator[None]:
        """MLflow's log records and warnings go to ``run.log`` (when there is one), not the console."""
        logger = logging.getLogger("mlflow")
        handler = _RunLogHandler(self.store)
        saved = logger.handlers[:], logger.propagate, logger.level
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
        finally:
            logger.handlers[:], logger.propagate, level = saved
            logger.setLevel(level)
        for w in caught:
            handler.write(f"{w.category.__name__}: {w.message}")


class _RunLogHandler(logging.Handler):
    def __init__(self, store: RunStore | None) -> None:
        super().__init__(logging.WARNING)
        self.store = store

    def emit(self, record: logging.LogRecord) -> None:
        if "serialized using CloudPickle" in record.getMessage():
            return  # the model class is imgtune's own, pickled by reference
        self.write(f"{record.levelname} {record.name}: {record.getMessage()}")

    def write(self, line: str) -> None:
        if self.store is not None:
            self.store.log("mlflow: " + " ".join(line.split())[:2000])


def _signature(mlflow: Any) -> Any:
    """A signature with the ``top_k`` parameter only (0: every label), so that MLflow passes
    ``params={"top_k": k}`` through; no input schema, which would refuse bytes or paths."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    return ModelSignature(inputs=None, params=ParamSchema([ParamSpec("top_k", "long", 0)]))


@contextlib.contextmanager
def _tracking_uri(mlflow: Any, uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at ``uri`` for a while, then back."""
    try:
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    except ImportError:  # pragma: no cover - a future MLflow without it
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)
        return
    with _use_tracking_uri(uri):
        yield


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- the pyfunc model -----------------------------------------------------------------------------------


def images_of(model_input: Any) -> list[Any]:
    """The images in a pyfunc model's input, as :func:`imgtune.prediction.predict` takes them.

    ``model_input`` is a pandas DataFrame with an ``image`` column (or a single column), a
    mapping with an ``image`` key, a Series, array, list or tuple, or one image. An image is a
    path, raw encoded image bytes, or those bytes base64-encoded (as bytes or text: Azure ML's
    scoring format).

    >>> png = b"\\x89PNG\\r\\n\\x1a\\n..."
    >>> images_of(["a.png", png, base64.b64encode(png).decode()]) == ["a.png", png, png]
    True
    >>> images_of({"image": ["a.png"]})
    ['a.png']
    """
    if hasattr(model_input, "columns") and hasattr(model_input, "__getitem__"):  # a DataFrame
        columns = list(model_input.columns)
        if "image" in columns:
            values = model_input["image"]
        elif len(columns) == 1:
            values = model_input[columns[0]]
        else:
            raise ValueError(f"expected a DataFrame with an 'image' column, got columns {columns}")
        values = list(values)
    elif isinstance(model_input, Mapping):
        if "image" not in model_input:
            raise ValueError(f"expected a mapping with an 'image' key, got keys {sorted(model_input)}")
        values = model_input["image"]
        values = [values] if isinstance(values, (str, bytes, os.PathLike)) else list(values)
    elif isinstance(model_input, (str, bytes, bytearray, os.PathLike)):
        values = [model_input]
    elif hasattr(model_input, "tolist"):  # a Series or an array
        values = model_input.tolist()
    else:
        values = list(model_input)
    return [_image(v) for v in values]


def _image(value: Any) -> Any:
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if isinstance(value, bytes):
        return value if value.startswith(_IMAGE_MAGIC) else (_unbase64(value) or value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str) and not os.path.exists(value) and len(value) >= 16:
        return _unbase64(value) or value
    return value


def _unbase64(value: str | bytes) -> bytes | None:
    """Decoded image bytes when ``value`` is base64 of an image, else ``None``."""
    try:
        compact = b"".join(value.split()) if isinstance(value, bytes) else "".join(value.split()).encode("ascii")
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return data if data.startswith(_IMAGE_MAGIC) else None


def _load_context(self: Any, context: Any) -> None:
    """Loads the model from the logged copy of ``best/`` (``context.artifacts["best"]``)."""
    from imgtune.prediction import load_predictor  # loads JAX: only where the logged model is used

    self.best = context.artifacts["best"]
    self.predictor = load_predictor(self.best)


def _predict(self: Any, context: Any, model_input: Any, params: dict[str, Any] | None = None):
    """Predicts the images in ``model_input`` (see :func:`images_of`).

    Returns:
        What :func:`imgtune.prediction.predict` returns: one dict per image, in input order
        (``filename``, ``probs``, ``labels``, ``predicted``; ``filename`` is the path given, or
        ``<bytes i>`` for the i-th input given as bytes), or ``{"filename", "error"}`` for an
        image that could not be read. ``params={"top_k": k}`` keeps the k most probable labels,
        most probable first (0, the default: all, in class order). (No return hint: MLflow would
        try to infer an output schema from it.)
    """
    from imgtune.prediction import predict  # loads JAX: only where the logged model is used

    predictor = getattr(self, "predictor", None)
    if predictor is None:  # used without load_context
        predictor = self.best = getattr(self, "best", None) or context.artifacts["best"]
    top_k = (params or {}).get("top_k")
    return predict(predictor, images_of(model_input), top_k=int(top_k) if top_k else None)


def _model_class() -> type:
    mlflow = require_mlflow()
    import pandas as pd

    _predict.__annotations__["model_input"] = pd.DataFrame  # a hint MLflow takes without inferring a schema
    namespace = {"__module__": __name__, "__qualname__": "ImgtuneModel", "load_context": _load_context,
                 "predict": _predict,
                 "__doc__": "imgtune's best model as an MLflow pyfunc model (see :mod:`imgtune.tracking`).\n\n"
                            "Its artifact ``best`` is a copy of the run's ``best/`` folder; ``predict`` takes a "
                            "DataFrame with an ``image`` column (paths, image bytes, base64) or a list of images "
                            "and returns :func:`imgtune.prediction.predict`'s list of dicts."}
    return type("ImgtuneModel", (mlflow.pyfunc.PythonModel,), namespace)


def model_class() -> type:
    """:class:`ImgtuneModel`, built on first use (it subclasses ``mlflow.pyfunc.PythonModel``,
    so importing this module needs no MLflow).

    Raises:
        ImportError: MLflow is not installed.

    Example:
        >>> cls = model_class()
        >>> cls.__name__, [c.__name__ for c in cls.__mro__][1]
        ('ImgtuneModel', 'PythonModel')
    """
    cls = globals().get("ImgtuneModel")
    if cls is None:
        try:
            cls = _model_class()
        except ValidationError:
            raise ImportError(f"imgtune.tracking.ImgtuneModel {INSTALL_HINT}") from None
        globals()["ImgtuneModel"] = cls
    return cls


ImgtuneModel: type  # declared, not bound: model_class() builds it on first use (through __getattr__)


def __getattr__(name: str) -> Any:
    # ``imgtune.tracking.ImgtuneModel``, and unpickling a logged model (which finds the class here by name)
    if name == "ImgtuneModel":
        return model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
