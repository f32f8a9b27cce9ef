"""The report in a real browser: headless Chromium (Debian's ``chromium``) renders it without a console
message, its script runs under the page's Content-Security-Policy, every chart draws, and a screenshot
is saved in the test's temporary folder (``report.png``)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from imgtune.report import write_report

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary, installed by scripts/install-chromium.sh when missing."""
    found = shutil.which("chromium")
    if found is None:
        try:
            done = subprocess.run(["sh", str(ROOT / "scripts" / "install-chromium.sh")], capture_output=True,
                                  text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"chromium is missing and scripts/install-chromium.sh could not run: {exc}")
        found = shutil.which("chromium")
        if found is None:
            pytest.skip("chromium is missing and scripts/install-chromium.sh could not install it "
                        f"(exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return found


def browse(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=90)


def console_messages(stderr: str) -> list[str]:
    """What the page logged: every console message (an error, a warning, a CSP refusal) is a failure."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.parametrize("run", ["multiclass_run", "multilabel_run"])
def test_the_report_renders_in_headless_chromium(run, request, chromium, tmp_path):
    from PIL import Image

    out = request.getfixturevalue(run)
    path = write_report(out)
    html = path.read_text(encoding="utf-8")
    charts = html.count('<svg class="chart"')
    assert charts >= 4

    dom = browse(chromium, tmp_path / "profile", "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    assert 'data-rendered="ok"' in body, body  # the script ran to its end (the CSP hash let it run)
    assert "data-errors" not in body
    assert f'data-charts="{charts}"' in body  # every chart has marks with a non-empty bounding box
    assert dom.stdout.count("<button") >= 8  # the table headers became sort buttons

    shot = tmp_path / "report.png"
    done = browse(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,3000", path.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    assert shot.stat().st_size > 30_000
    with Image.open(shot) as image:
        assert image.size == (1400, 3000)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not all one colour: text, charts
    counts = {c: n for n, c in colours}
    green = sum(n for c, n in counts.items() if abs(c[0] - 0x59) < 8 and abs(c[1] - 0xA1) < 8 and abs(c[2] - 0x4F) < 8)
    assert green > 500, "the Completed trials' bars and points should show in their colour"


def test_clicking_a_column_name_sorts_the_trials(multiclass_run, chromium, tmp_path):
    import csv
    import json

    path = write_report(multiclass_run)
    # a copy with a second script that clicks "best accuracy" (then "best epoch" twice) and notes the row order;
    # the copy drops the page's Content-Security-Policy, which would (rightly) refuse the extra script
    clicks = """<script>
      function order() { return Array.prototype.map.call(document.querySelectorAll("table.trials tbody tr"),
                                                         function (r) { return r.dataset.trial; }); }
      function click(col) { document.querySelector('table.trials th[data-col="' + col + '"] button').click(); }
      var seen = {};
      click("best_accuracy"); seen.ascending = order();
      click("best_accuracy"); seen.descending = order();
      click("model_name"); seen.model = order();
      document.body.dataset.orders = JSON.stringify(seen);
    </script></body>"""
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", path.read_text(encoding="utf-8"))
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", clicks), encoding="utf-8")
    dom = browse(chromium, tmp_path / "profile", "--dump-dom", probe.as_uri())
    assert console_messages(dom.stderr) == []
    found = re.search(r'data-orders="([^"]*)"', dom.stdout)
    assert found, dom.stdout[-2000:]
    orders = json.loads(found.group(1).replace("&quot;", '"'))
    with open(multiclass_run / "summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_metric = [r["trial"] for r in sorted(rows, key=lambda r: float(r["best_accuracy"]))]
    assert orders["ascending"] == by_metric
    assert orders["descending"] == by_metric[::-1]
    assert [r["model_name"] for t in orders["model"] for r in rows if r["trial"] == t] == \
        sorted(r["model_name"] for r in rows)
