"""The run report: ``report.html`` in a run's output folder, one self-contained page.

It shows the job (as YAML, defaults resolved), the status and a timeline of trials,
a sortable table of trials, the primary metric per evaluation for every trial
(early-stopped ones marked, with the policy's reasons), each searched
hyperparameter against the trial's best metric, and, for the best trial, its
metrics and its confusion matrix (multiclass) or per-label scores (multilabel).

It opens offline: no network fetch, charts as inline SVG drawn by
:mod:`imgtune.report.svg` (our own few hundred lines rather than matplotlib: no new
dependency, small deterministic output, and every mark carries its exact number).
``RunResult.studio_url`` is its ``file://`` URL, the local counterpart of Azure's
studio link. Every run writes it as it goes: :func:`imgtune.run` subscribes a
:class:`ReportWriter` (:mod:`imgtune.report.writer`) to the run.

The report reads the run through its store (:mod:`imgtune.runner.store`): the result,
the plan and the job as records, and the files of ``best/``.

Example::

    path = imgtune.report.write_report("runs/job")   # also while the run is going on
    path.as_uri()                                   # file:///.../runs/job/report.html
"""

from imgtune.report.html import REPORT_NAME, render_report, report_path, write_report
from imgtune.report.writer import ReportWriter

__all__ = ["REPORT_NAME", "ReportWriter", "render_report", "report_path", "write_report"]
