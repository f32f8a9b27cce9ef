"""Predicting with a trained model: images in, Azure-style scores out.

:func:`predict` (and ``imgtune predict DIR IMAGE...``) takes a run folder, its ``best/``
folder, a trial or checkpoint folder, or an exported ``.onnx`` file, and images given as
files, folders (searched recursively for image files), JSONL manifests (Azure's format: one
``{"image_url": ...}`` object a line; other keys, such as labels, are ignored) or raw encoded
image bytes. Each image goes through the model's validation transform (resize the shorter
side to ``validation_resize_size``, centre crop ``validation_crop_size``), then the model, in
batches.

One result per image, in input order, as Azure's scoring output::

    {"filename": "a.png", "probs": [0.91, 0.06, 0.03], "labels": ["cat", "dog", "fox"],
     "predicted": ["cat"]}

``labels[i]`` names ``probs[i]``. Multiclass probabilities are the softmax of the logits;
multilabel ones are a per-label sigmoid, and ``predicted`` lists the labels whose probability
is at least 0.5 (the threshold of the metrics); for multiclass it is the most probable label.
With ``top_k`` the lists are sorted by probability and cut to ``k`` (else they are in the
model's class order). An image that cannot be predicted (missing, not an image, unmapped
URL) gives ``{"filename": ..., "error": "..."}`` and the others are still predicted.

The JAX model and the ONNX export give the same probabilities up to float rounding (the
export's tests bound the logits' difference by 1e-4 relative), hence the same labels.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Union

import numpy as np
from flax import nnx

from imgtune.errors import Problem, ValidationError
from imgtune.export.onnx import (
    INPUT_NAME,
    onnx_session,
    read_metadata,
    temporary_export,
)
from imgtune.runner.store import BestLayout, RunLayout, model_folder
from imgtune.train.data import (
    IMAGE_EXTENSIONS,
    eval_crop,
    load_image,
    normalize,
    resolve_image_url,
)
from imgtune.train.inference import checkpoint_folder, load_model, logits_to_scores, normalization
from imgtune.train.metrics import THRESHOLD

__all__ = ["Images", "Predictor", "collect_images", "iter_predictions", "load_predictor", "predict"]

Images = Union[str, "os.PathLike[str]", bytes, Iterable[Union[str, "os.PathLike[str]", bytes]]]
"""What :func:`predict` takes: one path or bytes, or an iterable of them."""

_MANIFEST_SUFFIXES = (".jsonl",)


# -- inputs ----------------------------------------------------------------------------------


class _Item:
    """One image to predict: its display name, and where its bytes come from (or why not)."""

    __slots__ = ("name", "path", "data", "error")

    def __init__(self, name: str, *, path: Path | None = None, data: bytes | None = None,
                 error: str | None = None) -> None:
        self.name, self.path, self.data, self.error = name, path, data, error


def collect_images(images: Images, *, path_map: Mapping[str, str] | None = None) -> list[_Item]:
    """Expands files, folders, manifests and bytes into the images to predict, in order.

    A path that does not exist, an unreadable manifest line or an unmapped URL becomes an
    item carrying its error (reported for that image), never an exception.

    Raises:
        ValidationError: ``images`` is neither a path, bytes, nor an iterable of them.

    Example:
        >>> import tempfile
        >>> from imgtune.datasets import make_image_folder
        >>> folder = make_image_folder(tempfile.mkdtemp(), size=8, n=10)
        >>> items = collect_images([folder, b"not an image"])
        >>> len(items), items[-1].name
        (11, '<bytes 1>')
    """
    if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)):
        images = [images]
    try:
        entries = list(images)
    except TypeError:
        raise ValidationError([Problem("images", f"expected image paths or bytes (one, or an iterable of them), "
                                                 f"got {type(images).__name__}")]) from None
    items: list[_Item] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, (bytes, bytearray, memoryview)):
            items.append(_Item(f"<bytes {index}>", data=bytes(entry)))
            continue
        if not isinstance(entry, (str, os.PathLike)):
            items.append(_Item(f"<item {index}>", error=f"expected a path or image bytes, got "
                                                         f"{type(entry).__name__}"))
            continue
        path = Path(os.path.expanduser(os.fspath(entry)))
        name = os.fspath(entry)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not files:
                items.append(_Item(name, error=f"folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})"))
            items.extend(_Item(str(p), path=p) for p in files)
        elif path.suffix.lower() in _MANIFEST_SUFFIXES and path.is_file():
            items.extend(_manifest(path, path_map, resolve_image_url))
        elif not path.exists():
            items.append(_Item(name, error="file not found"))
        else:
            items.append(_Item(name, path=path))
    return items


def _manifest(path: Path, path_map: Mapping[str, str] | None, resolve: Any) -> Iterator[_Item]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        yield _Item(str(path), error=f"cannot read the manifest: {e}")
        return
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}[line {lineno}]"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield _Item(where, error=f"not valid JSON: {e.msg} (column {e.colno})")
            continue
        url = obj.get("image_url") if isinstance(obj, dict) else None
        if not isinstance(url, str) or not url:
            yield _Item(where, error="expected an object with a non-empty string image_url")
            continue
        local, err = resolve(url, path.parent, path_map)
        if err:
            yield _Item(url, error=err)
        elif not local.exists():
            yield _Item(url, error=f"file not found ({local})")
        else:
            yield _Item(url, path=local)


# -- models ----------------------------------------------------------------------------------


class Predictor:
    """A loaded model with its preprocessing: ``logits(pixels)`` on uint8 ``[n, crop, crop, 3]``.

    Attributes:
        labels: The class names, in the model's output order.
        multilabel: Whether the model is multilabel (sigmoid) rather than multiclass (softmax).
        resize_size: The validation resize (shorter side).
        crop_size: The validation centre crop.
        backend: ``"jax"`` or ``"onnx"``.

    Example:
        >>> import tempfile
        >>> # p = load_predictor("runs/job"); p.labels, p.logits(pixels)  (a trained model)
        >>> load_predictor(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          model: no checkpoint at ... (expected a run folder, best/, a trial or a checkpoint folder, or a .onnx file)
    """

    def __init__(self, labels: Sequence[str], multilabel: bool, resize_size: int, crop_size: int,
                 backend: str, run: Any) -> None:
        self.labels = tuple(labels)
        self.multilabel = bool(multilabel)
        self.resize_size, self.crop_size = int(resize_size), int(crop_size)
        self.backend = backend
        self._run = run

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """The model's logits, float32 ``[n, classes]``, for uint8 pixels ``[n, crop, crop, 3]``."""
        return self._run(pixels)


def load_predictor(source: str | os.PathLike[str], *, onnx: bool = False, batch_size: int = 32) -> Predictor:
    """Loads the model at ``source`` (a run, ``best/``, trial or checkpoint folder, or a ``.onnx`` file).

    Args:
        source: Where the model is.
        onnx: Run the ONNX export with onnxruntime (the run's ``best/model.onnx`` when it exists,
            else a temporary export) instead of the JAX model.
        batch_size: The JAX model is compiled for this batch size (smaller batches are padded).

    Raises:
        ValidationError: No model at ``source``, or a missing optional package.

    Example:
        >>> import tempfile
        >>> # predictor = load_predictor("runs/job"); predict(predictor, ["a.png", "b.png"])  (loaded once)
        >>> load_predictor(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          model: ...
    """
    path = Path(source)
    if path.suffix.lower() == ".onnx" or onnx:
        return _onnx_predictor(path)
    return _jax_predictor(path, batch_size)


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)  # loads onnx or onnxruntime: only for --onnx
    except ImportError:
        return False
    return True


def _onnx_predictor(path: Path) -> Predictor:
    missing = [m for m in ("onnx", "onnxruntime") if not _importable(m)]
    if missing:  # said before any export or load
        raise ValidationError([Problem("onnx", f"predicting with --onnx needs {' and '.join(missing)}: "
                                               f"pip install 'imgtune[onnx]'")])
    temporary = None
    if path.suffix.lower() != ".onnx":
        existing = [p for p in (RunLayout(path).best.model_onnx, BestLayout(path).model_onnx) if p.is_file()]
        if existing:
            path = existing[0]
        else:
            path = temporary = temporary_export(path)
    elif not path.is_file():
        raise ValidationError([Problem("model", f"{path}: file not found")])
    try:
        meta = read_metadata(path)
        session = onnx_session(path)  # holds the model in memory: the file can go
    finally:
        if temporary is not None:
            shutil.rmtree(temporary.parent, ignore_errors=True)
    in_graph = bool(meta["normalization_in_graph"])
    norm = normalization(meta)

    def run(pixels: np.ndarray) -> np.ndarray:
        x = pixels.astype(np.float32) / np.float32(255.0) if in_graph else normalize(pixels, **norm)
        return session.run(None, {INPUT_NAME: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]

    return Predictor(meta["labels"], meta["multilabel"], meta["validation_resize_size"],
                     meta["validation_crop_size"], "onnx", run)


def _jax_predictor(path: Path, batch_size: int) -> Predictor:

    try:
        folder = checkpoint_folder(model_folder(path))
    except FileNotFoundError:
        raise ValidationError([Problem("model", f"no checkpoint at {path} (expected a run folder, best/, a trial or "
                                                f"a checkpoint folder, or a .onnx file)")]) from None
    model, info = load_model(folder)
    norm = normalization(info)

    @nnx.jit
    def forward(m: Any, x: Any) -> Any:  # logits, as the ONNX graph gives them: scores come from one place
        return m(x, train=False).astype("float32")

    def run(pixels: np.ndarray) -> np.ndarray:
        n = len(pixels)
        x = normalize(pixels, **norm)
        size = min(batch_size, n)  # a batch smaller than batch_size (the last) compiles once more
        out = []
        for start in range(0, n, size):
            chunk = x[start:start + size]
            pad = size - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            out.append(np.asarray(forward(model, chunk))[:size - pad])
        return np.concatenate(out)

    return Predictor(info["classes"], info["multilabel"], info["validation_resize_size"],
                     info["validation_crop_size"], "jax", run)


# -- results ----------------------------------------------------------------------------------


def _result(name: str, probs: np.ndarray, labels: Sequence[str], multilabel: bool, top_k: int | None) -> dict:
    order = np.argsort(-probs, kind="stable")[:top_k] if top_k else np.arange(len(probs))
    predicted = ([labels[i] for i in range(len(labels)) if probs[i] >= THRESHOLD] if multilabel
                 else [labels[int(np.argmax(probs))]])
    return {"filename": name, "probs": [float(probs[i]) for i in order], "labels": [labels[i] for i in order],
            "predicted": predicted}


# -- the entry points ------------------------------------------------------------------------


def iter_predictions(source: str | os.PathLike[str] | Predictor, images: Images, *, top_k: int | None = None,
                     batch_size: int = 32, onnx: bool = False, path_map: Mapping[str, str] | None = None,
                     workers: int | None = None) -> Iterator[dict[str, Any]]:
    """:func:`predict`, one result at a time (a batch is decoded and run as a whole).

    Example:
        >>> import tempfile
        >>> # for result in iter_predictions("runs/job", "images/"): print(result["filename"], result["labels"][0])
        >>> next(iter_predictions(tempfile.mkdtemp(), ["cat.png"]))
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          model: no checkpoint at ... (expected a run folder, best/, a trial or a checkpoint folder, or a .onnx file)
    """
    problems = []
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        problems.append(Problem("top_k", f"must be an integer >= 1, got {top_k!r}"))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        problems.append(Problem("batch_size", f"must be an integer >= 1, got {batch_size!r}"))
    if problems:
        raise ValidationError(problems)
    items = collect_images(images, path_map=path_map)
    predictor = source if isinstance(source, Predictor) else load_predictor(source, onnx=onnx,
                                                                             batch_size=batch_size)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(items), batch_size):
            batch = items[start:start + batch_size]
            pixels = list(pool.map(lambda it: _pixels(it, predictor), batch))
            ok = [i for i, p in enumerate(pixels) if not isinstance(p, str)]
            probs = np.asarray(logits_to_scores(predictor.logits(np.stack([pixels[i] for i in ok])),
                                                 predictor.multilabel)) if ok else []
            by_index = dict(zip(ok, probs))
            for i, item in enumerate(batch):
                if i in by_index:
                    yield _result(item.name, by_index[i], predictor.labels, predictor.multilabel, top_k)
                else:
                    yield {"filename": item.name, "error": pixels[i]}


def _pixels(item: _Item, predictor: Predictor) -> np.ndarray | str:
    """The image's cropped pixels, or the reason it cannot be read."""
    import io

    if item.error is not None:
        return item.error
    try:
        image = load_image(item.path if item.path is not None else io.BytesIO(item.data))
    except ValidationError as e:
        return "; ".join(p.message for p in e.problems)
    return eval_crop(image, resize_size=predictor.resize_size, crop_size=predictor.crop_size)


def predict(source: str | os.PathLike[str] | Predictor, images: Images, *, top_k: int | None = None,
            batch_size: int = 32, onnx: bool = False, path_map: Mapping[str, str] | None = None) -> list[dict]:
    """Predicts images with a trained model; one Azure-style result per image (see the module doc).

    Args:
        source: A run folder (its best model), its ``best/``, a trial or checkpoint folder, an
            exported ``.onnx`` file, or a :class:`Predictor` from :func:`load_predictor`.
        images: Image files, folders, JSONL manifests or encoded image bytes (one or several).
        top_k: Keep the ``k`` most probable labels, most probable first.
        batch_size: Images per forward pass.
        onnx: Use onnxruntime on the ONNX export instead of JAX.
        path_map: URL prefix -> local folder, for remote ``image_url`` values in manifests.

    Returns:
        ``[{"filename", "probs", "labels", "predicted"}, ...]`` (or ``{"filename", "error"}`` for
        an image that could not be predicted), in input order.

    Raises:
        ValidationError: A bad ``top_k``/``batch_size``, or no model at ``source``.

    Example:
        >>> import tempfile
        >>> # predict("runs/job", ["cat.png"], top_k=1) -> [{"probs": [...], "labels": [...], ...}]
        >>> predict(tempfile.mkdtemp(), ["cat.png"])   # a folder without a trained model
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          model: no checkpoint at ... (expected a run folder, best/, a trial or a checkpoint folder, or a .onnx file)
    """
    return list(iter_predictions(source, images, top_k=top_k, batch_size=batch_size, onnx=onnx,
                                 path_map=path_map))
