"""The GPU figures in one run: train step (JAX vs PyTorch CUDA eager, float32 and bfloat16), one short
end-to-end sweep (``python -m imgtune run`` on digits, bfloat16) and prediction throughput (JAX vs PyTorch).

Made for one short call on a device machine (see BENCHMARKS.md, "GPU"), where imgtune travels with the
working tree (``PYTHONPATH=src``); it also runs on a CPU with tiny sizes, which is how it was tested:

    JAX_PLATFORMS=cpu python benchmarks/gpu_check.py --out /tmp/gc --size 32 --batch 4 \\
        --models resnet18 --trial-epochs 1 --seconds 0.2

Every part runs in its own subprocess, one after another (PyTorch first, then JAX: each framework takes the
GPU's memory for itself, and XLA preallocates most of it), under its own time limit, so a failing or slow
part costs only itself. Each subprocess prints JSON lines, appended to ``OUT/results.jsonl`` as they come (the
parts' stderr goes to ``OUT/parts.log``, the sweep's output to ``OUT/trial_stdout.log``); a summary ends the run.

Timing: a step (or forward) is warmed up twice (compilation included in the first call, reported as
``first_call_s``), then called back to back in chunks of ``--min-reps`` calls, each chunk ended by one
synchronisation (``block_until_ready`` / ``torch.cuda.synchronize``), until ``--seconds`` have passed. The data
sits on the device already for the train step; prediction includes normalisation on the host and the transfers
both ways.
PyTorch: eager, ``cudnn.benchmark`` on, bfloat16 through ``torch.autocast`` (float32 parameters, like JAX's
``compute_dtype``), NCHW and, as a second figure, channels-last memory format.

Cost on an H200 (2026-11-28): first calls are slow on both sides (XLA compiles a 224 px train step in 8 s for
resnet18 to 67 s for mobilenetv2; PyTorch's first step with ``cudnn.benchmark`` takes 7-19 s), so the whole
default run needs about 12 minutes, more than one 10-minute device call: split it, e.g.
``--parts env torch_train torch_predict`` and ``--parts jax_train trial jax_predict``. With XLA 0.11.2 pass
``--no-triton-gemm trial jax_predict`` (see ``_child_env``), else resnet18 in eval mode aborts the compiler.
The device-side wrapper is ``benchmarks/gpu_check.sh`` (carried wheels, ``PYTHONPATH=src``, ``JAX_PLATFORMS=cuda``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

MODELS = ["resnet18", "resnet50", "mobilenetv2", "vits16r224"]


def _emit(**row) -> None:
    """Prints a row and appends it to ``$GPU_CHECK_RESULTS`` at once (a part killed later keeps its rows)."""
    line = json.dumps(row)
    print(line, flush=True)
    if os.environ.get("GPU_CHECK_RESULTS"):
        with open(os.environ["GPU_CHECK_RESULTS"], "a") as f:
            f.write(line + "\n")


def _rate(fn, sync, n_items: int, seconds: float, min_reps: int) -> tuple[float, float]:
    """(items/s, first call seconds): two warm-up calls, then chunks of ``min_reps`` back-to-back calls,
    each ended by one sync, until ``seconds`` have passed."""
    t = time.perf_counter()
    fn()
    sync()
    first = time.perf_counter() - t
    fn()
    sync()
    reps, start = 0, time.perf_counter()
    while reps == 0 or time.perf_counter() - start < seconds:
        for _ in range(min_reps):
            fn()
        reps += min_reps
        sync()
    return n_items * reps / (time.perf_counter() - start), first


# -- environment -----------------------------------------------------------------------------------


def part_env(args) -> None:
    import importlib.metadata as md

    versions = {}
    for pkg in ["jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda13-pjrt", "jax-cuda12-plugin", "flax", "optax",
                "orbax-checkpoint", "grain", "cattrs", "attrs", "numpy", "torch", "nvidia-cudnn-cu13",
                "nvidia-cuda-runtime", "onnxruntime"]:
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        smi = repr(e)
    import torch

    _emit(part="env", nvidia_smi=smi, cpus=os.cpu_count(), python=sys.version.split()[0], versions=versions,
          torch_cuda=torch.version.cuda,
          torch_cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None,
          torch_device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    import jax

    _emit(part="env", jax_backend=jax.default_backend(), jax_devices=[str(d) for d in jax.devices()],
          jax_device_kind=jax.devices()[0].device_kind)


# -- train step ------------------------------------------------------------------------------------


def _wanted(args, name: str, dtype: str) -> bool:
    """JAX train step: ``--jax-only model:dtype ...`` (a rerun of what a first run missed) or everything."""
    return not args.jax_only or f"{name}:{dtype}" in args.jax_only


def part_torch_train(args) -> None:
    import numpy as np
    import torch

    from train_step import _torch_model

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    for name in args.models:
        # the ViT has no convolution after its patch embedding: NCHW only
        for fmt in ["nchw"] if name == "vits16r224" else args.torch_formats:
            model = _torch_model(name, 10).to(dev).train()
            mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
            model = model.to(memory_format=mf)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
            x = torch.from_numpy(np.random.RandomState(0).randn(args.batch, 3, args.size, args.size)
                                 .astype(np.float32)).to(dev).contiguous(memory_format=mf)
            y = torch.from_numpy(np.arange(args.batch) % 10).to(dev)
            for dtype in args.dtypes:
                amp = dtype == "bfloat16"

                def step():
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast(device_type=dev, dtype=torch.bfloat16, enabled=amp):
                        loss = torch.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    opt.step()

                rate, first = _rate(step, sync, args.batch, args.seconds, args.min_reps)
                _emit(part="train", framework="torch", model=name, size=args.size, batch=args.batch, dtype=dtype,
                      memory_format=fmt, images_per_s=round(rate, 1), first_call_s=round(first, 2), device=dev)


def part_jax_train(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from imgtune.compiler.defaults import resolve
    from imgtune.spec.records import TrainingParameters
    from imgtune.train.loop import make_train_step
    from imgtune.train.models import create_model
    from imgtune.train.optim import make_optimizer
    from imgtune.train.state import TrainState

    x = jnp.asarray(np.random.RandomState(0).randn(args.batch, args.size, args.size, 3).astype(np.float32))
    y, mask = jnp.asarray(np.arange(args.batch) % 10), jnp.ones(args.batch, bool)
    for name in args.models:
        p = resolve(TrainingParameters(model_name=name, learning_rate_scheduler="none",
                                       training_batch_size=args.batch), {}, multilabel=False, seed=0)
        for dtype in args.dtypes:
            if not _wanted(args, name, dtype):
                continue
            model = create_model(name, 10, rngs=nnx.Rngs(0), dtype=getattr(jnp, dtype))
            graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
            tx = make_optimizer(p, steps_per_epoch=100)
            holder = [TrainState(jnp.zeros((), jnp.int32), params, stats, tx.init(params))]
            step = make_train_step(graphdef, rest, tx, multilabel=False)

            def run():
                holder[0], _ = step(holder[0], x, y, mask)

            rate, first = _rate(run, lambda: jax.block_until_ready(holder[0]), args.batch, args.seconds,
                                args.min_reps)
            loss = float(step(holder[0], x, y, mask)[1])
            _emit(part="train", framework="jax", model=name, size=args.size, batch=args.batch, dtype=dtype,
                  images_per_s=round(rate, 1), first_call_s=round(first, 2), finite_loss=bool(np.isfinite(loss)),
                  backend=jax.default_backend())


# -- prediction ------------------------------------------------------------------------------------


def _pixels(batch: int, size: int):
    import numpy as np

    return (np.random.default_rng(batch).random((batch, size, size, 3)) * 255).astype(np.uint8)


def part_torch_predict(args) -> None:
    import torch

    from imgtune.train.data import normalize
    from train_step import _torch_model

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    for name in args.predict_models:
        model = _torch_model(name, 10).to(dev).eval()
        for batch in args.predict_batches:
            pixels = _pixels(batch, args.size)

            def fwd():  # host uint8 -> normalised -> device -> logits on the host, like imgtune's predictor
                x = torch.from_numpy(normalize(pixels).transpose(0, 3, 1, 2).copy()).to(dev)
                with torch.no_grad():
                    model(x).float().cpu().numpy()

            rate, first = _rate(fwd, sync, batch, args.seconds, args.min_reps)
            _emit(part="predict", framework="torch", model=name, size=args.size, batch=batch, dtype="float32",
                  images_per_s=round(rate, 1), first_call_s=round(first, 2), device=dev)


def part_jax_predict(args) -> None:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from imgtune.train.checkpoints import Checkpoints
    from imgtune.train.models import create_model
    from imgtune.train.state import Progress, TrainState

    try:
        from imgtune.prediction import load_predictor
    except Exception as e:  # noqa: BLE001 - the module is optional here; say why it was skipped
        _emit(part="predict", framework="jax", error=f"imgtune.prediction not importable: {e!r}")
        return
    for name in args.predict_models:
        folder = Path(tempfile.mkdtemp(prefix=f"predict-{name}-"))
        model = create_model(name, 10, rngs=nnx.Rngs(0))
        _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
        info = {"model_name": name, "model_width": 1.0, "classes": [str(i) for i in range(10)], "multilabel": False,
                "primary_metric": "accuracy", "training_crop_size": args.size, "validation_crop_size": args.size,
                "validation_resize_size": args.size, "compute_dtype": "float32", "enable_onnx_normalization": False}
        ck = Checkpoints(folder / "checkpoint")
        ck.save(TrainState(jnp.zeros((), jnp.int32), params, stats, ()), Progress(epochs_done=1), info=info, best=True)
        ck.finish()
        for batch in args.predict_batches:
            predictor = load_predictor(folder / "checkpoint", batch_size=batch)
            pixels = _pixels(batch, args.size)
            rate, first = _rate(lambda: predictor.logits(pixels), lambda: None, batch, args.seconds, args.min_reps)
            _emit(part="predict", framework="jax", model=name, size=args.size, batch=batch, dtype="float32",
                  images_per_s=round(rate, 1), first_call_s=round(first, 2), backend=jax.default_backend())


# -- one short sweep end to end --------------------------------------------------------------------

JOB = """\
$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
task: image_classification
experiment_name: imgtune-digits-gpu
compute: local
log_verbosity: info
primary_metric: accuracy
target_column_name: label
training_data:
  path: data
  type: mltable
validation_data_size: 0.2
limits:
  max_trials: {trials}
  max_concurrent_trials: 1
  timeout_minutes: 15
training_parameters:
  training_crop_size: 32
  validation_crop_size: 32
  validation_resize_size: 32
  training_batch_size: 64
  validation_batch_size: 128
  number_of_epochs: {epochs}
  early_stopping: false
  number_of_workers: 4
  advanced_settings: '{{"compute_dtype": "bfloat16", "apply_automl_train_augmentations": false}}'
sweep:
  sampling_algorithm:
    type: random
    seed: 7
search_space:
  - model_name:
      type: choice
      values: [{trial_models}]
    learning_rate:
      type: loguniform
      min_value: -7.6
      max_value: -5.3
    optimizer: adam
"""


def part_trial(args, out: Path) -> None:
    from imgtune.datasets import make_digits

    work = Path(tempfile.mkdtemp(prefix="gpu-trial-"))
    t = time.perf_counter()
    make_digits(work, size=32)
    data_s = time.perf_counter() - t
    (work / "job.yaml").write_text(JOB.format(trials=args.trials, epochs=args.trial_epochs,
                                                    trial_models=", ".join(args.trial_models)))
    smi = None
    if args.gpu_sample:
        try:
            smi = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,utilization.gpu,memory.used",
                                    "--format=csv,noheader", "-lms", "500"],
                                   stdout=open(out / "trial_nvidia_smi.csv", "w"), stderr=subprocess.DEVNULL)
        except OSError as e:
            print(f"no nvidia-smi sampling: {e!r}", file=sys.stderr)
    t = time.perf_counter()
    with open(out / "trial_stdout.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "imgtune", "run", str(work / "job.yaml"), "--output",
                                 str(work / "run")], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=args.trial_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the sweep and its trial processes: free the GPU for the next part
            proc.wait()
            rc = "timeout"
    wall = time.perf_counter() - t
    if smi is not None:
        smi.terminate()
        smi.wait()
    row = {"part": "trial", "returncode": rc, "wall_s": round(wall, 1), "data_s": round(data_s, 1),
           "trials": args.trials, "epochs": args.trial_epochs}
    run_json = work / "run" / "run.json"
    if run_json.is_file():
        r = json.loads(run_json.read_text())
        row["status"] = r.get("status")
        row["trial_rows"] = [{k: tr.get(k) for k in ("id", "status", "best_metric", "best_epoch", "reason")}
                             | {"model_name": (tr.get("parameters") or {}).get("model_name")}
                             for tr in r.get("trials", [])]
    infos = sorted((work / "run").rglob("info.json"))
    if infos:
        row["compute_dtype"] = sorted({json.loads(p.read_text()).get("compute_dtype") for p in infos})
    if smi is not None:
        lines = [ln.split(", ") for ln in (out / "trial_nvidia_smi.csv").read_text().splitlines() if ln.count(",") == 2]
        util = [int(u.split()[0]) for _, u, _ in lines if u.split()[0].isdigit()]
        mem = [int(m.split()[0]) for _, _, m in lines if m.split()[0].isdigit()]
        row["gpu_util_max_pct"] = max(util, default=None)
        row["gpu_util_mean_pct"] = round(sum(util) / len(util), 1) if util else None
        row["gpu_mem_max_mib"] = max(mem, default=None)
    _emit(**row)


# -- driver ----------------------------------------------------------------------------------------


def _child_env(args, part: str, out: Path) -> dict:
    env = dict(os.environ, GPU_CHECK_RESULTS=str(out / "results.jsonl"))
    if part in args.no_triton_gemm:
        # XLA 0.11.2's GPU compiler aborts on imgtune's 1x1 stride-2 convolutions (a strided slice feeding an
        # einsum) in its Triton GEMM fusion pass (triton_tiling_propagation.cc: "Check failed:
        # subdim_size_accumulator == dim_size (784 vs. 56)"); without Triton GEMMs that pass does not run.
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_enable_triton_gemm=false").strip()
    return env


def _child(args, part: str, out: Path, timeout: float) -> list[dict]:
    cmd = [sys.executable, __file__, "--part", part, "--out", str(out), "--models", *args.models,
           "--dtypes", *args.dtypes, "--size", str(args.size), "--batch", str(args.batch),
           "--seconds", str(args.seconds), "--min-reps", str(args.min_reps),
           "--predict-models", *args.predict_models, "--predict-batches", *map(str, args.predict_batches),
           "--trials", str(args.trials), "--trial-epochs", str(args.trial_epochs),
           "--trial-timeout", str(args.trial_timeout), "--torch-formats", *args.torch_formats,
           "--trial-models", *args.trial_models]
    cmd += (["--jax-only", *args.jax_only] if args.jax_only else []) + (["--gpu-sample"] if args.gpu_sample else [])
    t = time.perf_counter()
    rows: list[dict] = []
    with open(out / "parts.log", "a") as err:
        err.write(f"\n===== {part} =====\n")
        err.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                env=_child_env(args, part, out))
        try:
            stdout, _ = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, _ = proc.communicate()
            rc = "timeout"
    for line in stdout.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    done = {"part": part, "done": rc, "seconds": round(time.perf_counter() - t, 1)}
    rows.append(done)
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(done) + "\n")
    for r in rows:
        print(json.dumps(r), flush=True)
    if rc != 0:
        tail = (out / "parts.log").read_text()[-1500:]
        print(f"# part {part} ended {rc}; stderr tail:\n{tail}", flush=True)
    return rows


def _summary(rows: list[dict]) -> None:
    train = [r for r in rows if r.get("part") == "train" and "images_per_s" in r]
    print("\n# train step, images/s (batch, size as run)")
    print(f"{'model':12} {'dtype':9} {'jax':>8} {'torch':>8} {'torch CL':>8} {'jax/torch':>9} {'jax/best':>8}")
    for m in dict.fromkeys(r["model"] for r in train):
        for dt in dict.fromkeys(r["dtype"] for r in train):
            def get(fw, fmt=None, m=m, dt=dt):
                return next((r["images_per_s"] for r in train if r["model"] == m and r["dtype"] == dt
                             and r["framework"] == fw and r.get("memory_format", fmt) == fmt), None)

            j, t, cl = get("jax"), get("torch", "nchw"), get("torch", "channels_last")
            best = max(v for v in (t, cl) if v) if (t or cl) else None
            print(f"{m:12} {dt:9} {j or '-':>8} {t or '-':>8} {cl or '-':>8} "
                  f"{round(j / t, 2) if j and t else '-':>9} {round(j / best, 2) if j and best else '-':>8}")
    pred = [r for r in rows if r.get("part") == "predict" and "images_per_s" in r]
    if pred:
        print("\n# prediction (host uint8 in, logits out), images/s")
        for m in dict.fromkeys(r["model"] for r in pred):
            for b in dict.fromkeys(r["batch"] for r in pred):
                j = next((r["images_per_s"] for r in pred if r["model"] == m and r["batch"] == b
                          and r["framework"] == "jax"), None)
                t = next((r["images_per_s"] for r in pred if r["model"] == m and r["batch"] == b
                          and r["framework"] == "torch"), None)
                print(f"{m:12} batch {b:3} jax {j} torch {t} ratio {round(j / t, 2) if j and t else '-'}")
    for r in rows:
        if r.get("part") == "trial" and "returncode" in r:
            print("\n# trial:", json.dumps(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out")
    ap.add_argument("--parts", nargs="+", default=["env", "torch_train", "jax_train", "trial", "torch_predict",
                                                   "jax_predict"])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per figure, at least")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--predict-models", nargs="+", default=["resnet18", "vits16r224"])
    ap.add_argument("--predict-batches", nargs="+", type=int, default=[1, 64])
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--trial-epochs", type=int, default=3)
    ap.add_argument("--trial-timeout", type=float, default=110)
    ap.add_argument("--jax-only", nargs="*", default=[], metavar="MODEL:DTYPE",
                    help="JAX train step: only these (model, dtype) pairs")
    ap.add_argument("--torch-formats", nargs="+", default=["nchw", "channels_last"],
                    choices=["nchw", "channels_last"], help="PyTorch memory formats of the CNNs (the ViT: NCHW)")
    ap.add_argument("--trial-models", nargs="+", default=["resnet18", "mobilenetv2"])
    ap.add_argument("--no-triton-gemm", nargs="*", default=[], metavar="PART",
                    help="parts run with XLA_FLAGS=--xla_gpu_enable_triton_gemm=false")
    ap.add_argument("--gpu-sample", action="store_true", help="sample nvidia-smi during the trial")
    ap.add_argument("--limits", default="env=30,torch_train=240,jax_train=300,trial=120,torch_predict=30,"
                    "jax_predict=45", help="seconds per part")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.part:
        fn = {"env": part_env, "torch_train": part_torch_train, "jax_train": part_jax_train,
              "torch_predict": part_torch_predict, "jax_predict": part_jax_predict}.get(args.part)
        part_trial(args, out) if args.part == "trial" else fn(args)
        return
    limits = {k: float(v) for k, v in (kv.split("=") for kv in args.limits.split(","))}
    start = time.perf_counter()
    rows: list[dict] = []
    for part in args.parts:
        rows += _child(args, part, out, limits.get(part, 120))
    print(f"# all parts: {time.perf_counter() - start:.0f} s", flush=True)
    _summary(rows)


if __name__ == "__main__":
    main()
