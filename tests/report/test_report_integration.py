"""The report as the rest of imgtune uses it: every run writes it (``RunResult.studio_url``), and
``imgtune report DIR`` rewrites it.
"""

import imgtune
from imgtune.cli import EXIT_OK, EXIT_USAGE, main


def test_every_run_writes_its_report_and_studio_url(multiclass_run):
    result = imgtune.load_result(multiclass_run)
    report = multiclass_run.resolve() / "report.html"
    assert result.studio_url == report.as_uri() and report.is_file()
    assert 'data-status="Completed"' in report.read_text(encoding="utf-8")


def test_imgtune_report_dir(multiclass_run, tmp_path, capsys):
    (multiclass_run / "report.html").unlink(missing_ok=True)
    assert main(["report", str(multiclass_run)]) == EXIT_OK
    assert capsys.readouterr().out.strip() == (multiclass_run.resolve() / "report.html").as_uri()
    assert (multiclass_run / "report.html").is_file()
    assert main(["report", str(tmp_path)]) == EXIT_USAGE
    assert "holds no imgtune run" in capsys.readouterr().err
