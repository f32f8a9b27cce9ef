"""XLA CPU options for convolutions: imgtune's train step under each ``XLA_FLAGS`` variant, side by side.

For each variant (below) and model, a fresh process times imgtune's jitted train step (as
``benchmarks/train_step.py``: forward in train mode, backward, SGD with Nesterov momentum, batch 64,
float32) and prints one JSON line with images/s and ``vs_default`` (images/s / the default's in the
same round). Rounds repeat the variants in turn, so each sees the machine's load as the others do;
PyTorch (eager, the hand-written reference) runs once per round, first, for ``ratio`` (JAX / PyTorch).

The variants are the CPU options this jaxlib's ``libjax_common.so`` knows (``strings`` on it lists
every ``xla_cpu_*`` flag): XNNPACK (``xla_cpu_use_xnnpack``, its fusions
``xla_cpu_experimental_xnn_fusion_type`` and graph fusion), YNNPACK fusions, oneDNN
(``xla_cpu_use_onednn``, its custom calls and fusions), the thunk runtime, Eigen's threading and fast math.

    python benchmarks/cpu_conv_flags.py [--models resnet18 resnet50 mobilenetv2] [--size 64]
                                        [--variants default xnnpack ...] [--rounds 2] [--reps 3]
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
    "default": "",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "xnn_fusions": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce",
    "xnn_graph_greedy": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_graph_fusion_mode="
                        "XNN_GRAPH_FUSION_MODE_GREEDY",
    "ynn_fusions": "--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce",
    "onednn": "--xla_cpu_use_onednn=true",
    "onednn_custom_call": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true",
    "onednn_fusions": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_fusion_type=dot,eltwise,reduce",
    "no_thunk_runtime": "--xla_cpu_use_thunk_runtime=false",
    "no_multi_thread_eigen": "--xla_cpu_multi_thread_eigen=false",
    "fast_math": "--xla_cpu_enable_fast_math=true",
}

CHILD = r"""
import json, sys, types
sys.path.insert(0, sys.argv[1])
import train_step as ts
args = types.SimpleNamespace(batch=int(sys.argv[4]), reps=int(sys.argv[5]), profile=0)
seconds = ts.jax_time(sys.argv[2], int(sys.argv[3]), args)
print(json.dumps({"seconds": seconds}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "mobilenetv2"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    variants = ["default"] + [v for v in args.variants if v != "default"]
    base_env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    for r in range(args.rounds):
        torch = {}
        if not args.no_torch:
            out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--torch-only",
                                  "--batch", str(args.batch), "--reps", str(args.reps), "--models", *args.models,
                                  "--sizes", str(args.size)], capture_output=True, text=True, check=True).stdout
            torch = {row["model"]: args.batch / row["seconds"] for row in map(json.loads, out.strip().splitlines())}
        default = {}
        for variant in variants:
            for name in args.models:
                env = {**base_env, "XLA_FLAGS": VARIANTS[variant]} if VARIANTS[variant] else base_env
                out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "benchmarks"), name, str(args.size),
                                      str(args.batch), str(args.reps)], capture_output=True, text=True, env=env, check=False)
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
