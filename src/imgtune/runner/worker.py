"""The trial process: where one trial runs, apart from the sweep.

Each trial runs in its own process (``python -m imgtune.runner.worker FD
PAYLOAD``, connected to the sweep by a socket pair), so a crash, an
out-of-memory kill or a NaN fails that trial only. A fresh interpreter rather
than ``multiprocessing``: the user's main script is never imported again, so
it needs no ``if __name__ == "__main__"`` guard. The process pins itself to the CPUs it
was given (and the GPU, where there are several) *before* the trial function
imports JAX, then calls the trial function with a :class:`TrialContext`.

A trial function is any importable ``fn(context)`` (named as ``"module:function"``). It
calls ``context.report(evaluation)`` after each evaluation; ``report`` answers ``None`` to
go on, or the reason to stop (an early-termination policy's decision). It returns a
:class:`~imgtune.train.trial_types.TrialResult`, or a mapping of its fields: ``status``
(``Completed``, ``Failed`` or ``Canceled``), and optionally ``stop_reason``, ``history``,
``best_metric``, ``best_epoch``, ``checkpoint`` (a folder) and ``artifacts``. The result
goes back to the sweep as a ``TrialResult``, written by the one converter; a mapping with
an unknown key or a bad value fails the trial, naming it.

Interruptions: ``report`` answers the sweep's stop for the timeout or Ctrl-C by raising
:class:`~imgtune.train.interrupt.TrialInterrupted` (a :class:`BaseException`: let it through), and
SIGINT and SIGTERM raise it too (held while a checkpoint is written). The trial ends ``Canceled``
and resumable, keeping its last checkpoint; the next run calls the trial function again. A long
trial calls ``context.progress()`` as it advances (the trainer does, every step; a report counts
too): one that shows no progress for the sweep's stall limit is stopped and fails.

Resume contract: a trial function that resumes from its own checkpoint
either reports again the evaluations the sweep may have missed (the sweep
keeps the latest report per epoch), or returns its complete ``history`` at the
end, which replaces what the sweep recorded. The trainer does the latter.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from imgtune.compiler.plan import Trial
from imgtune.runner.store import TrialLayout, checkpoint_source
from imgtune.serialization import loads, structure, unstructure
from imgtune.spec.enums import JobStatus, PrimaryMetric
from imgtune.train.interrupt import TrialInterrupted, install, shielded
from imgtune.train.trial_types import TrialResult

if TYPE_CHECKING:
    from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["TrialContext", "main", "resolve_trial_fn", "worker_main"]

_POLL_SECONDS = 0.5
_PROGRESS_SECONDS = 1.0  # at most one progress message a second


class TrialContext:
    """What a trial function gets.

    Attributes:
        trial: The plan's :class:`~imgtune.compiler.Trial` (its ``parameters`` are resolved).
        job: The job (data inputs, task, primary metric; ``base_path`` set).
        seed: The plan's seed (data order and splits; ``parameters.random_seed`` seeds the model).
        workdir: The trial's folder; a trial that finds its own checkpoint there resumes from it.
        primary_metric: The metric reports are judged on (it says which value is better).
        multilabel: The task.
        cpus: The CPU cores this trial is pinned to.
        gpus: The GPUs visible to it (``CUDA_VISIBLE_DEVICES``), empty on CPU.
        path_map: URL prefix -> local folder for remote image URLs.
        image_store: ``(data file, index file)`` of the sweep's decoded image store
            (:mod:`imgtune.train.data.image_store`), or ``None`` when the sweep made none.
    """

    def __init__(self, *, trial: Trial, job: ImageClassificationJobBase, seed: int, workdir: Path,
                 primary_metric: PrimaryMetric, multilabel: bool,
                 cpus: tuple[int, ...], gpus: tuple[str, ...], path_map: Mapping[str, str],
                 report: Callable[[Mapping[str, Any]], str | None],
                 image_store: tuple[str, str] | None = None, progress: Callable[[], None] | None = None) -> None:
        self.trial, self.job, self.seed, self.workdir = trial, job, seed, workdir
        self.primary_metric, self.multilabel, self.cpus, self.gpus = primary_metric, multilabel, cpus, gpus
        self.path_map = dict(path_map)
        self.image_store = image_store
        self._report = report
        self._progress = progress

    def report(self, evaluation: Mapping[str, Any]) -> str | None:
        """Sends one evaluation (``epoch`` and the metrics); returns the reason to stop, or ``None``.

        Raises:
            TrialInterrupted: The sweep was interrupted (the timeout, Ctrl-C): stop, keeping the checkpoint.
        """
        return self._report(evaluation)

    def progress(self, *_: Any) -> None:
        """Tells the sweep the trial advanced (cheap: call it every step; sent at most once a second)."""
        if self._progress is not None:
            self._progress()


def resolve_trial_fn(ref: str | Callable) -> Callable:
    """``"package.module:function"`` -> the function (a callable passes through)."""
    if callable(ref):
        return ref
    module, _, name = ref.partition(":")
    fn: Any = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn


def _pin(cpus: tuple[int, ...], gpus: tuple[str, ...], gpu_share: int = 1) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, set(cpus))
        except OSError:
            pass
    n = str(max(1, len(cpus)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, n)
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        if gpu_share > 1:  # XLA takes 75% of a GPU's memory up front: trials sharing one would not fit
            os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / gpu_share:.3f}")
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", default_cache_dir())


def default_cache_dir() -> str:
    """The persistent JAX compilation cache: ``$IMGTUNE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/imgtune/jax`` (``~/.cache/imgtune/jax``). Set
    ``JAX_COMPILATION_CACHE_DIR`` to put it elsewhere. It is the only thing a run
    writes outside its output folder; it makes every trial after the first skip
    most of XLA's compilation."""
    base = os.environ.get("IMGTUNE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "imgtune")
    return os.path.join(base, "jax")


def _lock(workdir: Path) -> Any:
    """Holds the trial folder's lock, waiting for a process of an earlier, killed run to let go."""
    import fcntl

    workdir.mkdir(parents=True, exist_ok=True)
    fh = open(workdir / TrialLayout.LOCK, "w")  # noqa: SIM115 - held for the process's life
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


def _send(conn: Any, message: tuple[str, Any]) -> None:
    """Sends a message whole: an interruption that comes meanwhile is raised after it."""
    with shielded():
        conn.send(message)


def worker_main(conn: Any, payload: Mapping[str, Any]) -> None:
    """Entry point of a trial process (runs in the child)."""
    parent = os.getppid()
    workdir = Path(payload["workdir"])
    _pin(tuple(payload["cpus"]), tuple(payload["gpus"]), int(payload.get("gpu_share", 1)))
    install()  # SIGINT and SIGTERM: TrialInterrupted, held while a checkpoint is written
    lock = _lock(workdir)
    log = open(workdir / TrialLayout.LOG, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stderr = log
    print(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} trial {payload['trial']['id']} started "
          f"(pid {os.getpid()}, cpus {payload['cpus']})", flush=True)

    def report(evaluation: Mapping[str, Any]) -> str | None:
        _send(conn, ("report", dict(evaluation)))
        while not conn.poll(_POLL_SECONDS):
            if os.getppid() != parent:  # the sweep died: stop at once, the checkpoint is on disk
                os._exit(3)
        kind, reason = conn.recv()
        if kind == "pause":
            raise TrialInterrupted(reason)
        return reason if kind == "stop" else None

    last = [time.monotonic()]

    def progress() -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_SECONDS:
            last[0] = now
            try:
                _send(conn, ("progress", None))
            except OSError:  # the sweep died: stop at once, the checkpoint is on disk
                os._exit(3)

    try:
        job = loads(payload["job"], base_path=payload.get("base_path"))
        trial = structure(payload["trial"], Trial)
        if trial.parameters.checkpoint_run_id:  # a run, trial or checkpoint folder -> the checkpoint's
            source = str(checkpoint_source(trial.parameters.checkpoint_run_id, payload.get("base_path")))
            trial = attrs.evolve(trial, parameters=attrs.evolve(trial.parameters, checkpoint_run_id=source))
        context = TrialContext(trial=trial, job=job, seed=payload["seed"], workdir=workdir,
                               primary_metric=job.primary_metric, multilabel=job.multilabel,
                               cpus=tuple(payload["cpus"]), gpus=tuple(payload["gpus"]),
                               path_map=payload.get("path_map") or {}, report=report,
                               image_store=tuple(payload["image_store"]) if payload.get("image_store") else None,
                               progress=progress)
        returned = resolve_trial_fn(payload["trial_fn"])(context)
        result = returned if isinstance(returned, TrialResult) else structure(dict(returned or {}), TrialResult)
        _send(conn, ("done", unstructure(result)))
    except TrialInterrupted as exc:  # its last checkpoint is on disk: resumable
        print(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} interrupted: {exc.reason}", flush=True)
        try:
            _send(conn, ("done", unstructure(TrialResult(status=JobStatus.CANCELED, resumable=True,
                                                       stop_reason=exc.reason if exc.reason.startswith("interrupted")
                                                       else f"interrupted: {exc.reason}"))))
        except (OSError, EOFError, TrialInterrupted):  # the sweep is gone, or a second signal: done
            pass
    except BaseException as exc:  # noqa: BLE001 - any failure fails this trial only
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {exc}".strip()
        try:
            _send(conn, ("done", unstructure(TrialResult(status=JobStatus.FAILED, stop_reason=reason[:2000]))))
        except (OSError, EOFError, TrialInterrupted):  # the sweep is gone, or a second signal: done
            pass
    finally:
        log.flush()
        lock.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m imgtune.runner.worker FD PAYLOAD_JSON``."""
    import json
    from multiprocessing.connection import Connection

    args = sys.argv[1:] if argv is None else argv
    conn = Connection(int(args[0]))
    with open(args[1], encoding="utf-8") as fh:
        payload = json.load(fh)
    worker_main(conn, payload)


if __name__ == "__main__":
    main()
