"""What imgtune writes, azure-ai-ml's own ``load_job`` accepts (for jobs that use only Azure's features).

azure-ai-ml is the ``azure`` extra (``pip install "imgtune[azure]"``; ``make test`` installs it): without it these tests
skip.
"""

import tempfile
import warnings
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings

import imgtune
from imgtune import strategies as its

azure_ml = pytest.importorskip("azure.ai.ml")


def azure_only(job):
    """The job without imgtune's local extensions (uri_file/uri_folder inputs, test data, outputs)."""
    def as_mltable(data):
        return None if data is None else attrs.evolve(data, type="mltable")

    return attrs.evolve(job, training_data=as_mltable(job.training_data),
                        validation_data=as_mltable(job.validation_data),
                        test_data=None, test_data_size=None, outputs={})


def azure_load(job):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yml"
        imgtune.dump(job, path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return azure_ml.load_job(path)


def test_corpus_dumps_load_in_azure(azure_yaml):
    for path in sorted(azure_yaml.rglob("*.yml")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            job = imgtune.load(path)
        theirs = azure_load(job)
        assert theirs.limits.max_trials == job.limits.max_trials
        assert theirs.target_column_name == job.target_column_name


@settings(max_examples=50, deadline=None)
@given(its.jobs())
def test_generated_azure_feature_jobs_load_in_azure(job):
    job = azure_only(job)
    theirs = azure_load(job)
    assert theirs.primary_metric.lower().replace("_", "") == job.primary_metric.value.replace("_", "")
    assert (theirs.limits.max_trials, theirs.limits.max_concurrent_trials) == (
        job.limits.max_trials, job.limits.max_concurrent_trials)
    assert len(theirs.search_space or []) == len(job.search_space)
