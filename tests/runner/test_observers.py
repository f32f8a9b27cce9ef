"""Run observers (imgtune.runner.observers): the sweep calls them at fixed moments, in order; one that
raises is logged to run.log and never fails the run; what they add to the result is saved. Cheap sweeps
with the synthetic trial function (tests/runner/synthetic.py)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from test_local_executor import job

import imgtune
from imgtune import JobStatus
from imgtune.runner import RunObserver, prepare, run_plan
from imgtune.runner.progress import ConsoleProgress

HERE = Path(__file__).parent
FN = "synthetic:trial"


class Recorder(RunObserver):
    """Records each hook with what it was given (and what run.json held at that moment)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def started(self, plan, store, result):
        self.store = store
        self.events.append(("started", plan, store, result))

    def changed(self, result):
        on_disk = json.loads(self.store.run_json.read_text())
        self.events.append(("changed", result, on_disk["status"]))

    def trial_ended(self, record):
        self.events.append(("trial_ended", record))

    def finishing(self, result):
        self.events.append(("finishing", result))

    def finished(self, result):
        self.events.append(("finished", result))

    def hooks(self) -> list[str]:
        return [e[0] for e in self.events]


class Raising:
    """An observer by shape (it does not subclass RunObserver) whose every hook raises."""

    def started(self, plan, store, result):
        raise RuntimeError("boom in started")

    def changed(self, result):
        raise RuntimeError("boom in changed")

    def trial_ended(self, record):
        raise ValueError("boom in trial_ended")

    def finishing(self, result):
        raise RuntimeError("boom in finishing")

    def finished(self, result):
        raise RuntimeError("boom in finished")


def sweep(tmp_path, observers, **job_args):
    plan, store = prepare(job(**{"trials": 3, "concurrent": 1, "epochs": 2, **job_args}), tmp_path / "out")
    return plan, store, run_plan(plan, store, trial_fn=FN, observers=observers)


def test_observers_see_started_changed_and_finished_in_order(tmp_path):
    recorder = Recorder()
    plan, store, result = sweep(tmp_path, [recorder])
    assert result.status is JobStatus.COMPLETED
    hooks = recorder.hooks()
    assert hooks[0] == "started" and hooks[-1] == "finished"
    assert hooks.count("started") == hooks.count("finishing") == hooks.count("finished") == 1
    assert hooks.count("trial_ended") == 3 and hooks[-3:] == ["finishing", "changed", "finished"]

    _, plan_seen, store_seen, at_start = recorder.events[0]
    assert plan_seen == plan and store_seen is store
    assert [t.id for t in at_start.trials] == [t.id for t in plan.trials] and at_start.started_at is not None
    changes = [e[1] for e in recorder.events if e[0] == "changed"]
    assert all(e[2] == e[1].status.value for e in recorder.events if e[0] == "changed")  # saved before the call
    statuses = [c.status for c in changes]
    assert statuses[:3] == [JobStatus.STARTING, JobStatus.PREPARING, JobStatus.RUNNING]
    assert statuses[-2:] == [JobStatus.FINALIZING, JobStatus.COMPLETED]
    for k, event in enumerate(recorder.events):  # each trial's end, then the change that shows it
        if event[0] == "trial_ended":
            record = event[1]
            assert record.status is JobStatus.COMPLETED
            after = recorder.events[k + 1]
            assert after[0] == "changed" and after[1].trial(record.id).status is JobStatus.COMPLETED
    finishing = recorder.events[hooks.index("finishing")][1]
    assert finishing.status is JobStatus.FINALIZING and finishing.outputs["best"] == str(store.best_dir)
    assert recorder.events[-1][1] == result == imgtune.load_result(tmp_path / "out")


def test_an_observer_that_raises_is_logged_and_the_run_completes(tmp_path):
    recorder = Recorder()
    _, store, result = sweep(tmp_path, [Raising(), recorder])
    assert result.status is JobStatus.COMPLETED and all(t.status is JobStatus.COMPLETED for t in result.trials)
    assert recorder.hooks()[0] == "started" and recorder.hooks()[-1] == "finished"  # the next one still called
    log = store.log_path.read_text()
    for line in ("Raising.started failed: RuntimeError: boom in started",
                 "Raising.changed failed: RuntimeError: boom in changed",
                 "Raising.trial_ended failed: ValueError: boom in trial_ended",
                 "Raising.finishing failed: RuntimeError: boom in finishing",
                 "Raising.finished failed: RuntimeError: boom in finished"):
        assert line in log
    assert "sweep ended: Completed" in log


class Adding(RunObserver):
    """Adds an output once the run changes, and an output and a message when it finishes; tries to
    change the status too (which is the sweep's, so it is not taken)."""

    def changed(self, result):
        if "seen" not in result.outputs:
            return attrs.evolve(result, outputs={**result.outputs, "seen": "yes"}, status=JobStatus.FAILED)
        return None

    def finishing(self, result):
        return attrs.evolve(result, outputs={**result.outputs, "extra": "file"}, message="a note")


def test_what_observers_add_is_kept_and_saved(tmp_path):
    recorder = Recorder()
    _, store, result = sweep(tmp_path, [Adding(), recorder])
    assert result.status is JobStatus.COMPLETED
    assert result.outputs["seen"] == "yes" and result.outputs["extra"] == "file" and result.message == "a note"
    on_disk = json.loads(store.run_json.read_text())
    assert on_disk["outputs"]["seen"] == "yes" and on_disk["outputs"]["extra"] == "file"
    changes = [e[1] for e in recorder.events if e[0] == "changed"]
    assert changes[0].outputs["seen"] == "yes"  # later observers see what earlier ones added
    assert all(c.status is not JobStatus.FAILED for c in changes)


def test_run_takes_a_plain_progress_callable_or_console_progress(tmp_path):
    seen = []
    result = imgtune.run(job(trials=2, concurrent=1, epochs=2), tmp_path / "a", trial_fn=FN, progress=seen.append)
    assert seen and all(isinstance(r, imgtune.RunResult) for r in seen)
    assert seen[0].status is JobStatus.STARTING and seen[-1].status is JobStatus.COMPLETED == result.status
    assert seen[1].studio_url == result.studio_url  # the report's URL, from the first status on

    stream = io.StringIO()
    imgtune.run(job(trials=2, concurrent=1, epochs=2), tmp_path / "b", trial_fn=FN,
                progress=ConsoleProgress(stream, live=False))
    assert "sweep Completed: 2/2 trials finished" in stream.getvalue()


def test_a_progress_callable_that_raises_is_logged(tmp_path):
    def broken(result):
        raise KeyError("no such thing")

    result = imgtune.run(job(trials=1, concurrent=1, epochs=2), tmp_path / "out", trial_fn=FN, progress=broken)
    assert result.status is JobStatus.COMPLETED and result.studio_url  # the report is written all the same
    assert "ProgressCallback.changed failed: KeyError: 'no such thing'" in (tmp_path / "out" / "run.log").read_text()


EXPORT_DRIVER = """
import json, sys
sys.path.insert(0, {here!r})
import imgtune
result = imgtune.run(imgtune.load(sys.argv[1]), sys.argv[2], trial_fn="synthetic:trial")
print(json.dumps({{"status": result.status.value, "message": result.message, "outputs": dict(result.outputs),
                  "jax": sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "flax", "jax2onnx"))}}))
"""


def test_the_end_of_run_onnx_export_runs_apart_and_a_failed_one_is_logged(tmp_path):
    pytest.importorskip("jax2onnx")
    path = tmp_path / "job.yml"
    imgtune.dump(imgtune.with_training_parameters(job(trials=1, concurrent=1, epochs=2),
                                                  enable_onnx_normalization=True), path)
    script = tmp_path / "driver.py"
    script.write_text(EXPORT_DRIVER.format(here=str(HERE)))
    proc = subprocess.run([sys.executable, str(script), str(path), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["jax"] == []  # the sweep's process never imports JAX: the export runs in its own
    # the synthetic trial's checkpoint is no model: the export fails, is logged, and the run completes
    assert seen["status"] == "Completed" and "onnx" not in seen["outputs"]
    assert seen["message"] == "ONNX export of the best model failed: see run.log"
    log = (tmp_path / "out" / "run.log").read_text()
    assert "exporting the best model to ONNX failed (exit " in log and "no checkpoint at" in log


def test_importing_launch_loads_no_jax_mlflow_or_ray():
    code = ("import sys, imgtune.launch\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'orbax', "
            "'mlflow', 'ray', 'jax2onnx', 'onnx', 'onnxruntime') or m.startswith(('imgtune.export', "
            "'imgtune.prediction')))))")  # the light train modules (trial_types, data) load no JAX
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
