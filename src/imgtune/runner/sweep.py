"""The sweep's pure core: a frozen state, and each event a transition to a new state and effects.

Everything the sweep decides (which trial starts in which slot, what a report is answered, when
the timeout stops the running trials, what the policy stops and why, which trials Bayesian
sampling proposes and from what history, which checkpoints are pruned, each status of the job and
of every trial) is decided here, by one pure function::

    step(state, event) -> (new state, effects)

No I/O, no clock, no processes: time comes in the events (each has ``at``, a Unix time), and what
is to be done comes out as effects, values that a shell carries out. The shells are
:mod:`imgtune.runner.local` (trials as local processes, or, with its launcher, as Ray actors:
:mod:`imgtune.runner.ray_executor`): they turn what happens into events, feed them in, and apply
the effects in order. Finishing (``best/``, test scoring, pruning) is :mod:`imgtune.runner.finish`.

**The state** (:class:`SweepState`): the plan (it grows when Bayesian sampling proposes), the
result as ``run.json`` holds it (the job's status, every trial's :class:`TrialRecord`), the trials
waiting for a slot, the running ones (:class:`Running`: their slot and whether they were asked to
stop), the free slots, the policy's state, the phase (:class:`Phase`) and the clock's marks (when
this run of the sweep began, the time limit, when Ctrl-C came). Persisted as the shell does it
(``run.json`` and ``plan.yaml``), :func:`initial_state` rebuilds it: a resume.

**Events** (what happened; each with ``at``):

* :class:`Begin`: the sweep starts (or resumes): statuses ``Starting``, ``Preparing``,
  ``Running``; interrupted trials go back to ``NotStarted`` (resumable); the slots fill.
* :class:`Reported`: a running trial reported an evaluation; it waits for its :class:`Answer`.
* :class:`Ended`: a trial's process returned its :class:`~imgtune.train.trial_types.TrialResult`.
* :class:`Lost`: a trial's process ended without one (a crash, a kill, a lost Ray actor): it fails;
  one that the timeout or Ctrl-C had asked to stop is ``Canceled`` and resumable instead (its last
  checkpoint is on disk).
* :class:`Progressed`: a running trial's training advanced (its steps). A trial that neither
  reports nor advances for :attr:`SweepState.stall_seconds` is stalled: it is let go of
  (:class:`Release`) and fails with that reason; the sweep goes on.
* :class:`Tick`: time passed. At :attr:`SweepState.deadline` the timeout falls: the running trials
  are asked to stop (resumably) and no trial starts any more. A trial asked to stop that has not
  ended :data:`GRACE_SECONDS` later is terminated. :class:`Begin`, a report and an end check the
  clock the same way (a sweep resumed with its time spent starts nothing).
* :class:`Interrupted`: Ctrl-C: ``CancelRequested``, every running trial asked to stop
  (resumably); ``GRACE_SECONDS`` later (or at a second Ctrl-C) the rest are let go of; ``Canceled``.
* :class:`Annotated`: an observer added outputs, ``studio_url`` or a message to the result.
* :class:`Finalized`: ``best/`` is assembled and scored and the observers' ``finishing`` called;
  the result with what they added. The job's final status follows.

**Effects** (what to do, in order):

* :class:`Launch`: start a trial's process in a slot (the shell logs where).
* :class:`Answer`: answer a trial's report: go on, or stop (with the reason); a stop the timeout
  or Ctrl-C asked for is ``resumable``: the trial keeps its last checkpoint and writes no final
  result (:mod:`imgtune.train.interrupt`), and the next run continues it.
* :class:`Terminate`: terminate a trial's process; the sweep still waits for it to end.
* :class:`Release`: the sweep ended a trial without it (Ctrl-C's grace is over): stop its
  process if it runs, and let go of it.
* :class:`WriteTrial`, :class:`SaveRun`, :class:`SavePlan`: persist a trial's files
  (``parameters.yaml``, ``metrics.jsonl``), ``run.json`` (and ``summary.csv``), ``plan.yaml``.
* :class:`PruneCheckpoints`: delete these checkpoint folders (the trials beyond the best
  ``keep_checkpoints``).
* :class:`Log`: a line of ``run.log``.
* :class:`Notify`: call the observers' ``started``, ``changed`` (after each :class:`SaveRun` that
  shows a change) or ``trial_ended`` hook (:mod:`imgtune.runner.observers`). What ``changed``
  adds comes back as :class:`Annotated`; a snapshot later in the same batch of effects keeps it
  (:func:`carry`).
* :class:`Finish`: the trials are over: assemble ``best/``, score it, call the observers'
  ``finishing``; then feed :class:`Finalized`.
* :class:`Done`: the sweep is over: read ``run.json`` back, call the observers' ``finished``.

Statuses only move forward: a trial goes ``NotStarted`` -> ``Running`` -> ``Completed``,
``Failed`` or ``Canceled``, and back to ``NotStarted`` only when :class:`Begin` finds it
interrupted (resumable, or failed with ``retry_failed``). The policy's state is kept here, not
persisted: a resume starts it anew (the built-in policies keep none).

Example: a grid of two trials, one at a time, stepped by hand.

    >>> import imgtune
    >>> plan = imgtune.compile(imgtune.loads('''
    ... type: automl
    ... task: image_classification
    ... target_column_name: label
    ... training_data: {path: data}
    ... limits: {max_trials: 2, max_concurrent_trials: 1}
    ... sweep: {sampling_algorithm: grid}
    ... search_space:
    ...   - learning_rate: {type: choice, values: [0.01, 0.1]}
    ... '''))
    >>> state = initial_state(plan, output_dir="/runs/demo")
    >>> state, effects = step(state, Begin(at=100.0))
    >>> [type(e).__name__ for e in effects]  # doctest: +NORMALIZE_WHITESPACE
    ['Notify', 'SaveRun', 'Notify', 'Log', 'SaveRun', 'Notify', 'SaveRun', 'Notify',
     'Launch', 'WriteTrial', 'SaveRun', 'Notify']
    >>> [e.result.status.value for e in effects if isinstance(e, SaveRun)]
    ['Starting', 'Preparing', 'Running', 'Running']
    >>> first, second = (t.id for t in plan.trials)
    >>> effects[8] == Launch(trial=plan.trials[0], slot=0)
    True
    >>> state, effects = step(state, Reported(trial_id=first, evaluation={"epoch": 1, "accuracy": 0.8}, at=101.0))
    >>> effects[-1] == Answer(trial_id=first, stop_reason=None)
    True
    >>> state, effects = step(state, Ended(trial_id=first, result=TrialResult(status="Completed"), at=102.0))
    >>> [e.line for e in effects if isinstance(e, Log)]
    ['trial 0000-... Completed']
    >>> [e.trial.id for e in effects if isinstance(e, Launch)] == [second]
    True
    >>> state, effects = step(state, Lost(trial_id=second, reason="the trial process was killed by SIGKILL",
    ...                                   at=103.0))
    >>> state.phase, state.result.status.value, type(effects[-1]).__name__
    (<Phase.FINISHING: 'finishing'>, 'Finalizing', 'Finish')
    >>> state, effects = step(state, Finalized(result=effects[-1].result, at=104.0))
    >>> state.result.status.value, dict(state.result.counts()), effects[-1]
    ('Completed', {'Completed': 1, 'Failed': 1}, Done(status=<JobStatus.COMPLETED: 'Completed'>))
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from imgtune.compiler import Plan, Trial, extend, make_policy
from imgtune.runner.observers import with_additions
from imgtune.runner.results import RunResult, TrialRecord, best_of_history
from imgtune.runner.store import RunLayout
from imgtune.spec.enums import JobStatus
from imgtune.train.trial_types import TrialResult
from imgtune.values import finite

__all__ = [
    "DEFAULT_STALL_SECONDS", "GRACE_SECONDS", "Annotated", "Answer", "Begin", "Done", "Effect", "Ended", "Event",
    "Finalized", "Finish", "Launch", "Log", "Lost", "Notify", "Phase", "Progressed", "PruneCheckpoints", "Release",
    "Reported", "Running", "SavePlan",
    "SaveRun", "SweepState", "Terminate", "Tick", "WriteTrial", "carry", "initial_state", "new_record", "step",
]

#: How long a trial asked to stop (the timeout, Ctrl-C) gets to end on its own before it is terminated.
GRACE_SECONDS = 10.0

#: How long a running trial may go without reporting or advancing before it is failed as stalled
#: (generous: the slowest first compile of a large model on CPU fits in it).
DEFAULT_STALL_SECONDS = 1800.0

#: The reason a trial interrupted by Ctrl-C records.
CANCELED_BY_USER = "interrupted: canceled by the user"

#: Proposes more trials: ``propose(plan, history, count=n) -> plan`` (:func:`imgtune.compiler.extend`).
Propose = Callable[..., Plan]


# --------------------------------------------------------------------------- the state
class Phase(enum.Enum):
    """Where the sweep is."""

    READY = "ready"  #: built (:func:`initial_state`), waiting for :class:`Begin`
    RUNNING = "running"  #: trials start, report and end
    CANCELING = "canceling"  #: Ctrl-C: the running trials were asked to stop
    FINISHING = "finishing"  #: the trials are over; waiting for :class:`Finalized`
    DONE = "done"  #: the final status is saved


@attrs.frozen(kw_only=True)
class Running:
    """A running trial.

    Attributes:
        trial_id: The trial.
        slot: The slot it runs in (``0 .. max_concurrent_trials - 1``; the shell gives each its CPUs and GPU).
        stop_reason: Why the sweep asked it to stop (the policy, the timeout, Ctrl-C), or ``None``.
        resumable: The stop is an interruption (the timeout, Ctrl-C), not a decision: the trial
            ends ``Canceled`` and resumable.
        stop_asked_at: When an interruption asked it to stop (its grace runs from then).
        terminated: Whether :class:`Terminate` was sent.
        seen_at: When it last showed progress (its launch, a report, :class:`Progressed`).
    """

    trial_id: str
    slot: int
    stop_reason: str | None = None
    resumable: bool = False
    stop_asked_at: float | None = None
    terminated: bool = False
    seen_at: float | None = None


@attrs.frozen(kw_only=True)
class SweepState:
    """The whole state of a sweep (see the module doc); build it with :func:`initial_state`.

    Attributes:
        plan: The plan; Bayesian proposals add trials to it.
        result: What ``run.json`` holds: the job's status, every trial's record (in plan order),
            the times (``elapsed_seconds``: the time spent before this run of the sweep, until
            the trials are over), the message and the outputs.
        pending: The trials waiting for a slot, in order.
        running: The running trials.
        free_slots: The free slots, lowest first.
        policy_state: The early-termination policy's state (``policy.init()`` at the start).
        phase: Where the sweep is.
        time_limit: The sweep's time limit in seconds, counted over resumes.
        keep_checkpoints: How many of the best finished trials keep their checkpoints.
        segment_start: When this run of the sweep began (:class:`Begin`'s time), ``None`` before.
        timed_out: Whether the timeout fell.
        canceled_at: When Ctrl-C came, or ``None``.
        stall_seconds: A running trial with no progress for this long is failed as stalled.
    """

    plan: Plan
    result: RunResult
    pending: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    running: tuple[Running, ...] = attrs.field(default=(), converter=tuple)
    free_slots: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    policy_state: Any = None
    phase: Phase = Phase.READY
    time_limit: float
    keep_checkpoints: int = 3
    segment_start: float | None = None
    timed_out: bool = False
    canceled_at: float | None = None
    stall_seconds: float = DEFAULT_STALL_SECONDS

    def record(self, trial_id: str) -> TrialRecord:
        """The record of a trial."""
        return self.result.trial(trial_id)

    def trial(self, trial_id: str) -> Trial:
        """The plan's trial."""
        return next(t for t in self.plan.trials if t.id == trial_id)

    def running_trial(self, trial_id: str) -> Running | None:
        """The trial, when it is running."""
        return next((r for r in self.running if r.trial_id == trial_id), None)

    def elapsed(self, at: float) -> float:
        """The sweep's time at ``at``, counted over resumes."""
        return self.result.elapsed_seconds + (0.0 if self.segment_start is None else at - self.segment_start)

    @property
    def deadline(self) -> float | None:
        """When the time limit is spent (a Unix time), once the sweep has begun."""
        if self.segment_start is None:
            return None
        return self.segment_start + self.time_limit - self.result.elapsed_seconds

    def snapshot(self, at: float) -> RunResult:
        """The result as it is saved at ``at`` (``elapsed_seconds`` up to then)."""
        return attrs.evolve(self.result, elapsed_seconds=self.elapsed(at))


def new_record(trial: Trial) -> TrialRecord:
    """A trial's record before it ever ran."""
    return TrialRecord(id=trial.id, index=trial.index, parameters=trial.parameters, sampled=trial.sampled)


def _log_files(output_dir: str, trials: Iterable[TrialRecord]) -> dict[str, str]:
    layout = RunLayout(output_dir)
    return {"run": str(layout.log), **{t.id: str(layout.trial(t.id).log) for t in trials if t.attempts}}


def initial_state(plan: Plan, previous: RunResult | None = None, *, output_dir: str, retry_failed: bool = False,
                  time_limit_seconds: float | None = None, keep_checkpoints: int = 3,
                  stall_seconds: float = DEFAULT_STALL_SECONDS) -> SweepState:
    """The state of a sweep of ``plan`` before :class:`Begin`: a new one, or a resume.

    Args:
        plan: The plan (from :func:`imgtune.runner.prepare`).
        previous: The result of an earlier run of this sweep (its ``run.json``), or ``None``:
            its finished trials are kept, the others run (again).
        output_dir: The run's folder (the result's ``output_dir``; the logs' paths are in it).
        retry_failed: Rerun the trials that failed in ``previous``.
        time_limit_seconds: The time limit (default: the plan's ``timeout_minutes``), counted
            over resumes.
        keep_checkpoints: Keep the checkpoints of this many best finished trials.
        stall_seconds: Fail a running trial that shows no progress for this long.
    """
    earlier = {t.id: t for t in previous.trials} if previous is not None else {}
    records = tuple(earlier.get(t.id) or new_record(t) for t in plan.trials)
    metric = plan.job.primary_metric
    result = RunResult(status=JobStatus.NOT_STARTED, primary_metric=metric, output_dir=output_dir,
                       trials=records, log_files=_log_files(output_dir, records),
                       started_at=previous.started_at if previous is not None else None,
                       elapsed_seconds=previous.elapsed_seconds if previous is not None else 0.0)
    pending = tuple(r.id for r in records if not r.finished or (retry_failed and r.status is JobStatus.FAILED))
    limit = time_limit_seconds if time_limit_seconds is not None else plan.limits.timeout_minutes * 60.0
    return SweepState(plan=plan, result=result, pending=pending,
                      free_slots=tuple(range(plan.limits.max_concurrent_trials)),
                      policy_state=make_policy(plan.policy, metric).init(), time_limit=float(limit),
                      keep_checkpoints=keep_checkpoints, stall_seconds=float(stall_seconds))


# --------------------------------------------------------------------------- events
@attrs.frozen(kw_only=True)
class Begin:
    """The sweep starts, or resumes."""

    at: float


@attrs.frozen(kw_only=True)
class Reported:
    """A running trial reported an evaluation (``epoch`` and the metrics); it waits for its answer."""

    trial_id: str
    evaluation: Mapping[str, Any]
    at: float


@attrs.frozen(kw_only=True)
class Ended:
    """A trial's process returned its result."""

    trial_id: str
    result: TrialResult
    at: float


@attrs.frozen(kw_only=True)
class Lost:
    """A trial's process ended without a result (crashed, killed, its Ray actor lost)."""

    trial_id: str
    reason: str
    at: float


@attrs.frozen(kw_only=True)
class Progressed:
    """A running trial's training advanced (it is not stalled)."""

    trial_id: str
    at: float


@attrs.frozen(kw_only=True)
class Tick:
    """Time passed: the timeout and the grace of trials asked to stop are checked."""

    at: float


@attrs.frozen(kw_only=True)
class Interrupted:
    """Ctrl-C (a second one while the sweep waits for its trials to stop: stop waiting)."""

    at: float


@attrs.frozen(kw_only=True)
class Annotated:
    """An observer added to the result: its ``outputs``, ``studio_url`` and ``message`` are kept."""

    result: RunResult
    at: float


@attrs.frozen(kw_only=True)
class Finalized:
    """``best/`` is assembled and scored and the observers' ``finishing`` called: the result with
    what they added (``outputs``, ``test_metrics``, ``studio_url``, ``message``)."""

    result: RunResult
    at: float


Event = Begin | Reported | Ended | Lost | Progressed | Tick | Interrupted | Annotated | Finalized


# --------------------------------------------------------------------------- effects
@attrs.frozen(kw_only=True)
class Launch:
    """Start the trial's process in the slot (the shell writes its payload and logs where it runs)."""

    trial: Trial
    slot: int


@attrs.frozen(kw_only=True)
class Answer:
    """Answer the trial's report: go on (``stop_reason`` ``None``), or stop, with the reason;
    ``resumable``: an interruption (the timeout, Ctrl-C), the trial keeps its last checkpoint."""

    trial_id: str
    stop_reason: str | None
    resumable: bool = False


@attrs.frozen(kw_only=True)
class Terminate:
    """Terminate the trial's process; it is still waited for (it ends as :class:`Lost`, or with its result)."""

    trial_id: str


@attrs.frozen(kw_only=True)
class Release:
    """The sweep has ended the trial without it: stop its process if it still runs, and let go of it."""

    trial_id: str


@attrs.frozen(kw_only=True)
class WriteTrial:
    """Write the trial's ``parameters.yaml`` (once) and ``metrics.jsonl``."""

    record: TrialRecord


@attrs.frozen(kw_only=True)
class SaveRun:
    """Write ``run.json`` (and ``summary.csv``)."""

    result: RunResult


@attrs.frozen(kw_only=True)
class SavePlan:
    """Write ``plan.yaml``."""

    plan: Plan


@attrs.frozen(kw_only=True)
class PruneCheckpoints:
    """Delete these checkpoint folders (only those inside the run's folder)."""

    paths: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Log:
    """Append a line to ``run.log``."""

    line: str


@attrs.frozen(kw_only=True)
class Notify:
    """Call the observers' ``hook`` (``started``, ``changed``: with a result; ``trial_ended``: with a record).
    What ``changed`` adds is fed back as :class:`Annotated`."""

    hook: str
    value: RunResult | TrialRecord


@attrs.frozen(kw_only=True)
class Finish:
    """The trials are over: assemble ``best/``, score it, call the observers' ``finishing``, then
    feed :class:`Finalized` with the result and what they added."""

    result: RunResult


@attrs.frozen(kw_only=True)
class Done:
    """The sweep is over with ``status``: read ``run.json`` back and call the observers' ``finished``."""

    status: JobStatus


Effect = Launch | Answer | Terminate | Release | WriteTrial | SaveRun | SavePlan | PruneCheckpoints | Log | Notify \
    | Finish | Done


def carry(result: RunResult, seen: RunResult, added: RunResult) -> RunResult:
    """``result`` (a snapshot in a batch of effects) with what observers added to ``seen`` (an
    earlier snapshot of the batch): each of ``outputs``, ``studio_url`` and ``message`` that the
    core left as it was in ``seen`` takes the observers' value; one the core changed since stays.

    >>> from imgtune.spec.enums import PrimaryMetric
    >>> seen = RunResult(primary_metric=PrimaryMetric.ACCURACY, status="Starting")
    >>> added = attrs.evolve(seen, studio_url="file:///r/report.html")
    >>> later = attrs.evolve(seen, status="Preparing", message="timeout")
    >>> carried = carry(later, seen, added)
    >>> carried.status.value, carried.studio_url, carried.message
    ('Preparing', 'file:///r/report.html', 'timeout')
    """
    changes = {name: getattr(added, name) for name in ("outputs", "studio_url", "message")
               if getattr(result, name) == getattr(seen, name)}
    return attrs.evolve(result, **changes)


# --------------------------------------------------------------------------- the transition
def step(state: SweepState, event: Event, *, propose: Propose = extend) -> tuple[SweepState, tuple[Effect, ...]]:
    """The sweep after ``event``, and what to do, in order (see the module doc).

    Args:
        state: The sweep.
        event: What happened.
        propose: Proposes trials for a sequential (Bayesian) plan:
            ``propose(plan, history, count=n)``, with ``history`` the finished trials'
            ``(subspace, sampled values, best metric or None when failed)``; default
            :func:`imgtune.compiler.extend`.

    Returns:
        The new state and the effects. An event that does not apply (a report of a trial that
        is not running, an event after the end) changes nothing and has no effects.
    """
    out: list[Effect] = []
    if isinstance(event, Begin):
        state = _begin(state, event.at, out, propose)
    elif isinstance(event, Reported):
        if state.running_trial(event.trial_id) is not None:
            state = _advance(_report(state, event.trial_id, event.evaluation, event.at, out), event.at, out, propose)
    elif isinstance(event, (Ended, Lost)):
        if state.running_trial(event.trial_id) is not None:
            outcome = event.result if isinstance(event, Ended) else TrialResult(status=JobStatus.FAILED,
                                                                              stop_reason=event.reason)
            state = _advance(_end(state, event.trial_id, outcome, event.at, out, lost=isinstance(event, Lost)),
                             event.at, out, propose)
    elif isinstance(event, Progressed):
        running = state.running_trial(event.trial_id)
        if running is not None:
            state = _with_running(state, attrs.evolve(running, seen_at=event.at))
    elif isinstance(event, Tick):
        state = _advance(state, event.at, out, propose)
    elif isinstance(event, Interrupted):
        state = _interrupt(state, event.at, out, propose)
    elif isinstance(event, Annotated):
        state = attrs.evolve(state, result=with_additions(state.result, event.result))
        out.append(SaveRun(result=state.snapshot(event.at)))
    elif isinstance(event, Finalized):
        if state.phase is Phase.FINISHING:
            state = _finalized(state, event.result, event.at, out)
    else:
        raise TypeError(f"not a sweep event: {event!r}")
    return state, tuple(out)


def _with_record(state: SweepState, record: TrialRecord) -> SweepState:
    trials = tuple(record if t.id == record.id else t for t in state.result.trials)
    return attrs.evolve(state, result=attrs.evolve(state.result, trials=trials))


def _update(state: SweepState, trial_id: str, **changes: Any) -> SweepState:
    return _with_record(state, attrs.evolve(state.record(trial_id), **changes))


def _with_running(state: SweepState, running: Running) -> SweepState:
    return attrs.evolve(state, running=tuple(running if r.trial_id == running.trial_id else r for r in state.running))


def _save(state: SweepState, at: float, out: list[Effect]) -> SweepState:
    snapshot = state.snapshot(at)
    out += [SaveRun(result=snapshot), Notify(hook="changed", value=snapshot)]
    return state


def _set_status(state: SweepState, status: JobStatus, at: float, out: list[Effect],
                message: str | None = None) -> SweepState:
    result = attrs.evolve(state.result, status=status, message=message or state.result.message)
    return _save(attrs.evolve(state, result=result), at, out)


def _begin(state: SweepState, at: float, out: list[Effect], propose: Propose) -> SweepState:
    if state.phase is not Phase.READY:
        return state
    result = state.result if state.result.started_at is not None else attrs.evolve(state.result, started_at=at)
    state = attrs.evolve(state, result=result, segment_start=at, phase=Phase.RUNNING)
    out.append(Notify(hook="started", value=state.snapshot(at)))
    state = _set_status(state, JobStatus.STARTING, at, out)
    out.append(Log(line=f"sweep started: {len(state.plan.trials)} trials planned, {len(state.pending)} to run, "
                        f"up to {state.plan.limits.max_concurrent_trials} at a time"))
    failed = sum(r.status is JobStatus.FAILED and r.id not in state.pending for r in state.result.trials)
    if failed:
        out.append(Log(line=f"{failed} trial{'s' if failed != 1 else ''} that failed before kept as "
                            f"{'they are' if failed != 1 else 'it is'}; retry_failed (--retry-failed) reruns them"))
    state = _set_status(state, JobStatus.PREPARING, at, out)
    for trial_id in state.pending:  # interrupted trials are no longer running
        if state.record(trial_id).status is not JobStatus.NOT_STARTED:
            state = _update(state, trial_id, status=JobStatus.NOT_STARTED, resumable=True)
    state = _set_status(state, JobStatus.RUNNING, at, out)
    return _advance(state, at, out, propose)


def _advance(state: SweepState, at: float, out: list[Effect], propose: Propose) -> SweepState:
    """What follows any event: the grace of trials asked to stop, the timeout, filling the free
    slots, and the end of the trials (or of the cancellation)."""
    for r in state.running:
        if r.stop_asked_at is not None and not r.terminated and at - r.stop_asked_at > GRACE_SECONDS:
            out.append(Terminate(trial_id=r.trial_id))
            state = _with_running(state, attrs.evolve(r, terminated=True))
    for r in state.running:
        if r.stop_asked_at is None and r.seen_at is not None and at - r.seen_at > state.stall_seconds:
            state = _stalled(state, r, at, out)
    if state.phase is Phase.RUNNING:
        deadline = state.deadline
        if not state.timed_out and deadline is not None and at >= deadline:
            state = _time_out(state, at, out)
        if not state.timed_out:
            state = _fill(state, at, out, propose)
        if not state.running:
            state = _trials_over(state, at, out)
    elif state.phase is Phase.CANCELING:
        if state.canceled_at is not None and at - state.canceled_at >= GRACE_SECONDS:
            state = _release_all(state, at, out)
        if not state.running:
            state = _finish(state, JobStatus.CANCELED, at, out)
    return state


def _stalled(state: SweepState, running: Running, at: float, out: list[Effect]) -> SweepState:
    reason = (f"stalled: no progress for {state.stall_seconds:g} seconds (the stall limit: stall_seconds, "
              f"IMGTUNE_STALL_SECONDS); the trial process was stopped")
    out += [Log(line=f"trial {running.trial_id} {reason}"), Release(trial_id=running.trial_id)]
    return _end(state, running.trial_id, TrialResult(status=JobStatus.FAILED, stop_reason=reason), at, out)


def _time_out(state: SweepState, at: float, out: list[Effect]) -> SweepState:
    reason = f"timeout: the sweep's time limit ({state.time_limit / 60:g} minutes) is spent"
    out.append(Log(line=reason))
    running = tuple(attrs.evolve(r, stop_reason=reason, resumable=True, stop_asked_at=at) for r in state.running)
    return attrs.evolve(state, result=attrs.evolve(state.result, message=reason), running=running, pending=(),
                        timed_out=True)


def _history(state: SweepState) -> list[tuple[int | None, dict[str, Any], float | None]]:
    """What a sequential sampler learns from: each finished trial, a failed one's metric ``None``."""
    return [(state.trial(r.id).subspace, dict(r.sampled), r.best_metric if r.status is JobStatus.COMPLETED else None)
            for r in state.result.trials if r.finished]


def _fill(state: SweepState, at: float, out: list[Effect], propose: Propose) -> SweepState:
    while state.free_slots:
        plan = state.plan
        if not state.pending and plan.sampler.sequential and not plan.exhausted \
                and len(plan.trials) < plan.limits.max_trials:
            bigger = propose(plan, _history(state), count=len(state.free_slots))
            if bigger is not plan:
                new = bigger.trials[len(plan.trials):]
                result = attrs.evolve(state.result, trials=state.result.trials + tuple(new_record(t) for t in new))
                state = attrs.evolve(state, plan=bigger, result=result,
                                     pending=state.pending + tuple(t.id for t in new))
                out.append(SavePlan(plan=bigger))
        if not state.pending:
            break
        state = _launch(state, state.pending[0], at, out)
    return state


def _launch(state: SweepState, trial_id: str, at: float, out: list[Effect]) -> SweepState:
    slot, free = state.free_slots[0], state.free_slots[1:]
    record = state.record(trial_id)
    record = attrs.evolve(record, status=JobStatus.RUNNING, started_at=record.started_at or at,
                          attempts=record.attempts + 1, resumable=False, stop_reason=None, ended_at=None)
    state = _with_record(state, record)
    logs = {**state.result.log_files, **_log_files(state.result.output_dir, [record])}
    state = attrs.evolve(state, pending=state.pending[1:], free_slots=free,
                         running=state.running + (Running(trial_id=trial_id, slot=slot, seen_at=at),),
                         result=attrs.evolve(state.result, log_files=logs))
    out += [Launch(trial=state.trial(trial_id), slot=slot), WriteTrial(record=record)]
    return _save(state, at, out)


def _report(state: SweepState, trial_id: str, evaluation: Mapping[str, Any], at: float,
            out: list[Effect]) -> SweepState:
    metric = state.result.primary_metric
    record = state.record(trial_id)
    epoch = evaluation.get("epoch")
    history = [h for h in record.history if epoch is None or h.get("epoch") is None or h["epoch"] < epoch]
    history.append(dict(evaluation))  # the latest report of an epoch wins (a resumed trial reports again)
    best, best_epoch = best_of_history(history, metric)
    record = attrs.evolve(record, history=history, best_metric=best, best_epoch=best_epoch)
    state = _with_record(state, record)
    out.append(WriteTrial(record=record))
    running = state.running_trial(trial_id)
    assert running is not None
    running = attrs.evolve(running, seen_at=at)
    state = _with_running(state, running)
    if running.stop_reason is not None:  # asked to stop already: the answer stands
        state = _save(state, at, out)
        out.append(Answer(trial_id=trial_id, stop_reason=running.stop_reason, resumable=running.resumable))
        return state
    histories = {t.id: [v for v in (finite(h.get(metric.value)) for h in t.history) if v is not None]
                 for t in state.result.trials if t.history}
    policy = make_policy(state.plan.policy, metric)
    decisions, policy_state = policy.decide(state.policy_state, histories, {r.trial_id for r in state.running},
                                            len(histories.get(trial_id, [])))
    reason = next((d.reason for d in decisions if d.trial_id == trial_id and d.stop), None)
    state = attrs.evolve(state, policy_state=policy_state)
    if reason:
        out.append(Log(line=f"trial {trial_id} stopped: {reason}"))
        state = _with_running(state, attrs.evolve(running, stop_reason=reason))
    state = _save(state, at, out)
    out.append(Answer(trial_id=trial_id, stop_reason=reason))
    return state


def _end(state: SweepState, trial_id: str, outcome: TrialResult, at: float, out: list[Effect], *,
         lost: bool = False) -> SweepState:
    running = state.running_trial(trial_id)
    assert running is not None
    state = attrs.evolve(state, running=tuple(r for r in state.running if r.trial_id != trial_id),
                         free_slots=tuple(sorted(state.free_slots + (running.slot,))))
    status, reason, resumable = outcome.status, outcome.stop_reason, outcome.resumable
    if running.stop_reason is not None and (status is not JobStatus.FAILED or (lost and running.resumable)):
        # the sweep stopped it (an interrupted trial that was terminated keeps its last checkpoint: resumable)
        status, reason, resumable = JobStatus.CANCELED, running.stop_reason, running.resumable
    record = attrs.evolve(state.record(trial_id), status=status, stop_reason=reason, ended_at=at, resumable=resumable,
                          checkpoint=None if outcome.checkpoint is None else str(outcome.checkpoint),
                          artifacts=outcome.artifacts)
    metric = state.result.primary_metric
    if outcome.history:  # the trial's own, complete history wins (after a resume)
        history = [dict(h) for h in outcome.history]
        best, best_epoch = best_of_history(history, metric)
        record = attrs.evolve(record, history=history, best_metric=best, best_epoch=best_epoch)
    if outcome.best_metric is not None and record.best_metric is None:
        record = attrs.evolve(record, best_metric=outcome.best_metric, best_epoch=outcome.best_epoch)
    state = _with_record(state, record)
    out += [WriteTrial(record=record), Log(line=f"trial {trial_id} {status.value}" + (f": {reason}" if reason else "")),
            Notify(hook="trial_ended", value=record)]
    state = _prune(state, out)
    return _save(state, at, out)


def _prune(state: SweepState, out: list[Effect]) -> SweepState:
    """Keeps the checkpoints of the best ``keep_checkpoints`` finished trials only."""
    kept = [r for r in state.result.trials if r.checkpoint and r.finished]
    metric = state.result.primary_metric  # it says which value is better: its score, higher first
    kept.sort(key=lambda r: (-metric.score(r.best_metric), r.index))
    dropped = kept[state.keep_checkpoints:]
    if not dropped:
        return state
    out.append(PruneCheckpoints(paths=tuple(r.checkpoint for r in dropped if r.checkpoint)))
    for r in dropped:
        state = _update(state, r.id, checkpoint=None)
    return state


def _interrupt(state: SweepState, at: float, out: list[Effect], propose: Propose) -> SweepState:
    if state.phase is Phase.RUNNING:
        state = _set_status(state, JobStatus.CANCEL_REQUESTED, at, out, "canceled by the user (Ctrl-C)")
        out.append(Log(line="cancel requested"))
        running = tuple(attrs.evolve(r, stop_reason=CANCELED_BY_USER, resumable=True, stop_asked_at=at)
                        for r in state.running)
        state = attrs.evolve(state, running=running, pending=(), phase=Phase.CANCELING, canceled_at=at)
        return _advance(state, at, out, propose)
    if state.phase is Phase.CANCELING:  # a second Ctrl-C: stop waiting
        return _finish(_release_all(state, at, out), JobStatus.CANCELED, at, out)
    if state.phase is Phase.FINISHING:  # while best/ is assembled or scored
        state = _set_status(state, JobStatus.CANCEL_REQUESTED, at, out, "canceled by the user (Ctrl-C)")
        out.append(Log(line="cancel requested"))
        return _finish(state, JobStatus.CANCELED, at, out)
    return state


def _release_all(state: SweepState, at: float, out: list[Effect]) -> SweepState:
    for r in state.running:
        out.append(Release(trial_id=r.trial_id))
        state = _with_running(state, attrs.evolve(r, stop_reason=CANCELED_BY_USER, resumable=True))
        state = _end(state, r.trial_id, TrialResult(status=JobStatus.CANCELED, stop_reason=CANCELED_BY_USER), at, out)
    return state


def _trials_over(state: SweepState, at: float, out: list[Effect]) -> SweepState:
    result = attrs.evolve(state.result, elapsed_seconds=state.elapsed(at))
    state = attrs.evolve(state, result=result, segment_start=at, phase=Phase.FINISHING)
    state = _set_status(state, JobStatus.FINALIZING, at, out)
    out.append(Finish(result=state.snapshot(at)))
    return state


def _finalized(state: SweepState, added: RunResult, at: float, out: list[Effect]) -> SweepState:
    result = attrs.evolve(with_additions(state.result, added), test_metrics=added.test_metrics)
    statuses = [t.status for t in result.trials]
    final = JobStatus.FAILED if statuses and all(s is JobStatus.FAILED for s in statuses) else JobStatus.COMPLETED
    return _finish(attrs.evolve(state, result=result), final, at, out)


def _finish(state: SweepState, status: JobStatus, at: float, out: list[Effect]) -> SweepState:
    state = attrs.evolve(state, result=attrs.evolve(state.result, ended_at=at), phase=Phase.DONE)
    state = _set_status(state, status, at, out)
    out += [Log(line=f"sweep ended: {status.value} {dict(state.result.counts())}"), Done(status=status)]
    return state
