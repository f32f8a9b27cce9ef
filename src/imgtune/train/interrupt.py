"""Interrupting a trial resumably: SIGINT and SIGTERM become :class:`TrialInterrupted`.

A trial process (:mod:`imgtune.runner.worker`) calls :func:`install` before training: from then on
SIGINT (Ctrl-C in a terminal reaches every process of the group) and SIGTERM (the sweep's
terminate, after the timeout or Ctrl-C) raise :class:`TrialInterrupted` in the main thread. Code that
must not be cut in half -- a checkpoint's write (:meth:`imgtune.train.checkpoints.Checkpoints.save`)
-- runs inside :func:`shielded`: a signal that arrives there is held until the block ends, so the
checkpoint is finished (or, when the block itself fails, abandoned: its temporary folder is removed
at the next start) and the interruption is raised right after it. A second signal while shielded is
held as well: the write is short (a fraction of a second on CPU), and half a checkpoint is worth
nothing.

:class:`TrialInterrupted` derives from :class:`BaseException` (as :class:`KeyboardInterrupt`), so
an ``except Exception`` in a trial function does not swallow it. A trial that ends with it keeps its
last checkpoint and writes no final result: it is ``Canceled`` and resumable, and the next run of
the sweep continues it. Light to import (no JAX).

Example:
    >>> import os, signal
    >>> previous = install()
    >>> try:
    ...     with shielded():
    ...         os.kill(os.getpid(), signal.SIGTERM)  # held until the block ends
    ...         finished = True
    ... except TrialInterrupted as exc:
    ...     print(finished, exc.reason)
    True the trial process got SIGTERM
    >>> uninstall(previous)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["TrialInterrupted", "install", "shielded", "uninstall"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_held: list[str] = []  # the reason of a signal that came while shielded
_depth = [0]


class TrialInterrupted(BaseException):  # as KeyboardInterrupt: not caught by `except Exception`
    """The trial was interrupted (a signal, or the sweep's ``pause`` answer): it stops, keeping its
    last checkpoint, and is resumable.

    Attributes:
        reason: Why (e.g. ``"the trial process got SIGINT"``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _handler(signum: int, frame: Any) -> None:
    reason = f"the trial process got {signal.Signals(signum).name}"
    if _depth[0] > 0:
        _held.append(reason)
        return
    raise TrialInterrupted(reason)


def install() -> dict[int, Any]:
    """Makes SIGINT and SIGTERM raise :class:`TrialInterrupted` (main thread only); returns the
    previous handlers, for :func:`uninstall`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _handler) for s in _SIGNALS}


def uninstall(previous: dict[int, Any]) -> None:
    """Puts back the handlers :func:`install` returned."""
    for s, h in previous.items():
        signal.signal(s, h)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Holds an interruption that arrives inside the block until the block ends (see the module doc)."""
    _depth[0] += 1
    try:
        yield
    except BaseException:
        _depth[0] -= 1
        _raise_held()  # the interruption wins over what failed in the block
        raise
    _depth[0] -= 1
    _raise_held()


def _raise_held() -> None:
    if _depth[0] == 0 and _held:
        reason = _held[0]
        _held.clear()
        raise TrialInterrupted(reason)
