"""What a run produces, as frozen records: :class:`RunResult` and its :class:`TrialRecord` s.

They are written to ``run.json`` in the output folder as they change (atomically),
so :func:`imgtune.load_result` reads a run back, also while it is going on.

``run.json`` records :data:`RUN_VERSION`, the version of the run folder's format: ``run.json``
itself, the folder's layout (:mod:`imgtune.runner.store`) and the files the sweep writes there.
Raise it when one of them changes in a way that an older imgtune would misread, register the
migration from the previous version in :data:`RUN_MIGRATIONS` (when it can be read), and add a
fixture of the previous version (``tests/fixtures/make_run_fixture.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from imgtune.formats import Migration, upgrade
from imgtune.spec.convert import record_converter
from imgtune.spec.enums import JobStatus, PrimaryMetric
from imgtune.spec.frozen import FrozenMap, freeze
from imgtune.spec.records import TrainingParameters
from imgtune.values import data_frame

__all__ = ["RUN_MIGRATIONS", "RUN_VERSION", "RunResult", "TrialRecord", "best_of_history", "best_trial_of",
           "upgrade_run"]

#: The run folder's format version (see the module doc); ``run.json`` records it as ``version``.
RUN_VERSION = 1
#: Version ``v`` -> the :data:`~imgtune.formats.Migration` of a ``run.json`` of version ``v`` to ``v + 1``.
RUN_MIGRATIONS: Mapping[int, Migration] = {}


def upgrade_run(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The content of a ``run.json`` (at ``where``) in the current format, :data:`RUN_VERSION`.

    Raises:
        ValidationError: A newer format (upgrade imgtune), or an older one no migration reads;
            each message says what to do.

    >>> upgrade_run({"version": RUN_VERSION, "status": "Completed"}, "run.json")["status"]
    'Completed'
    """
    return upgrade(data, RUN_VERSION, RUN_MIGRATIONS, format="run", where=where)


def best_of_history(history: Iterable[Mapping[str, Any]], metric: PrimaryMetric) -> tuple[float | None, int | None]:
    """The best finite ``metric`` in a trial's evaluations (the metric says which is best), and its epoch."""
    history = list(history)
    best, index = metric.best(h.get(metric.value) for h in history)
    return (best, history[index].get("epoch")) if index is not None else (None, None)


def best_trial_of(trials: Iterable[TrialRecord], metric: PrimaryMetric) -> TrialRecord | None:
    """The trial with the best ``best_metric`` (ties: the earlier trial); failed trials never count.

    This one rule picks ``RunResult.best_trial`` and the model copied into ``best/``.
    """
    best = None
    for t in sorted(trials, key=lambda t: t.index):
        if t.status is not JobStatus.FAILED and metric.better(t.best_metric, None if best is None else best.best_metric):
            best = t
    return best


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(kw_only=True)
class TrialRecord:
    """One trial of a run.

    Attributes:
        id: The plan's trial id.
        index: Its ordinal in the plan.
        parameters: Every training parameter, resolved.
        sampled: The values drawn from the search space.
        status: An Azure job status (``NotStarted``, ``Running``, ``Completed``,
            ``Failed``, ``Canceled``, ...).
        stop_reason: Why it ended early (a policy's reason, the timeout, the error).
        history: One mapping per evaluation: ``epoch`` and every metric.
        best_metric: The best primary-metric value reported.
        best_epoch: The epoch of ``best_metric``.
        started_at, ended_at: Unix times.
        attempts: How many times it was started (a resume or a retry adds one).
        resumable: Interrupted (Ctrl-C, the timeout, a lost sweep) rather than finished:
            running the same folder again continues it from its last checkpoint.
        checkpoint: The folder of its best checkpoint, while it is kept (the best few trials).
        artifacts: Name -> file the trial produced for its best model (``labels.json``,
            ``metrics.json``, ...); copied into ``best/`` for the best trial.

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> trial = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")).trials[0]
        >>> record = TrialRecord(id=trial.id, index=0, parameters=trial.parameters, status="Completed",
        ...                      best_metric=0.91, best_epoch=3)
        >>> record.finished, record.status.value, record.best_metric
        (True, 'Completed', 0.91)
    """

    id: str
    index: int
    parameters: TrainingParameters = attrs.field(converter=record_converter(TrainingParameters))
    sampled: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    status: JobStatus = attrs.field(default=JobStatus.NOT_STARTED, converter=JobStatus.parse_or_keep)
    stop_reason: str | None = None
    history: tuple[FrozenMap, ...] = attrs.field(default=(), converter=lambda v: tuple(freeze(h) for h in v))
    best_metric: float | None = attrs.field(default=None, converter=_opt_float)
    best_epoch: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    attempts: int = 0
    resumable: bool = False
    checkpoint: str | None = None
    artifacts: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)

    @property
    def finished(self) -> bool:
        """Whether the trial reached a final status that a resume keeps (a trial
        interrupted by Ctrl-C or the timeout is ``Canceled`` but ``resumable``)."""
        return self.status.is_terminal and not self.resumable


#: The first columns of :meth:`RunResult.trials_frame`; the training parameters follow.
_TRIAL_COLUMNS = ("trial_id", "index", "status", "best_metric", "best_epoch", "stop_reason", "attempts",
                  "resumable", "started_at", "ended_at")


#: The training parameters' columns (every field, also in an empty frame).
_PARAMETER_COLUMNS = tuple(a.name for a in attrs.fields(TrainingParameters) if a.name != "extra_parameters")


def _parameters(trial: TrialRecord) -> dict[str, Any]:
    """A trial's training parameters by name, every field (``None`` where unset), then ``extra_parameters.<name>``."""
    return trial.parameters.flat_fields()


@attrs.frozen(kw_only=True)
class RunResult:
    """The result of :func:`imgtune.run` (and of :func:`imgtune.load_result`).

    Attributes:
        status: The job's status.
        trials: Every trial of the plan, in order.
        primary_metric: The metric trials are ranked by (it says which value is better); required.
        output_dir: Where everything is.
        log_files: Name -> path of the logs (the run's and each trial's).
        outputs: Name -> path of the outputs (``best`` model folder, ``summary``, ...).
        studio_url: The report's ``file://`` URL once it exists, else ``None``.
        test_metrics: The best model's metrics on the test data, when there is some.
        started_at, ended_at: Unix times.
        elapsed_seconds: Time spent running, summed over resumes (what the timeout counts).
        message: Why the job ended as it did (e.g. the timeout), when it is worth saying.

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> trial = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")).trials[0]
        >>> done = [TrialRecord(id=f"{i}", index=i, parameters=trial.parameters, status="Completed", best_metric=m)
        ...         for i, m in enumerate([0.8, 0.9])]
        >>> result = RunResult(primary_metric="accuracy", status="Completed", trials=done)
        >>> result.best_trial.id, result.status.value
        ('1', 'Completed')
    """

    version: int = RUN_VERSION
    status: JobStatus = attrs.field(default=JobStatus.NOT_STARTED, converter=JobStatus.parse_or_keep)
    trials: tuple[TrialRecord, ...] = attrs.field(default=(), converter=lambda v: tuple(
        t if isinstance(t, TrialRecord) else record_converter(TrialRecord)(t) for t in v))
    primary_metric: PrimaryMetric = attrs.field(converter=PrimaryMetric.parse_or_keep)
    output_dir: str = ""
    log_files: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    outputs: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    studio_url: str | None = None
    test_metrics: FrozenMap | None = attrs.field(default=None, converter=lambda v: None if v is None else freeze(v))
    started_at: float | None = None
    ended_at: float | None = None
    elapsed_seconds: float = 0.0
    message: str | None = None

    @property
    def best_trial(self) -> TrialRecord | None:
        """The trial with the best primary metric (ties: the earlier trial; failed trials never count)."""
        return best_trial_of(self.trials, self.primary_metric)

    def trial(self, trial_id: str) -> TrialRecord:
        """The trial with this id."""
        for t in self.trials:
            if t.id == trial_id:
                return t
        raise KeyError(trial_id)

    def trials_frame(self) -> Any:
        """The trials as a ``pandas.DataFrame``, one row per trial, in the plan's order.

        Columns: ``trial_id``, ``index``, ``status`` (Azure's name), ``best_metric``, ``best_epoch``,
        ``stop_reason``, ``attempts``, ``resumable``, ``started_at``, ``ended_at`` (Unix times), then
        every training parameter (resolved, one column each, as in ``plan.to_frame()``; enums as
        their values), then one's own hyperparameters (``extra_parameters.<name>``). Needs pandas: ``pip install 'imgtune[frames]'`` (else an ``ImportError`` says so).
        """
        rows = [{"trial_id": t.id, "index": t.index, "status": t.status.value, "best_metric": t.best_metric,
                 "best_epoch": t.best_epoch, "stop_reason": t.stop_reason, "attempts": t.attempts,
                 "resumable": t.resumable, "started_at": t.started_at, "ended_at": t.ended_at,
                 **_parameters(t)} for t in self.trials]
        return data_frame(rows, (*_TRIAL_COLUMNS, *_PARAMETER_COLUMNS))

    def history_frame(self) -> Any:
        """Every evaluation of every trial as a ``pandas.DataFrame``, one row per evaluation (trials
        in the plan's order, each trial's evaluations in the order reported).

        Columns: ``trial_id``, ``index``, ``status`` (the trial's), ``epoch``, then each metric
        reported (``accuracy``, ``loss``, ...; empty where a trial did not report it), then every
        training parameter of the trial (a metric of the same name wins). Needs pandas, as
        :meth:`trials_frame`.
        """
        rows = []
        for t in self.trials:
            params = _parameters(t)
            for h in t.history:
                rows.append({"trial_id": t.id, "index": t.index, "status": t.status.value, "epoch": h.get("epoch"),
                             **{k: v for k, v in params.items() if k not in h}, **h})
        metrics = {k: None for t in self.trials for h in t.history for k in h if k != "epoch"}
        return data_frame(rows, ["trial_id", "index", "status", "epoch", *metrics,
                                 *(c for c in _PARAMETER_COLUMNS if c not in metrics)])

    def counts(self) -> Mapping[str, int]:
        """How many trials are in each status."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status.value] = out.get(t.status.value, 0) + 1
        return out
