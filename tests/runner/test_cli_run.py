"""`imgtune run` and `imgtune status` follow the CLI's conventions."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

import imgtune
from imgtune.runner.store import RunLayout

HERE = Path(__file__).parent
JOB = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data}
limits: {max_trials: 3, max_concurrent_trials: 2}
training_parameters: {number_of_epochs: 3}
sweep: {sampling_algorithm: {type: random, seed: 1}}
search_space:
  - learning_rate: {type: loguniform, min_value: -7, max_value: -2}
"""


def cli(*args, env=None):
    env = {**os.environ, "PYTHONPATH": str(HERE), **(env or {})}
    return subprocess.run([sys.executable, "-m", "imgtune", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_run_then_status(tmp_path):
    job = tmp_path / "job.yml"
    job.write_text(JOB)
    out = tmp_path / "out"
    result = cli("run", str(job), "--output", str(out), "--trial-fn", "synthetic:trial")
    assert result.returncode == 0, result.stderr
    assert "Completed" in result.stdout and "best: trial" in result.stdout
    assert "trial 0000-" in result.stderr and "sweep Completed: 3/3 trials finished" in result.stderr  # progress
    status = cli("status", str(out))
    assert status.returncode == 0 and status.stdout.splitlines()[0].endswith(": Completed")
    assert len([line for line in status.stdout.splitlines() if line.startswith("000")]) == 3
    assert imgtune.load_result(out).status.value == "Completed"


def test_status_of_a_folder_without_a_run_exits_2(tmp_path):
    result = cli("status", str(tmp_path))
    assert result.returncode == 2 and "holds no imgtune run" in result.stderr and "Traceback" not in result.stderr


def test_run_refuses_another_job_in_the_same_folder(tmp_path):
    job = tmp_path / "job.yml"
    job.write_text(JOB)
    out = tmp_path / "out"
    assert cli("run", str(job), "--output", str(out), "--trial-fn", "synthetic:trial", "--quiet").returncode == 0
    job.write_text(JOB.replace("number_of_epochs: 3", "number_of_epochs: 4"))
    result = cli("run", str(job), "--output", str(out), "--trial-fn", "synthetic:trial")
    assert result.returncode == 2 and "differs in training_parameters" in result.stderr


def test_run_with_overrides_records_them_in_the_folder(tmp_path):
    job = tmp_path / "job.yml"
    job.write_text(JOB)
    out = tmp_path / "out"
    given = ["limits.max_trials=2", "training_parameters.number_of_epochs=2"]
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), str(Path(imgtune.__file__).parents[1])])}  # this imgtune
    result = cli("run", str(job), "--output", str(out), "--trial-fn", "synthetic:trial", "--quiet", *given, env=env)
    assert result.returncode == 0, result.stderr
    layout = RunLayout(out)
    assert yaml.safe_load(layout.overrides.read_text()) == given
    ran = imgtune.load(layout.job)
    assert ran.limits.max_trials == 2 and ran.training_parameters.number_of_epochs == 2
    assert imgtune.diff(imgtune.load(job), ran) == (imgtune.Change("limits.max_trials", 3, 2),
                                                   imgtune.Change("training_parameters.number_of_epochs", 3, 2))
    frame = imgtune.load_result(out).history_frame()
    assert len(frame) == 4 and set(frame.number_of_epochs) == {2}  # 2 trials of 2 epochs
    bad = cli("run", str(job), "--output", str(tmp_path / "other"), "--trial-fn", "synthetic:trial",
              "limits.max_trails=2", env=env)
    assert bad.returncode == 2 and "did you mean 'max_trials'?" in bad.stderr and not (tmp_path / "other").exists()
