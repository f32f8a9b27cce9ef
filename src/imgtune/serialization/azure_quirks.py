"""Azure's habits in job files, read the sound way. Only YAML (and mappings given to
:func:`imgtune.loads`) go through here: a record built in Python takes exactly what it is given.

* **The unused bandit slack.** azure-ai-ml writes both ``slack_factor`` and ``slack_amount``,
  with ``0.0`` for the one not used; a zero beside a non-zero other is read as unset.
* **Concurrency above the trial count.** The service caps ``max_concurrent_trials`` at
  ``max_trials``; a file that asks for more is read capped, with a warning.

Each of the following is read with an :class:`AzureQuirkWarning` naming the key:

* **Both bandit slacks** ``0.0`` (what ``BanditPolicy()`` dumps): a zero slack, read as
  ``slack_factor: 0.0`` (the same rule as ``slack_amount: 0.0``: a trial behind the best is stopped).
* **Integral floats for integers** (``number_of_epochs: 10.0``) in the training parameters, the
  limits and the policy: read as the integer; ``10.5`` stays an error.
* **Model names in any casing** (``ResNet50``): read as the name in the model table.
* **validation_data with validation_data_size**: the validation data wins, as in Azure (the
  size is used only when there is no validation data); the size is dropped.
* **Unknown advanced_settings keys** (Azure has many): kept and written back, unused.
* **The azureml: prefix on a local path** (azure-ai-ml's dump writes ``azureml:data/train``):
  removed. ``azureml:name:version``, ``azureml:name@latest`` and ``azureml://`` stay: they are
  data assets (see :mod:`imgtune.train.data.assets`).

Example:
    >>> normalize({"sweep": {"early_termination": {"type": "bandit", "slack_factor": 0.2, "slack_amount": 0.0}}})
    {'sweep': {'early_termination': {'type': 'bandit', 'slack_factor': 0.2}}}
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imgtune.spec.checks import is_int, is_number
from imgtune.spec.fields import ADVANCED_SETTINGS, LIMITS, POLICY_FIELDS, TRAINING_PARAMETERS, Kind, near_known_setting
from imgtune.spec.models import MODEL_NAMES

__all__ = ["AzureQuirkWarning", "normalize"]


class AzureQuirkWarning(UserWarning):
    """A job file used a form Azure accepts with a clear meaning that imgtune reads the sound way
    (see the module doc); the message names the key.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     data = normalize({"training_parameters": {"number_of_epochs": 10.0, "model_name": "ResNet50"}})
        >>> data["training_parameters"], [w.category.__name__ for w in caught]
        ({'number_of_epochs': 10, 'model_name': 'resnet50'}, ['AzureQuirkWarning', 'AzureQuirkWarning'])
    """


_MODELS_BY_LOWER = {name.lower(): name for name in MODEL_NAMES}
_DATA_KEYS = ("training_data", "validation_data", "test_data")


_PACKAGE = str(Path(__file__).resolve().parents[1])


def _warn(key: str, message: str) -> None:
    """Warns at the caller's line: the first frame outside imgtune."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(f"{key}: {message}", AzureQuirkWarning, stacklevel=level)


def normalize(data: Mapping[str, Any]) -> dict[str, Any]:
    """The job mapping with Azure's quirks read as imgtune means them (see the module doc).

    Anything malformed is left as it is, for the records to report.
    """
    data = dict(data)
    sweep = data.get("sweep")
    if isinstance(sweep, Mapping) and isinstance(sweep.get("early_termination"), Mapping):
        policy = _integral(_without_unused_slack(sweep["early_termination"]), POLICY_FIELDS,
                           "sweep.early_termination")
        data["sweep"] = {**sweep, "early_termination": policy}
    limits = data.get("limits")
    if isinstance(limits, Mapping):
        data["limits"] = _capped_concurrency(_integral(limits, LIMITS, "limits"))
    params = data.get("training_parameters")
    if isinstance(params, Mapping):
        params = _integral(params, TRAINING_PARAMETERS, "training_parameters")
        params = _model_casing(params, "training_parameters")
        data["training_parameters"] = _advanced_settings(params)
    space = data.get("search_space")
    if isinstance(space, (list, tuple)):
        data["search_space"] = [_model_casing(s, f"search_space[{i}]") if isinstance(s, Mapping) else s
                                for i, s in enumerate(space)]
    if data.get("validation_data") is not None and data.get("validation_data_size") is not None:
        _warn("validation_data_size", f"{data['validation_data_size']!r} is unused beside validation_data "
                                      "(as in Azure, the validation data wins); dropped")
        data = {k: v for k, v in data.items() if k != "validation_data_size"}
    for key in _DATA_KEYS:
        if isinstance(data.get(key), Mapping):
            data[key] = _local_path(data[key], key)
    return data


def _integral(values: Mapping[str, Any], specs: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """Integral floats of integer fields as integers (``10.0`` -> ``10``); ``10.5`` is left for the checks."""
    out = None
    for key, value in values.items():
        spec = specs.get(key)
        if (spec is not None and spec.kind is Kind.INT and isinstance(value, float) and value.is_integer()):
            out = dict(values) if out is None else out
            out[key] = int(value)
            _warn(f"{where}.{key}", f"{value!r} read as the integer {int(value)}")
    return values if out is None else out


def _model_casing(values: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """``model_name`` (a name or a choice's values) in the model table's casing."""
    name = values.get("model_name")
    fixed = _model_name(name, f"{where}.model_name")
    if fixed is not name:
        return {**values, "model_name": fixed}
    if isinstance(name, Mapping) and isinstance(name.get("values"), (list, tuple)):
        fixed_values = [_model_name(v, f"{where}.model_name.values") for v in name["values"]]
        if any(a is not b for a, b in zip(fixed_values, name["values"])):
            return {**values, "model_name": {**name, "values": fixed_values}}
    return values


def _model_name(name: Any, where: str) -> Any:
    if isinstance(name, str) and name not in MODEL_NAMES and name.lower() in _MODELS_BY_LOWER:
        _warn(where, f"{name!r} read as {_MODELS_BY_LOWER[name.lower()]!r} (model names are lowercase)")
        return _MODELS_BY_LOWER[name.lower()]
    return name


def _advanced_settings(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Warns of the keys imgtune does not use (kept: the records accept them, see ``spec.fields``)."""
    text = params.get("advanced_settings")
    if isinstance(text, str):
        try:
            parsed = json.loads(text)
        except ValueError:
            return params
        if isinstance(parsed, dict):
            for key in parsed:
                if key not in ADVANCED_SETTINGS and not near_known_setting(key):
                    _warn(f"training_parameters.advanced_settings.{key}",
                          "is not used by imgtune (kept and written back)")
    return params


def _local_path(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The path without the ``azureml:`` prefix azure-ai-ml's dump puts on a local path or URL."""
    path = data.get("path")
    if isinstance(path, str) and path.startswith("azureml:") and not path.startswith("azureml://"):
        rest = path[len("azureml:"):]
        if "/" in rest or "\\" in rest or rest in (".", ".."):
            _warn(f"{where}.path", f"{path!r} read as {rest!r} (azure-ai-ml's dump prefixes azureml: to local "
                                   "paths; a data asset is azureml:name:version)")
            return {**data, "path": rest}
    return data


def _without_unused_slack(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = policy.get("type")
    if not (isinstance(kind, str) and kind.strip().lower() == "bandit"):
        return policy
    f, a = policy.get("slack_factor"), policy.get("slack_amount")
    if is_number(f) and is_number(a):
        if a == 0 and f != 0:
            return {k: v for k, v in policy.items() if k != "slack_amount"}
        if f == 0 and a != 0:
            return {k: v for k, v in policy.items() if k != "slack_factor"}
        if f == 0 and a == 0:
            _warn("sweep.early_termination", "slack_factor and slack_amount both 0.0 (as BanditPolicy() dumps) "
                                             "read as slack_factor: 0.0 (a zero slack: a trial behind the best "
                                             "at an interval is stopped)")
            return {k: v for k, v in policy.items() if k != "slack_amount"}
    return policy


def _capped_concurrency(limits: Mapping[str, Any]) -> Mapping[str, Any]:
    t, c = limits.get("max_trials"), limits.get("max_concurrent_trials")
    if (is_int(t) and is_int(c) and LIMITS["max_trials"].check(t) is None
            and LIMITS["max_concurrent_trials"].check(c) is None and c > t):
        warnings.warn(f"limits.max_concurrent_trials ({c}) is above max_trials ({t}); capped to {t}",
                      UserWarning, stacklevel=5)
        return {**limits, "max_concurrent_trials": t}
    return limits
