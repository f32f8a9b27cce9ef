"""Train-step throughput of imgtune's jitted step vs a PyTorch eager step, on CPU; peak RSS of a trial.

One JSON line per (model, size): images/s of a whole training step (forward in train
mode, backward, SGD with Nesterov momentum and weight decay) for imgtune's
:func:`imgtune.train.loop.make_train_step` and for the hand-written PyTorch reference of
the same architecture (``tests/models/torch_reference.py``), and ``ratio`` = jax / torch
(> 1: JAX faster). PyTorch runs first, in its own subprocess, because XLA's CPU threads
keep spinning after a computation and slow PyTorch down in the same process. A last
line gives the peak resident memory of one small trial (digits, resnet18, 32 px, one
epoch) run in a fresh process.

    python benchmarks/train_step.py [--models resnet18 resnet50 mobilenetv2 vits16r224]
                                    [--sizes 32 64] [--batch 64] [--reps 3] [--no-trial] [--profile N]

``--profile N`` also prints, per (model, size), the N XLA ops (thunks) that took the most time
in two traced JAX steps (``jax.profiler`` trace read back with ``ProfileData``), with their share.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["resnet18", "resnet50", "mobilenetv2", "vits16r224"]


def _time(fn, reps: int) -> float:
    fn()  # warm-up / compile
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def _torch_model(name: str, num_classes: int):
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    import torch_reference as tr

    if name == "resnet18":
        return tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], num_classes)
    if name == "resnet50":
        return tr.ResNet(tr.Bottleneck, [3, 4, 6, 3], num_classes)
    if name == "mobilenetv2":
        return tr.MobileNetV2(num_classes)
    if name == "vits16r224":
        return tr.TimmViT(num_classes)
    raise ValueError(f"no torch reference for {name}")


def torch_main(args) -> None:
    """Prints ``{"model", "size", "seconds"}`` lines (run in a subprocess)."""
    import numpy as np
    import torch

    for name in args.models:
        for size in args.sizes:
            x = torch.from_numpy(np.random.RandomState(0).randn(args.batch, 3, size, size).astype(np.float32))
            y = torch.from_numpy(np.arange(args.batch) % 10)
            model = _torch_model(name, 10).train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)

            def step():
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()

            print(json.dumps({"model": name, "size": size, "seconds": _time(step, args.reps),
                              "threads": torch.get_num_threads()}), flush=True)


def jax_time(name: str, size: int, args) -> float:
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from imgtune.compiler.defaults import resolve
    from imgtune.spec.records import TrainingParameters
    from imgtune.train.loop import make_train_step
    from imgtune.train.models import create_model
    from imgtune.train.optim import make_optimizer
    from imgtune.train.state import TrainState

    p = resolve(TrainingParameters(model_name=name, learning_rate_scheduler="none", training_batch_size=args.batch),
                {}, multilabel=False, seed=0)
    model = create_model(name, 10, rngs=nnx.Rngs(0))
    graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    tx = make_optimizer(p, steps_per_epoch=100)
    state = TrainState(jnp.zeros((), jnp.int32), params, stats, tx.init(params))
    step = make_train_step(graphdef, rest, tx, multilabel=False)
    x = jnp.asarray(np.random.RandomState(0).randn(args.batch, size, size, 3).astype(np.float32))
    y, mask = jnp.asarray(np.arange(args.batch) % 10), jnp.ones(args.batch, bool)
    holder = [state]

    def run():
        holder[0], loss = step(holder[0], x, y, mask)
        loss.block_until_ready()

    seconds = _time(run, args.reps)
    if args.profile:
        _print_profile(run, args.profile, f"{name} {size}px")
    return seconds


def _print_profile(run, top: int, label: str) -> None:
    """Top XLA ops by summed event time over two traced steps (all threads)."""
    import collections
    import glob
    import tempfile

    import jax

    d = tempfile.mkdtemp()
    jax.profiler.start_trace(d)
    run()
    run()
    jax.profiler.stop_trace()
    data = jax.profiler.ProfileData.from_file(glob.glob(d + "/**/*.xplane.pb", recursive=True)[0])
    skip = ("ThunkExecutor", "Slinky", "Thread", "Wait", "end:", "$", "PjRt", "Pjit", "Common", "Handle",
            "Parse", "Allocate", "Python")
    times: collections.Counter = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            for ev in line.events:
                if not ev.name.startswith(skip):
                    times[ev.name] += ev.duration_ns
    total = sum(times.values()) or 1
    print(f"# profile {label}: {total / 2e6:.1f} ms of op time per step", flush=True)
    for op, ns in times.most_common(top):
        print(f"#   {ns / 2e6:8.2f} ms {100 * ns / total:5.1f}%  {op}", flush=True)


def trial_rss() -> dict:
    """Peak RSS (MiB) of a fresh process that runs one small trial."""
    code = """
import json, resource, tempfile
from imgtune.datasets import make_digits
from imgtune.compiler.defaults import resolve
from imgtune.spec.records import TrainingParameters
from imgtune.train.data.trial_data import load_trial_data
from imgtune.train.trial import TrialSettings, train_trial
d = tempfile.mkdtemp()
data = load_trial_data(make_digits(d, size=32), multilabel=False, seed=0)
p = resolve(TrainingParameters(model_name="resnet18", number_of_epochs=1, training_batch_size=64,
    validation_batch_size=128, training_crop_size=32, validation_crop_size=32, validation_resize_size=32,
    number_of_workers=2), {}, multilabel=False, seed=0)
r = train_trial(TrialSettings(params=p, primary_metric="accuracy", multilabel=False, seed=0), data, d + "/trial")
print(json.dumps({"status": r.status, "accuracy": r.best_metric,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"trial": "digits resnet18 32px 1 epoch", "seconds": round(time.perf_counter() - t, 1), **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-trial", action="store_true", help="skip the peak-RSS trial")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest XLA ops per row")
    ap.add_argument("--trial-only", action="store_true", help="only the peak-RSS trial")
    args = ap.parse_args()
    if args.trial_only:
        print(json.dumps(trial_rss()), flush=True)
        return
    if args.torch_only:
        torch_main(args)
        return
    cmd = [sys.executable, __file__, "--torch-only", "--batch", str(args.batch), "--reps", str(args.reps),
           "--models", *args.models, "--sizes", *map(str, args.sizes)]
    torch_out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    torch_times = {(r["model"], r["size"]): r for r in map(json.loads, torch_out.strip().splitlines())}
    import jax

    for name in args.models:
        for size in args.sizes:
            t_jax = jax_time(name, size, args)
            ref = torch_times[name, size]
            print(json.dumps(dict(model=name, size=size, batch=args.batch, mode="train_step",
                                  jax_images_per_s=round(args.batch / t_jax, 1),
                                  torch_images_per_s=round(args.batch / ref["seconds"], 1),
                                  ratio=round(ref["seconds"] / t_jax, 3), torch_threads=ref["threads"],
                                  backend=jax.default_backend())), flush=True)
    if not args.no_trial:
        print(json.dumps(trial_rss()), flush=True)


if __name__ == "__main__":
    main()
