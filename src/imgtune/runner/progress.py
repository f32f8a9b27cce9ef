"""Progress of a run, for people: trials done / total, what is running, the best so far.

:class:`ConsoleProgress` is a run observer (:class:`~imgtune.runner.observers.RunObserver`), given to
:func:`imgtune.run` as its ``progress`` (it is also a plain ``progress`` callable). It
compares each snapshot with the previous one and writes what changed: plain
lines when the output is not a terminal (logs, CI), plus a live status line on
a terminal. ``log_verbosity`` sets how much: ``warning`` and above print only
the end of the run and failures, ``info`` (the default) each trial's start and
end and new bests, ``debug`` also every evaluation.
"""

from __future__ import annotations

import sys
from typing import TextIO

from imgtune.runner.observers import RunObserver
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.spec.enums import JobStatus, LogVerbosity
from imgtune.values import finite

__all__ = ["ConsoleProgress"]

_LEVEL = {LogVerbosity.NOT_SET: 1, LogVerbosity.DEBUG: 2, LogVerbosity.INFO: 1, LogVerbosity.WARNING: 0,
          LogVerbosity.ERROR: 0, LogVerbosity.CRITICAL: 0}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class ConsoleProgress(RunObserver):
    """Writes a run's progress to ``stream`` (default: stderr), at each change of the run."""

    def __init__(self, stream: TextIO | None = None, verbosity: LogVerbosity | str = LogVerbosity.INFO,
                 live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.level = _LEVEL.get(LogVerbosity.parse(verbosity) or LogVerbosity.INFO, 1)
        self.live = self.stream.isatty() if live is None else live
        self.previous: dict[str, TrialRecord] = {}
        self.best: tuple[str, float] | None = None
        self.status: JobStatus | None = None
        self._live_shown = False

    def changed(self, result: RunResult) -> None:
        self(result)

    def __call__(self, result: RunResult) -> None:
        lines: list[str] = []
        total = len(result.trials)
        for t in result.trials:
            before = self.previous.get(t.id)
            if self.level >= 1 and t.status is JobStatus.RUNNING and (before is None or before.status != t.status):
                lines.append(f"trial {t.id} started ({_describe(t)})")
            if self.level >= 2 and t.history and (before is None or len(before.history) != len(t.history)):
                last = t.history[-1]
                lines.append(f"trial {t.id} epoch {last.get('epoch')}: {result.primary_metric} "
                             f"{_fmt(finite(last.get(result.primary_metric)))}")
            if t.status.is_terminal and (before is None or before.status != t.status):
                if self.level >= 1 or t.status is JobStatus.FAILED:
                    reason = f": {t.stop_reason}" if t.stop_reason else ""
                    lines.append(f"trial {t.id} {t.status.value}, best {result.primary_metric} "
                                 f"{_fmt(t.best_metric)}{reason}")
        best = result.best_trial
        if best is not None and self.level >= 1 and (self.best is None or best.best_metric > self.best[1]):
            lines.append(f"best so far: trial {best.id}, {result.primary_metric} {_fmt(best.best_metric)}")
            self.best = (best.id, best.best_metric)
        if result.status != self.status and result.status.is_terminal:
            done = sum(t.finished for t in result.trials)
            lines.append(f"sweep {result.status.value}: {done}/{total} trials finished"
                         + (f", best {best.id} {result.primary_metric} {_fmt(best.best_metric)}" if best else "")
                         + (f" ({result.message})" if result.message else ""))
        self.status = result.status
        self.previous = {t.id: t for t in result.trials}
        self._write(lines, result)

    def _write(self, lines: list[str], result: RunResult) -> None:
        out = self.stream
        if self.live and self._live_shown:
            out.write("\r\033[K")
        for line in lines:
            out.write(line + "\n")
        if self.live and not result.status.is_terminal:
            running = [t for t in result.trials if t.status is JobStatus.RUNNING]
            done = sum(t.finished for t in result.trials)
            parts = [f"{done}/{len(result.trials)} done"]
            for t in running:
                last = t.history[-1] if t.history else {}
                parts.append(f"{t.id[:4]} ep {last.get('epoch', 0)} {_fmt(finite(last.get(result.primary_metric)))}")
            if self.best:
                parts.append(f"best {_fmt(self.best[1])}")
            out.write(" | ".join(parts))
            self._live_shown = True
        else:
            self._live_shown = False
        out.flush()


def _describe(t: TrialRecord) -> str:
    sampled = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(t.sampled.items()))
    return sampled or t.parameters.model_name
