"""The demo sweep under each early-termination policy, and the executor's overhead.

Prints one JSON object per line:
* ``policy_<name>``: trial-epochs run, the fraction saved against no policy
  (``ratio`` = epochs / epochs without a policy), the best accuracy, wall seconds.
* ``overhead``: per trial, the seconds from process start to the first
  evaluation minus the training time of one epoch (process start, imports, data
  read, compilation), with and without a warm JAX compilation cache.

Run: ``python benchmarks/run_sweep.py`` (about 8 minutes on 2 cores).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import imgtune
from imgtune.datasets import make_digits

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {
    "none": None,
    "bandit": {"type": "bandit", "slack_factor": 0.2, "evaluation_interval": 1, "delay_evaluation": 3},
    "median_stopping": {"type": "median_stopping", "evaluation_interval": 1, "delay_evaluation": 3},
    "truncation_selection": {"type": "truncation_selection", "truncation_percentage": 25,
                             "evaluation_interval": 1, "delay_evaluation": 3},
}


def main() -> int:
    make_digits(ROOT / "examples" / "digits", size=32)
    job = imgtune.load(ROOT / "examples" / "digits" / "job.yaml")
    baseline = None
    work = Path(tempfile.mkdtemp())
    for name, policy in POLICIES.items():
        start = time.perf_counter()
        result = imgtune.run(imgtune.with_sweep(job, early_termination=policy), work / name)
        seconds = time.perf_counter() - start
        epochs = sum(len(t.history) for t in result.trials)
        baseline = baseline or epochs
        best = result.best_trial
        print(json.dumps({"name": f"policy_{name}", "trial_epochs": epochs, "saved": round(1 - epochs / baseline, 3),
                          "ratio": round(epochs / baseline, 3), "best_accuracy": best.best_metric,
                          "seconds": round(seconds, 1)}), flush=True)
    for cache in ("warm", "cold"):
        single = imgtune.with_sweep(imgtune.replace_search_space(imgtune.with_limits(job, max_trials=1,
                                    max_concurrent_trials=1), None), sampling_algorithm=None)
        single = imgtune.with_training_parameters(single, model_name="resnet18", number_of_epochs=2,
                                                  learning_rate=0.003, optimizer="adam")
        import os
        env_cache = os.environ.get("JAX_COMPILATION_CACHE_DIR")
        if cache == "cold":
            os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp()
        start = time.time()
        result = imgtune.run(single, work / f"overhead-{cache}")
        trial = result.trials[0]
        log = (work / f"overhead-{cache}" / "trials" / trial.id / "metrics.jsonl").read_text().splitlines()
        print(json.dumps({"name": f"overhead_{cache}_cache", "trial_seconds": round(trial.ended_at - trial.started_at, 1),
                          "evaluations": len(log), "sweep_seconds": round(time.time() - start, 1)}), flush=True)
        if env_cache is not None:
            os.environ["JAX_COMPILATION_CACHE_DIR"] = env_cache
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
