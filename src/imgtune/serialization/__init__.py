"""Serialisation: jobs, plans and results as text and mappings, and back.

The floor above :mod:`imgtune.spec`: YAML text with line and column marks
(:mod:`~imgtune.serialization.yaml_text`), the legacy-schema migration
(:mod:`~imgtune.serialization.legacy`) and jobs as Azure ML v2 YAML
(:mod:`~imgtune.serialization.jobs`), and azure-ai-ml's Python objects converted
(:func:`~imgtune.serialization.azure_objects.from_azure`). Mappings become records through the one
converter, :mod:`imgtune.spec.convert`, re-exported here as :func:`structure` and
:func:`unstructure`.

``loads``/``load`` read a job (the current Azure schema, and the 2022 legacy
schema by migration with a :class:`LegacySchemaWarning`); ``dumps``/``dump``
write it so that ``loads(dumps(job)) == job`` and azure-ai-ml's ``load_job``
accepts a job that uses only Azure's features.

Differences from azure-ai-ml, on purpose:

* Paths are written exactly as given (the SDK prefixes ``azureml:`` to local
  paths on dump, which breaks its own round trip).
* ``$schema`` is kept (the SDK drops it).
* ``dump`` never overwrites an existing file unless ``overwrite=True`` (the SDK
  documents ``FileExistsError`` but overwrites), and writes atomically.
* Only safe YAML: a ``!!python/...`` tag is a validation error, never an object.
* Unquoted ``1e-4`` is read as a float (YAML 1.2), as azure-ai-ml also accepts.
* ``test_data``/``test_data_size`` load (the SDK raises a TypeError) and the
  local input types ``uri_file`` and ``uri_folder`` are imgtune's own.

Example:
    >>> job = loads('''
    ... type: automl
    ... task: image_classification
    ... target_column_name: label
    ... training_data: {path: data/train, type: mltable}
    ... limits: {max_trials: 2}
    ... ''')
    >>> job.limits.max_trials
    2
    >>> loads(dumps(job)) == job
    True
"""

from imgtune.serialization.azure_objects import from_azure
from imgtune.serialization.azure_quirks import AzureQuirkWarning
from imgtune.serialization.jobs import dump, dumps, load, loads, to_dict
from imgtune.serialization.legacy import LegacySchemaWarning
from imgtune.serialization.yaml_text import Dumper, dump_text, parse_with_marks
from imgtune.spec.convert import structure, unstructure

__all__ = ["AzureQuirkWarning", "Dumper", "LegacySchemaWarning", "dump", "dump_text", "dumps", "from_azure", "load",
           "loads", "parse_with_marks", "structure", "to_dict", "unstructure"]
