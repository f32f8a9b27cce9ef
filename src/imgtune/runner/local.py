"""The local executor: runs a plan's trials as processes on this machine.

The sweep's decisions are its pure core's (:mod:`imgtune.runner.sweep`: a frozen state, each event a
transition to a new state and effects). This module is the shell around it: it starts the trials'
processes (a :class:`LocalLauncher`, or another launcher such as :mod:`imgtune.runner.ray_executor`'s),
turns what they send and the clock into events, and carries out the effects (processes, the run's
files, :mod:`imgtune.runner.finish`, the observers). What the sweep does:

* Each trial runs in its own process (:mod:`imgtune.runner.worker`); a crash,
  an out-of-memory kill or a NaN fails that trial only, with the reason. The
  job fails only when every trial failed.
* Never more than ``max_concurrent_trials`` at once. With N cores and c trials
  at a time, each trial is pinned to its own N/c cores (at least one); on a
  machine with several GPUs each trial gets one (``CUDA_VISIBLE_DEVICES``).
  ``resources=Resources(cpus=..., gpus=...)`` overrides both.
* ``timeout_minutes`` (summed over resumes) ends the sweep: no new trials, the
  running ones are stopped and kept resumable, their partial results and last
  checkpoints kept. Ctrl-C (to the driver, or to the whole process group: each
  trial process handles SIGINT itself, finishing a checkpoint write first) and
  SIGTERM do the same; the next run continues those trials.
* A trial that neither reports nor advances for ``stall_seconds`` (default
  :data:`~imgtune.runner.sweep.DEFAULT_STALL_SECONDS`, or ``IMGTUNE_STALL_SECONDS``)
  is stopped and fails with that reason; the sweep goes on.
* Every evaluation a trial reports goes to the plan's early-termination policy;
  a trial it stops is ``Canceled`` with the policy's reason.
* Bayesian sampling gets the finished history before each proposal.
* Statuses (the job's and each trial's) are written to ``run.json`` as they change.
* What watches the run (console progress, the report, MLflow, the end-of-run export) subscribes as
  an observer (:mod:`imgtune.runner.observers`): the sweep calls each one at fixed moments, and one
  that fails is logged to ``run.log``; the run goes on.
* Before the first trial, when the trials train (:data:`imgtune.runner.training.TRIAL_FN`), the
  sweep decodes the images once into the run folder's image store
  (:func:`imgtune.runner.training.prepare_images`); the trials share it.
* Resume: running again on the same folder keeps finished trials, continues
  interrupted ones from their last checkpoint (the trial function's job) and,
  with ``retry_failed``, reruns failed ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan, Trial
from imgtune.errors import Problem, ValidationError
from imgtune.runner.finish import assemble_best, delete_checkpoints, score_test
from imgtune.runner.observers import Observers, RunObserver, with_additions
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.runner.store import RunStore, TrialLayout, load_result
from imgtune.runner.sweep import (
    DEFAULT_STALL_SECONDS,
    GRACE_SECONDS,
    Annotated,
    Answer,
    Begin,
    Done,
    Effect,
    Ended,
    Event,
    Finalized,
    Finish,
    Interrupted,
    Launch,
    Log,
    Lost,
    Notify,
    Progressed,
    PruneCheckpoints,
    Release,
    Reported,
    SavePlan,
    SaveRun,
    Terminate,
    Tick,
    WriteTrial,
    carry,
    initial_state,
    step,
)
from imgtune.runner.training import TRIAL_FN, prepare_images
from imgtune.serialization import dumps, structure, unstructure
from imgtune.spec.enums import JobStatus
from imgtune.train.trial_types import TrialResult

__all__ = ["GRACE_SECONDS", "RELEASE_SECONDS", "LocalLauncher", "Resources", "process_exit_reason", "run_plan",
           "stall_limit"]

#: How long a trial the sweep lets go of (Ctrl-C's grace is over, a stalled trial) gets to exit after
#: SIGTERM before it is killed: a stopped or stuck process would hold Ctrl-C up.
RELEASE_SECONDS = 3.0


@attrs.frozen(kw_only=True)
class Resources:
    """What the trials may use. ``None`` means: detect.

    Attributes:
        cpus: The cores to share among concurrent trials (default: this process's affinity).
        gpus: GPU ids to hand out, one per trial (default: ``IMGTUNE_GPUS``, else ``nvidia-smi -L``).

    Example:
        >>> Resources(cpus=(0, 1, 2, 3), gpus=())   # four cores, no GPU, shared among the trials at once
        Resources(cpus=(0, 1, 2, 3), gpus=())
    """

    cpus: tuple[int, ...] | None = None
    gpus: tuple[str, ...] | None = None

    def slots(self, concurrency: int) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
        """The (cpus, gpus) of each concurrent slot."""
        cpus = sorted(self.cpus if self.cpus is not None else _affinity())
        gpus = list(self.gpus if self.gpus is not None else _detect_gpus())
        per = max(1, len(cpus) // max(1, concurrency))
        out = []
        for k in range(concurrency):
            start = (k * per) % len(cpus)
            mine = tuple(cpus[start:start + per]) or (cpus[k % len(cpus)],)
            out.append((mine, (gpus[k % len(gpus)],) if gpus else ()))
        return out


def _affinity() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def _detect_gpus() -> tuple[str, ...]:
    env = os.environ.get("IMGTUNE_GPUS")
    if env is not None:
        return tuple(g for g in env.split(",") if g.strip())
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU "))


class LocalLauncher:
    """Where trials run: each in its own process on this machine (``python -m imgtune.runner.worker``).

    The sweep talks to a trial through the ``(process, connection)`` pair :meth:`start` returns: a
    :class:`subprocess.Popen` (``poll``, ``wait``, ``terminate``, ``kill``) and a
    :class:`~multiprocessing.connection.Connection` (``send``, ``recv``, ``close``) that :meth:`wait`
    waits on. Another launcher (:mod:`imgtune.runner.ray_executor`) runs the same worker elsewhere.
    """

    def open(self, concurrency: int) -> None:
        """Called once before the sweep."""

    def close(self) -> None:
        """Called once after the sweep, also when it failed."""

    def slots(self, resources: Resources, concurrency: int) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
        return resources.slots(concurrency)

    def where(self, cpus: tuple[int, ...], gpus: tuple[str, ...]) -> str:
        return f"on cpus {list(cpus)}{' gpus ' + ','.join(gpus) if gpus else ''}"

    def start(self, trial_id: str, payload: Mapping[str, Any], workdir: Path,
              log: Callable[[str], None]) -> tuple[Any, Any]:
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))}
        with open(workdir / TrialLayout.LOG, "a", encoding="utf-8") as err:
            process = subprocess.Popen([sys.executable, "-m", "imgtune.runner.worker", str(child.fileno()),
                                        str(workdir / TrialLayout.PAYLOAD)], pass_fds=(child.fileno(),), env=env,
                                       stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        child.close()
        return process, Connection(parent.detach())

    def wait(self, conns: list[Any], timeout: float) -> list[Any]:
        """The connections that have a message (or have ended), waiting up to ``timeout`` seconds."""
        return wait(conns, timeout=timeout)

    def exit_reason(self, process: Any, code: int | None) -> str:
        """Why a trial that ended without a result failed."""
        return process_exit_reason(code)


@attrs.define
class _Handle:
    """A started trial, as its launcher returned it: a process (``poll``, ``wait``, ``terminate``,
    ``kill``) and a connection (``send``, ``recv``, ``close``)."""

    process: Any
    conn: Any


class _Shell:
    """Feeds the sweep's core (:mod:`imgtune.runner.sweep`) its events and carries out its effects.

    The core decides everything; the shell owns what is not a value: the clock, the trials'
    processes (through the launcher), the files (through the store and :mod:`imgtune.runner.finish`)
    and the observers. It feeds :class:`~imgtune.runner.sweep.Begin`, then, until the core says
    :class:`~imgtune.runner.sweep.Done`, each message of a trial (a report, a result, the end of its
    process) as it comes and a :class:`~imgtune.runner.sweep.Tick` at least every half second; Ctrl-C
    becomes :class:`~imgtune.runner.sweep.Interrupted`.
    """

    def __init__(self, plan: Plan, store: RunStore, *, trial_fn: str, retry_failed: bool, resources: Resources,
                 keep_checkpoints: int, path_map: Mapping[str, str] | None, time_limit_seconds: float | None,
                 launcher: LocalLauncher, observers: Sequence[RunObserver], stall_seconds: float,
                 image_store: tuple[str, str] | None = None) -> None:
        self.store, self.trial_fn, self.launcher = store, trial_fn, launcher
        self.image_store = image_store
        self.observers = Observers(observers, store.log)
        self.path_map = dict(path_map or {})
        self.slots = launcher.slots(resources, plan.limits.max_concurrent_trials)
        previous = load_result(store.root) if store.exists() else None
        self.state = initial_state(plan, previous, output_dir=str(store.root), retry_failed=retry_failed,
                                   time_limit_seconds=time_limit_seconds, keep_checkpoints=keep_checkpoints,
                                   stall_seconds=stall_seconds)
        self.trials: dict[str, _Handle] = {}
        self.outcome: RunResult | None = None

    # -- the loop ----------------------------------------------------------------
    def run(self) -> RunResult:
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _sigterm)  # SIGTERM is handled as Ctrl-C is: nothing lost
        try:
            return self._run()
        finally:
            if previous is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, previous)

    def _run(self) -> RunResult:
        try:
            self.feed(Begin(at=time.time()))
            while self.outcome is None:
                self.receive(timeout=0.5)
                self.feed(Tick(at=time.time()))
        except KeyboardInterrupt:
            self.feed(Interrupted(at=time.time()))
            while self.outcome is None:
                try:
                    self.receive(timeout=0.2)
                    self.feed(Tick(at=time.time()))
                except KeyboardInterrupt:  # a second Ctrl-C: the core stops waiting for the trials
                    self.feed(Interrupted(at=time.time()))
            raise
        return self.outcome

    def feed(self, event: Event) -> None:
        """Steps the core with ``event`` and carries out its effects, in order. What observers add
        to a snapshot is fed back (:class:`~imgtune.runner.sweep.Annotated`) and kept in the
        batch's later snapshots (:func:`~imgtune.runner.sweep.carry`)."""
        self.state, effects = step(self.state, event)
        additions: list[tuple[RunResult, RunResult]] = []
        for effect in effects:
            for seen, added in additions:
                if isinstance(effect, (SaveRun, Finish)):
                    effect = attrs.evolve(effect, result=carry(effect.result, seen, added))
                elif isinstance(effect, Notify) and isinstance(effect.value, RunResult):
                    effect = attrs.evolve(effect, value=carry(effect.value, seen, added))
            added = self.apply(effect)
            if added is not None:
                additions.append(added)

    def receive(self, timeout: float) -> None:
        """Waits up to ``timeout`` seconds for the trials' messages, and feeds each one in."""
        by_conn = {h.conn: trial_id for trial_id, h in self.trials.items()}
        if not by_conn:
            time.sleep(timeout)
            return
        for conn in self.launcher.wait(list(by_conn), timeout):
            trial_id = by_conn[conn]
            handle = self.trials.get(trial_id)
            if handle is None:  # let go of meanwhile
                continue
            try:
                kind, body = handle.conn.recv()
            except (EOFError, OSError):  # the process has ended without a result
                try:
                    code = handle.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    code = None
                reason = self.launcher.exit_reason(handle.process, code)
                self.reap(trial_id)
                self.feed(Lost(trial_id=trial_id, reason=reason, at=time.time()))
                continue
            if kind == "report":
                self.feed(Reported(trial_id=trial_id, evaluation=body, at=time.time()))
            elif kind == "progress":
                self.feed(Progressed(trial_id=trial_id, at=time.time()))
            elif kind == "done":
                try:
                    outcome = structure(body, TrialResult)
                except ValidationError as err:
                    outcome = TrialResult(status=JobStatus.FAILED, stop_reason=f"the trial's result is not valid: {err}")
                self.reap(trial_id)
                self.feed(Ended(trial_id=trial_id, result=outcome, at=time.time()))

    # -- the effects -------------------------------------------------------------
    def apply(self, effect: Effect) -> tuple[RunResult, RunResult] | None:
        """Carries out one effect; returns ``(snapshot, with the observers' additions)`` when the
        observers' ``changed`` added something."""
        store = self.store
        if isinstance(effect, Launch):
            self.launch(effect.trial, effect.slot)
        elif isinstance(effect, Answer):
            handle = self.trials.get(effect.trial_id)
            if handle is not None:
                kind = "continue" if not effect.stop_reason else "pause" if effect.resumable else "stop"
                try:
                    handle.conn.send((kind, effect.stop_reason))
                except (OSError, BrokenPipeError):
                    pass
        elif isinstance(effect, Terminate):
            handle = self.trials.get(effect.trial_id)
            if handle is not None and handle.process.poll() is None:
                handle.process.terminate()
        elif isinstance(effect, Release):
            handle = self.trials.get(effect.trial_id)
            if handle is not None:
                if handle.process.poll() is None:
                    handle.process.terminate()
                self.reap(effect.trial_id, patience=RELEASE_SECONDS)
        elif isinstance(effect, WriteTrial):
            store.write_trial(effect.record)
        elif isinstance(effect, SaveRun):
            store.save_result(effect.result)
            store.write_summary(effect.result)
        elif isinstance(effect, SavePlan):
            store.save_plan(effect.plan)
        elif isinstance(effect, PruneCheckpoints):
            delete_checkpoints(store, effect.paths)
        elif isinstance(effect, Log):
            store.log(effect.line)
        elif isinstance(effect, Notify):
            return self.notify(effect)
        elif isinstance(effect, Finish):
            self.feed(Finalized(result=self.finish(effect.result), at=time.time()))
        elif isinstance(effect, Done):
            self.outcome = load_result(store.root)  # exactly what is on disk
            self.observers.finished(self.outcome)
        return None

    def notify(self, effect: Notify) -> tuple[RunResult, RunResult] | None:
        value = effect.value
        if effect.hook == "started" and isinstance(value, RunResult):
            self.observers.started(self.state.plan, self.store, value)
        elif effect.hook == "trial_ended" and isinstance(value, TrialRecord):
            self.observers.trial_ended(value)
        elif effect.hook == "changed" and isinstance(value, RunResult):
            added = self.observers.changed(value)
            if (added.outputs, added.studio_url, added.message) != (value.outputs, value.studio_url, value.message):
                self.feed(Annotated(result=added, at=time.time()))  # saved to run.json at once
                return value, added
        return None

    def launch(self, trial: Trial, slot: int) -> None:
        cpus, gpus = self.slots[slot]
        plan = self.state.plan
        workdir = self.store.trial_dir(trial.id)
        workdir.mkdir(parents=True, exist_ok=True)
        payload = {"trial": unstructure(trial), "job": dumps(plan.job), "base_path": plan.job.base_path,
                   "seed": plan.seed, "workdir": str(workdir), "primary_metric": plan.job.primary_metric.value,
                   "cpus": list(cpus), "gpus": list(gpus), "trial_fn": self.trial_fn, "path_map": self.path_map,
                   "gpu_share": sum(1 for _, g in self.slots if gpus and g == gpus), "image_store": self.image_store}
        write_atomic(workdir / TrialLayout.PAYLOAD, json.dumps(payload))
        process, conn = self.launcher.start(trial.id, payload, workdir, self.store.log)
        self.trials[trial.id] = _Handle(process, conn)
        self.store.log(f"trial {trial.id} started {self.launcher.where(cpus, gpus)}")

    def reap(self, trial_id: str, patience: float = 30.0) -> None:
        """Lets go of a trial whose process has ended or was terminated: closes its connection and
        waits ``patience`` seconds for the process (killing it if it does not end: a stopped or
        stuck process ignores SIGTERM)."""
        handle = self.trials.pop(trial_id, None)
        if handle is None:
            return
        handle.conn.close()
        try:
            handle.process.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            handle.process.kill()
            try:
                handle.process.wait(timeout=patience)
            except subprocess.TimeoutExpired:
                pass

    def finish(self, result: RunResult) -> RunResult:
        """``best/``, the test scores and the observers' ``finishing``: the result with what they added."""
        store = self.store
        if assemble_best(store, result.trials, result.primary_metric) is not None:
            result = attrs.evolve(result, outputs={**result.outputs, "best": str(store.best_dir),
                                                   "summary": str(store.layout.summary)})
        result = score_test(store, self.state.plan, result, path_map=self.path_map)
        return attrs.evolve(with_additions(result, self.observers.finishing(result)),
                            test_metrics=result.test_metrics)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the sweep ends as on Ctrl-C: trials stopped resumably, statuses saved


def stall_limit(stall_seconds: float | None = None) -> float:
    """The stall limit: ``stall_seconds``, else ``IMGTUNE_STALL_SECONDS``, else
    :data:`~imgtune.runner.sweep.DEFAULT_STALL_SECONDS`.

    Raises:
        ValidationError: Not a number > 0.
    """
    value: Any = stall_seconds if stall_seconds is not None else os.environ.get("IMGTUNE_STALL_SECONDS")
    if value is None:
        return DEFAULT_STALL_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0:
        raise ValidationError([Problem("stall_seconds", f"must be a number of seconds > 0, got {value!r}")])
    return seconds


def process_exit_reason(code: int | None) -> str:
    """Why a trial process that ended without a result failed, from its exit code (``None``: it did not exit)."""
    if code is None:
        return "the trial process did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the trial process was killed by {name}{hint}"
    return f"the trial process exited with code {code} without a result"


def run_plan(plan: Plan, store: RunStore, *, trial_fn: str, retry_failed: bool = False,
             resources: Resources | None = None, keep_checkpoints: int = 3,
             path_map: Mapping[str, str] | None = None, time_limit_seconds: float | None = None,
             launcher: LocalLauncher | None = None, observers: Sequence[RunObserver] = (),
             stall_seconds: float | None = None) -> RunResult:
    """Runs (or resumes) ``plan`` in ``store``'s folder: with the local executor, or where
    ``launcher`` starts the trials (the scheduling, policies, statuses and resume are the same).

    Args:
        plan: The plan (from :func:`imgtune.runner.prepare`).
        store: Its output folder.
        trial_fn: What each trial runs, ``"module:function"`` (see :mod:`imgtune.runner.worker`).
        retry_failed: Rerun trials that failed in an earlier run of this folder.
        resources: CPUs and GPUs to share among trials (default: detected).
        keep_checkpoints: Keep the checkpoints of this many best trials.
        path_map: URL prefix -> local folder for remote image URLs.
        time_limit_seconds: Overrides the plan's ``timeout_minutes``.
        launcher: Where trials run (default: a :class:`LocalLauncher`).
        observers: What watches the run (:class:`~imgtune.runner.observers.RunObserver` s), called in
            this order; one that raises is logged to ``run.log`` and never fails the run.
        stall_seconds: Fail a trial that shows no progress for this long (default: :func:`stall_limit`).
    Example:
        >>> import tempfile
        >>> from imgtune import ImageClassificationJob
        >>> from imgtune.runner import prepare
        >>> plan, store = prepare(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"),
        ...                       tempfile.mkdtemp())
        >>> result = run_plan(plan, store, trial_fn="imgtune.runner.training:train")  # "d" holds no data
        >>> result.status.value, result.trials[0].status.value
        ('Failed', 'Failed')
        >>> print(result.trials[0].stop_reason)
        ValidationError: 1 problem:
          training_data.path: .../d/MLTable: no MLTable file (the folder does not exist); ...
    """
    stall = stall_limit(stall_seconds)
    image_store = prepare_images(plan, store, path_map) if trial_fn == TRIAL_FN else None
    launcher = launcher or LocalLauncher()
    launcher.open(plan.limits.max_concurrent_trials)
    try:
        shell = _Shell(plan, store, trial_fn=trial_fn, retry_failed=retry_failed, resources=resources or Resources(),
                       keep_checkpoints=keep_checkpoints, path_map=path_map, time_limit_seconds=time_limit_seconds,
                       launcher=launcher, observers=observers, stall_seconds=stall, image_store=image_store)
        return shell.run()
    finally:
        launcher.close()

