"""The report as a run observer: ``report.html`` rewritten as the run goes on.

:func:`imgtune.run` subscribes a :class:`ReportWriter` to every run. It rewrites the report when the
run's status changes and when a trial ends (not at every evaluation), and records the report's
``file://`` URL as the result's ``studio_url`` and ``outputs["report"]`` once it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from imgtune.report.html import write_report
from imgtune.runner.observers import RunObserver
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.spec.enums import JobStatus

if TYPE_CHECKING:
    from imgtune.compiler import Plan
    from imgtune.runner.store import RunStore

__all__ = ["ReportWriter"]


class ReportWriter(RunObserver):
    """Writes ``report.html`` in the run's folder, from the folder as it is on disk.

    A report that cannot be written is logged to ``run.log`` (``report.html not written: ...``);
    it never fails the run: the report is a view of the run, not part of it.

    Example:
        >>> # imgtune.run adds one; imgtune.runner.run_plan(plan, store, ..., observers=[ReportWriter()])
        >>> from imgtune.runner.observers import RunObserver
        >>> isinstance(ReportWriter(), RunObserver)
        True
    """

    def __init__(self) -> None:
        self.store: RunStore | None = None
        self.status: JobStatus | None = None  # the run's status when the report was last written
        self.trial_ended_since = False

    def started(self, plan: Plan, store: RunStore, result: RunResult) -> None:
        self.store, self.status, self.trial_ended_since = store, None, False

    def trial_ended(self, record: TrialRecord) -> None:
        self.trial_ended_since = True

    def changed(self, result: RunResult) -> RunResult | None:
        """Rewrites the report when the status changed or a trial ended since it was last written;
        returns ``result`` with its URL when the result does not have it yet."""
        if self.store is None or (result.status is self.status and not self.trial_ended_since):
            return None
        self.status, self.trial_ended_since = result.status, False
        try:
            url = write_report(self.store.root).as_uri()
        except Exception as exc:  # noqa: BLE001 - the report is a view of the run, not part of it
            self.store.log(f"report.html not written: {type(exc).__name__}: {exc}")
            return None
        if result.studio_url == url:
            return None
        return attrs.evolve(result, studio_url=url, outputs={**result.outputs, "report": url})
