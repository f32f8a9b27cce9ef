"""The run report: one self-contained HTML page built from a run's output folder.

The page fetches nothing: styles and a small script are inline, charts are
inline SVG (:mod:`imgtune.report.svg`), and a Content-Security-Policy forbids
every fetch, so it opens offline from ``file://`` and a hostile job name cannot
load anything. It reads without JavaScript; the script only makes the trials
table sortable (then sets ``document.body.dataset.rendered = "ok"``).

Each number shown carries its exact value in ``data-value`` (``repr`` of the
float, as ``summary.csv`` writes it), so the report can be checked against
``summary.csv`` and the metrics files.

The run is read through its store (:class:`~imgtune.runner.store.RunStore`): the result
(``run.json``), the plan and its job as records (``plan.yaml``) and the files of ``best/``.
The job's YAML is shown as the text of ``job.resolved.yaml``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from imgtune.atomic import write_atomic
from imgtune.report import svg
from imgtune.report.svg import e, fmt, num
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.runner.store import BestLayout, RunLayout, RunStore, load_result
from imgtune.values import finite
from imgtune.version import __version__

if TYPE_CHECKING:
    from imgtune.compiler import Plan
    from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["REPORT_NAME", "render_report", "write_report", "report_path"]

#: The report's file name in the output folder.
REPORT_NAME = RunLayout.REPORT

#: Search-space distributions whose values are best seen on a log axis.
_LOG_DISTRIBUTIONS = {"loguniform", "qloguniform", "lognormal", "qlognormal"}


def report_path(output_dir: str | os.PathLike[str]) -> Path:
    """Where the report of the run in ``output_dir`` is (``OUT/report.html``, absolute).

    Its ``file://`` URL, ``report_path(out).as_uri()``, is ``RunResult.studio_url``.

    Example:
        >>> report_path("runs/job").name
        'report.html'
    """
    return RunLayout(Path(output_dir).resolve()).report


def write_report(output_dir: str | os.PathLike[str], *, now: float | None = None) -> Path:
    """Renders the run in ``output_dir`` and writes ``report.html`` there, atomically.

    Works while the run is going on and for a run without ``best/``.

    Args:
        output_dir: A run's output folder.
        now: The time the report is taken at (default: now); trials still running end there.

    Returns:
        The report's path (its ``file://`` URL is ``path.as_uri()``).

    Raises:
        ValidationError: The folder holds no run, or an unreadable one.

    Example:
        >>> import tempfile
        >>> from imgtune import ImageClassificationJob
        >>> from imgtune.runner import RunResult, prepare
        >>> plan, store = prepare(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"),
        ...                       tempfile.mkdtemp())
        >>> store.save_result(RunResult(primary_metric="accuracy", output_dir=str(store.root)))  # a run just started
        >>> write_report(store.root) == report_path(store.root), report_path(store.root).is_file()
        (True, True)
    """
    path = report_path(output_dir)
    write_atomic(path, render_report(output_dir, now=now))
    return path


def render_report(output_dir: str | os.PathLike[str], *, now: float | None = None) -> str:
    """The report of the run in ``output_dir``, as one HTML document.

    Args:
        output_dir: A run's output folder (read with :func:`imgtune.load_result` and its files).
        now: The time the report is taken at (default: now).

    Returns:
        The HTML text.

    Raises:
        ValidationError: The folder holds no run, or an unreadable one.

    Example:
        >>> import tempfile
        >>> from imgtune import ImageClassificationJob
        >>> from imgtune.runner import RunResult, prepare
        >>> plan, store = prepare(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"),
        ...                       tempfile.mkdtemp())
        >>> store.save_result(RunResult(primary_metric="accuracy", output_dir=str(store.root)))  # a run just started
        >>> html = render_report(store.root)
        >>> html.startswith("<!DOCTYPE html>"), "NotStarted" in html
        (True, True)
    """
    run = _read(Path(output_dir), time.time() if now is None else now)
    sections = [_header(run), _timeline(run), _trials(run), _metric_chart(run), _hyperparameters(run),
                _best(run), _job(run)]
    return _page(run, "".join(sections))


# -- reading the folder ------------------------------------------------------------------
@attrs.frozen
class _Run:
    root: Path
    result: RunResult
    plan: Plan
    now: float
    job_text: str
    job_file: str
    best_id: str | None
    best_files: Mapping[str, Any]  # name -> parsed JSON, of the files in best/ for best_id

    @property
    def job(self) -> ImageClassificationJobBase:
        return self.plan.job

    @property
    def metric(self) -> str:
        return self.result.primary_metric.value

    @property
    def running(self) -> bool:
        return not self.result.status.is_terminal

    @property
    def title(self) -> str | None:
        return self.job.display_name or self.job.name


def _read(root: Path, now: float) -> _Run:
    result = load_result(root)  # a folder without a run is refused here
    store = RunStore(result.output_dir)
    plan = store.load_plan()  # written before run.json, so there whenever run.json is
    job_path = next((p for p in (store.layout.job_resolved, store.layout.job) if p.is_file()), None)
    job_file = job_path.name if job_path is not None else ""
    job_text = job_path.read_text(encoding="utf-8") if job_path is not None else ""
    best_files: dict[str, Any] = {}
    best_id = store.best_trial_id()
    if best_id is not None:
        for name in (BestLayout.METRICS, BestLayout.CONFUSION_MATRIX, BestLayout.PER_LABEL, BestLayout.TEST_METRICS):
            content = store.read_best(name)
            if content is not None:
                best_files[name] = content
    else:  # best/ is written when the sweep ends
        best = result.best_trial
        best_id = best.id if best is not None else None
    return _Run(store.root, result, plan, now, job_text, job_file, best_id, best_files)


def _state(trial: TrialRecord) -> str:
    """``Completed``, ``early-stopped``, ``interrupted``, ``Failed``, ``Running``, ``NotStarted``..."""
    status = trial.status.value
    if status == "Canceled":
        return "interrupted" if trial.resumable else "early-stopped"
    return status


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _data_value(value: Any) -> str:
    """A ``data-value`` attribute for numbers (exact), nothing for text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f' data-value="{e(num(value))}"'


# -- sections ------------------------------------------------------------------------------
def _section(anchor: str, title: str, body: str, note: str = "") -> str:
    note = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{e(title)}</h2>{note}{body}</section>'


def _header(run: _Run) -> str:
    r = run.result
    job = run.job
    limits = run.plan.limits
    title = run.title or job.experiment_name or run.root.name
    counts = ", ".join(f"{n} {e(s)}" for s, n in sorted(r.counts().items()))
    best = next((t for t in r.trials if t.id == run.best_id), None)
    sampling = job.sweep.sampling_algorithm if job.sweep is not None else None
    policy = job.sweep.early_termination if job.sweep is not None else None
    facts = [("status", f'<span class="status s-{e(r.status.value)}">{e(r.status.value)}</span>'
              + (f" — {e(r.message)}" if r.message else "")),
             ("task", e(job.task_type.value)),
             ("primary metric", e(run.metric) + " (maximised)"),
             ("trials", f"{len(r.trials)}: {counts}" if r.trials else "none yet"),
             ("best trial", (f'<a href="#best">{e(best.id)}</a>: {e(run.metric)} '
                             f'<span class="num"{_data_value(best.best_metric)}>{e(fmt(best.best_metric))}</span> '
                             f"at epoch {e(best.best_epoch)} ({e(best.parameters.model_name)})")
              if best is not None and best.best_metric is not None else "none yet"),
             ("sweep", f"{e(sampling.type if sampling is not None else 'single trial')}, early termination: "
                       f"{e(policy.type if policy is not None else 'none')}, "
                       f"up to {e(limits.max_concurrent_trials)} at a time, max {e(limits.max_trials)} trials"),
             ("started", e(_when(r.started_at))),
             ("ended", e(_when(r.ended_at)) if r.ended_at else "—"),
             ("time running", e(_duration(r.elapsed_seconds)) + (" so far" if run.running else "")),
             ("output folder", f"<code>{e(r.output_dir)}</code>")]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    banner = ""
    if run.running:
        banner = (f'<p class="banner">The run is {e(r.status.value)}: this is a snapshot taken at '
                  f"{e(_when(run.now))}. <code>imgtune report {e(r.output_dir)}</code> takes a new one.</p>")
    description = f'<p class="description">{e(job.description)}</p>' if job.description else ""
    nav = " · ".join(f'<a href="#{a}">{t}</a>' for a, t in (
        ("timeline", "timeline"), ("trials", "trials"), ("metric", run.metric), ("hyperparameters", "hyperparameters"),
        ("best", "best trial"), ("job", "job")))
    return (f"<header><h1>{e(title)}</h1>{description}{banner}<dl class=\"facts\">{rows}</dl>"
            f"<nav>{nav}</nav></header>")


def _timeline(run: _Run) -> str:
    r = run.result
    started = [t for t in r.trials if t.started_at]
    if not started:
        return _section("timeline", "Timeline", svg.timeline_chart([]))
    origin = min([t.started_at for t in started] + ([r.started_at] if r.started_at else []))
    horizon = run.now if run.running else max(
        [x for x in [r.ended_at, *(t.ended_at for t in r.trials)] if x] or [run.now])
    bars = []
    for t in started:
        end = t.ended_at or max(horizon, t.started_at)
        state = _state(t)
        title = (f"trial {t.id}: {state}, {_when(t.started_at)} → "
                 + (_when(t.ended_at) if t.ended_at else "(no end yet)")
                 + f" ({_duration(end - t.started_at)})" + (f" — {t.stop_reason}" if t.stop_reason else ""))
        bars.append(svg.Bar(t.id, t.id, t.started_at - origin, end - origin, state, open=not t.ended_at, title=title))
    legend = _legend(sorted({b.state for b in bars}))
    waiting = len(r.trials) - len(started)
    note = ("One row per trial, coloured by how it ended; below, how many trials ran at once "
            "(dashed: <code>max_concurrent_trials</code>).")
    if waiting:
        note += f" {waiting} trial(s) not started yet."
    return _section("timeline", "Timeline", legend + svg.timeline_chart(
        bars, limit=run.plan.limits.max_concurrent_trials), note)


def _legend(states: Sequence[str]) -> str:
    items = "".join(f'<span class="key"><i style="background:{svg.STATUS_COLOURS.get(s, "#999")}"></i>{e(s)}</span>'
                    for s in states)
    return f'<p class="legend">{items}</p>'


def _trials(run: _Run) -> str:
    r = run.result
    metric = run.metric
    sampled = sorted({k for t in r.trials for k in t.sampled})
    varying = []
    if len(r.trials) > 1:
        params = [attrs.asdict(t.parameters) for t in r.trials]
        varying = sorted(k for k in params[0] if k not in sampled
                         and len({json.dumps(p.get(k), sort_keys=True, default=str) for p in params}) > 1)
    head = [("trial", "trial"), ("status", "status"), ("stop_reason", "stop reason"),
            (f"best_{metric}", f"best {metric}"), ("best_epoch", "best epoch"), ("evaluations", "evaluations"),
            ("seconds", "seconds"), ("started", "started")]
    head += [(k, k + " ✱") for k in sampled] + [(k, k) for k in varying]
    out = ['<div class="scroll"><table class="trials sortable"><thead><tr>']
    out += [f'<th data-col="{e(c)}" scope="col">{e(label)}</th>' for c, label in head]
    out.append("</tr></thead><tbody>")
    for t in r.trials:
        state = _state(t)
        seconds = f"{t.ended_at - t.started_at:.3f}" if t.started_at and t.ended_at else ""
        best_mark = ' <span title="the best trial">★</span>' if t.id == run.best_id else ""
        cells = [
            ("trial", f"{e(t.id)}{best_mark}", ""),
            ("status", f'<span class="status s-{e(t.status.value)}">{e(t.status.value)}</span>'
                       + (" (interrupted)" if t.resumable else ""), ""),
            ("stop_reason", e(t.stop_reason or ""), ""),
            (f"best_{metric}", e(fmt(t.best_metric)), _data_value(t.best_metric)),
            ("best_epoch", e("" if t.best_epoch is None else t.best_epoch), _data_value(t.best_epoch)),
            ("evaluations", str(len(t.history)), _data_value(len(t.history))),
            ("seconds", e(seconds), f' data-value="{seconds}"' if seconds else ""),
            ("started", e(_when(t.started_at)[11:]), _data_value(t.started_at) if t.started_at else ""),
        ]
        for k in sampled:
            v = t.sampled.get(k, "")
            cells.append((k, e(_value_text(v)), _data_value(v)))
        for k in varying:
            v = getattr(t.parameters, k)
            v = getattr(v, "value", v)
            cells.append((k, e(_value_text(v)), _data_value(v)))
        row_class = f"st-{e(state)}" + (" best" if t.id == run.best_id else "")
        out.append(f'<tr class="{row_class}" data-trial="{e(t.id)}">'
                   + "".join(f'<td data-col="{e(c)}"{dv}>{text}</td>' for c, text, dv in cells) + "</tr>")
    out.append("</tbody></table></div>")
    note = ("Click a column's name to sort by it. ✱ marks the searched hyperparameters; the other parameter "
            "columns are defaults that differ between trials (they depend on the model). The same numbers are in "
            "<code>summary.csv</code>.")
    return _section("trials", f"Trials ({len(r.trials)})", "".join(out), note)


def _history_points(trial: TrialRecord, metric: str) -> list[tuple[float, float]]:
    points = []
    for k, h in enumerate(trial.history):
        y = finite(h.get(metric))
        x = finite(h.get("epoch"))
        if y is not None:
            points.append((h.get("epoch") if x is not None else k + 1, y))
    return points


def _metric_chart(run: _Run) -> str:
    metric = run.metric
    series, stopped = [], []
    for t in run.result.trials:
        points = _history_points(t, metric)
        if not points:
            continue
        state = _state(t)
        marker = t.stop_reason if state == "early-stopped" else None
        if marker:
            stopped.append(t)
        series.append(svg.Series(t.id, f"trial {t.id} ({state})", points, colour=svg.PALETTE[t.index % 10],
                                 dash=state in ("Failed", "interrupted"), marker=marker or None,
                                 emphasis=t.id == run.best_id))
    chart = svg.line_chart(series, x_label="epoch", y_label=metric, title=f"{metric} per evaluation, every trial")
    if 1 < len(series) <= 40:
        chart = '<p class="legend">' + "".join(
            f'<span class="key"><i style="background:{s.colour}"></i>{e(s.key)}{" ★" if s.emphasis else ""}</span>'
            for s in series) + "</p>" + chart
    items = "".join(f'<li data-trial="{e(t.id)}"><b style="color:{svg.PALETTE[t.index % 10]}">{e(t.id)}</b> '
                    f"after {len(t.history)} evaluation(s): {e(t.stop_reason)}</li>" for t in stopped)
    listing = (f'<h3>Early-stopped trials (×)</h3><ul class="stopped">{items}</ul>' if stopped
               else "<p>No trial was stopped early.</p>")
    note = ("Every trial's primary metric at each evaluation; the best trial is drawn thicker, failed and "
            "interrupted ones dashed, and a cross ends each trial the early-termination policy stopped.")
    return _section("metric", f"{metric} per evaluation", chart + listing, note)


def _hyperparameters(run: _Run) -> str:
    r = run.result
    keys = sorted({k for t in r.trials for k in t.sampled})
    if not keys:
        return _section("hyperparameters", "Hyperparameters", "<p>Nothing was searched (a single trial).</p>")
    log_keys = {k for space in run.job.search_space for k, dist in space.distributions().items()
                if dist.type in _LOG_DISTRIBUTIONS}
    charts = []
    for k in keys:
        points = []
        for t in r.trials:
            value, score = t.sampled.get(k), finite(t.best_metric)
            if value is None or score is None:
                continue
            x = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
            points.append(svg.Point(t.id, x, score, svg.STATUS_COLOURS.get(_state(t), "#999"),
                                    f"trial {t.id} ({_state(t)}): {k} = {_value_text(value)}, "
                                    f"best {run.metric} {fmt(score)}"))
        numeric = [p.x for p in points if not isinstance(p.x, str)]
        positive = bool(numeric) and len(numeric) == len(points) and min(numeric) > 0
        log = positive and (k in log_keys or max(numeric) / min(numeric) >= 1000)
        charts.append(f'<figure data-param="{e(k)}">'
                      + svg.scatter_chart(points, x_label=k, y_label=f"best {run.metric}", log_x=log)
                      + "</figure>")
    legend = _legend(sorted({_state(t) for t in r.trials if t.best_metric is not None}))
    note = f"Each searched hyperparameter against the trial's best {e(run.metric)} (the metric trials are ranked by)."
    return _section("hyperparameters", "Hyperparameters", legend + f'<div class="grid">{"".join(charts)}</div>',
                    note)


def _best(run: _Run) -> str:
    r = run.result
    trial = next((t for t in r.trials if t.id == run.best_id), None)
    if trial is None:
        return _section("best", "Best trial", "<p>No trial has a score yet.</p>")
    files = run.best_files
    metrics = files.get(BestLayout.METRICS)
    source = "best/metrics.json"
    if not isinstance(metrics, Mapping):
        entry = next((h for h in trial.history if h.get("epoch") == trial.best_epoch), None)
        metrics, source = (dict(entry) if entry else {}), "run.json (best/ is written when the sweep ends)"
    test = files.get(BestLayout.TEST_METRICS) if isinstance(files.get(BestLayout.TEST_METRICS), Mapping) else {}
    names = sorted((k for k in metrics if k != "epoch" and finite(metrics[k]) is not None),
                   key=lambda k: k != run.metric)  # the primary metric first, then the file's order
    names += [k for k in test if k not in names and k != "examples" and finite(test[k]) is not None]
    head = "<th>metric</th><th>validation</th>" + (f"<th>test ({e(test.get('examples', ''))} images)</th>"
                                                   if test else "")
    rows = []
    for k in names:
        cells = [(metrics, "validation"), (test, "test")] if test else [(metrics, "validation")]
        tds = "".join(f'<td data-metric="{e(k)}" data-split="{split}"{_data_value(src.get(k))}>'
                      f"{e(fmt(src.get(k)))}</td>" for src, split in cells)
        primary = ' class="primary"' if k == run.metric else ""
        rows.append(f'<tr{primary}><th scope="row">{e(k)}</th>{tds}</tr>')
    table = f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    epoch = metrics.get("epoch", trial.best_epoch)
    intro = (f"<p>Trial <b>{e(trial.id)}</b> ({e(_state(trial))}, {e(trial.parameters.model_name)}): best "
             f"{e(run.metric)} <span class=\"num\"{_data_value(trial.best_metric)}>{e(fmt(trial.best_metric))}"
             f"</span> at epoch {e(epoch)}. Metrics from <code>{e(source)}</code>.</p>")
    parts = [intro, table]
    cm = files.get(BestLayout.CONFUSION_MATRIX)
    if isinstance(cm, Mapping) and cm.get("matrix"):
        parts.append('<h3>Confusion matrix (validation)</h3><p class="note">Rows: true class; columns: predicted; '
                     "shade: share of the row.</p>" + svg.heatmap([str(x) for x in cm.get("labels", [])],
                                                                   cm["matrix"]))
    per_label = files.get(BestLayout.PER_LABEL)
    if isinstance(per_label, Mapping) and per_label:
        parts.append("<h3>Per-label scores (validation)</h3>" + _per_label(per_label))
    params = attrs.asdict(trial.parameters)
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(_value_text(getattr(v, 'value', v)))}</dd>" for k, v in params.items())
    parts.append(f'<details><summary>Every training parameter of trial {e(trial.id)}</summary>'
                 f'<dl class="params">{items}</dl></details>')
    return _section("best", "Best trial", "".join(parts))


def _per_label(per_label: Mapping[str, Any]) -> str:
    groups = [(str(label), [(m, float(v[m])) for m in ("precision", "recall", "f1") if finite(v.get(m)) is not None])
              for label, v in per_label.items() if isinstance(v, Mapping)]
    columns = list(dict.fromkeys(m for v in per_label.values() if isinstance(v, Mapping) for m in v))
    rows = []
    for label, v in per_label.items():
        if not isinstance(v, Mapping):
            continue
        tds = "".join(f'<td data-label="{e(label)}" data-metric="{e(m)}"{_data_value(v.get(m))}>'
                      f"{e(fmt(v.get(m)) if m != 'support' else _value_text(v.get(m)))}</td>" for m in columns)
        rows.append(f'<tr><th scope="row">{e(label)}</th>{tds}</tr>')
    head = "".join(f"<th>{e(m)}</th>" for m in columns)
    table = (f'<table class="per-label sortable"><thead><tr><th>label</th>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    return svg.bar_chart(groups) + table


def _job(run: _Run) -> str:
    if not run.job_text:
        return _section("job", "Job", "<p>No job file in the folder.</p>")
    note = f"<code>{e(run.job_file)}</code>: the job with every default filled in."
    return _section("job", "Job", f'<details open><summary>{e(run.job_file)}</summary>'
                                  f'<pre class="yaml">{e(run.job_text)}</pre></details>', note)


# -- the page ---------------------------------------------------------------------------------
_CSS = """
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1320px;margin:0 auto;padding:16px 24px 48px}
header,section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:12px 20px;margin:14px 0}
h1{font-size:22px;margin:4px 0 6px}h2{font-size:17px;margin:4px 0 8px}h3{font-size:14px;margin:16px 0 6px}
.description{color:#444;margin:0 0 8px;white-space:pre-wrap}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
.facts dt{color:#666}.facts dd{margin:0}
.params{display:grid;grid-template-columns:repeat(3,max-content 1fr);gap:1px 12px;font-size:12px}
.params dt{color:#666}.params dd{margin:0}
nav{margin-top:8px}a{color:#2b6cb0}
.banner{background:#fff8e1;border:1px solid #f0d67a;padding:6px 10px;border-radius:4px}
.note{color:#666;font-size:12.5px;margin:0 0 8px}
.status{display:inline-block;padding:0 6px;border-radius:3px;background:#eee;font-weight:600}
.s-Completed{background:#e3f1df;color:#2f6b26}.s-Failed{background:#fbe3e4;color:#a3262d}
.s-Canceled{background:#fdebd6;color:#995000}.s-Running{background:#e1ebf6;color:#2b5a8a}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td[data-value]{text-align:right;font-variant-numeric:tabular-nums}
.trials td[data-col=stop_reason]{max-width:360px;color:#555}
tr.best{background:#fffbe6}
th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;color:#222}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
.metrics tr.primary{font-weight:600}
.legend .key{margin-right:14px;font-size:12.5px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}
.stopped{font-size:12.5px;color:#444}
pre.yaml{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px;max-height:640px}
svg.chart{display:block;max-width:100%;height:auto}
footer{color:#888;font-size:12px;text-align:center}
"""

_JS = """
(function () {
  var errors = 0;
  window.addEventListener("error", function () { errors += 1; document.body.dataset.errors = String(errors); });
  function key(cell) {
    var v = cell.getAttribute("data-value"), t = cell.textContent.trim();
    if (v !== null && v !== "" && !isNaN(Number(v))) return [0, Number(v)];
    return t === "" ? [2, ""] : [1, t.toLowerCase()];
  }
  function sortBy(table, heads, th, i) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[i]), y = key(b.cells[i]);
      if (x[0] !== y[0]) return x[0] === 2 ? 1 : y[0] === 2 ? -1 : x[0] - y[0];
      var c = x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = th.textContent;
      b.title = "sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(b);
      b.addEventListener("click", function () { sortBy(table, heads, th, i); });
    });
  });
  var drawn = 0;
  Array.prototype.forEach.call(document.querySelectorAll("svg.chart"), function (svg) {
    var plot = svg.querySelector(".plot"), box = plot && plot.getBBox();
    if (box && box.width > 0 && box.height > 0) drawn += 1;
  });
  document.body.dataset.charts = String(drawn);
  document.body.dataset.rendered = "ok";
})();
"""


def _page(run: _Run, body: str) -> str:
    digest = base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    title = run.title or run.root.name
    footer = (f"<footer>imgtune {e(__version__)} · report taken {e(_when(run.now))} from "
              f"<code>{e(run.root)}</code> · <code>imgtune report DIR</code> rewrites it</footer>")
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)} — {e(run.result.status.value)} — imgtune</title><style>{_CSS}</style></head>"
            f'<body data-status="{e(run.result.status.value)}"><main>{body}{footer}</main>'
            f"<script>{_JS}</script></body></html>\n")
