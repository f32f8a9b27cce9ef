"""Loading torchvision / timm ``state_dict`` checkpoints into the NNX models.

Our variable paths are the reference module names (``layer1.0.conv1``; ``seq``
containers stand for ``nn.Sequential`` and vanish from the key), so the key of a
variable is its dotted path with the leaf renamed the PyTorch way:

=====================  ==========================  ======================================
ours                   PyTorch                     transform
=====================  ==========================  ======================================
conv ``kernel`` HWIO   ``weight`` OIHW             ``transpose(3, 2, 0, 1)``
linear ``kernel``      ``weight`` ``(out, in)``    transpose
norm ``scale``         ``weight``
``bias``               ``bias``
BN ``mean`` / ``var``  ``running_mean/var``        (``num_batches_tracked`` is ignored)
other (ViT tokens)     same name                   none
=====================  ==========================  ======================================

Models whose reference uses other names (torchvision ViTs) rename through
``model.torch_keys(key)``. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from imgtune.errors import Problem, ValidationError

__all__ = ["load_pretrained", "read_state_dict", "torch_layout"]

_TORCH_HINT = (
    "reading a .pth checkpoint needs PyTorch, which is not installed: `pip install torch` "
    "(CPU-only: `pip install torch --index-url https://download.pytorch.org/whl/cpu`), "
    "or convert the checkpoint to .safetensors elsewhere"
)


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a checkpoint into ``{key: numpy array}``.

    ``.safetensors`` needs only the ``safetensors`` package; any other suffix (``.pth``,
    ``.pt``, ``.bin``, ``.ckpt``) is read with ``torch.load(weights_only=True)``. A state dict
    nested under ``state_dict``/``model``/``model_state_dict`` is unwrapped and a
    DataParallel ``module.`` prefix is stripped.

    Raises:
        ValidationError: The file does not exist.
        ImportError: A ``.pth`` file and no PyTorch.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError([Problem(str(p), "checkpoint file not found")])
    if p.suffix == ".safetensors":
        try:
            from safetensors.numpy import load_file

            sd: dict[str, Any] = load_file(str(p))
        except (TypeError, ValueError):  # e.g. bfloat16, which safetensors.numpy cannot read
            from safetensors.flax import load_file as load_flax

            sd = {k: np.asarray(v) for k, v in load_flax(str(p)).items()}
    else:
        try:
            import torch
        except ImportError as e:
            raise ImportError(_TORCH_HINT) from e
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            for wrap in ("state_dict", "model_state_dict", "model"):
                if wrap in obj and isinstance(obj[wrap], dict):
                    obj = obj[wrap]
                    break
        sd = {}
        for k, v in dict(obj).items():
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu()
                sd[k] = (v.float() if v.dtype == torch.bfloat16 else v).numpy()
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _leaf(kind: type, name: str, ndim: int) -> tuple[str, str]:
    """(PyTorch leaf name, transform) for one of our variables."""
    if name == "kernel" and ndim == 4:
        return "weight", "conv"
    if name == "kernel" and ndim == 2:
        return "weight", "linear"
    if name == "scale":
        return "weight", "none"
    if issubclass(kind, nnx.BatchStat):
        return {"mean": "running_mean", "var": "running_var"}.get(name, name), "none"
    return name, "none"


def _to_torch_shape(shape: tuple[int, ...], transform: str) -> tuple[int, ...]:
    if transform == "conv":
        kh, kw, i, o = shape
        return (o, i, kh, kw)
    if transform == "linear":
        return (shape[1], shape[0])
    return tuple(shape)


def _from_torch(arr: np.ndarray, transform: str) -> np.ndarray:
    if transform == "conv":
        return np.transpose(arr, (2, 3, 1, 0))
    if transform == "linear":
        return np.transpose(arr)
    return arr


def torch_layout(model: nnx.Module) -> list[dict[str, Any]]:
    """How each parameter / BatchNorm statistic of ``model`` appears in a reference checkpoint.

    Returns:
        One dict per variable with ``path`` (our flat state path), ``keys`` (candidate
        checkpoint keys, canonical first), ``shape`` (PyTorch shape), ``transform``
        (``conv``/``linear``/``none``) and ``head`` (whether it belongs to the classifier).
    """
    head = tuple(getattr(model, "head_path", ()))
    rename = getattr(model, "torch_keys", None)
    out = []
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))):
        comps = [str(c) for c in path if c != "seq"]
        shape = tuple(var.shape)
        leaf, transform = _leaf(type(var), comps[-1], len(shape))
        key = ".".join([*comps[:-1], leaf])
        out.append(dict(
            path=path, keys=rename(key) if rename else [key], shape=_to_torch_shape(shape, transform),
            transform=transform, head=bool(head) and tuple(path[: len(head)]) == head,
        ))
    return out


#: The key naming each zoo model reads without a key map (ResNets: torchvision's and timm's are the same).
_NATIVE_LAYOUTS = {"MobileNetV2": ("torchvision",), "ResNet": ("torchvision", "timm"),
                   "VisionTransformer": ("torchvision",)}


def load_pretrained(model: nnx.Module, path: str | os.PathLike, *, skip_head: bool = False,
                    source_layout: str | None = None) -> None:
    """Loads a torchvision/timm ``state_dict`` for the model's reference architecture, in place.

    Conv kernels are transposed OIHW -> HWIO, linear weights ``(out, in)`` -> ``(in, out)``,
    BatchNorm running statistics are loaded and ``num_batches_tracked`` is ignored. Values
    are cast to each variable's dtype. Nothing is written unless the whole checkpoint fits.

    Args:
        model: A model from :func:`~imgtune.train.models.create_model` (``width=1.0`` for real
            checkpoints).
        path: ``.safetensors`` (read without PyTorch) or ``.pth``/``.pt``/``.bin`` (needs
            ``torch``).
        skip_head: Leave the classifier head (``fc``, ``classifier.1``, ``head``,
            ``heads.head``) as initialised: head keys in the file are ignored and may be
            absent or of another class count. Use it to fine-tune an ImageNet checkpoint on
            a new label set. Without it the head must match like any other layer.
        source_layout: The file's key naming, ``"torchvision"`` or ``"timm"``; ``None``: the
            model's own. Another naming needs a key map (not available yet for any model).

    Raises:
        ValidationError: Listing every missing key, every unexpected key and every shape
            mismatch (paths are checkpoint keys), or a missing file.
        ImportError: A ``.pth`` checkpoint without PyTorch installed (message says how to
            install it).
    """
    if source_layout is not None:
        kind = type(model).__name__
        native = _NATIVE_LAYOUTS.get(kind, ())
        if kind == "VisionTransformer" and getattr(model, "flavor", "torchvision") == "timm":
            native = ("timm",)
        if kind == "ResNet" and not _plain_resnet(model):
            native = ("timm",)
        if source_layout not in native:
            raise ValidationError([Problem("source_layout", f"key map not available: {source_layout!r} keys "
                                                            f"for {kind} (reads {', '.join(native)})")])
    sd = read_state_dict(path)
    layout = torch_layout(model)
    problems: list[Problem] = []
    used: set[str] = set()
    plan: list[tuple[dict[str, Any], str]] = []
    for entry in layout:
        found = next((k for k in entry["keys"] if k in sd), None)
        if entry["head"] and skip_head:
            used.update(k for k in entry["keys"] if k in sd)
            continue
        if found is None:
            msg = f"missing from checkpoint (model expects shape {entry['shape']})"
            problems.append(Problem(entry["keys"][0], msg))
            continue
        used.add(found)
        got = tuple(np.shape(sd[found]))
        if got != entry["shape"]:
            problems.append(Problem(found, f"shape {got} in checkpoint, model expects {entry['shape']}"))
            continue
        plan.append((entry, found))
    for k in sd:
        if k not in used and not k.endswith("num_batches_tracked"):
            problems.append(Problem(k, f"unexpected key in checkpoint (shape {tuple(np.shape(sd[k]))})"))
    if problems:
        raise ValidationError(problems, title=f"checkpoint {os.fspath(path)} for {type(model).__name__}")
    state = nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))
    flat = dict(nnx.to_flat_state(state))
    for entry, key in plan:
        var = flat[entry["path"]]
        var[...] = jnp.asarray(_from_torch(np.asarray(sd[key]), entry["transform"]), dtype=var.dtype)
    nnx.update(model, state)


def _plain_resnet(model: nnx.Module) -> bool:
    """A torchvision ResNet (not seresnext or resnest, whose reference is timm's)."""
    keys = {k for e in torch_layout(model) for k in e["keys"][:1]}
    return not any(".se." in k or ".attn." in k or "radix" in k or "conv1.0." in k for k in keys)
