"""azure-ai-ml's Python objects, converted: :func:`from_azure`.

A user of Azure's docs builds a job with azure-ai-ml (``automl.image_classification(...)``,
``set_limits``, ``set_training_parameters``, ``extend_search_space``, ``set_sweep``) and its parts
(``Input``, ``Choice``, ``Uniform``, ..., ``ImageClassificationSearchSpace``, ``BanditPolicy``, ...).
:func:`from_azure` turns any of them into imgtune's record. It goes through azure-ai-ml's own
YAML form of the object (what its ``dump`` writes: ``_to_dict()``; a distribution's REST form,
``_to_rest_object()``), then through imgtune's one reader (:func:`imgtune.loads`, with the Azure
rules of :mod:`imgtune.serialization.azure_quirks`), so ``from_azure(job)`` equals
``imgtune.load`` of azure-ai-ml's dump of ``job``. A part is converted inside a job and taken out
of it, so it is read by exactly the same rules.

azure-ai-ml is an optional extra (``pip install "imgtune[azure]"``), imported only here, and only
when one of its objects is given. imgtune's own constructors do not take azure-ai-ml's objects.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.serialization.jobs import loads
from imgtune.spec.checks import field_key
from imgtune.spec.convert import structure
from imgtune.spec.distributions import DISTRIBUTIONS, Distribution

__all__ = ["from_azure"]

_TITLE = "from_azure"
#: What stands in for the rest of a job when a part is converted inside one.
_CARRIER = {"type": "automl", "task": "image_classification", "target_column_name": "label",
            "training_data": {"path": "data", "type": "mltable"}}


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError([Problem(path, message)], _TITLE)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """azure-ai-ml's own deprecation notices (marshmallow's) are not the user's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _azure_dict(obj: Any, path: str = "") -> dict[str, Any]:
    """azure-ai-ml's YAML form of a job (what its ``dump`` writes)."""
    try:
        with _quiet():
            return dict(obj._to_dict())
    except Exception as exc:  # noqa: BLE001 - azure-ai-ml's own refusal (marshmallow), never its traceback
        raise _fail(path, f"azure-ai-ml cannot write this {type(obj).__name__} "
                          f"({type(exc).__name__}: {exc})") from None


def _part(key: str, value: Any) -> Any:
    """Reads a part the way it is read inside a job, and takes it out again."""
    try:
        return _read_part(key, value)
    except ValidationError as err:
        raise ValidationError(err.problems, _TITLE) from None


def _read_part(key: str, value: Any) -> Any:
    if key == "early_termination":
        job = loads({**_CARRIER, "sweep": {"sampling_algorithm": "random", "early_termination": value}})
        return job.sweep.early_termination
    if key == "sampling_algorithm":
        return loads({**_CARRIER, "sweep": {"sampling_algorithm": value}}).sweep.sampling_algorithm
    job = loads({**_CARRIER, key: [value] if key == "search_space" else value})
    return job.search_space[0] if key == "search_space" else getattr(job, key)


def _distribution(obj: Any) -> Distribution:
    """A distribution from its REST form (``['uniform', [0.001, 0.01]]``), by imgtune's converter."""
    try:
        with _quiet():
            name, args = obj._to_rest_object()
    except Exception as exc:  # noqa: BLE001 - azure-ai-ml's own refusal, never its traceback
        raise _fail("", f"azure-ai-ml cannot write this {type(obj).__name__} ({type(exc).__name__}: {exc})") \
            from None
    cls = DISTRIBUTIONS.get(name)
    if cls is None:
        raise _fail("", f"is an azure-ai-ml distribution imgtune does not have: {name}")
    if cls.type == "choice":
        values = list(args[0]) if args else []
        for i, v in enumerate(values):
            if type(v).__module__.startswith("azure."):
                raise _fail(f"values[{i}]", f"a nested {type(v).__name__} is not supported (a choice takes plain "
                                            f"values; use several search spaces instead)")
        return structure({"type": "choice", "values": values}, Distribution)
    names = [field_key(a) for a in attrs.fields(cls)]
    return structure({"type": name, **dict(zip(names, args))}, Distribution)


def _converters(azure_ml: Any) -> list[tuple[tuple[type, ...], Callable[[Any, Any], Any]]]:
    """(azure-ai-ml classes, how to convert one) in the order they are tried."""
    automl, sweep = azure_ml.automl, azure_ml.sweep

    def job(obj: Any, base_path: Any) -> Any:
        return loads(_azure_dict(obj), base_path=base_path)

    def carried(key: str, put: Callable[[Any, Any], None]) -> Callable[[Any, Any], Any]:
        def convert(obj: Any, base_path: Any) -> Any:
            try:
                with _quiet():
                    carrier = automl.image_classification(
                        training_data=azure_ml.Input(type="mltable", path="data"), target_column_name="label")
                    put(carrier, obj)
            except Exception as exc:  # noqa: BLE001 - azure-ai-ml's own refusal, never its traceback
                raise _fail(key, f"azure-ai-ml does not take this {type(obj).__name__} "
                                 f"({type(exc).__name__}: {exc})") from None
            data = _azure_dict(carrier, key)
            value = (data.get("sweep") or {}).get(key) if key in ("early_termination", "sampling_algorithm") \
                else data.get(key)
            return _part(key, value[0] if key == "search_space" else value)
        return convert

    def input_(obj: Any, base_path: Any) -> Any:
        try:
            return carried("training_data", lambda c, o: setattr(c, "training_data", o))(obj, base_path)
        except ValidationError:  # a type Azure's image jobs refuse (uri_folder, uri_file): the Input's own form
            return _part("training_data", _azure_dict(obj, "training_data"))

    distributions = tuple(getattr(sweep, n) for n in ("Choice", "Randint", "Uniform", "LogUniform", "QUniform",
                                                       "QLogUniform", "Normal", "LogNormal", "QNormal",
                                                       "QLogNormal"))
    return [
        ((automl.ImageClassificationJob, automl.ImageClassificationMultilabelJob), job),
        (distributions, lambda obj, _: _distribution(obj)),
        ((azure_ml.Input,), input_),
        ((automl.ImageClassificationSearchSpace, automl.SearchSpace),
         carried("search_space", lambda c, o: c.extend_search_space([o]))),
        ((automl.ImageLimitSettings,), carried("limits", lambda c, o: setattr(c, "limits", o))),
        ((automl.ImageSweepSettings,), carried("sweep", lambda c, o: setattr(c, "sweep", o))),
        ((automl.ImageModelSettingsClassification,),
         carried("training_parameters", lambda c, o: setattr(c, "training_parameters", o))),
        ((sweep.BanditPolicy, sweep.MedianStoppingPolicy, sweep.TruncationSelectionPolicy),
         carried("early_termination", lambda c, o: c.set_sweep(sampling_algorithm="random", early_termination=o))),
        ((sweep.RandomSamplingAlgorithm, sweep.GridSamplingAlgorithm, sweep.BayesianSamplingAlgorithm),
         carried("sampling_algorithm", lambda c, o: c.set_sweep(sampling_algorithm=o))),
    ]


def from_azure(obj: Any, *, base_path: str | os.PathLike[str] | None = None) -> Any:
    """azure-ai-ml's job, or a part of one, as imgtune's record.

    Takes an ``ImageClassificationJob`` or ``ImageClassificationMultilabelJob`` built with
    azure-ai-ml (``automl.image_classification(...)`` and its setters), or one of its parts: an
    ``Input``, a distribution (``Choice``, ``Uniform``, ...), an ``ImageClassificationSearchSpace``
    (or ``SearchSpace``), a policy (``BanditPolicy``, ``MedianStoppingPolicy``,
    ``TruncationSelectionPolicy``), a sampling algorithm, ``ImageLimitSettings``,
    ``ImageSweepSettings`` or ``ImageModelSettingsClassification``. The result equals what
    :func:`imgtune.load` reads from azure-ai-ml's dump of the same job (warnings included).

    Args:
        obj: The azure-ai-ml object.
        base_path: For a job: the folder its relative data paths resolve against (as ``load``
            sets it to the YAML file's folder).

    Returns:
        The imgtune record: a job, :class:`~imgtune.spec.records.Input`, a distribution,
        :class:`~imgtune.spec.records.SearchSpace`, a policy, a sampling algorithm,
        :class:`~imgtune.spec.records.Limits`, :class:`~imgtune.spec.records.Sweep` or
        :class:`~imgtune.spec.records.TrainingParameters`.

    Raises:
        ValidationError: ``obj`` is not one of these azure-ai-ml objects, azure-ai-ml cannot
            write it, or imgtune refuses what it writes (every problem, with its path).

    Example:
        >>> import pytest
        >>> ml = pytest.importorskip("azure.ai.ml")   # the optional extra: pip install "imgtune[azure]"
        >>> from azure.ai.ml import automl, Input
        >>> from azure.ai.ml.sweep import BanditPolicy, Choice, Uniform
        >>> azure_job = automl.image_classification(
        ...     training_data=Input(type="mltable", path="azureml:dogs-train:1"), target_column_name="label",
        ...     primary_metric="accuracy")
        >>> azure_job.set_limits(max_trials=10, max_concurrent_trials=2)
        >>> azure_job.extend_search_space([automl.SearchSpace(model_name=Choice(["vitb16r224", "vits16r224"]),
        ...                                                   learning_rate=Uniform(0.001, 0.01))])
        >>> azure_job.set_sweep(sampling_algorithm="Random",
        ...                     early_termination=BanditPolicy(evaluation_interval=2, slack_factor=0.2))
        >>> job = from_azure(azure_job)
        >>> job.limits.max_trials, job.search_space[0].learning_rate, job.sweep.early_termination
        (10, Uniform(min_value=0.001, max_value=0.01), BanditPolicy(slack_factor=0.2, evaluation_interval=2))
        >>> from_azure(Choice([15, 30]))
        Choice(values=(15, 30))
        >>> from_azure({"type": "uniform"})
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in from_azure:
          takes an azure-ai-ml object (a job, Input, distribution, SearchSpace, policy, ...), got dict ...
    """
    module = type(obj).__module__ or ""
    if not module.startswith("azure.ai.ml"):
        raise _fail("", f"takes an azure-ai-ml object (a job, Input, distribution, SearchSpace, policy, sampling "
                        f"algorithm, limits, sweep or training settings), got {type(obj).__name__} (imgtune's own "
                        f"records and mappings need no conversion)")
    # azure-ai-ml is optional and slow to import (seconds): imported only when one of its objects is given
    with _quiet():
        import azure.ai.ml as azure_ml
        import azure.ai.ml.automl
        import azure.ai.ml.sweep  # noqa: F401  # the submodules the converters read

    for classes, convert in _converters(azure_ml):
        if isinstance(obj, classes):
            return convert(obj, base_path)
    raise _fail("", f"cannot convert azure-ai-ml's {type(obj).__name__}: imgtune converts image-classification "
                    f"jobs (ImageClassificationJob, ImageClassificationMultilabelJob) and their parts")
