"""The models' ImageNet weights: which start a trial has, fetching them once, verifying them.

Light: it loads no JAX, so the driver (:func:`imgtune.run`, both executors) and the command
line call it before a sweep starts; a trial only reads what the driver fetched.

**Starting weights** (:func:`start_of`), in order: ``checkpoint_run_id`` (``"checkpoint"``);
``advanced_settings.pretrained_weights`` (``"file"``); ``advanced_settings.pretrained: false``
or a reduced ``model_width`` (``"scratch"``); else the model table's ImageNet weights
(``"pretrained"``, :attr:`imgtune.spec.models.ModelSpec.weights`) with a new head for the job's
classes. One's own model (:func:`imgtune.spec.models.custom_model`) starts ``"scratch"`` unless its
builder has a ``pretrained(model)`` hook (then ``"pretrained"``: the trial calls the hook; nothing
is fetched), and trains with the builder's ``mean``/``std``. A trial that resumes continues from its own checkpoint whatever its start was.

**Fetching** goes through ``huggingface_hub`` (:func:`fetch`): its cache (``HF_HOME``,
``HF_HUB_CACHE``), ``HF_HUB_OFFLINE``, tokens and ``HF_ENDPOINT`` mirrors all apply, and a
cache copied from another machine is used as it is. A model whose file is neither cached nor
downloadable is reported, with every other such model, in one
:class:`~imgtune.errors.ValidationError` that says the ways out.

**Verifying** (trust on first use): the table's ``sha256``, where a public source states one,
is checked on every load. Otherwise the first load records the file's sha256 in
``imgtune-sha256.json`` in the repository's cache folder (``models--<org>--<name>/``), keyed by
the Hub commit and file, and every later load checks it. A file that does not match is refused,
named, and never loaded.

Example:
    >>> from imgtune.spec.records import TrainingParameters
    >>> start_of(TrainingParameters(model_name="resnet18"))
    'pretrained'
    >>> start_of(TrainingParameters(advanced_settings='{"pretrained": false}'))
    'scratch'
    >>> preprocessing("vitb16r224", "pretrained")
    ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan
from imgtune.errors import Problem, ValidationError
from imgtune.spec.models import (
    AUTOMODE_PORTFOLIO,
    DEFAULT_MODEL,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODELS,
    hub_model,
    import_builder,
    model_spec,
)

__all__ = [
    "CHECKPOINT",
    "FILE",
    "PRETRAINED",
    "RECORD_FILE",
    "SCRATCH",
    "STARTS",
    "cache_root",
    "cached_path",
    "fetch",
    "own_weights",
    "plan_models",
    "preprocessing",
    "record_status",
    "start_of",
    "weights_path",
]

#: The starts a trial can have (``imgtune plan`` and ``render`` show them).
PRETRAINED, SCRATCH, FILE, CHECKPOINT = "pretrained", "scratch", "file", "checkpoint"
STARTS = (PRETRAINED, SCRATCH, FILE, CHECKPOINT)
#: The file, in a repository's cache folder, that records the sha256 of each file first loaded.
RECORD_FILE = "imgtune-sha256.json"

_WAYS_OUT = ("ways out: connect this machine to the Hugging Face Hub (or set HF_ENDPOINT to a mirror) and run "
             "again; or run `imgtune weights download {names}` on a connected machine and copy its cache "
             "(HF_HOME, default ~/.cache/huggingface) here; or train from random weights with "
             "advanced_settings: '{{\"pretrained\": false}}'")


def _advanced(params: Any) -> dict[str, Any]:
    text = getattr(params, "advanced_settings", None) or "{}"
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def start_of(params: Any, *, model_width: float = 1.0) -> str:
    """How a new trial with these training parameters starts (see the module doc).

    Args:
        params: The trial's :class:`~imgtune.spec.records.TrainingParameters`.
        model_width: The trial's width multiplier; below 1 no real weights fit (``"scratch"``).

    Returns:
        One of :data:`STARTS`.
    """
    advanced = _advanced(params)
    if getattr(params, "checkpoint_run_id", None):
        return CHECKPOINT
    if advanced.get("pretrained_weights"):
        return FILE
    if advanced.get("pretrained", True) is False or model_width < 1.0:
        return SCRATCH
    spec = model_spec(getattr(params, "model_name", None) or DEFAULT_MODEL)
    if spec is not None and spec.builder is not None and not spec.has_pretrained:
        return SCRATCH
    return PRETRAINED


def preprocessing(model_name: str, start: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation ``(mean, std)`` a trial of ``model_name`` with this start trains with.

    The table's weights bring their own statistics; every other start uses ImageNet's (a
    ``"checkpoint"`` start reads its checkpoint's own, which the trainer does).
    """
    spec = model_spec(model_name)
    if spec is not None and spec.builder is not None:  # one's own model: its own statistics, whatever the start
        return tuple(spec.mean), tuple(spec.std)
    if start == PRETRAINED and spec is not None:
        w = spec.weights
        return tuple(w.mean), tuple(w.std)
    return IMAGENET_MEAN, IMAGENET_STD


def own_weights(model_name: str, model: Any) -> None:
    """Loads one's own model's starting weights in place through its builder's ``pretrained(model)`` hook."""
    import_builder(model_spec(model_name).builder).pretrained(model)


def plan_models(plan: Plan) -> tuple[str, ...]:
    """The models whose table weights ``plan`` can need: every model it can propose whose trials
    start ``"pretrained"`` (AutoMode's portfolio and later draws, a search space's
    ``model_name`` choices, the trials already proposed), in the table's order."""
    job, names = plan.job, set()
    tp = job.training_parameters
    for t in plan.trials:
        if start_of(t.parameters) == PRETRAINED:
            names.add(t.parameters.model_name)
    if start_of(tp) == PRETRAINED:
        fixed = tp.model_name or DEFAULT_MODEL
        if plan.sampler.type == "automode":
            portfolio = [m for m, _ in AUTOMODE_PORTFOLIO]
            n = plan.limits.max_trials
            names.update(portfolio[:n] if n <= len(portfolio) else MODELS)
        elif not job.search_space:
            names.add(fixed)
        for space in job.search_space:
            value = getattr(space, "model_name", None)
            values = getattr(value, "values", None)
            names.update(values if values is not None else [value if isinstance(value, str) else fixed])
    hub = sorted(n for n in names if isinstance(n, str) and n not in MODELS and hub_model(n) is not None)
    return tuple(m for m in MODELS if m in names) + tuple(hub)


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The Hugging Face hub cache in use: ``cache_dir``, else ``HF_HUB_CACHE`` (``HF_HOME/hub``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants  # 300 modules (httpx, ...): only when weights are looked up

    return Path(constants.HF_HUB_CACHE)


def _repo_folder(repo: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    return cache_root(cache_dir) / ("models--" + repo.replace("/", "--"))


def cached_path(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The cached file of ``name``'s weights, or ``None`` when the cache does not hold it."""
    from huggingface_hub import try_to_load_from_cache  # see cache_root

    w = model_spec(name).weights
    found = try_to_load_from_cache(w.repo, w.filename, cache_dir=cache_dir, revision=w.revision)
    return Path(found) if isinstance(found, str) else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _commit_of(path: Path) -> str:
    # snapshots/<commit>/<file>: the commit the Hub served (or the pinned revision)
    return path.parent.name if path.parent.parent.name == "snapshots" else "local"


def record_status(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """``pinned`` (the table states the sha256), ``recorded`` (a first load recorded it) or
    ``-`` (neither yet)."""
    w = model_spec(name).weights
    if w.sha256:
        return "pinned"
    path = cached_path(name, cache_dir=cache_dir)
    if path is None:
        return "-"
    return "recorded" if _read_records(name, cache_dir).get(f"{_commit_of(path)}/{w.filename}") else "-"


def _read_records(name: str, cache_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    file = _repo_folder(model_spec(name).weights.repo, cache_dir) / RECORD_FILE
    try:
        value = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _verify(name: str, path: Path, cache_dir: str | os.PathLike[str] | None) -> Problem | None:
    """Checks ``path`` against the pinned or recorded sha256; records it on first use."""
    w = model_spec(name).weights
    digest = _sha256(path)
    if w.sha256:
        if digest != w.sha256:
            return Problem(name, f"{path}: sha256 {digest} does not match the pinned {w.sha256} of "
                                 f"{w.source}; refused (delete the file and download it again)")
        return None
    key = f"{_commit_of(path)}/{w.filename}"
    records = _read_records(name, cache_dir)
    known = records.get(key)
    if known is None:
        records[key] = digest
        try:
            write_atomic(_repo_folder(w.repo, cache_dir) / RECORD_FILE, json.dumps(records, indent=1, sort_keys=True))
        except OSError:  # a read-only cache: nothing can be recorded, the file is still used
            pass
        return None
    if known != digest:
        return Problem(name, f"{path}: sha256 {digest} differs from {known}, recorded when it was first loaded; "
                             f"refused (delete the repository's cache folder and download it again)")
    return None


def fetch(names: Iterable[str], *, cache_dir: str | os.PathLike[str] | None = None,
          local_files_only: bool = False) -> dict[str, Path]:
    """Resolves (downloading what is missing) and verifies the weights of ``names``.

    Downloads show ``huggingface_hub``'s progress bars. Call it in the driver, never in a trial.

    Args:
        names: Model names (Azure's).
        cache_dir: The hub cache (default: ``huggingface_hub``'s, from ``HF_HOME``).
        local_files_only: Never reach the network (the cache only).

    Returns:
        ``name -> path`` of each verified file.

    Raises:
        ValidationError: Every model whose file could not be had (with the ways out), and every
            file whose sha256 does not match; nothing is returned then.
    """
    from huggingface_hub import hf_hub_download  # see cache_root
    from huggingface_hub.utils import EntryNotFoundError  # see cache_root

    paths: dict[str, Path] = {}
    absent: list[str] = []
    problems: list[Problem] = []
    for name in dict.fromkeys(names):
        if model_spec(name) is None:
            problems.append(Problem(name, f"unknown model, expected one of {', '.join(MODELS)} or a timm Hub id "
                                          f"(timm/<architecture>[.<tag>][@<revision>])"))
            continue
        w = model_spec(name).weights
        try:
            path = Path(hf_hub_download(w.repo, w.filename, revision=w.revision, cache_dir=cache_dir,
                                        local_files_only=local_files_only))
        except (OSError, ValueError, EntryNotFoundError) as e:  # offline, not found, HTTP: a missing model here
            absent.append(name)
            text = str(e).strip()
            reason = text.splitlines()[0].split(". ")[0] if text else type(e).__name__
            problems.append(Problem(name, f"ImageNet weights {w.source} are not in the cache "
                                          f"({cache_root(cache_dir)}) and could not be downloaded: {reason}"))
            continue
        problem = _verify(name, path, cache_dir)
        if problem is not None:
            problems.append(problem)
        else:
            paths[name] = path
    if absent:
        problems.append(Problem("pretrained", _WAYS_OUT.format(names=" ".join(absent))))
    if problems:
        raise ValidationError(problems, title="pretrained weights")
    return paths


def weights_path(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The verified cached file of ``name``'s weights, without reaching the network (what a trial
    calls: the driver fetched them before the sweep).

    Raises:
        ValidationError: Not in this machine's cache (on a Ray cluster: each node's, unless
            ``HF_HOME`` is a shared folder), or a file that does not match.
    """
    try:
        return fetch([name], cache_dir=cache_dir, local_files_only=True)[name]
    except ValidationError as e:
        hint = Problem("pretrained", "a trial reads the weights from its own machine's Hugging Face cache: on a "
                                     "cluster, point HF_HOME at a folder every node shares, or run `imgtune "
                                     f"weights download {name}` on every node")
        raise ValidationError([*e.problems, hint], title="pretrained weights") from None

