"""Nothing is lost on Ctrl-C, SIGTERM or the timeout: each leaves the trial Canceled, resumable, with its
LAST checkpoint and no final result; the next run continues it to the same history as a run never
interrupted. The real trainer (a narrow model), the CLI as a job-controlled subprocess: its own process
group, SIGINT to the group (Ctrl-C in a terminal) and to the driver alone, SIGTERM, the timeout."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.datasets import make_digits
from imgtune.runner.store import RunLayout

HERE = Path(__file__).parent
FN = "small_training:train"
EPOCHS = 6
JOB = f"""type: automl
task: image_classification
target_column_name: label
training_data: {{path: data, type: mltable}}
limits: {{max_trials: 1, max_concurrent_trials: 1}}
training_parameters:
  model_name: resnet18
  optimizer: adam
  learning_rate: 0.003
  training_crop_size: 16
  validation_crop_size: 16
  validation_resize_size: 16
  training_batch_size: 16
  validation_batch_size: 32
  number_of_epochs: {EPOCHS}
  number_of_workers: 0
  early_stopping: false
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupt")
    make_digits(root, size=16, n=100)
    (root / "job.yml").write_text(JOB)
    return root


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}




def start_job(args):
    """Starts ``args`` as an interactive shell starts a job: its own process group, SIGINT not ignored
    (a job a non-interactive shell puts in the background ignores it, and so would its children)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # exec resets a handler, not an ignore
    try:
        return subprocess.Popen(args, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)


def start_cli(folder, out):
    return start_job([sys.executable, "-m", "imgtune", "run", str(folder / "job.yml"), "--output", str(out),
                      "--quiet", "--trial-fn", FN])


def start_with_timeout(out, job, seconds):
    code = (f"import imgtune; r = imgtune.load_result({str(out)!r}) if {str(out / 'run.json')!r} and "
            f"__import__('os').path.exists({str(out / 'run.json')!r}) else None; "
            f"spent = r.elapsed_seconds if r else 0.0; "
            f"imgtune.run(imgtune.load({str(job)!r}), {str(out)!r}, trial_fn={FN!r}, time_limit_seconds=spent + {seconds})")
    return start_job([sys.executable, "-c", code])


def epochs_done(out):
    try:
        return max((len(t.history) for t in imgtune.load_result(out).trials), default=0)
    except (imgtune.ValidationError, OSError, ValueError):
        return 0


def wait_for(predicate, process, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def assert_interrupted(out):
    result = imgtune.load_result(out)
    (trial,) = result.trials
    assert trial.status is JobStatus.CANCELED and trial.resumable, (trial.status, trial.stop_reason)
    train = RunLayout(out).trial(trial.id).train
    assert (train / "checkpoints" / "LAST").is_file()  # the resume checkpoint is kept
    assert not (train / "result.json").exists()  # and no final result written
    return trial


def test_ctrl_c_sigterm_and_the_timeout_each_leave_the_trial_resumable(folder, tmp_path):
    out = tmp_path / "out"
    reference = start_job([sys.executable, "-m", "imgtune", "run", str(folder / "job.yml"), "--output",
                           str(tmp_path / "reference"), "--quiet", "--trial-fn", FN])  # alongside, never interrupted
    # 1. Ctrl-C in a terminal: SIGINT to the driver and its trial process (the process group)
    driver = start_cli(folder, out)
    assert wait_for(lambda: epochs_done(out) >= 1, driver), driver.stderr.read()
    os.killpg(driver.pid, signal.SIGINT)
    assert driver.wait(timeout=120) == 130
    first = assert_interrupted(out)
    log = (RunLayout(out).trial(first.id).log).read_text()
    assert "KeyboardInterrupt" not in log and "cannot schedule new futures" not in log
    status = subprocess.run([sys.executable, "-m", "imgtune", "status", str(out)], capture_output=True, text=True,
                            check=False)
    assert status.returncode == 0 and "Canceled*" in status.stdout
    done = len(first.history)

    # 2. SIGINT to the driver alone: it asks the trial to stop, resumably
    driver = start_cli(folder, out)
    assert wait_for(lambda: epochs_done(out) > done, driver), driver.stderr.read()
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=120) == 130
    done = len(assert_interrupted(out).history)

    # 3. SIGTERM to the driver (a scheduler's stop)
    driver = start_cli(folder, out)
    assert wait_for(lambda: epochs_done(out) > done, driver), driver.stderr.read()
    driver.send_signal(signal.SIGTERM)
    driver.wait(timeout=120)
    done = len(assert_interrupted(out).history)

    # 4. The timeout: the sweep's time limit falls 1 s after it resumes (a trial process alone takes longer to start)
    driver = start_with_timeout(out, folder / "job.yml", 1.0)
    assert driver.wait(timeout=180) == 0, driver.stderr.read()
    assert imgtune.load_result(out).status is JobStatus.COMPLETED  # the sweep ends; its trial stays resumable
    (trial,) = imgtune.load_result(out).trials
    assert trial.status is JobStatus.CANCELED and trial.resumable, (trial.status, trial.stop_reason)
    assert trial.stop_reason.startswith("timeout: the sweep's time limit")
    train = RunLayout(out).trial(trial.id).train
    # its resume checkpoint is kept, or (when its last epoch ended as the time ran out) its final result is on disk
    assert (train / "checkpoints" / "LAST").is_file() or (train / "result.json").is_file()

    # the next plain run continues the trial to its end: the history of a run never interrupted
    resumed = imgtune.run(imgtune.load(folder / "job.yml"), out, trial_fn=FN)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    (mine,), (theirs,) = resumed.trials, imgtune.load_result(tmp_path / "reference").trials
    assert mine.status is theirs.status is JobStatus.COMPLETED
    assert [dict(h) for h in mine.history] == [dict(h) for h in theirs.history]
    assert mine.attempts >= 4
    assert not RunLayout(out).lock.exists()
    assert json.loads((RunLayout(out).best.trial).read_text())["trial"] == mine.id
