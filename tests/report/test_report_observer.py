"""The report as a run observer (imgtune.report.ReportWriter), and how it reads the run: through the store's
records (the plan and its job, run.json, best/), never guessing past an unreadable file."""

import shutil

import pytest
from report_dom import parse
from report_jobs import sweep_job

import imgtune
import imgtune.report.writer
from imgtune.compiler.plan import PLAN_VERSION
from imgtune.errors import ValidationError
from imgtune.report import ReportWriter, render_report

FN = "report_trials:multiclass"


def facts(page) -> dict[str, str]:
    dl = page.find("dl", cls="facts")
    return dict(zip([dt.text() for dt in dl.find_all("dt")], [dd.text() for dd in dl.find_all("dd")]))


def test_every_run_subscribes_a_report_writer(tmp_path, monkeypatch):
    written = []
    real = imgtune.report.writer.write_report

    def counting(out):
        written.append(imgtune.load_result(out).status.value)
        return real(out)

    monkeypatch.setattr(imgtune.report.writer, "write_report", counting)
    result = imgtune.run(sweep_job(trials=2, concurrent=1, epochs=2, policy=False), tmp_path / "out", trial_fn=FN)
    assert result.studio_url == (tmp_path / "out" / "report.html").resolve().as_uri() == result.outputs["report"]
    # at each status, and after each trial's end (not at every evaluation)
    assert written == ["Starting", "Preparing", "Running", "Running", "Running", "Finalizing", "Completed"]
    assert isinstance(ReportWriter(), imgtune.runner.RunObserver)


def test_a_report_that_cannot_be_written_is_logged_and_the_run_goes_on(tmp_path, monkeypatch):
    def broken(out):
        raise OSError("disk full")

    monkeypatch.setattr(imgtune.report.writer, "write_report", broken)
    result = imgtune.run(sweep_job(trials=1, concurrent=1, epochs=2, policy=False), tmp_path / "out", trial_fn=FN)
    assert result.status.value == "Completed"
    assert result.studio_url is None and "report" not in result.outputs
    assert "report.html not written: OSError: disk full" in (tmp_path / "out" / "run.log").read_text()


def test_the_header_shows_the_limits_the_sweep_runs_with(tmp_path):
    out = tmp_path / "out"
    imgtune.run(sweep_job(trials=2, concurrent=1, epochs=2, policy=False), out, trial_fn=FN)
    more = imgtune.with_limits(sweep_job(trials=2, concurrent=1, epochs=2, policy=False), max_trials=3)
    result = imgtune.run(more, out, trial_fn=FN)  # extends the sweep
    assert len(result.trials) == 3
    shown = facts(parse((out / "report.html").read_text(encoding="utf-8")))
    assert shown["sweep"] == "random, early termination: none, up to 1 at a time, max 3 trials"
    assert shown["task"] == "image_classification" and shown["trials"].startswith("3: 3 Completed")


def test_an_unreadable_plan_or_best_file_is_an_error_not_a_gap(multiclass_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(multiclass_run, out, ignore=shutil.ignore_patterns("report.html", "checkpoint"))
    render_report(out)  # the copy reads
    plan = (out / "plan.yaml").read_text(encoding="utf-8")
    (out / "plan.yaml").write_text(plan.replace(f"version: {PLAN_VERSION}", "version: 99"), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"made by a newer imgtune \(plan format 99"):
        render_report(out)
    (out / "plan.yaml").write_text(plan, encoding="utf-8")
    (out / "best" / "metrics.json").write_text('{"accuracy": 0.5', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"metrics\.json: is not valid JSON"):  # names the file
        render_report(out)


def test_a_run_without_best_yet_shows_the_best_trial_from_run_json(multiclass_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(multiclass_run, out, ignore=shutil.ignore_patterns("report.html", "best"))
    section = parse(render_report(out)).find("section", id="best")
    assert imgtune.load_result(out).best_trial.id in section.text() and "run.json" in section.text()
