"""The 2022 Azure schema, migrated on load: ``image_model``, ``sweep.limits``, the old parameter
names (``grad_accumulation_step``, ...), ``split_ratio`` and string distributions such as
``"uniform(0.001, 0.01)"``. Each migrated key is named in one :class:`LegacySchemaWarning`.

Example:
    >>> data, notes, renames, problems = migrate({"image_model": {"lr_scheduler": "step"}})
    >>> data["training_parameters"], notes
    ({'learning_rate_scheduler': 'step'}, ['image_model -> training_parameters', 'training_parameters.lr_scheduler -> learning_rate_scheduler'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgtune.errors import Problem, ValidationError
from imgtune.spec.convert import unstructure
from imgtune.spec.distributions import looks_like_distribution, parse_distribution

__all__ = ["LegacySchemaWarning", "RENAMED_PARAMETERS", "migrate"]


class LegacySchemaWarning(UserWarning):
    """A job used the pre-2022-09 schema (``image_model``, ``sweep.limits``, string distributions, ...).

    Example:
        >>> import warnings
        >>> from imgtune import loads
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     job = loads({"type": "automl", "task": "image_classification", "target_column_name": "label",
        ...                  "training_data": {"path": "d"}, "training_parameters": {"grad_accumulation_step": 2}})
        >>> job.training_parameters.gradient_accumulation_step, caught[0].category.__name__
        (2, 'LegacySchemaWarning')
    """


RENAMED_PARAMETERS = {
    "grad_accumulation_step": "gradient_accumulation_step",
    "valid_resize_size": "validation_resize_size",
    "valid_crop_size": "validation_crop_size",
    "train_crop_size": "training_crop_size",
    "lr_scheduler": "learning_rate_scheduler",
    "amsgrad": "ams_gradient",
}


def migrate(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, str], list[Problem]]:
    """Rewrites the legacy schema into the current one.

    Returns:
        The new data, a note per legacy key, new-path -> old-path renames (for
        line numbers), and the problems found (conflicts, unreadable strings).
    """
    data = dict(data)
    notes: list[str] = []
    renames: dict[str, str] = {}
    problems: list[Problem] = []
    if "image_model" in data:
        if "training_parameters" in data:
            problems.append(Problem("image_model", "cannot be given with training_parameters (its new name)"))
        else:
            data["training_parameters"] = data.pop("image_model")
            notes.append("image_model -> training_parameters")
            renames["training_parameters"] = "image_model"
    sweep = data.get("sweep")
    if isinstance(sweep, Mapping) and "limits" in sweep:
        sweep = dict(sweep)
        old = sweep.pop("limits")
        data["sweep"] = sweep
        limits = data.get("limits") or {}
        if isinstance(old, Mapping) and isinstance(limits, Mapping):
            clash = sorted(set(old) & set(limits))
            for key in clash:
                if old[key] != limits[key]:
                    problems.append(Problem(f"sweep.limits.{key}", f"conflicts with limits.{key}"))
            data["limits"] = {**limits, **old}
            for key in old:
                renames[f"limits.{key}"] = f"sweep.limits.{key}"
            notes.append("sweep.limits -> limits")
        else:
            problems.append(Problem("sweep.limits", "must be a mapping"))
    params = data.get("training_parameters")
    if isinstance(params, Mapping):
        params = dict(params)
        if "split_ratio" in params:
            data.setdefault("validation_data_size", params.pop("split_ratio"))
            notes.append("training_parameters.split_ratio -> validation_data_size")
        data["training_parameters"] = _rename_params(params, "training_parameters", notes, renames)
    spaces = data.get("search_space")
    if isinstance(spaces, Mapping):
        spaces = [spaces]
    if isinstance(spaces, list):
        new_spaces = []
        for i, space in enumerate(spaces):
            if isinstance(space, Mapping):
                space = _rename_params(dict(space), f"search_space[{i}]", notes, renames)
                for key, value in list(space.items()):
                    if looks_like_distribution(value):
                        try:
                            space[key] = unstructure(parse_distribution(value))
                            notes.append(f"search_space[{i}].{key}: {value!r} -> {space[key]}")
                        except ValidationError as err:
                            problems.extend(p.prefixed(f"search_space[{i}].{key}") for p in err.problems)
            new_spaces.append(space)
        data["search_space"] = new_spaces
    return data, notes, renames, problems


def _rename_params(params: dict[str, Any], path: str, notes: list[str], renames: dict[str, str]) -> dict[str, Any]:
    for old, new in RENAMED_PARAMETERS.items():
        if old in params and new not in params:
            params[new] = params.pop(old)
            notes.append(f"{path}.{old} -> {new}")
            renames[f"{path}.{new}"] = f"{path}.{old}"
    return params
