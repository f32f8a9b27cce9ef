"""One run per folder, a dead run told from a live one, bad data caught before training, stalled
trials failed, interrupted trials resumable (the sweep's core), files that respect the umask.

Cheap trial functions (tests/runner/synthetic.py); the real trainer's signal paths are in
test_interruptions.py.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.atomic import write_atomic
from imgtune.cli import main
from imgtune.runner.lock import holder, take
from imgtune.runner.store import RunLayout
from imgtune.runner.sweep import Answer, Begin, Ended, Interrupted, Lost, Release, Reported, Tick, initial_state, step
from imgtune.train.trial_types import TrialResult

HERE = Path(__file__).parent
FN = "synthetic:trial"
JOB = """type: automl
task: image_classification
target_column_name: label
training_data: {{path: data}}
limits: {{max_trials: {trials}, max_concurrent_trials: 1}}
training_parameters: {{number_of_epochs: {epochs}}}
sweep: {{sampling_algorithm: grid}}
search_space:
  - learning_rate: {{type: choice, values: {values}}}
"""


def write_job(tmp_path, trials=2, epochs=4):
    text = JOB.format(trials=trials, epochs=epochs, values=[0.01, 0.02, 0.03, 0.04][:trials])
    path = tmp_path / "job.yml"
    path.write_text(text)
    return path


def env(**extra):
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]), **extra}


def cli(*args, **extra):
    return subprocess.run([sys.executable, "-m", "imgtune", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env(**extra), check=False)


def start(job, out, seconds="0.3", **extra):
    return subprocess.Popen([sys.executable, "-m", "imgtune", "run", str(job), "--output", str(out), "--quiet",
                             "--trial-fn", FN], env=env(SYNTH_EPOCH_SECONDS=seconds, **extra), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(predicate, process=None, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and (process is None or process.poll() is None):
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def reported(out, n=1):
    try:
        return any(t.status is JobStatus.RUNNING and len(t.history) >= n for t in imgtune.load_result(out).trials)
    except (imgtune.ValidationError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------- one run per folder
def test_a_second_run_is_refused_and_status_tells_a_live_run_from_a_dead_one(tmp_path):
    job, out = write_job(tmp_path, trials=2, epochs=20), tmp_path / "out"
    driver = start(job, out, seconds="1")  # still running while the checks below run, however slow the machine
    assert wait_for(lambda: reported(out), driver), driver.stderr.read()
    second = cli("run", job, "--output", out, "--trial-fn", FN)
    assert second.returncode == 2, second.stderr
    assert "is in use" in second.stderr and f"process {driver.pid} on {socket.gethostname()}" in second.stderr
    live = cli("status", out)
    assert live.returncode == 0 and f"driver: live: held by process {driver.pid}" in live.stdout
    assert cli("report", out).returncode == 0  # readers keep working during a run
    os.killpg(driver.pid, signal.SIGKILL)  # the driver dies without releasing its lock
    driver.wait()
    assert RunLayout(out).lock.exists() and not holder(out).live
    dead = cli("status", out)
    assert dead.returncode == 0 and "driver: interrupted: the run's driver is gone" in dead.stdout
    resumed = cli("run", job, "--output", out, "--trial-fn", FN, SYNTH_EPOCH_SECONDS="0")  # takes the stale lock
    assert resumed.returncode == 0, resumed.stderr
    assert imgtune.load_result(out).status is JobStatus.COMPLETED and not RunLayout(out).lock.exists()
    assert "driver:" not in cli("status", out).stdout  # an ended run has no driver to speak of


def test_a_lock_is_stale_when_its_heartbeat_is_old_whatever_host_holds_it(tmp_path):
    lock = RunLayout(tmp_path).lock
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "started_at": time.time(), "token": "x"}))
    with pytest.raises(imgtune.ValidationError, match="is in use by process 1 on elsewhere since"):
        take(tmp_path)  # another host, a recent heartbeat: live
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert not holder(tmp_path).live
    mine = take(tmp_path)  # taken over
    assert holder(tmp_path).pid == os.getpid() and holder(tmp_path).live
    mine.release()
    assert not lock.exists()


# --------------------------------------------------------------------------- data checked before training
DATA_JOB = """type: automl
task: {task}
target_column_name: label
training_data: {{path: {path}, type: uri_file}}
training_parameters: {{number_of_epochs: 2, training_batch_size: {batch}}}
"""


def lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_data_exits_2_listing_every_problem_before_any_trial_and_leaves_nothing(tmp_path, capsys):
    job = tmp_path / "job.yml"
    job.write_text(DATA_JOB.format(task="image_classification", path="missing.jsonl", batch=8))
    assert main(["validate", str(job)]) == 0  # the job alone is valid
    assert main(["validate", str(job), "--data"]) == 2
    assert "error: training_data.path" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["run", str(job), "--output", str(out), "--quiet"]) == 2
    assert "error: training_data.path" in capsys.readouterr().err
    assert not out.exists()  # refused: nothing left behind
    (tmp_path / "a.png").write_bytes(b"not checked here: only that it exists")
    lines(tmp_path / "one.jsonl", [{"image_url": "a.png", "label": "cat"}, {"image_url": "gone.png", "label": "cat"}])
    job.write_text(DATA_JOB.format(task="image_classification", path="one.jsonl", batch=8))
    assert main(["validate", str(job), "--data"]) == 2
    err = capsys.readouterr().err
    assert "needs at least two" in err and "1 of its 2 images do not exist" in err and "training_batch_size" in err
    lines(tmp_path / "empty.jsonl", [{"image_url": "a.png", "label": []}, {"image_url": "a.png", "label": []}])
    job.write_text(DATA_JOB.format(task="image_classification_multilabel", path="empty.jsonl", batch=1))
    assert main(["validate", str(job), "--data"]) == 2
    assert "has no labels" in capsys.readouterr().err


def test_sizes_out_of_bounds_are_refused_by_validation(tmp_path, capsys):
    job = tmp_path / "job.yml"
    job.write_text(DATA_JOB.format(task="image_classification", path="x.jsonl", batch=8).replace(
        "number_of_epochs: 2", "number_of_epochs: 123456789012345678901234567890"))
    assert main(["validate", str(job)]) == 2
    assert "number_of_epochs: must be in [1, 10000]" in capsys.readouterr().err


def test_a_rerun_after_failed_trials_says_how_to_retry_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), *sys.path]))
    monkeypatch.setenv("SYNTH_FAIL_MODEL", "seresnext")  # the default model: every trial fails
    job, out = write_job(tmp_path, trials=1, epochs=1), tmp_path / "out"
    assert main(["run", str(job), "--output", str(out), "--quiet", "--trial-fn", FN]) == 1
    assert "run again with --retry-failed" in capsys.readouterr().err
    assert main(["run", str(job), "--output", str(out), "--quiet", "--trial-fn", FN]) == 1
    assert "run again with --retry-failed" in capsys.readouterr().err
    assert "retry_failed (--retry-failed) reruns them" in RunLayout(out).log.read_text()


# --------------------------------------------------------------------------- stalled trials
def test_a_stalled_trial_fails_with_the_reason_and_the_sweep_goes_on(tmp_path):
    job, out = write_job(tmp_path, trials=2, epochs=6), tmp_path / "out"
    driver = start(job, out, IMGTUNE_STALL_SECONDS="5")  # longer than a trial process takes to start
    assert wait_for(lambda: reported(out), driver), driver.stderr.read()
    first = next(t for t in imgtune.load_result(out).trials if t.status is JobStatus.RUNNING)
    log = RunLayout(out).trial(first.id).log.read_text()
    pid = int(log.split("(pid ")[1].split(",")[0])
    os.kill(pid, signal.SIGSTOP)  # the trial process stops making progress
    assert driver.wait(timeout=120) == 0, driver.stderr.read()
    result = imgtune.load_result(out)
    stalled = result.trial(first.id)
    assert stalled.status is JobStatus.FAILED and stalled.stop_reason.startswith("stalled: no progress for 5 seconds")
    assert [t.status for t in result.trials if t.id != first.id] == [JobStatus.COMPLETED]


def test_the_core_fails_a_trial_that_shows_no_progress(sweep_plan):
    state = initial_state(sweep_plan, output_dir="/r", stall_seconds=60)
    state, _ = step(state, Begin(at=0.0))
    first = sweep_plan.trials[0].id
    state, effects = step(state, Reported(trial_id=first, evaluation={"epoch": 1, "accuracy": 0.5}, at=50.0))
    state, effects = step(state, Tick(at=100.0))  # 50 s since its report: not stalled
    assert not any(isinstance(e, Release) for e in effects)
    state, effects = step(state, Tick(at=111.0))
    assert Release(trial_id=first) in effects
    assert state.record(first).status is JobStatus.FAILED and "stalled" in state.record(first).stop_reason
    assert state.running and state.running[0].trial_id != first  # the sweep goes on


# --------------------------------------------------------------------------- interrupted means resumable (core)
def test_the_core_asks_interrupted_trials_to_pause_and_keeps_terminated_ones_resumable(sweep_plan):
    state, _ = step(initial_state(sweep_plan, output_dir="/r"), Begin(at=0.0))
    first = sweep_plan.trials[0].id
    state, _ = step(state, Interrupted(at=1.0))
    state, effects = step(state, Reported(trial_id=first, evaluation={"epoch": 1, "accuracy": 0.5}, at=2.0))
    assert next(e for e in effects if isinstance(e, Answer)).resumable  # a pause, not a final stop
    state, _ = step(state, Lost(trial_id=first, reason="the trial process was killed by SIGTERM", at=3.0))
    record = state.record(first)
    assert record.status is JobStatus.CANCELED and record.resumable and not record.finished
    again = initial_state(sweep_plan, state.result, output_dir="/r")
    assert first in again.pending  # the next run continues it


def test_a_policy_stop_stays_final(sweep_plan):
    state, _ = step(initial_state(sweep_plan, output_dir="/r"), Begin(at=0.0))
    first = sweep_plan.trials[0].id
    state, _ = step(state, Ended(trial_id=first, result=TrialResult(status="Canceled", stop_reason="bandit"), at=1.0))
    assert state.record(first).finished


@pytest.fixture
def sweep_plan():
    return imgtune.compile(imgtune.loads("""
type: automl
task: image_classification
target_column_name: label
training_data: {path: data}
limits: {max_trials: 2, max_concurrent_trials: 1}
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: choice, values: [0.01, 0.1]}
"""))


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "f.json", "{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == mode
