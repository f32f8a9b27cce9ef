"""On Ray too, Ctrl-C to the driver leaves the running trials Canceled and resumable (the trial processes
on Ray get the sweep's pause), and the next run continues them to the results of a sweep never interrupted."""

import os
import signal
import sys
from pathlib import Path

import imgtune
from imgtune import JobStatus

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "runner"), str(HERE)]

from test_local_executor import job, mid_trial, wait_for  # (tests/runner, on the path above)
from test_ray_executor import FN, isolated_driver, needs_ray, same_results, spec


@needs_ray
def test_ctrl_c_to_the_driver_on_ray_keeps_trials_resumable_then_running_again_completes(tmp_path):
    sweep = job(trials=3, concurrent=2, epochs=5)
    runs = [spec(tmp_path, "interrupted", sweep)]
    out = tmp_path / "interrupted"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a job's SIGINT is not ignored
    try:
        with isolated_driver(tmp_path, runs, env={"SYNTH_EPOCH_SECONDS": "0.3"}) as driver:
            signal.signal(signal.SIGINT, previous)
            assert wait_for(lambda: mid_trial(out), timeout=90), (
                driver.stderr.read()[-3000:] if driver.poll() is not None else "")
            os.kill(driver.pid, signal.SIGINT)  # Ctrl-C to the driver alone (sh exec-ed it)
            driver.wait(timeout=120)
            try:
                os.killpg(driver.pid, signal.SIGKILL)  # what Ray left of its session
            except ProcessLookupError:
                pass
            stopped = imgtune.load_result(out)
            assert stopped.status is JobStatus.CANCELED
            interrupted = [t for t in stopped.trials if t.status is JobStatus.CANCELED]
            assert interrupted and all(t.resumable for t in interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
    resumed = imgtune.run(sweep, out, trial_fn=FN)  # the folder is the state: any executor continues it
    same_results(resumed, imgtune.run(sweep, tmp_path / "reference", trial_fn=FN))
    assert any(t.attempts == 2 for t in resumed.trials)
    assert not (out / "run.lock").exists()
