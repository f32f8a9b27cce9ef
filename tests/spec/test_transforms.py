"""Transforms return new jobs, curry without a job, and compose with pipe."""

import pytest

import imgtune
from imgtune import ValidationError

JOB = imgtune.ImageClassificationJob(training_data=imgtune.Input(path="d"), target_column_name="label",
                                     limits=imgtune.Limits(max_trials=5, timeout_minutes=60))


def test_with_limits_merges_and_none_clears():
    job = imgtune.with_limits(JOB, max_concurrent_trials=2)
    assert job.limits == imgtune.Limits(max_trials=5, max_concurrent_trials=2, timeout_minutes=60)
    assert imgtune.with_limits(job, timeout_minutes=None).limits.timeout_minutes is None
    assert JOB.limits.max_concurrent_trials is None


def test_curried_form_and_pipe_equal_direct_calls():
    fns = [imgtune.with_limits(max_trials=9), imgtune.with_training_parameters(learning_rate=0.02),
           imgtune.with_primary_metric("AUCWeighted"), imgtune.with_sweep(sampling_algorithm="random"),
           imgtune.extend_search_space({"momentum": 0.8})]
    piped = imgtune.pipe(JOB, *fns)
    direct = JOB
    for fn in fns:
        direct = fn(direct)
    assert piped == direct
    assert piped.primary_metric.value == "auc_weighted" and piped.limits.max_trials == 9


def test_with_sweep_sets_replaces_and_clears():
    job = imgtune.with_sweep(JOB, sampling_algorithm="grid")
    assert isinstance(job.sweep.sampling_algorithm, imgtune.GridSampling)
    job = imgtune.with_sweep(job, early_termination={"type": "median_stopping", "delay_evaluation": 5})
    assert job.sweep.early_termination == imgtune.MedianStoppingPolicy(delay_evaluation=5)
    assert imgtune.with_sweep(job, early_termination=None).sweep.early_termination is None
    assert imgtune.with_sweep(job, sampling_algorithm=None).sweep is None
    with pytest.raises(ValidationError, match="sweep.sampling_algorithm"):
        imgtune.with_sweep(JOB, early_termination={"type": "median_stopping"})


def test_with_training_parameters_rejects_unknown_names_with_a_hint():
    with pytest.raises(ValidationError, match="did you mean 'learning_rate'"):
        imgtune.with_training_parameters(JOB, learning_rat=0.1)
    with pytest.raises(ValidationError, match="training_parameters.momentum: must be in"):
        imgtune.with_training_parameters(JOB, momentum=3)


def test_search_space_extend_and_replace():
    job = imgtune.with_sweep(JOB, sampling_algorithm="random")
    job = imgtune.extend_search_space(job, [{"momentum": 0.9}, imgtune.SearchSpace(beta1=0.8)])
    job = imgtune.extend_search_space(job, {"beta2": 0.99})
    assert len(job.search_space) == 3
    assert imgtune.replace_search_space(job, None).search_space == ()
    assert imgtune.replace_search_space(job, {"nesterov": False}).search_space == (
        imgtune.SearchSpace(nesterov=False),)


def test_with_data_and_metadata():
    job = imgtune.with_data(JOB, validation_data={"path": "v", "type": "uri_file"}, test_data_size=0.1)
    assert job.validation_data == imgtune.Input(path="v", type="uri_file")
    assert imgtune.with_data(job, validation_data=None).validation_data is None
    job = imgtune.with_metadata(job, name="n", tags={"a": "b"}, log_verbosity="DEBUG")
    assert job.name == "n" and job.tags == {"a": "b"} and job.log_verbosity.value == "debug"
    assert imgtune.with_primary_metric(job, None).primary_metric.value == "accuracy"


def test_transforms_refuse_a_non_job():
    with pytest.raises(TypeError):
        imgtune.with_limits(max_trials=2)({"not": "a job"})
