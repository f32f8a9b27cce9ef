"""End to end with the real trainer: the multilabel example, outputs, test data, kill and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.datasets import make_digits
from imgtune.runner.store import RunStore
from imgtune.runner.training import prepare_images

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ml")
    make_digits(folder, size=32, multilabel=True, n=500)
    shutil.copy(ROOT / "examples" / "digits-multilabel" / "job.yaml", folder / "job.yaml")
    job = imgtune.load(folder / "job.yaml")
    return imgtune.run(job, folder / "out")


def test_multilabel_example_job_runs_end_to_end(multilabel_run):
    result = multilabel_run
    assert result.status is JobStatus.COMPLETED and result.primary_metric == "iou"
    trial = result.trials[0]
    assert trial.status is JobStatus.COMPLETED and len(trial.history) >= 1
    assert {"iou", "accuracy", "auc_weighted", "loss"} <= set(trial.history[-1])
    assert trial.best_metric > 0.3  # learning, on 400 images in 4 epochs (the trainer's tests show >= 0.8)


def test_outputs_of_a_run(multilabel_run):
    out = Path(multilabel_run.output_dir)
    best = out / "best"
    labels = json.loads((best / "labels.json").read_text())
    assert labels == [str(d) for d in range(10)]
    pre = json.loads((best / "preprocessing.json").read_text())
    assert pre["valid_crop_size"] == 32 and pre["multilabel"] is True and len(pre["mean"]) == 3
    assert pre["start"] == "scratch"  # the example says pretrained: false
    per_label = json.loads((best / "per_label.json").read_text())
    assert set(per_label) == set(labels)
    assert json.loads((best / "metrics.json").read_text())["iou"] == pytest.approx(multilabel_run.best_trial.best_metric)
    # test_data_size: the best model is scored on the held-out test split at the end, kept apart
    test = json.loads((best / "test_metrics.json").read_text())
    assert test["examples"] == 50 and 0 <= test["iou"] <= 1
    assert multilabel_run.test_metrics["iou"] == test["iou"]
    assert (best / "checkpoint" / "info.json").exists()
    # the images were decoded once, into the run folder's store, which the trial read
    assert (out / "images.npy").is_file() and (out / "images.json").is_file()
    assert "image store: decoded 450 images once" in (out / "run.log").read_text()
    trial_log = out / "trials" / multilabel_run.trials[0].id / "log.txt"
    assert "images: the decoded image store" in trial_log.read_text()
    # the trial's log says where its compiled steps came from (the persistent cache or a compile)
    from imgtune.runner.store import RunLayout

    log = RunLayout(out).trial(multilabel_run.trials[0].id).log.read_text()
    assert "train step: " in log and "eval step: " in log and "persistent compilation cache" in log


def test_evaluate_command_scores_the_best_model(multilabel_run):
    data = Path(multilabel_run.output_dir).parent / "data"
    result = subprocess.run([sys.executable, "-m", "imgtune", "evaluate", multilabel_run.output_dir, "--data",
                             str(data), "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["examples"] == 500 and 0 <= metrics["iou"] <= 1


SWEEP = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 2, max_concurrent_trials: 1}
training_parameters:
  model_name: resnet18
  optimizer: adam
  training_crop_size: 16
  validation_crop_size: 16
  validation_resize_size: 16
  training_batch_size: 16
  validation_batch_size: 32
  number_of_epochs: 3
  number_of_workers: 0
  advanced_settings: '{"pretrained": false}'
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: choice, values: [0.001, 0.003]}
"""


def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_run(tmp_path):
    make_digits(tmp_path, size=16, n=120)
    (tmp_path / "job.yml").write_text(SWEEP)
    job = imgtune.load(tmp_path / "job.yml")
    reference = imgtune.run(job, tmp_path / "reference")
    out = tmp_path / "killed"
    driver = subprocess.Popen([sys.executable, "-m", "imgtune", "run", str(tmp_path / "job.yml"), "--output",
                               str(out), "--quiet"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240

    def progressed():
        try:
            return any(len(t.history) >= 1 for t in imgtune.load_result(out).trials)
        except (imgtune.ValidationError, OSError, ValueError):
            return False

    while not progressed() and time.time() < deadline and driver.poll() is None:
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    resumed = imgtune.run(job, out)
    assert resumed.status is JobStatus.COMPLETED
    for mine, theirs in zip(resumed.trials, reference.trials):
        assert mine.id == theirs.id and mine.status is theirs.status is JobStatus.COMPLETED
        assert [dict(h) for h in mine.history] == [dict(h) for h in theirs.history]


def test_the_sweep_decodes_once_and_a_bad_image_leaves_it_to_the_trials(tmp_path):
    """prepare_images (what the sweep runs before its first trial): the store is made, reused by a
    rerun, and not made when an image is bad (each trial then checks the files, as without a store)."""
    make_digits(tmp_path, size=16, n=40)
    (tmp_path / "job.yml").write_text(SWEEP)
    plan = imgtune.compile(imgtune.load(tmp_path / "job.yml"))
    store = RunStore(tmp_path / "out")
    assert prepare_images(plan, store, workers=1) == (str(store.layout.images), str(store.layout.images_index))
    assert prepare_images(plan, store, workers=1) is not None
    log = store.log_path.read_text()
    assert "decoded 40 images once" in log and "reusing images.npy" in log
    victim = sorted(tmp_path.rglob("*.png"))[3]
    victim.write_bytes(victim.read_bytes()[:30])
    assert prepare_images(plan, store, workers=1) is None
    assert "image store: not made, the data cannot be read" in store.log_path.read_text()
    assert not store.layout.images_index.exists()
