"""XLA CPU options for convolutions: imgtune's train step under each ``XLA_FLAGS`` variant, side by side.

For each variant (below) and model, a fresh process times imgtune's jitted train step (as
``benchmarks/train_step.py``: forward in train mode, backward, SGD with Nesterov momentum, batch 64,
float32) and prints one JSON line with images/s and ``vs_default`` (images/s / the default's in the
same round). Rounds repeat the variants in turn, so each sees the machine's load as the others do;
PyTorch (eager, the hand-written reference) runs once per round, first, for ``ratio`` (JAX / PyTorch).

The variants are the CPU options this jaxlib's ``libjax_common.so`` knows (``strings`` on it lists
every ``xla_cpu_*`` flag): XNNPACK (``xla_cpu_use_xnnpack``, its fusions
``xla_cpu_experimental_xnn_fusion_type`` and graph fusion), YNNPACK fusions, oneDNN
(``xla_cpu_use_onednn``, its custom calls and fusions), Eigen's threading and fast math
(``xla_cpu_use_thunk_runtime`` is known but "no longer supported": this jaxlib ignores it). By
default this jaxlib already runs convolutions, dots and reductions as YNNPACK fusions; the
``ynn_no_conv`` variant sends convolutions back to XLA's Eigen kernels.

    python benchmarks/cpu_conv_flags.py [--models resnet18 resnet50 mobilenetv2] [--size 64]
                                        [--variants default xnnpack ...] [--rounds 2] [--reps 3]
    python benchmarks/cpu_conv_flags.py --layouts [--rounds 2]

``--programs`` instead compiles each variant's train step (a quarter-width model at 64 px, batch
16) and prints a hash of its optimised HLO (metadata stripped) with its fusion kinds
(``__ynn_fusion``, ``__xnn_fusion``, ``__onednn_fusion``) and custom calls: a variant whose program
and runtime are the default's cannot be faster. ``--layouts`` instead times the 3x3 convolutions of resnet18 at 64 px (batch 64: 16x16 maps of 64
channels to 2x2 maps of 512), forward and both gradients, written in NHWC/HWIO (imgtune's layout)
and in NCHW/OIHW (PyTorch's), under each variant given (default: ``default`` and ``ynn_no_conv``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "default": "",  # this jaxlib puts convolutions, dots and reductions in YNNPACK fusions (`__ynn_fusion`)
    "ynn_no_conv": "--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce",  # convolutions back to Eigen
    "ynn_plus_eltwise": "--xla_cpu_experimental_ynn_fusion_type=+eltwise",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "xnn_fusions": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce",
    "xnn_graph_greedy": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_graph_fusion_mode="
                        "XNN_GRAPH_FUSION_MODE_GREEDY",
    "onednn": "--xla_cpu_use_onednn=true",
    "onednn_custom_call": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true",
    "onednn_fusions": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_fusion_type=dot,eltwise,reduce",
    "no_multi_thread_eigen": "--xla_cpu_multi_thread_eigen=false",
    "fast_math": "--xla_cpu_enable_fast_math=true",
}

CHILD = r"""
import json, sys, types
sys.path.insert(0, sys.argv[1])
import train_step as ts
args = types.SimpleNamespace(batch=int(sys.argv[4]), reps=int(sys.argv[5]), profile=0)
if sys.argv[6] == "cpu":  # the process's CPU time (all threads) per step: less sensitive to other load
    import time
    def _cpu_time(fn, reps):
        fn()
        t = time.process_time()
        for _ in range(reps):
            fn()
        return (time.process_time() - t) / reps
    ts._time = _cpu_time
seconds = ts.jax_time(sys.argv[2], int(sys.argv[3]), args)
print(json.dumps({"seconds": seconds}))
"""


LAYOUTS = r"""
import json, time, sys
import jax, jax.numpy as jnp, numpy as np
SHAPES = [(16, 64, 64), (8, 128, 128), (4, 256, 256), (2, 512, 512)]  # resnet18's 3x3 convolutions at 64 px
reps = int(sys.argv[1])
out = {}
for layout, (dn, xs, ws) in {"NHWC": (("NHWC", "HWIO", "NHWC"), lambda h, c: (64, h, h, c), lambda i, o: (3, 3, i, o)),
                             "NCHW": (("NCHW", "OIHW", "NCHW"), lambda h, c: (64, c, h, h), lambda i, o: (o, i, 3, 3))}.items():
    total = 0.0
    for h, cin, cout in SHAPES:
        x = jnp.asarray(np.random.RandomState(0).randn(*xs(h, cin)).astype(np.float32))
        w = jnp.asarray(np.random.RandomState(1).randn(*ws(cin, cout)).astype(np.float32) * 0.05)
        f = lambda x, w: jnp.sum(jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn) ** 2)
        step = jax.jit(jax.grad(f, argnums=(0, 1)))
        jax.block_until_ready(step(x, w))
        t = time.perf_counter()
        for _ in range(reps):
            jax.block_until_ready(step(x, w))
        total += (time.perf_counter() - t) / reps
    out[layout] = total
print(json.dumps(out))
"""


PROGRAM = r"""
import json, sys, re, hashlib, collections
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
from imgtune.compiler.defaults import resolve
from imgtune.spec.records import TrainingParameters
from imgtune.train.loop import make_train_step
from imgtune.train.models import create_model
from imgtune.train.optim import make_optimizer
from imgtune.train.state import TrainState
name = sys.argv[1]
p = resolve(TrainingParameters(model_name=name, learning_rate_scheduler="none", training_batch_size=16), {}, multilabel=False, seed=0)
model = create_model(name, 10, rngs=nnx.Rngs(0), width=0.25)
g, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
tx = make_optimizer(p, steps_per_epoch=100)
st = TrainState(jnp.zeros((), jnp.int32), params, stats, tx.init(params))
step = make_train_step(g, rest, tx, multilabel=False)
x = jax.ShapeDtypeStruct((16, 64, 64, 3), jnp.float32); y = jax.ShapeDtypeStruct((16,), jnp.int32); m = jax.ShapeDtypeStruct((16,), jnp.bool_)
t = step.lower(st, x, y, m).compile().as_text()
t2 = re.sub(r'metadata=\{[^}]*\}', '', t)
kinds = collections.Counter(re.findall(r'"kind":"(\w+)"', t))
targets = collections.Counter(re.findall(r'custom_call_target="([^"]+)"', t))
convs = len(re.findall(r' convolution\(', t))
print(json.dumps({"hash": hashlib.md5(t2.encode()).hexdigest()[:10], "fusion_kinds": kinds, "custom_calls": targets, "convolutions": convs}))
"""


def programs(args) -> int:
    """Which variants change the compiled program at all (its optimised HLO, metadata stripped)."""
    base_env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    for name in args.models:
        for variant in args.variants:
            env = {**base_env, "XLA_FLAGS": VARIANTS[variant]} if VARIANTS[variant] else base_env
            out = subprocess.run([sys.executable, "-c", PROGRAM, name], capture_output=True, text=True, env=env,
                                 check=False)
            row = {"mode": "program", "variant": variant, "model": name}
            if out.returncode:
                row["error"] = (out.stderr.strip().splitlines() or ["?"])[-1][:300]
            else:
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(row), flush=True)
    return 0


def layouts(args) -> int:
    variants = args.variants if args.variants != list(VARIANTS) else ["default", "ynn_no_conv"]
    base_env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    for r in range(args.rounds):
        for variant in variants:
            env = {**base_env, "XLA_FLAGS": VARIANTS[variant]} if VARIANTS[variant] else base_env
            out = subprocess.run([sys.executable, "-c", LAYOUTS, str(args.reps * 3)], capture_output=True,
                                 text=True, env=env, check=True)
            t = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps({"round": r + 1, "variant": variant, "mode": "conv3x3_fwd_bwd_resnet18_64px",
                              "nhwc_ms": round(1e3 * t["NHWC"], 1), "nchw_ms": round(1e3 * t["NCHW"], 1),
                              "nchw_vs_nhwc_speed": round(t["NHWC"] / t["NCHW"], 3),
                              "load_average": round(os.getloadavg()[0], 1)}), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "mobilenetv2"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--paired", action="store_true",
                    help="run the default right before each variant: vs_default compares neighbours (a loaded machine)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="images per CPU-second of the process (all threads) instead of per wall second")
    ap.add_argument("--pin", type=int, default=None, metavar="CORE", help="run the JAX processes on this core only")
    ap.add_argument("--layouts", action="store_true", help="NHWC against NCHW convolutions (see the module doc)")
    ap.add_argument("--programs", action="store_true",
                    help="fingerprint each variant's compiled train step (a quarter-width model, batch 16)")
    args = ap.parse_args()
    if args.layouts:
        return layouts(args)
    if args.programs:
        return programs(args)
    variants = [v for v in args.variants if v != "default"] if args.paired else \
        ["default"] + [v for v in args.variants if v != "default"]
    base_env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    for r in range(args.rounds):
        torch = {}
        if not args.no_torch:
            out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--torch-only",
                                  "--batch", str(args.batch), "--reps", str(args.reps), "--models", *args.models,
                                  "--sizes", str(args.size)], capture_output=True, text=True, check=True).stdout
            torch = {row["model"]: args.batch / row["seconds"] for row in map(json.loads, out.strip().splitlines())}
        default = {}
        order = [v for variant in variants for v in ((variant,) if variant == "default" or not args.paired
                                                     else ("default", variant))]
        for variant in order:
            for name in args.models:
                env = {**base_env, "XLA_FLAGS": VARIANTS[variant]} if VARIANTS[variant] else base_env
                pin = ["taskset", "-c", str(args.pin)] if args.pin is not None else []
                out = subprocess.run([*pin, sys.executable, "-c", CHILD, str(ROOT / "benchmarks"), name,
                                      str(args.size), str(args.batch), str(args.reps),
                                      "cpu" if args.cpu_time else "wall"], capture_output=True, text=True, env=env,
                                     check=False)
                row = {"round": r + 1, "variant": variant, "xla_flags": VARIANTS[variant], "model": name,
                       "size": args.size}
                if out.returncode:
                    row["error"] = (out.stderr.strip().splitlines() or ["?"])[-1][:300]
                else:
                    ips = args.batch / json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
                    if variant == "default":
                        default[name] = ips
                    row.update(jax_images_per_s=round(ips, 1),
                               vs_default=round(ips / default[name], 3) if name in default else None,
                               ratio=round(ips / torch[name], 3) if name in torch else None,
                               torch_images_per_s=round(torch[name], 1) if name in torch else None,
                               load_average=round(os.getloadavg()[0], 1))
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
