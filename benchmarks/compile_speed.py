"""Speed of the spec and compile layers. Prints one JSON object per line.

Rows:
* ``compile_random_1000`` / ``compile_grid_1000``: compiling a 1,000-trial random
  plan and a 1,000-point grid (seconds, best of 3).
* ``load_azure_<file>``: imgtune's ``load`` (load and validate; libyaml's C composer) against
  azure-ai-ml's ``load_job`` on the same Azure example file, warm: ``--repeat`` rounds, each
  timing N loads of each in turn (interleaved, so a busy moment of a shared machine hits
  both), and the best round's mean per load of each; ``ratio`` = azure time / imgtune time
  (above 1: imgtune is faster). Wall-clock time, or with ``--clock cpu`` this process's CPU
  time (steadier where other processes share the cores). ``imgtune_python_ms``: imgtune with
  PyYAML's pure-Python composer (the fallback where PyYAML has no libyaml). azure-ai-ml is
  skipped with a note when it (``pip install "imgtune[bench]"``) is not installed.
* ``cold_import_and_load``: a fresh interpreter running ``import imgtune`` and
  loading one job (seconds, best of 5), and whether JAX got imported (it must not).

Run: ``python benchmarks/compile_speed.py [--azure-dir ../shared/compat/azure-yaml] [--n 50] [--repeat 5]
[--clock wall|cpu]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import imgtune
from imgtune.serialization import yaml_text

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


CLOCK = time.perf_counter  # --clock cpu: time.process_time (this process's CPU time, for a busy shared machine)


def mean_of(fn, n: int) -> float:
    fn()  # warm
    start = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - start) / n


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--azure-dir", default=str(ROOT.parent / "shared" / "compat" / "azure-yaml"))
    parser.add_argument("--n", type=int, default=50, help="loads per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (the best round counts)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the load rows time: wall-clock, or this process's CPU time")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    base = {"type": "automl", "task": "image_classification", "target_column_name": "label",
            "training_data": {"path": "data"}, "limits": {"max_trials": 1000}}
    random_job = imgtune.loads({**base, "sweep": {"sampling_algorithm": "random"}, "search_space": [{
        "learning_rate": {"type": "loguniform", "min_value": -9, "max_value": -2},
        "momentum": {"type": "uniform", "min_value": 0.5, "max_value": 0.99},
        "number_of_epochs": {"type": "quniform", "min_value": 5, "max_value": 50, "q": 1},
        "model_name": {"type": "choice", "values": ["resnet18", "resnet50", "mobilenetv2"]}}]})
    grid_job = imgtune.loads({**base, "sweep": {"sampling_algorithm": "grid"}, "search_space": [{
        "learning_rate": {"type": "choice", "values": [round(0.001 * i, 4) for i in range(1, 11)]},
        "number_of_epochs": {"type": "choice", "values": list(range(5, 15))},
        "training_batch_size": {"type": "choice", "values": list(range(8, 18))}}]})
    for name, job in (("compile_random_1000", random_job), ("compile_grid_1000", grid_job)):
        trials = len(imgtune.compile(job).trials)
        seconds = best_of(lambda job=job: imgtune.compile(job))
        emit(name=name, trials=trials, seconds=round(seconds, 4), trials_per_s=round(trials / seconds, 1))

    azure_dir = Path(args.azure_dir)
    files = sorted(p for p in azure_dir.glob("*.yml")) if azure_dir.is_dir() else []
    try:
        from azure.ai.ml import load_job
    except ImportError:
        load_job = None
        emit(name="load_azure", note="azure-ai-ml not installed: pip install 'imgtune[bench]'")
    for path in files:
        ours = python = theirs = float("inf")
        for _ in range(args.repeat):
            ours = min(ours, mean_of(lambda path=path: imgtune.load(path), args.n))
            yaml_text.HAVE_LIBYAML, had = False, yaml_text.HAVE_LIBYAML
            try:
                python = min(python, mean_of(lambda path=path: imgtune.load(path), args.n))
            finally:
                yaml_text.HAVE_LIBYAML = had
            if load_job is not None:
                theirs = min(theirs, mean_of(lambda path=path: load_job(path), args.n))
        row = {"name": f"load_azure_{path.stem}", "clock": args.clock, "imgtune_ms": round(ours * 1e3, 3),
               "imgtune_python_ms": round(python * 1e3, 3)}
        if load_job is not None:
            row.update(azure_ai_ml_ms=round(theirs * 1e3, 3), ratio=round(theirs / ours, 2))
        emit(**row)

    example = ROOT / "examples" / "digits" / "job.yaml"
    code = "import sys, imgtune; imgtune.load(sys.argv[1]); print('jax' in sys.modules)"
    times, jax_loaded = [], None
    for _ in range(5):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, str(example)], capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        jax_loaded = out.stdout.strip() == "True"
    emit(name="cold_import_and_load", seconds=round(min(times), 3), jax_imported=jax_loaded)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
