"""Run folders of earlier formats still load, report, predict and resume; newer ones are refused.

Each folder under ``tests/fixtures/runs/`` is a run made by an earlier imgtune with
``tests/fixtures/make_run_fixture.py`` (its docstring says which commit made which): a 2-trial sweep
of a tiny real model, trial 0 completed and best, trial 1 paused after its first epoch. Every test
works on a copy in ``tmp_path`` (somewhere else than where the run was made: ``run.json``'s absolute
paths name a folder that no longer exists), never on the committed folder.

The rule these tests keep: a change that raises a format version (``RUN_VERSION``,
``PLAN_VERSION``, ``CHECKPOINT_VERSION``) adds a fixture of the previous one
(:func:`test_every_older_format_version_has_a_fixture` fails until it does).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import imgtune
from imgtune import cli
from imgtune.compiler.plan import PLAN_VERSION
from imgtune.formats import version_of
from imgtune.runner.results import RUN_VERSION
from imgtune.runner.store import RunLayout
from imgtune.train.checkpoints import CHECKPOINT_VERSION, VERSION_KEY

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
if str(FIXTURES_DIR) not in sys.path:  # `make_run_fixture` (the trial function), here and in trial processes
    sys.path.insert(0, str(FIXTURES_DIR))

import make_run_fixture

RUNS = sorted(p for p in (FIXTURES_DIR / "runs").iterdir() if p.is_dir())
TRIAL_FN = "make_run_fixture:trial"


def _info_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("info.json"))


#: Each format: its version constant, and the versions a run folder holds of it.
FORMATS = {
    "run (RUN_VERSION)": (RUN_VERSION, lambda folder: {
        version_of(json.loads(RunLayout(folder).run.read_text()))}),
    "plan (PLAN_VERSION)": (PLAN_VERSION, lambda folder: {
        version_of(yaml.safe_load(RunLayout(folder).plan.read_text()))}),
    "checkpoint (CHECKPOINT_VERSION)": (CHECKPOINT_VERSION, lambda folder: {
        version_of(json.loads(p.read_text()), key=VERSION_KEY) for p in _info_files(folder)}),
}


@pytest.fixture(params=RUNS, ids=[p.name for p in RUNS])
def run_copy(request, tmp_path) -> Path:
    """A copy of a fixture's run folder, elsewhere than where it was made."""
    target = tmp_path / "copied" / "run"
    shutil.copytree(request.param, target)
    return target


@pytest.fixture
def image(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "shape.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _set_version(path: Path, version: int, *, key: str = "version") -> None:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, key: version}, indent=1))
    else:  # plan.yaml: its top-level `version:` line
        text, n = re.subn(r"(?m)^version: .*$", f"version: {version}", path.read_text())
        assert n == 1
        path.write_text(text)


# -- the rule ---------------------------------------------------------------------------------------------
def test_every_older_format_version_has_a_fixture():
    assert RUNS, "no run-folder fixture in tests/fixtures/runs"
    problems = []
    for name, (current, versions_in) in FORMATS.items():
        have = set().union(*(versions_in(folder) for folder in RUNS))
        problems += [f"{name} is {current}, but no fixture in tests/fixtures/runs has {name.split()[0]} format "
                     f"{v}: make one with tests/fixtures/make_run_fixture.py from the commit before the change"
                     for v in sorted(set(range(1, current)) - have)]
        problems += [f"a fixture has {name.split()[0]} format {v}, newer than {name} = {current}"
                     for v in sorted(v for v in have if v > current)]
    assert not problems, "\n".join(problems)


def test_the_fixtures_are_small():
    for folder in RUNS:
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert size < 2_000_000, f"{folder.name}: {size} bytes"


# -- an earlier format loads, where it is now -------------------------------------------------------------
def test_load_result_reads_the_fixture_where_it_is(run_copy):
    result = imgtune.load_result(run_copy)
    assert result.version == RUN_VERSION
    assert result.output_dir == str(run_copy.resolve())
    assert [(t.status.value, t.resumable) for t in result.trials] == [("Completed", False), ("Canceled", True)]
    assert result.best_trial.id == result.trials[0].id
    paths = [*result.log_files.values(), *(v for k, v in result.outputs.items()),
             *(t.checkpoint for t in result.trials if t.checkpoint),
             *(p for t in result.trials for p in t.artifacts.values())]
    assert paths
    for p in paths:  # recorded under the folder where it was made: resolved against where it is now
        local = Path(p.removeprefix("file://"))
        assert local.is_relative_to(run_copy.resolve()) and local.exists(), p
    assert result.studio_url == (run_copy.resolve() / RunLayout.REPORT).as_uri()


def test_status_and_report_commands(run_copy, capsys):
    assert cli.main(["status", str(run_copy)]) == 0
    out = capsys.readouterr().out
    trials = imgtune.load_result(run_copy).trials
    assert all(t.id in out for t in trials)
    (run_copy / RunLayout.REPORT).unlink()
    assert cli.main(["report", str(run_copy)]) == 0
    assert capsys.readouterr().out.strip() == (run_copy.resolve() / RunLayout.REPORT).as_uri()
    assert trials[0].id in (run_copy / RunLayout.REPORT).read_text()


def test_predict_command(run_copy, image, capsys):
    assert cli.main(["predict", str(run_copy), str(image)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    out = json.loads(line)
    assert out["filename"] == str(image) and out["labels"] == list(make_run_fixture.CLASSES)
    assert sum(out["probs"]) == pytest.approx(1.0, abs=1e-5)


def test_the_same_job_resumes_it(run_copy, image):
    """The paused trial continues from its checkpoint (read by this imgtune); best/ keeps trial 0's model."""
    before = imgtune.load_result(run_copy)
    result = imgtune.run(imgtune.load(run_copy / RunLayout.JOB), run_copy, trial_fn=TRIAL_FN)
    assert result.status.value == "Completed", result.message
    first, second = result.trials
    assert (first.status.value, first.attempts) == ("Completed", before.trials[0].attempts)  # kept, not rerun
    assert (second.status.value, second.attempts, second.resumable) == ("Completed", 2, False)
    assert [h["epoch"] for h in second.history] == [1, 2]  # epoch 1 from the fixture's checkpoint
    assert result.best_trial.id == first.id
    best = RunLayout(run_copy).best
    assert best.checkpoint.is_dir() and best.labels.is_file() and best.confusion_matrix.is_file()
    assert json.loads(RunLayout(run_copy).run.read_text())["version"] == RUN_VERSION
    new_info = json.loads((Path(second.checkpoint) / "info.json").read_text())
    assert new_info[VERSION_KEY] == CHECKPOINT_VERSION
    (predicted,) = imgtune.predict(run_copy, [str(image)])
    assert predicted["labels"] == list(make_run_fixture.CLASSES)


# -- a newer format is refused, saying what to do ---------------------------------------------------------
def _newer(what: str, version: int) -> str:
    return re.escape(f"made by a newer imgtune ({what} format {version + 1}, this imgtune reads up to {version}): "
                     "upgrade imgtune")


def test_a_newer_run_format_is_refused(run_copy, capsys):
    _set_version(RunLayout(run_copy).run, RUN_VERSION + 1)
    with pytest.raises(imgtune.ValidationError, match=_newer("run", RUN_VERSION)) as err:
        imgtune.load_result(run_copy)
    assert err.value.problems[0].path == str(RunLayout(run_copy.resolve()).run)
    assert "or use another output folder" in str(err.value)
    assert cli.main(["status", str(run_copy)]) == 2
    assert "made by a newer imgtune (run format" in capsys.readouterr().err
    with pytest.raises(imgtune.ValidationError, match=_newer("run", RUN_VERSION)):
        imgtune.run(imgtune.load(run_copy / RunLayout.JOB), run_copy, trial_fn=TRIAL_FN)


def test_a_newer_plan_format_is_refused(run_copy, capsys):
    _set_version(RunLayout(run_copy).plan, PLAN_VERSION + 1)
    with pytest.raises(imgtune.ValidationError, match=_newer("plan", PLAN_VERSION)):
        imgtune.run(imgtune.load(run_copy / RunLayout.JOB), run_copy, trial_fn=TRIAL_FN)
    assert cli.main(["report", str(run_copy)]) == 2
    assert "made by a newer imgtune (plan format" in capsys.readouterr().err


def test_a_newer_checkpoint_format_is_refused(run_copy, image):
    _set_version(RunLayout(run_copy).best.checkpoint / "info.json", CHECKPOINT_VERSION + 1, key=VERSION_KEY)
    with pytest.raises(imgtune.ValidationError, match=_newer("checkpoint", CHECKPOINT_VERSION)):
        imgtune.predict(run_copy, [str(image)])
    # the paused trial's checkpoint: its resume fails that trial, with the reason
    paused = imgtune.load_result(run_copy).trials[1]
    for info in _info_files(Path(paused.checkpoint).parent):
        _set_version(info, CHECKPOINT_VERSION + 1, key=VERSION_KEY)
    result = imgtune.run(imgtune.load(run_copy / RunLayout.JOB), run_copy, trial_fn=TRIAL_FN)
    second = result.trials[1]
    assert second.status.value == "Failed"
    assert "made by a newer imgtune (checkpoint format" in second.stop_reason


def test_a_damaged_version_is_refused(run_copy):
    _set_version(RunLayout(run_copy).run, "one")
    with pytest.raises(imgtune.ValidationError, match="the run format version must be a whole number >= 1, got 'one'"):
        imgtune.load_result(run_copy)


# -- the check itself -------------------------------------------------------------------------------------
def test_an_older_version_is_migrated_step_by_step_or_refused_saying_what_to_do():
    from imgtune.formats import upgrade

    steps = {2: lambda d: {**d, "two": True}, 3: lambda d: {**d, "three": True}}
    assert upgrade({"version": 2}, 4, steps, format="demo", where="f") == {"version": 4, "two": True, "three": True}
    assert upgrade({}, 1, {}, format="demo", where="f") == {"version": 1}  # unversioned: version 1
    with pytest.raises(imgtune.ValidationError, match=re.escape(
            "f: made by an older imgtune (demo format 1, this imgtune reads 2 to 4): read it with the imgtune "
            "that made it, or run the job again in another output folder")):
        upgrade({"version": 1}, 4, steps, format="demo", where="f")


def test_a_new_run_records_every_version(tmp_path):
    result = imgtune.run(imgtune.loads(make_run_fixture.JOB), tmp_path / "new", trial_fn=TRIAL_FN)
    assert result.status.value == "Completed"
    folder = tmp_path / "new"
    assert {name: versions_in(folder) for name, (_, versions_in) in FORMATS.items()} == {
        name: {current} for name, (current, _) in FORMATS.items()}
    assert all(VERSION_KEY in json.loads(p.read_text()) for p in _info_files(folder))
