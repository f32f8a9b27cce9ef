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

**Source layouts.** ``load_pretrained(..., source_layout=...)`` and :func:`state_dict` name
the key naming of the file instead of the zoo's default for the model:

===========================  ==============================  ==================================
model                        ``"torchvision"``               ``"timm"``
===========================  ==============================  ==================================
resnet18 .. resnet152        our names (same in both)        our names (timm = torchvision)
seresnext, resnest*          refused (no torchvision model)  our names
mobilenetv2                  our names                       ``mobilenetv2_100`` map (below)
vits16r224, vitb/vitl16r224  torchvision ``vit_b_16`` names  our (timm) names
===========================  ==============================  ==================================

timm's ``mobilenetv2_100`` (``efficientnet.py`` ``_gen_mobilenet_v2``) is torchvision's
``mobilenet_v2`` under other names: stem 32 channels 3x3 stride 2 padding 1, stages
``ds_r1_k3_s1_c16, ir_r2_k3_s2_e6_c24, ir_r3_k3_s2_e6_c32, ir_r4_k3_s2_e6_c64,
ir_r3_k3_s1_e6_c96, ir_r3_k3_s2_e6_c160, ir_r1_k3_s1_e6_c320`` (torchvision's ``t, c, n, s``
table), a residual exactly where stride is 1 and channels are equal, no activation after the
projection, ReLU6, BatchNorm eps 1e-5, bias-free convolutions, head 1x1 conv to 1280 +
BN + ReLU6, global average pool, linear classifier. The map:

==============================  =========================================================
ours (torchvision)              timm
==============================  =========================================================
``features.0.0`` / ``.0.1``     ``conv_stem`` / ``bn1``
``features.1.conv.0.0/0.1``     ``blocks.0.0.conv_dw`` / ``bn1`` (expansion 1)
``features.1.conv.1`` / ``.2``  ``blocks.0.0.conv_pw`` / ``bn2``
``features.i.conv.0.0/0.1``     ``blocks.S.J.conv_pw`` / ``bn1`` (i = 2 .. 17)
``features.i.conv.1.0/1.1``     ``blocks.S.J.conv_dw`` / ``bn2``
``features.i.conv.2`` / ``.3``  ``blocks.S.J.conv_pwl`` / ``bn3``
``features.18.0`` / ``.1``      ``conv_head`` / ``bn2``
``classifier.1``                ``classifier``
==============================  =========================================================

What differs, none of it in an eval-mode forward at width 1.0: timm rounds an expanded
width with ``make_divisible(c * t)`` where torchvision uses ``round(c * t)`` (equal for every
width of the published network, which are multiples of 8; reduced ``width`` models may
differ); ``mobilenetv2_100`` has no dropout before the classifier where torchvision has 0.2
(training only).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from imgtune.errors import Problem, ValidationError

from .layers import Seq
from .mobilenet import SETTING, MobileNetV2
from .resnet import ResNet
from .vit import VisionTransformer, torchvision_keys

__all__ = ["SOURCE_LAYOUTS", "load_pretrained", "read_state_dict", "state_dict", "torch_layout"]

#: The key namings a checkpoint file may use (``source_layout``).
SOURCE_LAYOUTS: tuple[str, ...] = ("torchvision", "timm")

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


def _same(key: str) -> list[str]:
    return [key]


def _mobilenetv2_timm_keys(model: MobileNetV2) -> Callable[[str], list[str]]:
    """Renames our (torchvision) MobileNetV2 keys to timm's ``mobilenetv2_100`` keys."""
    where: dict[int, tuple[int, int, int]] = {}
    i = 1
    for s, (t, _c, n, _stride) in enumerate(SETTING):
        for j in range(n):
            where[i] = (s, j, t)
            i += 1
    last = len(model.features) - 1
    single = {("0", "0"): "conv_dw", ("0", "1"): "bn1", ("1",): "conv_pw", ("2",): "bn2"}
    expand = {("0", "0"): "conv_pw", ("0", "1"): "bn1", ("1", "0"): "conv_dw", ("1", "1"): "bn2",
              ("2",): "conv_pwl", ("3",): "bn3"}

    def keys(key: str) -> list[str]:
        parts = key.split(".")
        leaf, mod = parts[-1], tuple(parts[:-1])
        if mod == ("classifier", "1"):
            return [f"classifier.{leaf}"]
        if len(mod) >= 3 and mod[0] == "features" and mod[1].isdigit():
            i = int(mod[1])
            if i in (0, last):
                name = {("0",): "conv_stem" if i == 0 else "conv_head", ("1",): "bn1" if i == 0 else "bn2"}
                return [f"{name[mod[2:]]}.{leaf}"] if mod[2:] in name else [key]
            if i in where and mod[2] == "conv":
                s, j, t = where[i]
                name = (single if t == 1 else expand).get(mod[3:])
                return [f"blocks.{s}.{j}.{name}.{leaf}"] if name else [key]
        return [key]

    return keys


def _key_names(model: nnx.Module, source_layout: str | None) -> Callable[[str], list[str]]:
    """Our dotted key -> candidate checkpoint keys, for the file's key naming."""
    if source_layout is None:
        return getattr(model, "torch_keys", None) or _same
    if source_layout not in SOURCE_LAYOUTS:
        raise ValidationError([Problem("source_layout", f"must be one of {list(SOURCE_LAYOUTS)} or None, "
                                                        f"got {source_layout!r}")])
    if isinstance(model, VisionTransformer):
        return _same if source_layout == "timm" else torchvision_keys
    if isinstance(model, MobileNetV2):
        return _same if source_layout == "torchvision" else _mobilenetv2_timm_keys(model)
    if isinstance(model, ResNet) and source_layout == "torchvision":
        deep_stem = isinstance(model.conv1, Seq)
        se = any(getattr(b, "se", None) is not None for n in range(1, 5) for b in getattr(model, f"layer{n}"))
        if deep_stem or se:
            raise ValidationError([Problem("source_layout", "torchvision has no model of this architecture "
                                                            "(SE-ResNeXt / ResNeSt); its checkpoints use "
                                                            "source_layout='timm'")])
    return _same


def torch_layout(model: nnx.Module, source_layout: str | None = None) -> list[dict[str, Any]]:
    """How each parameter / BatchNorm statistic of ``model`` appears in a reference checkpoint.

    Args:
        model: A model from :func:`~imgtune.train.models.create_model`.
        source_layout: The checkpoint's key naming, ``"torchvision"`` or ``"timm"``; ``None``
            uses the zoo's reference naming for the model (see the module doc).

    Returns:
        One dict per variable with ``path`` (our flat state path), ``keys`` (candidate
        checkpoint keys, canonical first), ``shape`` (PyTorch shape), ``transform``
        (``conv``/``linear``/``none``) and ``head`` (whether it belongs to the classifier).
    """
    head = tuple(getattr(model, "head_path", ()))
    rename = _key_names(model, source_layout)
    out = []
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))):
        comps = [str(c) for c in path if c != "seq"]
        shape = tuple(var.shape)
        leaf, transform = _leaf(type(var), comps[-1], len(shape))
        key = ".".join([*comps[:-1], leaf])
        out.append(dict(
            path=path, keys=rename(key), shape=_to_torch_shape(shape, transform),
            transform=transform, head=bool(head) and tuple(path[: len(head)]) == head,
        ))
    return out


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
        source_layout: The file's key naming, ``"torchvision"`` or ``"timm"`` (e.g. timm's
            ``mobilenetv2_100`` or ViT files for ``mobilenetv2`` / ``vitb16r224``); ``None``
            expects the zoo's reference naming for the model (module doc).

    Raises:
        ValidationError: Listing every missing key, every unexpected key and every shape
            mismatch (paths are checkpoint keys), a missing file, an unknown
            ``source_layout`` or one the architecture has no checkpoints in.
        ImportError: A ``.pth`` checkpoint without PyTorch installed (message says how to
            install it).
    """
    layout = torch_layout(model, source_layout)
    sd = read_state_dict(path)
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


def _to_torch(arr: np.ndarray, transform: str) -> np.ndarray:
    if transform == "conv":
        return np.transpose(arr, (3, 2, 0, 1))
    if transform == "linear":
        return np.transpose(arr)
    return arr


def state_dict(model: nnx.Module, *, source_layout: str | None = None) -> dict[str, np.ndarray]:
    """The model's weights as a PyTorch-style ``state_dict`` of numpy arrays (the loader's inverse).

    Keys are the checkpoint names :func:`load_pretrained` reads with the same ``source_layout``
    (canonical names: torchvision >= 0.13 for torchvision ViTs), shapes PyTorch's (OIHW conv
    kernels, ``(out, in)`` linear weights), values float32 (float16/float64 kept); every
    BatchNorm also gets an int64 ``num_batches_tracked`` of 0, so the reference PyTorch model
    accepts the dict with ``load_state_dict(strict=True)``. Save it with
    ``safetensors.numpy.save_file``.

    Args:
        model: A model from :func:`~imgtune.train.models.create_model`.
        source_layout: ``"torchvision"``, ``"timm"`` or ``None`` (the zoo's reference naming).

    Returns:
        ``{key: array}`` in the model's variable order.

    Raises:
        ValidationError: An unknown ``source_layout`` or one the architecture has no
            checkpoints in.

    Example:
        >>> from flax import nnx
        >>> from imgtune.train.models import create_model
        >>> sd = state_dict(create_model("resnet18", 3, rngs=nnx.Rngs(0), width=0.125))
        >>> sd["conv1.weight"].shape, sd["fc.weight"].shape, int(sd["bn1.num_batches_tracked"])
        ((8, 3, 7, 7), (3, 64), 0)
    """
    out: dict[str, np.ndarray] = {}
    state = dict(nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))))
    for entry in torch_layout(model, source_layout):
        arr = np.asarray(state[entry["path"]][...])
        if arr.dtype not in (np.float16, np.float32, np.float64):
            arr = arr.astype(np.float32)
        key = entry["keys"][0]
        out[key] = np.ascontiguousarray(_to_torch(arr, entry["transform"]))
        if key.endswith(".running_var"):
            out[key[: -len("running_var")] + "num_batches_tracked"] = np.zeros((), np.int64)
    return out
