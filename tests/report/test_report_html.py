"""The HTML report of a run: its numbers equal the output folder's, it fetches nothing, it escapes everything,
and it works while the run is going on and without best/."""

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_dom import parse
from report_jobs import HOSTILE_DESCRIPTION, HOSTILE_NAME, sweep_job
from report_trials import CLASSES, LABELS

import imgtune
from imgtune.cli.report_command import report_arguments as configure
from imgtune.cli.report_command import report_command
from imgtune.errors import ValidationError
from imgtune.report import render_report, report_path, write_report

HERE = Path(__file__).resolve().parent


def summary(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def metrics_lines(out: Path, trial_id: str) -> list[dict]:
    text = (out / "trials" / trial_id / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


@pytest.fixture(scope="module")
def page(multiclass_run):
    write_report(multiclass_run)
    return parse((multiclass_run / "report.html").read_text(encoding="utf-8"))


def test_write_report_writes_report_html_and_its_url(multiclass_run):
    path = write_report(multiclass_run, now=1.0e9)
    assert path == multiclass_run.resolve() / "report.html" == report_path(multiclass_run)
    assert path.read_text(encoding="utf-8") == render_report(multiclass_run, now=1.0e9)
    assert path.as_uri().startswith("file:///") and path.as_uri().endswith("/report.html")
    assert not [p for p in multiclass_run.iterdir() if p.name.startswith(".report.html.")]  # no temporary left


def test_trials_table_equals_summary_csv(multiclass_run, page):
    rows = summary(multiclass_run)
    table = page.find("table", cls="trials")
    header = [th.get("data-col") for th in table.find_all("th")]
    assert header[:7] == list(rows[0])[:7]  # the same columns as summary.csv, in its order
    assert [tr.get("data-trial") for tr in table.find_all("tr", data_trial=None)] == [r["trial"] for r in rows]
    numeric = {"best_accuracy", "best_epoch", "evaluations", "seconds", "learning_rate"}
    for row in rows:
        tr = table.find("tr", data_trial=row["trial"])
        cells = {td.get("data-col"): td for td in tr.find_all("td")}
        for column, expected in row.items():
            cell = cells[column]
            if column in numeric:
                assert (cell.get("data-value") or "") == expected, (row["trial"], column)
            elif column == "trial":
                assert cell.text().startswith(expected)
            elif column == "status":
                assert cell.find("span", cls="status").text() == expected
            else:
                assert cell.text() == expected, (row["trial"], column)
        if row["best_accuracy"]:
            assert cells["best_accuracy"].text() == f"{float(row['best_accuracy']):.4f}"


def test_metric_chart_points_equal_metrics_jsonl(multiclass_run, page):
    chart = page.find("section", id="metric")
    for row in summary(multiclass_run):
        expected = [(str(h["epoch"]), repr(h["accuracy"])) for h in metrics_lines(multiclass_run, row["trial"])]
        points = [(c.get("data-x"), c.get("data-value")) for c in chart.find_all("circle", cls="point",
                                                                                  data_trial=row["trial"])]
        assert points == expected and len(points) == int(row["evaluations"])


def test_early_stopped_trials_are_marked_with_their_reasons(multiclass_run, page):
    chart = page.find("section", id="metric")
    stopped = [r for r in summary(multiclass_run) if r["status"] == "Canceled"]
    assert stopped
    for row in stopped:
        marker = chart.find("path", cls="stop-marker", data_trial=row["trial"])
        assert row["stop_reason"] in marker.text() and row["stop_reason"].startswith("bandit: ")
        assert row["stop_reason"] in chart.find("li", data_trial=row["trial"]).text()
    assert len(chart.find_all("path", cls="stop-marker")) == len(stopped)


def test_each_searched_hyperparameter_against_the_best_metric(multiclass_run, page):
    rows = {r["trial"]: r for r in summary(multiclass_run)}
    section = page.find("section", id="hyperparameters")
    for key in ("learning_rate", "model_name"):
        points = section.find("figure", data_param=key).find_all("circle", cls="point")
        assert len(points) == len(rows)
        for p in points:
            row = rows[p.get("data-trial")]
            assert p.get("data-value") == row["best_accuracy"] and p.get("data-x") == row[key]
    assert "(log scale)" in section.find("figure", data_param="learning_rate").text()  # a loguniform range


def test_timeline_shows_every_trial_and_the_concurrency(multiclass_run, page):
    result = imgtune.load_result(multiclass_run)
    section = page.find("section", id="timeline")
    bars = section.find_all("rect", cls="bar")
    assert [b.get("data-trial") for b in bars] == [t.id for t in result.trials]
    origin = min([result.started_at] + [t.started_at for t in result.trials])  # the sweep's start
    for bar, t in zip(bars, result.trials):
        assert float(bar.get("data-start")) == pytest.approx(t.started_at - origin)
        assert float(bar.get("data-end")) == pytest.approx(t.ended_at - origin)
        assert bar.get("data-state") == ("early-stopped" if t.status.value == "Canceled" else t.status.value)
    assert section.find("path", cls="concurrency").get("data-value") == "2"  # max_concurrent_trials, reached


def test_best_trial_section_equals_the_best_files(multiclass_run, page):
    best = json.loads((multiclass_run / "best" / "trial.json").read_text())["trial"]
    metrics = json.loads((multiclass_run / "best" / "metrics.json").read_text())
    cm = json.loads((multiclass_run / "best" / "confusion_matrix.json").read_text())
    section = page.find("section", id="best")
    assert best in section.text() and f"at epoch {metrics['epoch']}" in section.text()
    cells = {td.get("data-metric"): td.get("data-value") for td in section.find_all("td", data_split="validation")}
    assert cells == {k: repr(v) for k, v in metrics.items() if k != "epoch"} and len(cells) == 5
    assert cells["accuracy"] == next(r["best_accuracy"] for r in summary(multiclass_run) if r["trial"] == best)
    assert cm["labels"] == list(CLASSES)
    drawn = {(int(r.get("data-row")), int(r.get("data-col"))): r.get("data-value")
             for r in section.find_all("rect", cls="cell")}
    assert drawn == {(i, j): repr(v) for i, row in enumerate(cm["matrix"]) for j, v in enumerate(row)}
    assert CLASSES[2] in section.text()  # the hostile class name, as text
    assert page.find("tr", data_trial=best).classes >= {"best"}


def test_the_job_is_shown_as_resolved_yaml(multiclass_run, page):
    shown = page.find("pre", cls="yaml").text()
    assert shown == (multiclass_run / "job.resolved.yaml").read_text(encoding="utf-8")
    assert "early_termination" in shown and "training_batch_size" in shown  # defaults resolved


REMOTE = re.compile(r"^\s*(https?:)?//", re.I)


def test_the_report_fetches_nothing(multiclass_run, page):
    html = (multiclass_run / "report.html").read_text(encoding="utf-8")
    tags = {n.tag for n in page.iter()}
    assert not tags & {"img", "link", "iframe", "object", "embed", "audio", "video", "source", "image", "use"}
    for node in page.iter():
        for name, value in node.attrs.items():
            if name in ("src", "href", "xlink:href", "action", "poster", "data", "srcset"):
                assert value and not REMOTE.match(value), (node.tag, name, value)
                assert name != "href" or value.startswith("#"), value  # only links within the page
    assert len(page.find_all("script")) == 1 and page.find("script").get("src") is None
    style = "".join(n.text() for n in page.find_all("style"))
    assert "@import" not in style and "url(" not in style
    csp = page.find("meta", http_equiv="Content-Security-Policy").get("content")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    # the only URLs are the SVG namespace and the escaped hostile description's text
    assert set(re.findall(r"https?://[^\s\"'<>&]+", html)) <= {"http://www.w3.org/2000/svg",
                                                               "https://evil.example/x.png",
                                                               "http://evil.example/a.css);"}


def test_hostile_names_and_labels_are_escaped(multiclass_run, page):
    html = (multiclass_run / "report.html").read_text(encoding="utf-8")
    assert page.find("h1").text() == HOSTILE_NAME
    assert page.find("p", cls="description").text() == HOSTILE_DESCRIPTION
    assert HOSTILE_NAME not in html and HOSTILE_DESCRIPTION not in html and CLASSES[2] not in html
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in html
    assert html.count("<script") == 1 and "onerror=" not in html.replace("onerror=&quot;", "")
    assert page.find("title").text().startswith(HOSTILE_NAME)


def test_multilabel_per_label_scores_equal_per_label_json(multilabel_run):
    write_report(multilabel_run)
    page = parse((multilabel_run / "report.html").read_text(encoding="utf-8"))
    per_label = json.loads((multilabel_run / "best" / "per_label.json").read_text())
    assert list(per_label) == list(LABELS)
    section = page.find("section", id="best")
    cells = {(td.get("data-label"), td.get("data-metric")): td.get("data-value")
             for td in section.find_all("td", data_label=None)}
    assert cells == {(label, m): repr(v) for label, scores in per_label.items() for m, v in scores.items()}
    bars = {(b.get("data-label"), b.get("data-metric")): b.get("data-value")
            for b in section.find_all("rect", cls="bar")}
    assert bars == {(label, m): repr(s[m]) for label, s in per_label.items() for m in ("precision", "recall", "f1")}
    assert not section.find_all("rect", cls="cell")  # no confusion matrix for multilabel
    metrics = json.loads((multilabel_run / "best" / "metrics.json").read_text())
    assert {td.get("data-metric"): td.get("data-value") for td in section.find_all("td", data_split="validation")} \
        == {k: repr(v) for k, v in metrics.items() if k != "epoch"}
    rows = summary(multilabel_run)
    assert list(rows[0])[3] == "best_iou"
    assert [td.get("data-value") or "" for td in page.find_all("td", data_col="best_iou")] == \
        [r["best_iou"] for r in rows]


def test_test_metrics_are_shown_beside_the_validation_metrics(multiclass_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(multiclass_run, out, ignore=shutil.ignore_patterns("report.html", "checkpoint"))
    test_metrics = {"examples": 30, "accuracy": 0.7, "auc_weighted": 0.9123456789, "confusion_matrix": [[1, 0], [0, 1]]}
    (out / "best" / "test_metrics.json").write_text(json.dumps(test_metrics))
    section = parse(render_report(out)).find("section", id="best")
    shown = {td.get("data-metric"): td.get("data-value") for td in section.find_all("td", data_split="test")}
    assert shown["accuracy"] == "0.7" and shown["auc_weighted"] == "0.9123456789"
    assert "examples" not in shown and "confusion_matrix" not in shown and "30 images" in section.text()


def test_a_run_in_progress_and_then_finished(tmp_path):
    job_file = tmp_path / "job.yml"
    imgtune.dump(sweep_job(trials=2, concurrent=1, epochs=4, policy=False), job_file)
    out = tmp_path / "out"
    env = {**os.environ, "SYNTH_EPOCH_SECONDS": "0.5",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "runner"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "imgtune", "run", str(job_file), "--output", str(out),
                                "--trial-fn", "report_trials:multiclass", "--quiet"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while True:
            assert time.time() < deadline and process.poll() is None, "the run never showed a trial in progress"
            try:
                result = imgtune.load_result(out)
            except ValidationError:
                result = None
            if result is not None and any(t.status.value == "Running" and t.history for t in result.trials):
                break
            time.sleep(0.1)
        path = write_report(out)  # while the sweep writes the same folder
        page = parse(path.read_text(encoding="utf-8"))
        assert page.find("body").get("data-status") in ("Running", "Finalizing")
        assert "snapshot" in page.find("p", cls="banner").text()
        running = page.find("section", id="timeline").find("rect", cls="bar", data_state="Running")
        assert running.get("fill-opacity") == "0.55"  # open-ended: no end yet
        assert page.find("tr", data_trial=running.get("data-trial")).find("td", data_col="seconds").text() == ""
        best = page.find("section", id="best")
        if not (out / "best").exists():
            assert "run.json" in best.text() or "No trial has a score yet" in best.text()
        assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    page = parse(write_report(out).read_text(encoding="utf-8"))
    assert page.find("body").get("data-status") == "Completed" and not page.find_all("p", cls="banner")
    assert "best/metrics.json" in page.find("section", id="best").text()


def test_a_run_without_best_whose_trials_all_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_FAIL_MODEL", "seresnext")
    job = imgtune.with_sweep(imgtune.replace_search_space(sweep_job(trials=1, concurrent=1), None),
                             sampling_algorithm=None)
    result = imgtune.run(job, tmp_path / "out", trial_fn="report_trials:multiclass")
    assert result.status.value == "Failed" and not (tmp_path / "out" / "best").exists()
    page = parse(write_report(tmp_path / "out").read_text(encoding="utf-8"))
    assert "No trial has a score yet" in page.find("section", id="best").text()
    assert "Nothing was searched" in page.find("section", id="hyperparameters").text()
    reason = page.find("td", data_col="stop_reason").text()
    assert reason == "RuntimeError: synthetic failure for seresnext" == summary(tmp_path / "out")[0]["stop_reason"]
    assert page.find("rect", cls="bar").get("data-state") == "Failed"


def test_a_folder_without_a_run_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="holds no imgtune run"):
        render_report(tmp_path)


def command(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(list(argv))


def test_the_report_command(multiclass_run, tmp_path, capsys):
    (multiclass_run / "report.html").unlink(missing_ok=True)
    assert report_command(command(str(multiclass_run))) == 0
    assert capsys.readouterr().out.strip() == (multiclass_run.resolve() / "report.html").as_uri()
    assert (multiclass_run / "report.html").is_file()
    elsewhere = tmp_path / "copy.html"
    assert report_command(command(str(multiclass_run), "--output", str(elsewhere))) == 0
    assert capsys.readouterr().out.strip() == elsewhere.resolve().as_uri()
    assert "<svg" in elsewhere.read_text(encoding="utf-8")
    with pytest.raises(ValidationError):
        report_command(command(str(tmp_path)))
