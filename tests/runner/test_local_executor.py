"""The local executor's scheduling, with a cheap deterministic trial function (tests/runner/synthetic.py).

Real end-to-end runs with the trainer are in test_run_training.py.
"""

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

HERE = Path(__file__).parent
FN = "synthetic:trial"


def job(extra: str = "", trials: int = 6, concurrent: int = 2, epochs: int = 4, policy: str = ""):
    sweep = "sampling_algorithm: {type: random, seed: 3}" + (f", early_termination: {policy}" if policy else "")
    return imgtune.loads(f"""
type: automl
task: image_classification
target_column_name: label
training_data: {{path: data}}
limits: {{max_trials: {trials}, max_concurrent_trials: {concurrent}}}
training_parameters: {{number_of_epochs: {epochs}}}
sweep: {{{sweep}}}
search_space:
  - learning_rate: {{type: loguniform, min_value: -9, max_value: -1}}
    model_name: {{type: choice, values: [resnet18, resnet34, mobilenetv2]}}
{extra}""")


def max_overlap(trials):
    events = sorted([(t.started_at, 1) for t in trials] + [(t.ended_at, -1) for t in trials])
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def test_runs_every_trial_within_the_concurrency_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_EPOCH_SECONDS", "0.1")
    result = imgtune.run(job(), tmp_path / "out", trial_fn=FN)
    assert result.status is JobStatus.COMPLETED
    assert [t.status for t in result.trials] == [JobStatus.COMPLETED] * 6
    assert max_overlap(result.trials) == 2
    assert all(len(t.history) == 4 and t.history[-1]["epoch"] == 4 for t in result.trials)
    best = result.best_trial
    assert best.best_metric == max(t.best_metric for t in result.trials)
    assert imgtune.load_result(tmp_path / "out") == result
    out = tmp_path / "out"
    for name in ("job.yaml", "job.resolved.yaml", "plan.yaml", "run.json", "summary.csv", "run.log"):
        assert (out / name).exists(), name
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[0].startswith("trial,status,stop_reason,best_accuracy")
    lines = (out / "trials" / best.id / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4]
    assert json.loads((out / "best" / "trial.json").read_text())["trial"] == best.id
    assert json.loads((out / "best" / "metrics.json").read_text())["accuracy"] == best.best_metric
    assert (out / "best" / "checkpoint" / "state.json").exists()
    assert result.outputs["best"] == str(out / "best")


def test_each_trial_is_pinned_to_its_share_of_cores(tmp_path):
    result = imgtune.run(job(trials=2), tmp_path / "out", trial_fn=FN,
                         resources=imgtune.runner.Resources(cpus=(0, 1), gpus=("0", "1")))
    logs = (tmp_path / "out" / "run.log").read_text()
    assert "started on cpus [0] gpus 0" in logs and "started on cpus [1] gpus 1" in logs
    assert result.status is JobStatus.COMPLETED
    payloads = [json.loads((tmp_path / "out" / "trials" / t.id / "payload.json").read_text()) for t in result.trials]
    assert [p["gpu_share"] for p in payloads] == [1, 1]


def test_trials_sharing_a_gpu_split_its_memory(tmp_path, monkeypatch):
    result = imgtune.run(job(trials=2), tmp_path / "out", trial_fn=FN,
                         resources=imgtune.runner.Resources(cpus=(0, 1), gpus=("0",)))
    payloads = [json.loads((tmp_path / "out" / "trials" / t.id / "payload.json").read_text()) for t in result.trials]
    assert [p["gpus"] for p in payloads] == [["0"], ["0"]] and [p["gpu_share"] for p in payloads] == [2, 2]
    from imgtune.runner import worker

    monkeypatch.setattr(os, "environ", {})  # what the trial process sets, without touching this one's
    worker._pin((), ("0",), 2)
    # XLA takes 75% of the GPU per process by default: two such trials would not fit
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0" and os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.450"
    monkeypatch.setattr(os, "environ", {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.2"})
    worker._pin((), ("0",), 2)
    assert os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.2"  # the user's setting wins
    monkeypatch.setattr(os, "environ", {})
    worker._pin((), ("0",), 1)
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in os.environ


def test_a_failing_or_crashing_trial_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_FAIL_MODEL", "resnet34")
    monkeypatch.setenv("SYNTH_CRASH_MODEL", "mobilenetv2")
    result = imgtune.run(job(trials=6), tmp_path / "out", trial_fn=FN)
    by_model = {}
    for t in result.trials:
        by_model.setdefault(t.parameters.model_name, set()).add(t.status)
    assert by_model["resnet34"] == {JobStatus.FAILED} and by_model["mobilenetv2"] == {JobStatus.FAILED}
    assert by_model["resnet18"] == {JobStatus.COMPLETED}
    reasons = {t.parameters.model_name: t.stop_reason for t in result.trials if t.status is JobStatus.FAILED}
    assert reasons["resnet34"] == "RuntimeError: synthetic failure for resnet34"
    assert "exited with code 9" in reasons["mobilenetv2"]
    assert result.status is JobStatus.COMPLETED
    assert "synthetic failure" in (tmp_path / "out" / "trials" / [t.id for t in result.trials if
                                   t.parameters.model_name == "resnet34"][0] / "log.txt").read_text()


def test_the_job_fails_when_every_trial_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_FAIL_MODEL", "seresnext")
    single = imgtune.with_sweep(imgtune.replace_search_space(job(trials=1, concurrent=1), None),
                                sampling_algorithm=None)
    result = imgtune.run(single, tmp_path / "out", trial_fn=FN)
    assert result.status is JobStatus.FAILED and result.trials[0].status is JobStatus.FAILED
    again = imgtune.run(single, tmp_path / "out", trial_fn=FN)
    assert again.trials[0].attempts == 1  # failed trials are not rerun by default
    monkeypatch.delenv("SYNTH_FAIL_MODEL")
    retried = imgtune.run(single, tmp_path / "out", trial_fn=FN, retry_failed=True)
    assert retried.status is JobStatus.COMPLETED and retried.trials[0].attempts == 2


def test_policy_stops_trials_with_its_reason(tmp_path):
    result = imgtune.run(job(trials=6, epochs=5, policy="{type: bandit, slack_factor: 0.1, delay_evaluation: 2}"),
                         tmp_path / "out", trial_fn=FN)
    stopped = [t for t in result.trials if t.status is JobStatus.CANCELED]
    assert stopped, "the bandit policy should stop the poor learning rates"
    for t in stopped:
        assert t.stop_reason.startswith("bandit: ") and len(t.history) < 5 and not t.resumable
    assert result.best_trial.status is JobStatus.COMPLETED


def test_timeout_ends_the_sweep_and_keeps_partial_results(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_EPOCH_SECONDS", "0.4")
    result = imgtune.run(job(trials=6, epochs=10), tmp_path / "out", trial_fn=FN, time_limit_seconds=3)
    assert result.status is JobStatus.COMPLETED and "timeout" in result.message
    statuses = [t.status for t in result.trials]
    assert JobStatus.NOT_STARTED in statuses  # no new trials after the timeout
    cut = [t for t in result.trials if t.status is JobStatus.CANCELED]
    assert cut and all(t.resumable and t.history and "timeout" in t.stop_reason for t in cut)


def test_bayesian_sweep_gets_the_history_before_each_proposal(tmp_path):
    bayes = imgtune.loads("""
type: automl
task: image_classification
target_column_name: label
training_data: {path: data}
limits: {max_trials: 8, max_concurrent_trials: 2}
training_parameters: {number_of_epochs: 2}
sweep: {sampling_algorithm: bayesian}
search_space:
  - learning_rate: {type: uniform, min_value: 0.0001, max_value: 0.1}
""")
    result = imgtune.run(bayes, tmp_path / "out", trial_fn=FN)
    assert len(result.trials) == 8 and all(t.status is JobStatus.COMPLETED for t in result.trials)
    plan = imgtune.compiler.loads_plan((tmp_path / "out" / "plan.yaml").read_text())
    assert len(plan.trials) == 8 and max_overlap(result.trials) <= 2


def test_keeps_checkpoints_of_the_best_trials_only(tmp_path):
    result = imgtune.run(job(trials=5), tmp_path / "out", trial_fn=FN, keep_checkpoints=2)
    kept = [t for t in result.trials if t.checkpoint]
    assert len(kept) == 2
    ranked = sorted(result.trials, key=lambda t: -t.best_metric)[:2]
    assert {t.id for t in kept} == {t.id for t in ranked}
    for t in result.trials:
        assert (tmp_path / "out" / "trials" / t.id / "checkpoint").exists() == (t in kept)


def test_limits_change_extends_other_changes_are_refused(tmp_path):
    out = tmp_path / "out"
    first = imgtune.run(job(trials=3), out, trial_fn=FN)
    more = imgtune.run(imgtune.with_limits(job(trials=3), max_trials=5), out, trial_fn=FN)
    assert len(more.trials) == 5
    for before, after in zip(first.trials, more.trials):  # the finished trials are not rerun
        assert (after.id, after.history, after.started_at, after.attempts) == (
            before.id, before.history, before.started_at, 1)
    assert [t.id for t in more.trials] == [t.id for t in imgtune.compile(job(trials=5)).trials]
    with pytest.raises(imgtune.ValidationError, match="differs in training_parameters"):
        imgtune.run(imgtune.with_training_parameters(job(trials=5), number_of_epochs=2), out, trial_fn=FN)


DRIVER = """
import sys
sys.path.insert(0, {here!r})
import imgtune
job = imgtune.load(sys.argv[1])
imgtune.run(job, sys.argv[2], trial_fn="synthetic:trial")
"""


def start_driver(tmp_path, job_obj, out, epoch_seconds="0.3"):
    path = tmp_path / "job.yml"
    if not path.exists():
        imgtune.dump(job_obj, path)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(here=str(HERE)))
    env = {**os.environ, "SYNTH_EPOCH_SECONDS": epoch_seconds}
    return subprocess.Popen([sys.executable, str(script), str(path), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def mid_trial(out):
    """Some trial is running, has reported, and is far from its end (5 epochs of 0.3 s)."""
    try:
        return any(t.status is JobStatus.RUNNING and 1 <= len(t.history) <= 2 for t in imgtune.load_result(out).trials)
    except (imgtune.ValidationError, OSError, ValueError):
        return False


def completed(out):
    try:
        return sum(t.status is JobStatus.COMPLETED for t in imgtune.load_result(out).trials)
    except (imgtune.ValidationError, OSError, ValueError):
        return 0


@pytest.mark.parametrize("concurrent", [1, 2])
def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_run(tmp_path, concurrent):
    sweep = job(trials=4, concurrent=concurrent, epochs=5)
    reference = imgtune.run(sweep, tmp_path / "reference", trial_fn=FN)
    out = tmp_path / "killed"
    driver = start_driver(tmp_path, sweep, out)
    assert wait_for(lambda: completed(out) >= 1 and mid_trial(out)), (
        driver.stderr.read() if driver.poll() is not None else "")
    status_during = imgtune.load_result(out)
    assert status_during.status is JobStatus.RUNNING  # `imgtune status` sees a run in progress
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its trial processes, mid-epoch
    driver.wait()
    resumed = imgtune.run(sweep, out, trial_fn=FN)
    assert resumed.status is JobStatus.COMPLETED
    assert [t.id for t in resumed.trials] == [t.id for t in reference.trials]
    for mine, theirs in zip(resumed.trials, reference.trials):
        assert mine.status is theirs.status is JobStatus.COMPLETED
        assert [dict(h) for h in mine.history] == [dict(h) for h in theirs.history]
    assert any(t.attempts == 2 for t in resumed.trials)  # an interrupted trial continued
    assert all(t.attempts <= 2 for t in resumed.trials)


def test_ctrl_c_cancels_then_resume_completes(tmp_path):
    sweep = job(trials=3, concurrent=1, epochs=6)
    out = tmp_path / "out"
    driver = start_driver(tmp_path, sweep, out)
    assert wait_for(lambda: out.joinpath("run.json").exists() and any(
        t.history for t in imgtune.load_result(out).trials))
    driver.send_signal(signal.SIGINT)
    driver.wait(timeout=60)
    stopped = imgtune.load_result(out)
    assert stopped.status is JobStatus.CANCELED
    interrupted = [t for t in stopped.trials if t.status is JobStatus.CANCELED]
    assert interrupted and all(t.resumable for t in interrupted)
    resumed = imgtune.run(sweep, out, trial_fn=FN)
    assert resumed.status is JobStatus.COMPLETED
    assert all(t.status is JobStatus.COMPLETED and len(t.history) == 6 for t in resumed.trials)


def test_sigkill_with_a_policy_and_concurrency_loses_and_repeats_nothing(tmp_path):
    sweep = job(trials=5, concurrent=2, epochs=5, policy="{type: median_stopping, delay_evaluation: 2}")
    out = tmp_path / "out"
    driver = start_driver(tmp_path, sweep, out, epoch_seconds="0.2")
    assert wait_for(lambda: completed(out) >= 1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    resumed = imgtune.run(sweep, out, trial_fn=FN)
    assert [t.id for t in resumed.trials] == [t.id for t in imgtune.compile(sweep).trials]
    assert all(t.finished for t in resumed.trials)  # every status final
    for t in resumed.trials:
        epochs = [h["epoch"] for h in t.history]
        assert epochs == sorted(set(epochs)) and epochs == list(range(1, len(epochs) + 1))  # nothing repeated or lost
