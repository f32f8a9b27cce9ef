"""One run per folder: the output folder's lock, ``run.lock`` (:attr:`imgtune.runner.store.RunLayout.lock`).

:func:`take` creates the lock file exclusively (``O_CREAT | O_EXCL``, atomic on local file systems
and on the shared ones a Ray cluster mounts, NFS included) before anything else is written, and
writes into it who holds the folder: the host, the process id, when it started. While the run goes
on a thread refreshes the file's modification time every :data:`HEARTBEAT_SECONDS` (the heartbeat);
:meth:`RunLock.release` removes the file, on any exit of the run.

A lock whose owner is gone is *stale* and is taken over: on the same host, when its process no
longer exists; on any host, when its heartbeat is older than :data:`STALE_SECONDS` (a driver killed
with SIGKILL, a machine that went down). A live lock refuses the second run with a
:class:`~imgtune.errors.ValidationError` that says who holds the folder. Readers (``imgtune
status``, ``report``) never take the lock; :func:`holder` tells them whether a run is going on.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> lock = take(folder)
    >>> holder(folder).live, holder(folder).pid == os.getpid()
    (True, True)
    >>> take(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      output_dir: ... is in use by process ... on ... since ...
    >>> lock.release()
    >>> holder(folder) is None
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.runner.store import RunLayout

__all__ = ["HEARTBEAT_SECONDS", "STALE_SECONDS", "Claim", "Holder", "RunLock", "claimed", "holder", "take"]

#: How often the run refreshes its lock file's modification time.
HEARTBEAT_SECONDS = 10.0
#: A lock whose heartbeat is older than this is stale, whoever holds it (hosts' clocks may differ a little).
STALE_SECONDS = 120.0


@attrs.frozen(kw_only=True)
class Holder:
    """Who holds a folder's lock.

    Attributes:
        host: The host name of the run's driver.
        pid: Its process id there.
        started_at: When it took the lock (a Unix time).
        heartbeat_at: The lock file's last heartbeat (its modification time).
        live: Whether the owner is there (its process exists, when on this host; its heartbeat is recent).
        token: What tells this holding from a later one.
    """

    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    live: bool
    token: str = ""

    def describe(self) -> str:
        """``process 123 on host`` and since when."""
        if not self.pid:  # its lock file is being written
            return "another run that is starting"
        return (f"process {self.pid} on {self.host} since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.started_at))}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _read(path: Path, now: float | None = None) -> Holder | None:
    try:
        stat = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    now = time.time() if now is None else now
    fresh = now - stat.st_mtime <= STALE_SECONDS
    try:
        data = json.loads(text)
        host, pid, started, token = str(data["host"]), int(data["pid"]), float(data["started_at"]), str(data["token"])
    except (ValueError, KeyError, TypeError):  # being written, or damaged: its age decides
        return Holder(host="?", pid=0, started_at=stat.st_mtime, heartbeat_at=stat.st_mtime, live=fresh)
    live = fresh and (host != socket.gethostname() or _alive(pid))
    return Holder(host=host, pid=pid, started_at=started, heartbeat_at=stat.st_mtime, live=live, token=token)


def holder(output_dir: str | os.PathLike[str]) -> Holder | None:
    """Who holds the folder's lock (live or stale), or ``None`` when no lock is there."""
    return _read(RunLayout(output_dir).lock)


class RunLock:
    """A held lock (from :func:`take`); :meth:`release` it when the run ends."""

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="imgtune-run-lock", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Stops the heartbeat and removes the lock file (when it is still this one's)."""
        self._stop.set()
        current = _read(self.path)
        if current is not None and current.token == self.token:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def take(output_dir: str | os.PathLike[str]) -> RunLock:
    """Takes the folder's lock (creating the folder when missing), taking over a stale one.

    Raises:
        ValidationError: A live run holds the folder (the message says who).
    """
    layout = RunLayout(Path(output_dir).resolve())
    layout.root.mkdir(parents=True, exist_ok=True)
    path = layout.lock
    token = uuid.uuid4().hex
    content = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started_at": time.time(),
                          "token": token}) + "\n"
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            current = _read(path)
            if current is None:
                continue  # released meanwhile
            if current.live:
                raise ValidationError([Problem("output_dir", f"{layout.root} is in use by {current.describe()}; "
                                                             f"wait for it to end or stop it, or use another output "
                                                             f"folder")]) from None
            _remove_stale(path, current)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        return RunLock(path, token)
    raise ValidationError([Problem("output_dir", f"{layout.root}: its lock {path} could not be taken; try again")])


def _remove_stale(path: Path, stale: Holder) -> None:
    """Removes a stale lock, unless another run replaced it meanwhile: it is renamed aside first
    (only one of several runs taking it over succeeds) and checked."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
    again = _read(path)
    if again is None or again.live or again.token != stale.token:
        return
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    moved = _read(aside)
    if moved is not None and moved.token != stale.token:  # a fresh lock was moved: put it back
        try:
            os.link(aside, path)
        except OSError:
            pass
    aside.unlink(missing_ok=True)


@attrs.define
class Claim:
    """A run's hold on its folder (:func:`claimed`); set ``started`` once the trials may start."""

    lock: RunLock
    started: bool = False


@contextlib.contextmanager
def claimed(output_dir: str | os.PathLike[str]) -> Iterator[Claim]:
    """Holds the folder's lock for the block (:func:`take`), releasing it on any exit. A run refused
    before its trials start (the block raises with ``started`` unset: a bad job, bad data, a missing
    package) leaves nothing behind: what the block added to the folder is removed, and the folder
    too when the block created it.

    Raises:
        ValidationError: A live run holds the folder.
    """
    root = Path(output_dir).resolve()
    created = not root.exists()
    before = set(os.listdir(root)) if root.is_dir() else set()
    claim = Claim(take(root))
    try:
        yield claim
    except BaseException:
        claim.lock.release()
        if not claim.started:
            _discard(root, before, created)
        raise
    finally:
        claim.lock.release()


def _discard(root: Path, before: set[str], created: bool) -> None:
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for name in set(os.listdir(root)) - before if root.is_dir() else ():
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
