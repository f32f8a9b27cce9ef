"""Azure data assets (``azureml:name:version``, ``azureml:name@latest``) and ``azureml://`` URIs as
inputs, resolved through a local mapping.

An input whose ``path`` names an asset or an ``azureml://`` URI is read from the local folder (or
file) it is mapped to. The mapping is, in order of precedence (the first that maps the path wins):

1. the ``path_map`` given to ``imgtune.run`` or ``--path-map PREFIX=DIR`` on the command line;
2. the job's ``training_parameters.advanced_settings`` ``path_map``;
3. the assets file :data:`ASSETS_FILE` beside the job (in its ``base_path``): a YAML mapping of
   asset (or URI prefix) to local folder, relative folders resolving against the job's folder::

       # imgtune-assets.yaml
       azureml:fridge-items-train:1: data/train
       azureml:fridge-items-valid@latest: data/valid
       azureml://datastores/workspaceblobstore/paths/: /mnt/blob/

A key maps every path that starts with it (the longest key wins), as a path map does. An unmapped
asset is a validation error (``imgtune validate`` and, before the sweep, ``imgtune run``) saying
how to map it.

Example:
    >>> import imgtune, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> job = imgtune.loads("type: automl\\ntask: image_classification\\ntarget_column_name: label\\n"
    ...                     "training_data: {path: 'azureml:fridge:1'}", base_path=folder)
    >>> check_assets(job)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      training_data.path: data asset 'azureml:fridge:1' is not mapped to a local folder: ...
    >>> _ = (folder / ASSETS_FILE).write_text("azureml:fridge:1: data/fridge\\n")
    >>> check_assets(job)
    >>> asset_path_map(job)
    {'azureml:fridge:1': 'data/fridge'}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from imgtune.errors import Problem, ValidationError
from imgtune.serialization.yaml_text import parse_with_marks
from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["ASSETS_FILE", "asset_path_map", "check_assets", "is_asset", "read_assets_file", "run_path_map"]

#: The assets file beside a job: asset (or URI prefix) -> local folder.
ASSETS_FILE = "imgtune-assets.yaml"

_MAX_BYTES = 1_000_000
_INPUTS = ("training_data", "validation_data", "test_data")


def is_asset(path: str) -> bool:
    """Whether an input path names an Azure data asset or an ``azureml://`` URI.

    Example:
        >>> is_asset("azureml:fridge:1"), is_asset("azureml://datastores/x/paths/d"), is_asset("data/train")
        (True, True, False)
    """
    return isinstance(path, str) and path.startswith("azureml:")


def read_assets_file(base_path: str | os.PathLike[str] | None) -> dict[str, str]:
    """The mapping of :data:`ASSETS_FILE` in ``base_path`` (the current folder for ``None``); ``{}`` when
    there is none.

    Raises:
        ValidationError: The file is not a mapping of strings to strings.
    """
    path = Path(base_path if base_path is not None else ".") / ASSETS_FILE
    if not path.is_file():
        return {}
    with open(path, "rb") as fh:
        raw = fh.read(_MAX_BYTES + 1)
    if len(raw) > _MAX_BYTES:
        raise ValidationError([Problem(ASSETS_FILE, f"{path}: is larger than {_MAX_BYTES:,} bytes")])
    try:
        data, _ = parse_with_marks(raw.decode("utf-8"))
    except ValidationError as err:
        raise ValidationError([p.prefixed(ASSETS_FILE) for p in err.problems]) from None
    except UnicodeDecodeError:
        raise ValidationError([Problem(ASSETS_FILE, f"{path}: is not UTF-8 text")]) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError([Problem(ASSETS_FILE, f"{path}: must map assets to local folders, e.g. "
                                                    "'azureml:fridge:1: data/fridge'")])
    problems = [Problem(f"{ASSETS_FILE}.{k}", f"must be a local folder (a string), got {v!r}")
                for k, v in data.items() if not (isinstance(k, str) and isinstance(v, str) and v)]
    if problems:
        raise ValidationError(problems)
    return dict(data)


def _settings_path_map(job: ImageClassificationJobBase) -> dict[str, str]:
    try:
        settings = json.loads(job.training_parameters.advanced_settings or "{}")
    except (ValueError, AttributeError):
        return {}
    found = settings.get("path_map") if isinstance(settings, dict) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def asset_path_map(job: ImageClassificationJobBase, path_map: Mapping[str, str] | None = None) -> dict[str, str]:
    """The path map the job's inputs resolve through: the assets file, then the job's ``path_map``,
    then ``path_map`` (each later one wins for the same key)."""
    return {**read_assets_file(job.base_path), **_settings_path_map(job), **dict(path_map or {})}


def run_path_map(job: ImageClassificationJobBase, path_map: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The path map a run hands its trials (which add the job's own ``path_map`` under it): ``path_map``
    over the assets file's entries that the job's ``path_map`` does not name; ``None`` when empty."""
    settings = _settings_path_map(job)
    merged = {**{k: v for k, v in read_assets_file(job.base_path).items() if k not in settings},
              **dict(path_map or {})}
    return merged or None


def check_assets(job: ImageClassificationJobBase, path_map: Mapping[str, str] | None = None) -> None:
    """Raises one :class:`~imgtune.errors.ValidationError` listing every input asset that nothing maps.

    Raises:
        ValidationError: An unmapped asset (saying how to map it), or a malformed assets file.
    """
    mapping = asset_path_map(job, path_map)
    problems = []
    for field in _INPUTS:
        data = getattr(job, field, None)
        path = getattr(data, "path", None)
        if is_asset(path) and not any(path.startswith(k) for k in mapping):
            kind = "URI" if path.startswith("azureml://") else "data asset"
            where = Path(job.base_path) / ASSETS_FILE if job.base_path is not None else ASSETS_FILE
            problems.append(Problem(f"{field}.path", (
                f"{kind} {path!r} is not mapped to a local folder: imgtune reads local data. Map it in "
                f"{where} (a line '{path}: local/folder') or in training_parameters.advanced_settings "
                f"('{{\"path_map\": {{\"{path}\": \"local/folder\"}}}}'), or pass --path-map '{path}=local/folder'")))
    if problems:
        raise ValidationError(problems)
