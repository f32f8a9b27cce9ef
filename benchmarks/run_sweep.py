"""The demo sweep under each early-termination policy, and the executor's overhead.

Prints one JSON object per line:
* ``policy_<name>``: trial-epochs run, the fraction saved against no policy
  (``ratio`` = epochs / epochs without a policy), the best accuracy, wall seconds.
* ``overhead_*``: a trial process's fixed costs (interpreter and imports, model
  creation, the first, compiling train step of resnet18 at 32 px, batch 64) with
  a cold and a warm persistent JAX compilation cache, and with none.

Run: ``python benchmarks/run_sweep.py [--overhead-only]`` (about 10 minutes on 2 cores).
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


PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
import jax, flax, optax  # noqa: F401
from flax import nnx
from imgtune.train.models import create_model
t1 = time.perf_counter()
model = create_model("resnet18", 10, rngs=nnx.Rngs(0))
tx = optax.adam(1e-3)
opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
x = jax.numpy.zeros((64, 32, 32, 3)); y = jax.numpy.zeros((64,), "int32")

@nnx.jit
def step(model, opt, x, y):
    def loss(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x, train=True), y).mean()
    value, grads = nnx.value_and_grad(loss)(model)
    opt.update(model, grads)
    return value

t2 = time.perf_counter()
step(model, opt, x, y).block_until_ready()
t3 = time.perf_counter()
step(model, opt, x, y).block_until_ready()
t4 = time.perf_counter()
print(json.dumps({"imports_s": round(t1 - t0, 2), "model_s": round(t2 - t1, 2),
                  "first_step_s": round(t3 - t2, 2), "next_step_s": round(t4 - t3, 3)}))
"""


def overhead(work: Path) -> list[dict]:
    """Per-trial fixed costs in a fresh process: interpreter + imports, model, first (compiling) step."""
    import os
    import subprocess
    import sys

    rows = []
    cache = work / "jax-cache"
    for name, env in (("cold_cache", {"JAX_COMPILATION_CACHE_DIR": str(cache)}),
                      ("warm_cache", {"JAX_COMPILATION_CACHE_DIR": str(cache)}),
                      ("no_cache", {"JAX_COMPILATION_CACHE_DIR": ""})):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PHASES], capture_output=True, text=True, check=True,
                             env={**os.environ, **env, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}).stdout
        rows.append({"name": f"overhead_{name}", "process_s": round(time.perf_counter() - start, 2),
                     **json.loads(out.strip().splitlines()[-1])})
    return rows


def main() -> int:
    import sys

    if "--overhead-only" in sys.argv:
        for row in overhead(Path(tempfile.mkdtemp())):
            print(json.dumps(row), flush=True)
        return 0
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
    for row in overhead(work):
        print(json.dumps(row), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
