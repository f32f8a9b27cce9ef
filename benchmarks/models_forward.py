"""Forward (and train-step) throughput of the JAX zoo vs the hand-written PyTorch references, on CPU.

Prints one JSON line per (model, mode): images/s for JAX and PyTorch and ``ratio`` =
jax / torch (> 1: JAX faster). Eval-mode forward at 32 px, batch 64, by default; the
train step is forward + backward in train mode (BatchNorm batch statistics), no optimizer.

    python benchmarks/models_forward.py [--models resnet18 mobilenetv2] [--batch 64] [--size 32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from imgtune.train.models import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import _time, _torch_model  # noqa: E402  (one torch-reference builder and timer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["resnet18", "mobilenetv2"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--train", action="store_true", help="also time a forward+backward train step")
    args = ap.parse_args()
    import torch

    x = np.random.RandomState(0).randn(args.batch, args.size, args.size, 3).astype(np.float32)
    y = np.arange(args.batch) % 10

    # PyTorch first, before any JAX work: XLA's CPU thread pool keeps spinning for a while
    # after a computation and starves PyTorch's threads on a small machine.
    xt, yt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)
    torch_times: dict[tuple[str, str], float] = {}
    for name in args.models:
        tm = _torch_model(name, 10).eval()
        with torch.no_grad():
            torch_times[name, "forward"] = _time(lambda: tm(xt), args.reps)
        if args.train:
            tm.train()

            def torch_step():
                tm.zero_grad()
                torch.nn.functional.cross_entropy(tm(xt), yt).backward()

            torch_times[name, "train_step"] = _time(torch_step, args.reps)

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    for name in args.models:
        jm = create_model(name, 10, rngs=nnx.Rngs(0))
        graphdef, params, rest = nnx.split(jm, nnx.Param, ...)

        @jax.jit
        def fwd(p, v):
            return nnx.merge(graphdef, p, rest)(v, train=False)

        @nnx.jit
        def grad(m, v, t):
            def loss(mm):
                logits = mm(v, train=True)
                return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(v.shape[0]), t])

            return nnx.grad(loss)(m)

        jax_times = {"forward": _time(lambda: fwd(params, xj).block_until_ready(), args.reps)}
        if args.train:
            jax_times["train_step"] = _time(lambda: jax.block_until_ready(grad(jm, xj, yj)), args.reps)
        for mode, t_jax in jax_times.items():
            t_torch = torch_times[name, mode]
            print(json.dumps(dict(model=name, mode=mode, batch=args.batch, size=args.size,
                                  jax_images_per_s=round(args.batch / t_jax, 1),
                                  torch_images_per_s=round(args.batch / t_torch, 1),
                                  ratio=round(t_torch / t_jax, 3), torch_threads=torch.get_num_threads())),
                  flush=True)

if __name__ == "__main__":
    main()
