"""Observers: what watches a run (progress, the report, MLflow, the end-of-run export) without being part of it.

The sweep knows nothing of what watches it: its core (:mod:`imgtune.runner.sweep`) says when, as
:class:`~imgtune.runner.sweep.Notify` effects, and its shell (:mod:`imgtune.runner.local`) calls every
subscribed :class:`RunObserver` then, in the order they were subscribed. An observer that raises is
written to ``run.log`` and the run goes on; only ``KeyboardInterrupt`` (and other ``BaseException`` s)
get through. :func:`imgtune.run` subscribes its observers; :func:`imgtune.runner.run_plan` takes them
as ``observers=``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import attrs

from imgtune.runner.results import RunResult, TrialRecord

if TYPE_CHECKING:
    from imgtune.compiler import Plan
    from imgtune.runner.store import RunStore

__all__ = ["Observers", "ProgressCallback", "RunObserver", "with_additions"]

T = TypeVar("T")


@runtime_checkable
class RunObserver(Protocol):
    """Watches one run; the sweep calls its five hooks, in this order.

    1. :meth:`started`: once, before the sweep starts (a resume too).
    2. :meth:`changed`: after each change is saved to ``run.json`` (a status, a trial starting,
       an evaluation, a trial ending).
    3. :meth:`trial_ended`: when a trial ends, before the :meth:`changed` that shows it ended.
    4. :meth:`finishing`: once the sweep is over and ``best/`` assembled and scored, before the
       final status (not when the sweep was canceled).
    5. :meth:`finished`: once, after the final status is saved (also when canceled).

    A class that subclasses :class:`RunObserver` inherits a hook that does nothing for each one
    it leaves out; any other class with the five methods is an observer too. A hook that raises
    is logged to ``run.log`` and the run goes on.

    Example:
        >>> class Ends(RunObserver):
        ...     def __init__(self) -> None:
        ...         self.ended: list[str] = []
        ...
        ...     def trial_ended(self, record: TrialRecord) -> None:
        ...         self.ended.append(record.id)
        >>> isinstance(Ends(), RunObserver)
        True
    """

    def started(self, plan: Plan, store: RunStore, result: RunResult) -> None:
        """The sweep starts.

        Args:
            plan: The plan it runs.
            store: The run's output folder (``store.log`` writes to ``run.log``).
            result: The result so far: every trial (finished ones of an earlier run included),
                ``started_at`` set.
        """

    def changed(self, result: RunResult) -> RunResult | None:
        """Something changed and was saved to ``run.json``.

        Args:
            result: What was saved.

        Returns:
            ``result`` with something added (its ``outputs``, ``studio_url`` and ``message`` are
            kept and saved; the status, trials and times are the sweep's), or ``None``.
        """
        return None

    def trial_ended(self, record: TrialRecord) -> None:
        """A trial ended.

        Args:
            record: The trial as it ended: completed, failed, stopped early or interrupted.
        """

    def finishing(self, result: RunResult) -> RunResult | None:
        """The sweep is over and ``best/`` is ready; the final status is not set yet.

        Args:
            result: The result, ``outputs["best"]`` set when a trial scored.

        Returns:
            ``result`` with something added (as for :meth:`changed`), or ``None``.
        """
        return None

    def finished(self, result: RunResult) -> None:
        """The run ended.

        Args:
            result: The result with its final status, as saved.
        """


class ProgressCallback(RunObserver):
    """A ``progress`` callable (``fn(result)``, as :func:`imgtune.run` takes it) as an observer:
    called with the result after each change."""

    def __init__(self, fn: Callable[[RunResult], object]) -> None:
        self.fn = fn

    def changed(self, result: RunResult) -> None:
        self.fn(result)


def with_additions(result: RunResult, added: RunResult) -> RunResult:
    """``result`` with what an observer may add taken from ``added``: ``outputs``, ``studio_url``
    and ``message``."""
    return attrs.evolve(result, outputs=added.outputs, studio_url=added.studio_url, message=added.message)


class Observers:
    """The observers of one run, called in order; one that raises is logged with ``log`` and skipped.

    Args:
        observers: The observers, in the order they are called.
        log: Where a failing observer is reported (the run's :meth:`~imgtune.runner.store.RunStore.log`).
    """

    def __init__(self, observers: Iterable[RunObserver], log: Callable[[str], None]) -> None:
        self.observers = tuple(observers)
        self.log = log

    def _guarded(self, observer: RunObserver, hook: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - an observer watches the run; it never fails it
            self.log(f"{type(observer).__name__}.{hook} failed: {type(exc).__name__}: {exc}")
            return None

    def started(self, plan: Plan, store: RunStore, result: RunResult) -> None:
        for o in self.observers:
            self._guarded(o, "started", functools.partial(o.started, plan, store, result))

    def changed(self, result: RunResult) -> RunResult:
        """Calls each observer's :meth:`~RunObserver.changed`; returns ``result`` with their additions."""
        for o in self.observers:
            added = self._guarded(o, "changed", functools.partial(o.changed, result))
            if added is not None:
                result = with_additions(result, added)
        return result

    def trial_ended(self, record: TrialRecord) -> None:
        for o in self.observers:
            self._guarded(o, "trial_ended", functools.partial(o.trial_ended, record))

    def finishing(self, result: RunResult) -> RunResult:
        """Calls each observer's :meth:`~RunObserver.finishing`; returns ``result`` with their additions."""
        for o in self.observers:
            added = self._guarded(o, "finishing", functools.partial(o.finishing, result))
            if added is not None:
                result = with_additions(result, added)
        return result

    def finished(self, result: RunResult) -> None:
        for o in self.observers:
            self._guarded(o, "finished", functools.partial(o.finished, result))
