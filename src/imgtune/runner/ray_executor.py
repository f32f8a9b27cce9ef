"""The Ray executor: the local executor's sweep, with each trial on a Ray cluster.

Only *where* a trial runs changes. The sweep (the plan, limits, concurrency, early-termination
policies, statuses, ``run.json``, resume: its pure core, :mod:`imgtune.runner.sweep`, and the shell
that feeds it events and carries out its effects, :mod:`imgtune.runner.local`) runs in this process,
the driver, exactly as with the local executor; this module is a launcher for that shell:
:class:`RayLauncher` starts each trial as a Ray actor that reserves the trial's CPUs and GPUs on some
node and runs the same trial process there (``python -m imgtune.runner.worker``), relaying its
messages (``report`` -> ``stop``/``continue``, then ``done``) through Ray. A lost actor reaches the
core as the trial's :class:`~imgtune.runner.sweep.Lost` (after its retries).

* **Storage.** Trials read the job's data and write their folder (``trials/<id>/``: metrics,
  checkpoints, logs) directly, at the driver's paths: on one machine that is a given; on a cluster
  the output folder (and the data) must be on storage every node mounts at the same path (NFS, ...).
  A trial on a node that does not see the output folder fails at once, saying so.
* **Failures.** A trial function that raises fails its trial, as locally. A trial whose process is
  killed (out of memory, a signal) or whose actor or node is lost (Ray's error is the reason) is
  retried ``RayOptions.max_retries`` times (default 0: it fails) from its last checkpoint; never
  the sweep. A trial the sweep stopped is never retried.
* **Resume.** The driver's state is the output folder: kill the driver, run again, and the sweep
  resumes as the local one does (its actors die with it).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.runner.local import LocalLauncher, Resources, process_exit_reason
from imgtune.runner.store import RunLayout, TrialLayout
from imgtune.train.pretrained import cache_root, cached_path

__all__ = ["RayLauncher", "RayOptions"]

INSTALL_HINT = "the Ray executor needs ray: pip install 'imgtune[ray]'"


@attrs.frozen(kw_only=True)
class RayOptions:
    """How trials run on Ray.

    Attributes:
        cpus_per_trial: CPUs each trial reserves (default: the cluster's CPUs over
            ``max_concurrent_trials``, at most one node's, at least 1).
        gpus_per_trial: GPUs each trial reserves, possibly a fraction (default: none on a cluster
            without GPUs; else the cluster's GPUs over ``max_concurrent_trials``, at most one node's,
            or an equal share of one GPU when there are fewer GPUs than concurrent trials).
        max_retries: How many times a trial whose process was killed or whose actor or node was lost
            is started again (from its last checkpoint) before it fails.
        runtime_env: Ray's ``runtime_env`` for the trial actors (``env_vars``, ``working_dir``, ...).

    Example:
        >>> RayOptions(cpus_per_trial=2, gpus_per_trial=0.5).problems()
        []
        >>> RayOptions(cpus_per_trial=-1).problems()[0].path
        'ray_options.cpus_per_trial'
    """

    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_retries: int = 0
    runtime_env: Mapping[str, Any] | None = None

    def problems(self) -> list[Problem]:
        out = []
        for name in ("cpus_per_trial", "gpus_per_trial"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0 or
                                      (name == "cpus_per_trial" and value == 0)):
                out.append(Problem(f"ray_options.{name}", f"must be a number > 0, got {value!r}"))
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            out.append(Problem("ray_options.max_retries", f"must be an integer >= 0, got {self.max_retries!r}"))
        return out


def import_ray() -> Any:
    """``ray``, or a :class:`ValidationError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ValidationError([Problem("executor", INSTALL_HINT)]) from None
    return ray


class RayLauncher(LocalLauncher):
    """Starts each trial as a Ray actor (see the module's docstring).

    ``address`` is passed to ``ray.init`` when this process is not connected to Ray yet: ``None``
    joins the instance ``RAY_ADDRESS`` or ``ray start`` on this machine names, else starts a local
    one; ``"host:6379"`` or ``"ray://host:10001"`` joins a cluster. Ray is shut down at the end only
    if it was started here.
    """

    def __init__(self, address: str | None = None, options: RayOptions | None = None) -> None:
        self.ray = import_ray()
        self.address = address
        self.options = options or RayOptions()
        self.cpus = self.gpus = 0.0
        self.connected_here = False
        self.actor_class: Any = None
        #: The models whose ImageNet weights the trials will read; :meth:`open` checks every node has them.
        self.weights: tuple[str, ...] = ()

    def open(self, concurrency: int) -> None:
        if self.actor_class is not None:  # opened already (imgtune.run opens it before the run starts)
            return
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address)
            self.connected_here = True
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        cpus = [float(n.get("CPU", 0)) for n in nodes] or [0.0]
        gpus = [float(n.get("GPU", 0)) for n in nodes] or [0.0]
        self.cpus = self.options.cpus_per_trial or _whole(max(1.0, min(max(cpus), sum(cpus) // concurrency)))
        if self.options.gpus_per_trial is not None:
            self.gpus = self.options.gpus_per_trial
        elif sum(gpus) == 0:
            self.gpus = 0
        elif sum(gpus) >= concurrency:
            self.gpus = _whole(min(max(gpus), sum(gpus) // concurrency))
        else:
            self.gpus = 1 / math.ceil(concurrency / sum(gpus))
        if not any(c >= self.cpus and g >= self.gpus for c, g in zip(cpus, gpus)):
            self.close()
            have = ", ".join(f"{_count(c, 'CPU')} {_count(g, 'GPU')}" for c, g in zip(cpus, gpus))
            need = f"{_count(self.cpus, 'CPU')} and {_count(self.gpus, 'GPU')}"
            raise ValidationError([Problem("ray_options", f"no node of the Ray cluster has {need} for a trial "
                                                          f"(nodes: {have})")])
        if self.weights:
            self._check_weights([n for n in ray.nodes() if n.get("Alive")])
        self.actor_class = ray.remote(_TrialActor)

    def _check_weights(self, nodes: list[dict[str, Any]]) -> None:
        """Refuses the run, before any trial, when a node's Hugging Face cache lacks weights its
        trials will read (each trial reads its own node's cache; the driver fetched into its own)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # Ray is loaded: open() runs it

        options: dict[str, Any] = {"num_cpus": 0}
        if self.options.runtime_env:
            options["runtime_env"] = dict(self.options.runtime_env)
        check = self.ray.remote(_missing_weights)
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        refs = [(n.get("NodeManagerAddress", n["NodeID"]), check.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False), **options).remote(
            list(self.weights), paths)) for n in nodes]
        problems = []
        for address, ref in refs:
            root, missing = self.ray.get(ref)
            if missing:
                problems.append(Problem(f"ray node {address}", f"the ImageNet weights of {', '.join(missing)} are "
                                        f"not in its Hugging Face cache ({root}), where its trials read them"))
        if problems:
            self.close()
            names = " ".join(sorted(set(self.weights)))
            problems.append(Problem("pretrained", "ways out: point HF_HOME (or ray_options.runtime_env's env_vars) "
                                                  "at a folder every node shares, or run `imgtune weights download "
                                                  f"{names}` on each node listed, or train from random weights with "
                                                  "advanced_settings: '{\"pretrained\": false}'"))
            raise ValidationError(problems)

    def close(self) -> None:
        if self.connected_here and self.ray.is_initialized():
            self.ray.shutdown()
        self.connected_here = False
        self.actor_class = None

    def slots(self, resources: Resources, concurrency: int) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
        return [((), ())] * concurrency  # Ray places each trial; the sweep only counts them

    def where(self, cpus: tuple[int, ...], gpus: tuple[str, ...]) -> str:
        return f"on Ray ({_count(self.cpus, 'CPU')}{', ' + _count(self.gpus, 'GPU') if self.gpus else ''})"

    def start(self, trial_id: str, payload: Mapping[str, Any], workdir: Path,
              log: Callable[[str], None]) -> tuple[Any, Any]:
        trial = _RayTrial(self, trial_id, dict(payload), log)
        return trial, trial

    def wait(self, conns: list[Any], timeout: float) -> list[Any]:
        ready = [c for c in conns if c.message is not None or c.pending is None]
        if ready:
            return ready
        refs = {c.pending: c for c in conns}
        done, _ = self.ray.wait(list(refs), num_returns=1, timeout=timeout)
        if done:
            done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=0)
        return [refs[ref] for ref in done if refs[ref].fetch()]

    def exit_reason(self, process: Any, code: int | None) -> str:
        reason = process.reason or process_exit_reason(code)
        return reason + (f" (after {process.retried} retries)" if process.retried else "")

    def actor(self, payload: Mapping[str, Any]) -> Any:
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus, "max_concurrency": 4,
                                   "max_restarts": 0}
        if self.options.runtime_env:
            options["runtime_env"] = dict(self.options.runtime_env)
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        return self.actor_class.options(**options).remote(payload, paths, max(1, int(self.cpus)))


def _count(n: float, unit: str) -> str:
    return f"{n:g} {unit}{'' if n == 1 else 's'}"


def _whole(x: float) -> float:
    return int(x) if float(x).is_integer() else x


class _RayTrial:
    """The sweep's handle on a trial on Ray: its "process" (``poll``, ``wait``, ``terminate``,
    ``kill``) and its "connection" (``send``, ``recv``, ``close``)."""

    def __init__(self, launcher: RayLauncher, trial_id: str, payload: dict[str, Any],
                 log: Callable[[str], None]) -> None:
        self.launcher, self.ray, self.trial_id, self.payload, self.log = launcher, launcher.ray, trial_id, payload, log
        self.retried = 0
        self.code: int | None = None
        self.reason: str | None = None
        self.ended = self.stopping = False
        self.message: tuple[str, Any] | None = None  # fetched, not yet received
        self.spawn()

    def spawn(self) -> None:
        self.actor = self.launcher.actor(self.payload)
        self.pending = self.actor.next_message.remote()
        self.released = False

    def fetch(self) -> bool:
        """Takes the ready message; False when the trial was lost and started again instead."""
        try:
            message = self.ray.get(self.pending)
        except self.ray.exceptions.RayError as exc:
            message = ("lost", _ray_reason(exc))
        self.pending = None
        if message[0] in ("lost", "exit") and not self.stopping and self.retried < self.launcher.options.max_retries:
            self.retried += 1
            why = message[1] if message[0] == "lost" else process_exit_reason(message[1])
            self.log(f"trial {self.trial_id}: {why}; retrying from its last checkpoint "
                     f"({self.retried} of {self.launcher.options.max_retries})")
            self.release()
            self.spawn()
            return False
        self.message = message
        return True

    # -- the connection --------------------------------------------------------
    def recv(self) -> tuple[str, Any]:
        while self.message is None and self.pending is not None:
            self.ray.wait([self.pending])
            self.fetch()
        message, self.message = self.message, None
        if message is None:
            raise EOFError
        kind, body = message
        if kind in ("report", "progress", "done"):
            if kind != "done":
                self.pending = self.actor.next_message.remote()
            return kind, body
        self.ended = True
        if kind == "exit":
            self.code = body
        else:  # "lost" (Ray's error) or "error" (the actor could not start the trial)
            self.reason = body
        raise EOFError

    def send(self, message: tuple[str, Any]) -> None:
        self.actor.reply.remote(message)

    def close(self) -> None:
        pass

    # -- the process -----------------------------------------------------------
    def poll(self) -> int | None:
        return self.code if self.ended else None

    def wait(self, timeout: float | None = None) -> int | None:
        if not self.ended:
            try:
                code = self.ray.get(self.actor.wait.remote(timeout), timeout=None if timeout is None else timeout + 10)
            except self.ray.exceptions.GetTimeoutError:
                raise subprocess.TimeoutExpired(f"trial {self.trial_id} on Ray", timeout) from None
            except self.ray.exceptions.RayError as exc:
                self.reason = self.reason or _ray_reason(exc)
                code = None
            if code == "running":
                raise subprocess.TimeoutExpired(f"trial {self.trial_id} on Ray", timeout)
            self.code, self.ended = code, True
        self.release()
        return self.code

    def terminate(self) -> None:
        self.stopping = True
        self.actor.terminate.remote()

    def kill(self) -> None:
        self.stopping = True
        try:
            self.ray.get(self.actor.kill.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the actor may be gone already
            pass
        self.ended = True
        self.release()

    def release(self) -> None:
        """Ends the actor, which frees its CPUs and GPUs."""
        if not self.released:
            self.released = True
            try:
                self.ray.kill(self.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - gone already
                pass


def _ray_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).split(" Some common causes")[0]  # Ray's advice is in its own log
    return f"the trial's Ray actor was lost: {type(exc).__name__}: {text}"[:600]


def _missing_weights(names: list[str], paths: list[str]) -> tuple[str, list[str]]:
    """On one Ray node: its Hugging Face cache and which of ``names``' weights it lacks."""
    sys.path[:0] = [p for p in paths if p not in sys.path]
    return str(cache_root()), [n for n in names if cached_path(n) is None]


class _TrialActor:
    """On a Ray node: runs one trial's process, as the local executor would, and relays its messages.

    A threaded actor (``max_concurrency``): ``next_message`` blocks while ``reply`` answers a report.
    """

    def __init__(self, payload: dict[str, Any], paths: list[str], threads: int) -> None:
        import ray  # optional (imgtune[ray]); this runs in a Ray worker, where it is loaded

        self.process: Any = None
        self.conn: Any = None
        self.error: str | None = None
        workdir = Path(payload["workdir"])
        root = workdir.parent.parent
        node = f"{socket.gethostname()} ({ray.util.get_node_ip_address()})"
        try:
            if not RunLayout(root).plan.is_file():
                raise RuntimeError(f"the output folder {root} is not on the Ray node {node}: on a cluster it must "
                                   f"be on storage every node mounts at the same path")
            for p in reversed(paths):  # the driver's import path, where it exists here
                if os.path.isdir(p) and p not in sys.path:
                    sys.path.insert(0, p)
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                os.environ[var] = str(threads)
            payload = {**payload, "cpus": [], "gpus": [str(g) for g in ray.get_gpu_ids()]}
            write_atomic(TrialLayout(workdir).payload, json.dumps(payload))
            with open(TrialLayout(workdir).log, "a", encoding="utf-8") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} on the Ray node {node}, actor pid {os.getpid()}, "
                         f"gpus {payload['gpus']}\n")
            self.process, self.conn = LocalLauncher().start(payload["trial"]["id"], payload, workdir, print)
        except Exception as exc:  # noqa: BLE001 - reported to the sweep as this trial's failure
            self.error = f"{type(exc).__name__}: {exc}"

    def next_message(self) -> tuple[str, Any]:
        """The trial's next message; ``("exit", code)`` once its process has ended without one."""
        if self.error is not None:
            return ("error", self.error)
        try:
            if self.conn.poll(None):
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return ("exit", self.process.wait())

    def reply(self, message: tuple[str, Any]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            pass

    def wait(self, timeout: float | None) -> int | str | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return "running"

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
