"""The Ray executor runs the local executor's plan on a Ray instance, with the same results.

Every process that starts Ray runs in a loopback-only network namespace (``unshare --net``, then
``ip link set lo up``): Ray probes cloud metadata addresses when it starts, even with usage statistics
off. That needs root, ``unshare`` and ``ip``; the tests skip, saying which is missing, without them.
Each such process starts one local Ray instance of two CPUs and runs several sweeps through it.
"""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.runner import RayOptions

HERE = Path(__file__).parent
RUNNER = HERE.parent / "runner"
sys.path[:0] = [str(RUNNER), str(HERE)]  # synthetic and lossy, here and in trial processes

from test_local_executor import completed, job, max_overlap, mid_trial, wait_for  # noqa: E402 (tests/runner)

FN = "synthetic:trial"
POLICY = "{type: bandit, slack_factor: 0.1, delay_evaluation: 2}"

# Runs the sweeps listed in argv[1] (JSON) through one local Ray instance of two CPUs.
DRIVER = """
import json, sys
sys.path[:0] = {paths!r}
import ray
ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[2])
import imgtune
from imgtune.runner import RayOptions
for run in json.loads(sys.argv[1]):
    options = RayOptions(**run.get("options", {{}}))
    imgtune.run(imgtune.load(run["job"]), run["out"], trial_fn=run["fn"], executor="ray", ray_options=options)
"""


def _netns_problem():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs `unshare` and `ip` (util-linux, iproute2) for a loopback-only network namespace"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root for `unshare --net` (Ray must not reach the network when it starts)"
    probe = subprocess.run(["unshare", "--net", "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace here: {probe.stderr.strip()}"
    if importlib.util.find_spec("ray") is None:
        return "needs ray: pip install 'imgtune[ray]'"
    return None


PROBLEM = _netns_problem()
needs_ray = pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")


@contextlib.contextmanager
def isolated_driver(tmp_path, runs, env=None):
    """The driver, in its own session, in a loopback-only network namespace; killed with its
    session (Ray and the trials) if it is still running at the end."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(paths=[str(RUNNER), str(HERE)]))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's files; a short path: its socket paths must fit
    command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
               sys.executable, str(script), json.dumps(runs), temp]
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        yield driver
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        shutil.rmtree(temp, ignore_errors=True)


def run_isolated(tmp_path, runs, env=None, timeout=180):
    with isolated_driver(tmp_path, runs, env) as driver:
        _, err = driver.communicate(timeout=timeout)
    assert driver.returncode == 0, err[-3000:]


def spec(tmp_path, name, sweep, fn=FN, **options):
    path = tmp_path / f"{name}.yml"
    imgtune.dump(sweep, path)
    return {"job": str(path), "out": str(tmp_path / name), "fn": fn, "options": options}


def same_results(mine, theirs):
    assert [t.id for t in mine.trials] == [t.id for t in theirs.trials]
    for a, b in zip(mine.trials, theirs.trials):
        assert (a.status, a.stop_reason) == (b.status, b.stop_reason), a.id
        assert [dict(h) for h in a.history] == [dict(h) for h in b.history], a.id
    assert mine.status is theirs.status and mine.best_trial.id == theirs.best_trial.id


@pytest.fixture(scope="module")
def ray_runs(tmp_path_factory):
    """Four sweeps through one Ray instance: a seeded sweep with a policy (one trial at a time: with
    several, which trials a policy stops depends on timing, locally too), one with a failing and a
    crashing model, and one whose Ray actor is lost once, without and with a retry."""
    if PROBLEM is not None:
        pytest.skip(PROBLEM)
    tmp = tmp_path_factory.mktemp("ray")
    crash_env = {"env_vars": {"SYNTH_FAIL_MODEL": "resnet34", "SYNTH_CRASH_MODEL": "mobilenetv2"}}
    lose_env = {"env_vars": {"LOSE_MODEL": "resnet34"}}
    runs = [spec(tmp, "policy", job(trials=5, concurrent=1, policy=POLICY)),  # one at a time: deterministic
            spec(tmp, "crash", job(trials=6), runtime_env=crash_env),
            spec(tmp, "lost", job(trials=3), "lossy:lose_actor_once", runtime_env=lose_env),
            spec(tmp, "retried", job(trials=3), "lossy:lose_actor_once", runtime_env=lose_env, max_retries=1)]
    run_isolated(tmp, runs)
    return tmp


@needs_ray
def test_a_sweep_on_ray_equals_the_local_one(ray_runs, tmp_path):
    on_ray = imgtune.load_result(ray_runs / "policy")
    local = imgtune.run(job(trials=5, concurrent=1, policy=POLICY), tmp_path / "local", trial_fn=FN)
    same_results(on_ray, local)
    assert any(t.status is JobStatus.CANCELED for t in on_ray.trials)  # the policy stopped some
    log = (ray_runs / "policy" / "run.log").read_text()
    assert "started on Ray (2 CPUs)" in log and "sweep ended: Completed" in log  # the cluster's CPUs / 1 trial
    assert json.loads((ray_runs / "policy" / "best" / "trial.json").read_text())["trial"] == on_ray.best_trial.id
    for t in on_ray.trials:  # metrics and checkpoints are in the output folder
        lines = (ray_runs / "policy" / "trials" / t.id / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == len(t.history)


@needs_ray
def test_a_failing_or_crashing_trial_fails_alone_with_the_local_reasons(ray_runs):
    result = imgtune.load_result(ray_runs / "crash")
    reasons = {t.parameters.model_name: (t.status, t.stop_reason) for t in result.trials}
    assert reasons["resnet34"] == (JobStatus.FAILED, "RuntimeError: synthetic failure for resnet34")
    assert reasons["mobilenetv2"] == (JobStatus.FAILED, "the trial process exited with code 9 without a result")
    assert reasons["resnet18"][0] is JobStatus.COMPLETED
    assert result.status is JobStatus.COMPLETED and max_overlap(result.trials) == 2
    assert "started on Ray (1 CPU)" in (ray_runs / "crash" / "run.log").read_text()  # 2 CPUs / 2 trials


@needs_ray
def test_a_lost_actor_fails_its_trial_or_is_retried(ray_runs):
    lost = imgtune.load_result(ray_runs / "lost")
    first = lost.trials[0]
    assert first.parameters.model_name == "resnet34" and first.status is JobStatus.FAILED
    assert first.stop_reason.startswith("the trial's Ray actor was lost: ActorDiedError")
    assert [t.status for t in lost.trials[1:]] == [JobStatus.COMPLETED] * 2 and lost.status is JobStatus.COMPLETED
    retried = imgtune.load_result(ray_runs / "retried")
    assert [t.status for t in retried.trials] == [JobStatus.COMPLETED] * 3
    assert [h["epoch"] for h in retried.trials[0].history] == [1, 2, 3, 4]  # resumed; epoch 1 reported again
    assert "retrying from its last checkpoint (1 of 1)" in (ray_runs / "retried" / "run.log").read_text()


@needs_ray
def test_killing_the_driver_mid_sweep_then_running_again_resumes(tmp_path):
    sweep = job(trials=4, concurrent=2, epochs=5)
    runs = [spec(tmp_path, "killed", sweep)]
    out = tmp_path / "killed"
    with isolated_driver(tmp_path, runs, env={"SYNTH_EPOCH_SECONDS": "0.3"}) as driver:
        assert wait_for(lambda: completed(out) >= 1 and mid_trial(out), timeout=90), (
            driver.stderr.read()[-3000:] if driver.poll() is not None else "")
        assert imgtune.load_result(out).status is JobStatus.RUNNING
        os.killpg(driver.pid, signal.SIGKILL)  # the driver, Ray and the trials, mid-epoch
    run_isolated(tmp_path, runs)
    resumed = imgtune.load_result(out)
    same_results(resumed, imgtune.run(sweep, tmp_path / "reference", trial_fn=FN))
    assert any(t.attempts == 2 for t in resumed.trials) and all(t.attempts <= 2 for t in resumed.trials)


def test_without_ray_the_executor_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails
    with pytest.raises(imgtune.ValidationError, match=r"pip install 'imgtune\[ray\]'"):
        imgtune.run(job(trials=1, concurrent=1), tmp_path / "out", trial_fn=FN, executor="ray")
    assert not (tmp_path / "out").exists()


def test_ray_options_are_checked_and_only_for_ray(tmp_path):
    with pytest.raises(imgtune.ValidationError, match="address.*is for executor='ray'"):
        imgtune.run(job(trials=1, concurrent=1), tmp_path / "out", trial_fn=FN, address="head:6379")
    with pytest.raises(imgtune.ValidationError, match="max_retries.*must be an integer >= 0"):
        imgtune.run(job(trials=1, concurrent=1), tmp_path / "out", trial_fn=FN, executor="ray",
                    ray_options=RayOptions(max_retries=-1))


def test_the_cli_without_ray_says_how_to_install_it(tmp_path):
    path = tmp_path / "job.yml"
    imgtune.dump(job(trials=1, concurrent=1), path)
    sitecustomize = tmp_path / "noray"
    sitecustomize.mkdir()
    (sitecustomize / "ray.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sitecustomize), str(RUNNER)])}
    result = subprocess.run([sys.executable, "-m", "imgtune", "run", str(path), "--output", str(tmp_path / "out"),
                             "--executor", "ray", "--address", "head:6379", "--trial-fn", FN],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "pip install 'imgtune[ray]'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
