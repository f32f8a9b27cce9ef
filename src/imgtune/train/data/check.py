"""The data check before training: every problem with a job's data, found before the first trial.

:func:`check_job_data` reads the job's manifests (no image is decoded; no JAX is imported) and
lists every problem at once, as one :class:`~imgtune.errors.ValidationError`:

* a data asset (``azureml:name:version``) or ``azureml://`` input is mapped to a local folder
  (:mod:`imgtune.train.data.assets`: the path map, the job's ``path_map`` or ``imgtune-assets.yaml``);
* each input (``training_data``, ``validation_data``, ``test_data``) can be read: its path exists,
  its manifest parses, every line has ``image_url`` and the label column (``target_column_name``);
* every image file it names exists (the first few missing ones are listed, and how many);
* the training data has at least two classes (multiclass) or at least one label (multilabel), and
  the validation and test data use only the training data's classes;
* the sizes fit the data and memory: each trial's ``training_batch_size`` is at most the number of
  training images (else an epoch trains on nothing), and one batch's pixels
  (``batch size x crop size^2 x 3`` float32) stay under :data:`MAX_BATCH_BYTES`.

The sizes' bounds that are properties of the job alone (``number_of_epochs``, crops, batch sizes)
are checked when the job is validated (:mod:`imgtune.spec.fields`). ``imgtune run`` calls this
before any trial starts (bad data exits 2); ``imgtune validate --data`` calls it on request.

Example:
    >>> import imgtune, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> job = imgtune.loads("type: automl\\ntask: image_classification\\ntarget_column_name: label\\n"
    ...                     "training_data: {path: missing, type: mltable}", base_path=folder)
    >>> check_job_data(job)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      training_data.path: .../missing/MLTable: no MLTable file (the folder does not exist)...
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from imgtune.errors import Problem, ValidationError
from imgtune.spec.records import ImageClassificationJobBase, TrainingParameters
from imgtune.train.data.assets import ASSETS_FILE, check_assets, read_assets_file
from imgtune.train.data.read import Example, check_labels, class_names, read_examples

__all__ = ["MAX_BATCH_BYTES", "check_job_data"]

#: The largest batch of input pixels (float32) a trial may ask for: 8 GiB.
MAX_BATCH_BYTES = 8 * 2**30
_LISTED = 5  # missing images named in a problem


def check_job_data(job: ImageClassificationJobBase, parameters: Iterable[TrainingParameters] = (), *,
                   path_map: Mapping[str, str] | None = None) -> None:
    """Checks the job's data and, for each trial's (resolved) ``parameters``, the sizes (see the module doc).

    Args:
        job: The job (its ``base_path`` set: relative paths resolve against it).
        parameters: The trials' training parameters (a plan's ``trial.parameters``).
        path_map: URL prefix -> local folder (added to the job's own).

    Raises:
        ValidationError: Every problem found, each with its field.
    """
    problems: list[Problem] = []
    common = {"base_path": job.base_path, "target_column_name": job.target_column_name, "multilabel": job.multilabel}
    inputs = [("training_data", job.training_data), ("validation_data", job.validation_data),
              ("test_data", job.test_data)]
    parameters = tuple(parameters)
    read: dict[str, tuple[Example, ...]] = {}
    unmapped: set[str] = set()
    try:  # data assets (azureml:name:version) first: an unmapped one is said so, not "does not exist"
        check_assets(job, path_map)
    except ValidationError as err:
        problems += err.problems
        unmapped = {p.path.split(".")[0] for p in err.problems}
    if parameters:  # the job's own path map (advanced_settings), as the trials read it
        path_map = {**_settings_map(parameters[0]), **(path_map or {})}
    if ASSETS_FILE not in unmapped:
        path_map = {**read_assets_file(job.base_path), **(path_map or {})}
    for field, value in inputs:
        if value is None or field in unmapped:
            continue
        try:
            read[field] = read_examples(value.path, value.type, field=field, path_map=dict(path_map or {}), **common)
        except ValidationError as err:
            problems += err.problems
    train = read.get("training_data")
    if train is not None:
        classes = class_names(train)
        if job.multilabel and not classes:
            problems.append(Problem("training_data", "has no labels (every image's label list is empty); a "
                                                     "multilabel task needs at least one"))
        elif not job.multilabel and len(classes) < 2:
            problems.append(Problem("training_data", f"has {len(classes)} class{'' if len(classes) == 1 else 'es'}"
                                                     f"{' (' + classes[0] + ')' if classes else ''}; image "
                                                     f"classification needs at least two"))
        for field in ("validation_data", "test_data"):
            if field in read:
                try:
                    check_labels(read[field], classes, field)
                except ValidationError as err:
                    problems += err.problems
    for field, examples in read.items():
        missing = [e for e in examples if not os.path.isfile(e.path)]
        if missing:
            named = ", ".join(e.path for e in missing[:_LISTED])
            more = f" and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
            problems.append(Problem(field, f"{len(missing)} of its {len(examples)} images do not exist: {named}{more}"))
    if train is not None:
        problems += _size_problems(job, train, parameters)
    if problems:
        raise ValidationError(_unique(problems))


def _settings_map(params: TrainingParameters) -> dict[str, str]:
    import json

    try:
        settings = json.loads(params.advanced_settings or "{}")
    except ValueError:
        return {}
    found = settings.get("path_map") if isinstance(settings, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def _size_problems(job: ImageClassificationJobBase, train: tuple[Example, ...],
                   parameters: Iterable[TrainingParameters]) -> list[Problem]:
    held_out = (job.validation_data_size or 0.2 if job.validation_data is None else 0.0) \
        + (job.test_data_size or 0.0 if job.test_data is None else 0.0)
    n_train = max(0, len(train) - round(len(train) * held_out))
    out = []
    for params in parameters:
        batch, crop = params.training_batch_size, params.training_crop_size
        if batch is not None and batch > n_train:
            out.append(Problem("training_parameters.training_batch_size",
                               f"is {batch}, more than the {n_train} training images (after the validation and "
                               f"test splits): an epoch would train on none; lower it"))
        for name, size, c in (("training_batch_size", batch, crop),
                              ("validation_batch_size", params.validation_batch_size, params.validation_crop_size)):
            if size is not None and c is not None and size * c * c * 3 * 4 > MAX_BATCH_BYTES:
                out.append(Problem(f"training_parameters.{name}",
                                   f"is {size} at a crop of {c} px: one batch would need "
                                   f"{size * c * c * 12 / 2**30:.0f} GiB (at most {MAX_BATCH_BYTES // 2**30} GiB); "
                                   f"lower it or the crop size"))
    return out


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
