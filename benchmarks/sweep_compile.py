"""Per-trial overhead in a sweep over learning rate and momentum: does each trial compile anew?

A 6-trial sweep (learning rate 0.01, 0.03, 0.1 x momentum 0.5, 0.9) of resnet18 at 32 px, batch 64, one
epoch on 160 digits images (128 for training: 2 steps; 32 for validation: 1 evaluation), each trial in a
fresh process through :func:`imgtune.train.trial.train_trial`, as the executor runs them, with
the persistent JAX compilation cache in a new folder shared by the sweep's trials (JAX's default
thresholds, as in a real run). Each ``--src`` is an imgtune source folder (for example main's code
in a ``git worktree`` and this one); their trials alternate (trial 1 of each, then trial 2, ...),
each with its own cache, so both see the same load.

Prints one JSON object per line, per trial: ``process_s`` (the whole process), ``imports_s``,
``first_train_s`` / ``first_eval_s`` (the first call of each step: tracing, compiling or loading
from the cache, and the step itself), ``trial_s`` (``train_trial``) and the persistent cache's
requests and hits in that process. A last run per source repeats trial 1 exactly (``trial: "warm"``):
its programs are in the cache whatever the code, so it is the warm-cache figure under the same load.
Then a summary per source (``after_first_*``: the means of trials 2-6; ``warm_*``: the repeat).

Run: ``python benchmarks/sweep_compile.py --src /work/wt-16a-base/src --src src`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = [(lr, m) for m in (0.5, 0.9) for lr in (0.01, 0.03, 0.1)]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import jax
from jax import monitoring
from imgtune.compiler.defaults import resolve
from imgtune.spec.records import TrainingParameters
from imgtune.train import loop as lp
from imgtune.train.data.trial_data import load_trial_data
from imgtune.train.trial import TrialSettings, train_trial
imports_s = time.perf_counter() - t0
data_dir, workdir, lr, momentum = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
events = {"requests": 0, "hits": 0}
def listen(event, **_):
    if event == "/jax/compilation_cache/compile_requests_use_cache": events["requests"] += 1
    if event == "/jax/compilation_cache/cache_hits": events["hits"] += 1
monitoring.register_event_listener(listen)
first = {}
def timed(make, name):
    def wrapped(*a, **k):
        fn = make(*a, **k)
        def call(*args):
            if name in first:
                return fn(*args)
            t = time.perf_counter()
            out = fn(*args)
            jax.block_until_ready(out)
            first[name] = round(time.perf_counter() - t, 2)
            return out
        return call
    return wrapped
lp.make_train_step = timed(lp.make_train_step, "first_train_s")
lp.make_eval_step = timed(lp.make_eval_step, "first_eval_s")
data = load_trial_data(data_dir, multilabel=False, seed=0)
params = resolve(TrainingParameters(model_name="resnet18", learning_rate=lr, momentum=momentum, number_of_epochs=1,
                                    training_crop_size=32, validation_crop_size=32, validation_resize_size=32,
                                    training_batch_size=64, validation_batch_size=64, number_of_workers=0),
                 {}, multilabel=False, seed=0)
t1 = time.perf_counter()
result = train_trial(TrialSettings(params=params, primary_metric="accuracy", multilabel=False, seed=0), data, workdir)
print(json.dumps({"status": result.status.value, "imports_s": round(imports_s, 2), **first,
                  "trial_s": round(time.perf_counter() - t1, 2), "cache_requests": events["requests"],
                  "cache_hits": events["hits"]}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="an imgtune source folder (repeatable)")
    parser.add_argument("--trials", type=int, default=len(GRID))
    args = parser.parse_args()
    from imgtune.datasets import make_digits

    work = Path(tempfile.mkdtemp(prefix="sweep-compile-"))
    data = make_digits(work / "digits", size=32, n=160)
    srcs = [str(Path(s).resolve()) for s in args.src]
    rows: dict[str, list[dict]] = {s: [] for s in srcs}
    runs = [*enumerate(GRID[: args.trials]), ("warm", GRID[0])]
    for i, (lr, momentum) in runs:
        for k, src in enumerate(srcs):
            env = {**os.environ, "PYTHONPATH": src, "JAX_COMPILATION_CACHE_DIR": str(work / f"cache-{k}")}
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(data), str(work / f"trial-{k}-{i}"), str(lr),
                                  str(momentum)], capture_output=True, text=True, env=env, check=False)
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            row = {"name": "sweep_trial", "src": src, "trial": i if i == "warm" else i + 1, "learning_rate": lr,
                   "momentum": momentum,
                   "process_s": round(time.perf_counter() - start, 2),
                   **json.loads(out.stdout.strip().splitlines()[-1])}
            rows[src].append(row)
            print(json.dumps(row), flush=True)
    for src, trial_rows in rows.items():
        later, warm = trial_rows[1:-1], trial_rows[-1]
        entries = sum(1 for _ in (work / f"cache-{srcs.index(src)}").glob("*-cache"))
        print(json.dumps({"name": "sweep_summary", "src": src, "first_process_s": trial_rows[0]["process_s"],
                          "after_first_process_s": round(sum(r["process_s"] for r in later) / max(1, len(later)), 2),
                          "after_first_train_s": round(sum(r["first_train_s"] for r in later) / max(1, len(later)), 2),
                          "max_after_first_process_s": max((r["process_s"] for r in later), default=None),
                          "warm_process_s": warm["process_s"], "warm_train_s": warm["first_train_s"],
                          "cache_entries": entries, "load_average": os.getloadavg()[0]}), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
