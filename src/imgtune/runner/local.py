"""The local executor: runs a plan's trials as processes on this machine.

* Each trial runs in its own process (:mod:`imgtune.runner.worker`); a crash,
  an out-of-memory kill or a NaN fails that trial only, with the reason. The
  job fails only when every trial failed.
* Never more than ``max_concurrent_trials`` at once. With N cores and c trials
  at a time, each trial is pinned to its own N/c cores (at least one); on a
  machine with several GPUs each trial gets one (``CUDA_VISIBLE_DEVICES``).
  ``resources=Resources(cpus=..., gpus=...)`` overrides both.
* ``timeout_minutes`` (summed over resumes) ends the sweep: no new trials, the
  running ones are stopped and kept resumable, their partial results kept.
* Every evaluation a trial reports goes to the plan's early-termination policy;
  a trial it stops is ``Canceled`` with the policy's reason.
* Bayesian sampling gets the finished history before each proposal.
* Statuses (the job's and each trial's) are written to ``run.json`` as they change.
* What watches the run (console progress, the report, MLflow, the end-of-run export) subscribes as
  an observer (:mod:`imgtune.runner.observers`): the sweep calls each one at fixed moments, and one
  that fails is logged to ``run.log``; the run goes on.
* Resume: running again on the same folder keeps finished trials, continues
  interrupted ones from their last checkpoint (the trial function's job) and,
  with ``retry_failed``, reruns failed ones.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan, Trial, extend, make_policy
from imgtune.errors import ValidationError
from imgtune.runner.observers import Observers, RunObserver, with_additions
from imgtune.runner.results import RunResult, TrialRecord, best_of_history, best_trial_of
from imgtune.runner.store import BestLayout, RunLayout, RunStore, TrialLayout, load_result
from imgtune.serialization import dumps, structure, unstructure
from imgtune.spec.enums import JobStatus
from imgtune.train.trial_types import TrialResult
from imgtune.values import finite

__all__ = ["LocalLauncher", "Resources", "process_exit_reason", "run_plan"]

#: How long a stopped or timed-out trial gets to end on its own before it is terminated.
GRACE_SECONDS = 10.0


@attrs.frozen(kw_only=True)
class Resources:
    """What the trials may use. ``None`` means: detect.

    Attributes:
        cpus: The cores to share among concurrent trials (default: this process's affinity).
        gpus: GPU ids to hand out, one per trial (default: ``IMGTUNE_GPUS``, else ``nvidia-smi -L``).
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
class _Running:
    record_id: str
    process: Any
    conn: Any
    slot: int
    stop_reason: str | None = None  # set when the sweep asked it to stop
    resumable_stop: bool = False    # the stop was an interruption (timeout, Ctrl-C), not a decision
    stop_sent_at: float | None = None


class _Sweep:
    def __init__(self, plan: Plan, store: RunStore, *, trial_fn: str, retry_failed: bool, resources: Resources,
                 keep_checkpoints: int, path_map: Mapping[str, str] | None, time_limit_seconds: float | None = None,
                 launcher: LocalLauncher | None = None, observers: Sequence[RunObserver] = ()) -> None:
        self.plan, self.store, self.trial_fn = plan, store, trial_fn
        self.keep_checkpoints = keep_checkpoints
        self.observers = Observers(observers, store.log)
        self.path_map = dict(path_map or {})
        self.policy = make_policy(plan.policy, plan.job.primary_metric)
        self.policy_state = self.policy.init()
        self.launcher = launcher or LocalLauncher()
        self.slots = self.launcher.slots(resources, plan.limits.max_concurrent_trials)
        self.free_slots = list(range(len(self.slots)))
        self.running: dict[str, _Running] = {}
        self.metric = plan.job.primary_metric
        previous = _load(store)
        earlier = {t.id: t for t in previous.trials} if previous else {}
        self.records: dict[str, TrialRecord] = {t.id: earlier.get(t.id) or _new_record(t) for t in plan.trials}
        self.result = RunResult(status=JobStatus.NOT_STARTED, primary_metric=self.metric,
                                output_dir=str(store.root),
                                started_at=previous.started_at if previous else None,
                                elapsed_seconds=previous.elapsed_seconds if previous else 0.0,
                                log_files={"run": str(store.log_path)})
        self.pending: deque[str] = deque(
            tid for tid, r in self.records.items()
            if not r.finished or (retry_failed and r.status is JobStatus.FAILED))
        self.segment_start = time.time()
        self.time_limit = (time_limit_seconds if time_limit_seconds is not None
                           else plan.limits.timeout_minutes * 60.0)

    # -- bookkeeping -----------------------------------------------------------
    def elapsed(self) -> float:
        return self.result.elapsed_seconds + (time.time() - self.segment_start)

    def set_status(self, status: JobStatus, message: str | None = None) -> None:
        self.result = attrs.evolve(self.result, status=status, message=message or self.result.message)
        self.save()

    def save(self) -> None:
        """Writes ``run.json`` and ``summary.csv``, then tells the observers; what they add to the
        result (the report's ``studio_url``, ...) is saved to ``run.json`` at once."""
        trials = tuple(self.records[t.id] for t in self.plan.trials)
        self.result = attrs.evolve(self.result, trials=trials,
                                   log_files={"run": str(self.store.log_path),
                                              **{t: str(self.store.trial_dir(t) / TrialLayout.LOG)
                                                 for t in self.records
                                                 if self.records[t].attempts}})
        snapshot = attrs.evolve(self.result, elapsed_seconds=self.elapsed())
        self.store.save_result(snapshot)
        self.store.write_summary(snapshot)
        added = self.observers.changed(snapshot)
        if (added.outputs, added.studio_url, added.message) != (snapshot.outputs, snapshot.studio_url,
                                                                 snapshot.message):
            self.result = with_additions(self.result, added)
            self.store.save_result(attrs.evolve(self.result, elapsed_seconds=self.elapsed()))

    def update(self, trial_id: str, **changes: Any) -> TrialRecord:
        record = attrs.evolve(self.records[trial_id], **changes)
        self.records[trial_id] = record
        return record

    # -- the loop ----------------------------------------------------------------
    def run(self) -> RunResult:
        store = self.store
        if self.result.started_at is None:
            self.result = attrs.evolve(self.result, started_at=time.time())
        self.observers.started(self.plan, store, attrs.evolve(
            self.result, trials=tuple(self.records[t.id] for t in self.plan.trials)))
        self.set_status(JobStatus.STARTING)
        store.log(f"sweep started: {len(self.plan.trials)} trials planned, {len(self.pending)} to run, "
                  f"up to {self.plan.limits.max_concurrent_trials} at a time")
        self.set_status(JobStatus.PREPARING)
        for trial_id in self.pending:  # interrupted trials are no longer running
            if self.records[trial_id].status is not JobStatus.NOT_STARTED:
                self.update(trial_id, status=JobStatus.NOT_STARTED, resumable=True)
        self.set_status(JobStatus.RUNNING)
        timeout = self.time_limit
        timed_out = False
        try:
            while True:
                if not timed_out and self.elapsed() >= timeout:
                    timed_out = True
                    reason = f"timeout: the sweep's time limit ({timeout / 60:g} minutes) is spent"
                    store.log(reason)
                    self.result = attrs.evolve(self.result, message=reason)
                    for r in self.running.values():
                        self.ask_stop(r, reason, resumable=True)
                    self.pending.clear()
                if not timed_out:
                    self.fill()
                if not self.running:
                    break
                self.step()
        except KeyboardInterrupt:
            self.set_status(JobStatus.CANCEL_REQUESTED, "canceled by the user (Ctrl-C)")
            store.log("cancel requested")
            for r in list(self.running.values()):
                self.ask_stop(r, "interrupted: canceled by the user", resumable=True)
            deadline = time.time() + GRACE_SECONDS
            while self.running and time.time() < deadline:
                self.step(timeout=0.2)
            self.terminate_all("interrupted: canceled by the user")
            self.finish(JobStatus.CANCELED)
            raise
        self.result = attrs.evolve(self.result, elapsed_seconds=self.elapsed())
        self.segment_start = time.time()
        self.set_status(JobStatus.FINALIZING)
        self.assemble_best()
        self.score_test()
        self.result = with_additions(self.result, self.observers.finishing(self.result))
        statuses = [r.status for r in self.records.values()]
        final = JobStatus.FAILED if statuses and all(s is JobStatus.FAILED for s in statuses) else JobStatus.COMPLETED
        return self.finish(final)

    def finish(self, status: JobStatus) -> RunResult:
        self.result = attrs.evolve(self.result, ended_at=time.time())
        self.set_status(status)
        self.store.log(f"sweep ended: {status.value} {dict(self.result.counts())}")
        result = load_result(self.store.root)  # exactly what is on disk
        self.observers.finished(result)
        return result

    def fill(self) -> None:
        while self.free_slots:
            if not self.pending and self.plan.sampler.sequential and not self.plan.exhausted \
                    and len(self.plan.trials) < self.plan.limits.max_trials:
                history = [(self.trial_of(r.id).subspace, dict(r.sampled),
                            r.best_metric if r.status is JobStatus.COMPLETED else None)
                           for r in self.records.values() if r.finished]
                bigger = extend(self.plan, history, count=len(self.free_slots))
                for trial in bigger.trials[len(self.plan.trials):]:
                    self.records[trial.id] = _new_record(trial)
                    self.pending.append(trial.id)
                self.plan = bigger
                self.store.save_plan(bigger)
            if not self.pending:
                return
            self.launch(self.pending.popleft())

    def trial_of(self, trial_id: str) -> Trial:
        return next(t for t in self.plan.trials if t.id == trial_id)

    def launch(self, trial_id: str) -> None:
        slot = self.free_slots.pop(0)
        cpus, gpus = self.slots[slot]
        trial = self.trial_of(trial_id)
        workdir = self.store.trial_dir(trial_id)
        workdir.mkdir(parents=True, exist_ok=True)
        payload = {"trial": unstructure(trial), "job": dumps(self.plan.job), "base_path": self.plan.job.base_path,
                   "seed": self.plan.seed, "workdir": str(workdir), "primary_metric": self.metric.value,
                   "cpus": list(cpus), "gpus": list(gpus), "trial_fn": self.trial_fn, "path_map": self.path_map,
                   "gpu_share": sum(1 for _, g in self.slots if gpus and g == gpus)}
        write_atomic(workdir / TrialLayout.PAYLOAD, json.dumps(payload))
        process, conn = self.launcher.start(trial_id, payload, workdir, self.store.log)
        self.running[trial_id] = _Running(trial_id, process, conn, slot)
        record = self.records[trial_id]
        self.update(trial_id, status=JobStatus.RUNNING, started_at=record.started_at or time.time(),
                    attempts=record.attempts + 1, resumable=False, stop_reason=None, ended_at=None)
        self.store.write_trial(self.records[trial_id])
        self.store.log(f"trial {trial_id} started {self.launcher.where(cpus, gpus)}")
        self.save()

    def step(self, timeout: float = 0.5) -> None:
        by_conn = {r.conn: r for r in self.running.values()}
        for conn in self.launcher.wait(list(by_conn), timeout):
            r = by_conn[conn]
            if r.record_id in self.running and not self.receive(r):  # EOF: the process has ended
                code = r.process.wait(timeout=30)
                if r.record_id in self.running:
                    self.end(r, TrialResult(status=JobStatus.FAILED,
                                            stop_reason=self.launcher.exit_reason(r.process, code)))
        now = time.time()
        for r in list(self.running.values()):
            if r.stop_sent_at is not None and now - r.stop_sent_at > GRACE_SECONDS and r.process.poll() is None:
                r.process.terminate()

    def receive(self, r: _Running) -> bool:
        try:
            kind, body = r.conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "report":
            reason = self.report(r, body)
            try:
                r.conn.send(("stop", reason) if reason else ("continue", None))
            except (OSError, BrokenPipeError):
                pass
        elif kind == "done":
            try:
                outcome = structure(body, TrialResult)
            except ValidationError as err:
                outcome = TrialResult(status=JobStatus.FAILED, stop_reason=f"the trial's result is not valid: {err}")
            self.end(r, outcome)
        return True

    def report(self, r: _Running, evaluation: Mapping[str, Any]) -> str | None:
        record = self.records[r.record_id]
        epoch = evaluation.get("epoch")
        history = [h for h in record.history if epoch is None or h.get("epoch") is None or h["epoch"] < epoch]
        history.append(dict(evaluation))
        best, epoch = best_of_history(history, self.metric)
        record = self.update(r.record_id, history=history, best_metric=best, best_epoch=epoch)
        self.store.write_trial(record)
        if r.stop_reason is not None:
            self.save()
            return r.stop_reason
        histories = {tid: [v for v in (finite(h.get(self.metric.value)) for h in rec.history) if v is not None]
                     for tid, rec in self.records.items() if rec.history}
        decisions, self.policy_state = self.policy.decide(self.policy_state, histories, set(self.running),
                                                          len(histories.get(r.record_id, [])))
        reason = next((d.reason for d in decisions if d.trial_id == r.record_id and d.stop), None)
        if reason:
            self.store.log(f"trial {r.record_id} stopped: {reason}")
            r.stop_reason = reason
        self.save()
        return reason

    def ask_stop(self, r: _Running, reason: str, *, resumable: bool) -> None:
        """Asks a trial to stop at its next report; it is terminated if it does not end in time."""
        r.stop_reason, r.resumable_stop, r.stop_sent_at = reason, resumable, time.time()

    def end(self, r: _Running, outcome: TrialResult) -> None:
        self.running.pop(r.record_id, None)
        self.free_slots.append(r.slot)
        self.free_slots.sort()
        r.conn.close()
        try:
            r.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            r.process.kill()
        status, reason, resumable = outcome.status, outcome.stop_reason, outcome.resumable
        if r.stop_reason is not None and status is not JobStatus.FAILED:
            status, reason, resumable = JobStatus.CANCELED, r.stop_reason, r.resumable_stop
        record = self.update(r.record_id, status=status, stop_reason=reason, ended_at=time.time(),
                             resumable=resumable,
                             checkpoint=None if outcome.checkpoint is None else str(outcome.checkpoint),
                             artifacts=outcome.artifacts)
        if outcome.history:  # the trial's own, complete history wins (after a resume)
            history = [dict(h) for h in outcome.history]
            best, epoch = best_of_history(history, self.metric)
            record = self.update(r.record_id, history=history, best_metric=best, best_epoch=epoch)
        if outcome.best_metric is not None and record.best_metric is None:
            record = self.update(r.record_id, best_metric=outcome.best_metric, best_epoch=outcome.best_epoch)
        self.store.write_trial(record)
        self.store.log(f"trial {r.record_id} {status.value}" + (f": {reason}" if reason else ""))
        self.observers.trial_ended(record)
        self.prune_checkpoints()
        self.save()

    def terminate_all(self, reason: str) -> None:
        for r in list(self.running.values()):
            if r.process.poll() is None:
                r.process.terminate()
            r.stop_reason, r.resumable_stop = reason, True
            self.end(r, TrialResult(status=JobStatus.CANCELED, stop_reason=reason))

    def assemble_best(self) -> None:
        """Copies the best trial's checkpoint and artifacts into ``best/`` (replaced whole, atomically)."""
        best = best_trial_of(self.records.values(), self.metric)
        if best is None or not (best.checkpoint or best.artifacts):
            return
        root = self.store.root
        tmp = root / RunLayout.BEST_TMP
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if best.checkpoint and os.path.isdir(best.checkpoint):
            shutil.copytree(best.checkpoint, tmp / BestLayout.CHECKPOINT)
        for name, path in best.artifacts.items():
            if os.path.isfile(path):
                shutil.copy2(path, tmp / name)
        write_atomic(tmp / BestLayout.TRIAL, json.dumps({"trial": best.id, "best_metric": best.best_metric,
                                                     "best_epoch": best.best_epoch,
                                                     "primary_metric": self.metric.value}, indent=1))
        old = root / RunLayout.BEST_OLD
        shutil.rmtree(old, ignore_errors=True)
        if self.store.best_dir.exists():
            os.replace(self.store.best_dir, old)
        os.replace(tmp, self.store.best_dir)
        shutil.rmtree(old, ignore_errors=True)
        self.result = attrs.evolve(self.result, outputs={**self.result.outputs, "best": str(self.store.best_dir),
                                                         "summary": str(root / RunLayout.SUMMARY)})
        self.store.log(f"best model: trial {best.id} -> {self.store.best_dir}")

    def score_test(self) -> None:
        """Scores ``best/`` on the test data (``test_data`` or ``test_data_size``), kept apart."""
        job = self.plan.job
        if (job.test_data is None and not job.test_data_size) or not (self.store.best_dir / BestLayout.CHECKPOINT).is_dir():
            return
        spec = {"base_path": job.base_path, "seed": self.plan.seed, "path_map": self.path_map,
                "batch_size": self.trial_of(best_trial_of(self.records.values(), self.metric).id).parameters.validation_batch_size}
        with open(self.store.log_path, "a", encoding="utf-8") as log:
            code = subprocess.run([sys.executable, "-m", "imgtune.runner.scoring", str(self.store.root),
                                   json.dumps(spec)], stdout=log, stderr=log, stdin=subprocess.DEVNULL).returncode
        path = self.store.best_dir / BestLayout.TEST_METRICS
        if code == 0 and path.exists():
            metrics = json.loads(path.read_text(encoding="utf-8"))
            self.result = attrs.evolve(self.result, test_metrics=metrics,
                                       outputs={**self.result.outputs, "test_metrics": str(path)})
            self.store.log(f"test data: {self.metric} {metrics.get(self.metric.value)} on {metrics.get('examples')} images")
        else:
            self.store.log(f"scoring the best model on the test data failed (exit {code}); see above")
            self.result = attrs.evolve(self.result, message="scoring on the test data failed: see run.log")

    def prune_checkpoints(self) -> None:
        """Keeps the checkpoints of the best ``keep_checkpoints`` finished trials only."""
        kept = [r for r in self.records.values() if r.checkpoint and r.finished]
        kept.sort(key=lambda r: (-(r.best_metric if r.best_metric is not None else -math.inf), r.index))
        for r in kept[self.keep_checkpoints:]:
            path = r.checkpoint
            if path and os.path.isdir(path) and str(self.store.root) in os.path.realpath(path):
                shutil.rmtree(path, ignore_errors=True)
            self.update(r.id, checkpoint=None)


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


def _new_record(trial: Trial) -> TrialRecord:
    return TrialRecord(id=trial.id, index=trial.index, parameters=trial.parameters, sampled=trial.sampled)


def _load(store: RunStore) -> RunResult | None:
    return load_result(store.root) if store.exists() else None


def run_plan(plan: Plan, store: RunStore, *, trial_fn: str, retry_failed: bool = False,
             resources: Resources | None = None, keep_checkpoints: int = 3,
             path_map: Mapping[str, str] | None = None, time_limit_seconds: float | None = None,
             launcher: LocalLauncher | None = None, observers: Sequence[RunObserver] = ()) -> RunResult:
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
    """
    launcher = launcher or LocalLauncher()
    launcher.open(plan.limits.max_concurrent_trials)
    try:
        sweep = _Sweep(plan, store, trial_fn=trial_fn, retry_failed=retry_failed,
                       resources=resources or Resources(), keep_checkpoints=keep_checkpoints,
                       path_map=path_map, time_limit_seconds=time_limit_seconds, launcher=launcher,
                       observers=observers)
        return sweep.run()
    finally:
        launcher.close()

