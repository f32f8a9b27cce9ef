"""ONNX export of a trained model, in Azure AutoML's format.

The exported graph, as Azure's ``model.onnx`` for classification:

* input ``input1``: float32 ``(batch, 3, crop, crop)``, RGB, NCHW, with a dynamic batch size;
  ``crop`` is the model's ``validation_crop_size``.
* output ``output1``: float32 ``(batch, classes)`` **logits** (no softmax or sigmoid); class
  ``i`` is ``labels.json[i]``.
* With ``enable_onnx_normalization: true`` the normalisation is inside the graph and
  ``input1`` is the cropped image scaled to 0-1 (``pixels / 255``). Without it (the default)
  ``input1`` is already normalised: ``(pixels / 255 - mean) / std`` with the statistics the
  model's weights expect (its ``info.json``'s ``mean``/``std``, in the file's metadata): ImageNet's
  ``mean = [0.485, 0.456, 0.406]`` and ``std = [0.229, 0.224, 0.225]`` for most, 0.5 for timm's
  ``augreg`` ViT weights.

The model's own metadata (labels, task, sizes, normalisation) is stored in the file's
``metadata_props`` (key ``imgtune``, JSON), so :func:`imgtune.predict` can use a ``.onnx``
file on its own.

How the graph is made: jax2onnx traces the Flax model inside
:func:`imgtune.train.models.layers.portable_ops`, where every convolution and pooling is a
single native op (ONNX ``Conv`` with ``group``; pooling as slices and ``Max``). Two faults of
jax2onnx are worked around here, each with a test in ``tests/export``:

* its ``pad`` lowering fails on a tensor whose batch size is symbolic (``Symbolic dimension
  'batch' used in a context that requires a constant``): padding is built by concatenation
  under ``portable_ops``, and convolutions carry their padding as an attribute;
* the intermediate shape annotations (``value_info``) it writes have been seen to contradict
  what onnxruntime infers (on residual additions), making the model fail to load; they are
  dropped (onnxruntime infers shapes itself) and the graph is checked with ONNX's full
  shape inference before it is written.

Our max pooling is our own (PyTorch semantics, integer padding), never ``nnx.max_pool``, which
jax2onnx replaces during export with a function that accepts keyword arguments and string
padding only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.runner.store import BestLayout, default_onnx_path, model_folder
from imgtune.spec.models import MODELS, model_spec
from imgtune.train.inference import checkpoint_folder, load_model, normalization
from imgtune.train.models.layers import portable_ops

__all__ = ["INPUT_NAME", "METADATA_KEY", "OUTPUT_NAME", "export_onnx", "onnx_session", "read_metadata", "temporary_export",
           "to_onnx_proto"]

INPUT_NAME = "input1"
OUTPUT_NAME = "output1"
METADATA_KEY = "imgtune"
_INSTALL = "needs the ONNX packages: pip install 'imgtune[onnx]'"


def _require_jax2onnx() -> Any:
    try:
        import jax2onnx
        import onnx  # noqa: F401
    except ImportError as e:
        raise ValidationError([Problem("onnx", f"{_INSTALL} ({e})")]) from None
    return jax2onnx


def to_onnx_proto(model: Any, info: dict[str, Any], *, normalize: bool) -> Any:
    """The ONNX ``ModelProto`` of a Flax model described by a checkpoint's ``info``.

    Args:
        model: The Flax NNX model (NHWC, ImageNet-normalised input, logits out).
        info: The checkpoint's ``info.json`` (``classes``, ``multilabel``, sizes, ``model_name``).
        normalize: Put the ImageNet normalisation in the graph (input 0-1 RGB).

    Returns:
        The checked ``onnx.ModelProto``.
    """
    jax2onnx = _require_jax2onnx()
    import jax.numpy as jnp
    import numpy as np
    import onnx

    crop = int(info["validation_crop_size"])
    norm = normalization(info)  # the statistics the model's weights expect (older checkpoints: ImageNet's)
    mean = np.asarray(norm["mean"], np.float32).reshape(1, 3, 1, 1)
    inv_std = (1.0 / np.asarray(norm["std"], np.float32)).reshape(1, 3, 1, 1)

    def forward(x: Any) -> Any:
        if normalize:
            x = (x - jnp.asarray(mean)) * jnp.asarray(inv_std)
        logits = model(jnp.transpose(x, (0, 2, 3, 1)), train=False)
        return logits.astype(jnp.float32)

    own = model_spec(str(info.get("model_name"))) if info.get("model_name") not in MODELS else None
    try:
        with portable_ops(), _quiet("onnx_ir", "jax2onnx"):
            proto = jax2onnx.to_onnx(forward, inputs=[("batch", 3, crop, crop)], input_names=[INPUT_NAME],
                                     output_names=[OUTPUT_NAME], model_name=str(info.get("model_name", "imgtune")))
    except Exception as e:
        if own is None or own.builder is None:
            raise
        # one's own model may use an operation jax2onnx cannot convert: say so, not its traceback
        raise ValidationError([Problem("model_name", f"one's own model {own.builder} is not exportable to ONNX "
                                                     f"({type(e).__name__}: {str(e)[:300]}); predict with the JAX "
                                                     f"model instead (imgtune predict without --onnx)")]) from None
    del proto.graph.value_info[:]  # see the module doc: onnxruntime infers these itself
    meta = {"labels": list(info["classes"]), "multilabel": bool(info["multilabel"]),
            "model_name": info.get("model_name"), "validation_resize_size": int(info["validation_resize_size"]),
            "validation_crop_size": crop, "normalization_in_graph": bool(normalize),
            "mean": list(norm["mean"]), "std": list(norm["std"])}
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    proto.producer_name = "imgtune"
    onnx.checker.check_model(proto, full_check=True)
    return proto


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silences the exporter's warnings (hundreds of "value type ... not known" lines for
    shape-computation constants it leaves untyped; onnxruntime types them on load)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def export_onnx(source: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None, *,
                normalize: bool | None = None, overwrite: bool = False) -> Path:
    """Exports a trained model to ONNX (see the module doc for the graph's contract).

    Args:
        source: A run folder (its best model), its ``best/`` folder, a trial's folder or a
            checkpoint folder.
        dest: The ``.onnx`` file to write (default: ``model.onnx`` in the run's ``best/``
            folder, or beside the checkpoint).
        normalize: ImageNet normalisation inside the graph; default: the model's
            ``enable_onnx_normalization``.
        overwrite: Replace an existing ``dest`` (by default an existing file is never touched).

    Returns:
        The path written (atomically).

    Raises:
        ValidationError: No checkpoint at ``source``, or the ONNX packages are missing.
        FileExistsError: ``dest`` exists and ``overwrite`` is false.

    Example:
        >>> import tempfile
        >>> # export_onnx("runs/job") -> Path("runs/job/best/model.onnx")
        >>> export_onnx(tempfile.mkdtemp())   # a folder without a trained model
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          source: no checkpoint at ... (expected a run folder, best/, a trial or a checkpoint folder)
    """
    _require_jax2onnx()
    try:
        folder = checkpoint_folder(model_folder(source))
    except FileNotFoundError:
        raise ValidationError([Problem("source", f"no checkpoint at {Path(source)} (expected a run folder, best/, "
                                                 f"a trial or a checkpoint folder)")]) from None
    target = Path(dest) if dest is not None else default_onnx_path(source)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--force) to replace it")
    model, info = load_model(folder)
    proto = to_onnx_proto(model, info, normalize=bool(info.get("enable_onnx_normalization", False))
                          if normalize is None else normalize)
    write_atomic(target, proto.SerializeToString(), overwrite=overwrite)
    return target


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The imgtune metadata stored in an exported ``.onnx`` file (labels, task, sizes).

    Raises:
        ValidationError: The file is not an ONNX model exported by imgtune, or the ONNX packages
            are missing (the message says how to install them).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.onnx"
        >>> read_metadata(path)   # a file that is not there
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          model: .../model.onnx: not an ONNX model (FileNotFoundError: ...)
    """
    try:
        import onnx
    except ImportError as e:
        raise ValidationError([Problem("onnx", f"{_INSTALL} ({e})")]) from None

    try:
        proto = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - onnx raises protobuf's DecodeError and others
        raise ValidationError([Problem("model", f"{path}: not an ONNX model ({type(e).__name__}: {e})")]) from None
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    raise ValidationError([Problem("model", f"{path}: has no imgtune metadata (exported by another tool?)")])


def onnx_session(path: str | os.PathLike[str]) -> Any:
    """An onnxruntime CPU session for an exported file."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ValidationError([Problem("onnx", _INSTALL)]) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"])


def temporary_export(source: str | os.PathLike[str]) -> Path:
    """Exports ``source`` into a fresh temporary folder (for ``predict --onnx`` on a run without one)."""
    folder = Path(tempfile.mkdtemp(prefix="imgtune-onnx-"))
    return export_onnx(source, folder / BestLayout.MODEL_ONNX)
