"""The public strategies, narrowed any way, never raise while generating, and give what they promise:
jobs within the narrowing, plans that compile and read back, run results consistent with their plans.

Under ``HYPOTHESIS_PROFILE=long`` (``make properties-long``) the narrowed jobs take 10 000 draws; under
``ci`` the profile's few.
"""

import json
import math
import os

from hypothesis import given, settings
from hypothesis import strategies as st

import imgtune
from imgtune import strategies as its
from imgtune.compiler import dumps_plan, loads_plan
from imgtune.serialization import structure, unstructure
from imgtune.spec.distributions import Choice, LogUniform, Uniform
from imgtune.spec.enums import AzureEnum, JobStatus
from imgtune.spec.fields import SEARCHABLE, TRAINING_PARAMETERS, Kind
from imgtune.spec.rules import CROSS_FIELD_KEYS

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
MANY = settings(max_examples=10_000) if LONG else settings()
NUMERIC = [name for name, spec in TRAINING_PARAMETERS.items() if spec.kind in (Kind.INT, Kind.FLOAT)]


@st.composite
def narrowings(draw):
    """Keyword arguments for its.jobs: any subset of the narrowings, each drawn from valid values."""
    kw = {}
    if draw(st.booleans()):
        kw["task"] = draw(st.sampled_from(["multiclass", "multilabel", "image_classification_multilabel"]))
    if draw(st.booleans()):
        kw["sampling_algorithms"] = draw(st.lists(st.sampled_from(its.SAMPLING_ALGORITHMS), min_size=1, unique=True))
    if draw(st.booleans()):
        kw["searchable"] = draw(st.lists(st.sampled_from(list(SEARCHABLE)), max_size=4, unique=True))
    if draw(st.booleans()):
        bounds = {}
        for name in draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=3, unique=True)):
            a, b = sorted(draw(st.lists(its.field_values(TRAINING_PARAMETERS[name]), min_size=2, max_size=2)))
            bounds[name] = (draw(st.sampled_from([a, None])), draw(st.sampled_from([b, None])))
        kw["bounds"] = bounds
    if draw(st.booleans()):
        kw["max_trials"] = draw(st.integers(1, 20))
    return kw


def within(value, bound, tol=1e-9):
    low, high = bound
    return (low is None or value >= low - tol * max(1, abs(low))) and (high is None or value <= high + tol * max(1, abs(high)))


def values_of(job):
    """(field, value) of every number the job may train with: set parameters and searched values and bounds."""
    yield from job.training_parameters.set_fields().items()
    for space in job.search_space:
        for name, value in space.set_fields().items():
            if isinstance(value, Choice):
                yield from ((name, v.value if isinstance(v, AzureEnum) else v) for v in value.values)
            elif isinstance(value, Uniform):
                yield from ((name, value.min_value), (name, value.max_value))
            elif isinstance(value, LogUniform):
                yield from ((name, math.exp(value.min_value)), (name, math.exp(value.max_value)))
            else:
                yield name, value


@MANY
@given(st.data())
def test_narrowed_jobs_never_raise_and_stay_within_the_narrowing(data):
    kw = data.draw(narrowings(), label="narrowing")
    job = data.draw(its.jobs(**kw), label="job")
    assert imgtune.loads(imgtune.dumps(job)) == job
    if "task" in kw:
        assert job.multilabel == (kw["task"] != "multiclass")
    if "sampling_algorithms" in kw:
        algorithm = job.sweep.sampling_algorithm if job.sweep is not None else None
        name = "none" if algorithm is None else (
            "sobol" if getattr(algorithm, "rule", None) is not None and algorithm.rule.value == "sobol"
            else algorithm.type)
        assert name in kw["sampling_algorithms"]
    if "searchable" in kw:
        assert all(set(s.set_fields()) <= set(kw["searchable"]) for s in job.search_space)
    if "max_trials" in kw:
        assert (job.limits.max_trials or 1) <= kw["max_trials"]
    for name, value in values_of(job):
        if name in kw.get("bounds", {}) and name not in CROSS_FIELD_KEYS:
            assert within(value, kw["bounds"][name]), (name, value, kw["bounds"][name])


@given(st.data())
def test_run_results_are_consistent_with_their_plans(data):
    plan = data.draw(its.plans(max_trials=5), label="plan")
    assert loads_plan(dumps_plan(plan)) == plan and len(plan.trials) <= plan.limits.max_trials <= 5
    result = data.draw(its.run_results(st.just(plan)), label="result")
    assert structure(json.loads(json.dumps(unstructure(result))), type(result)) == result  # as run.json reads
    assert [(t.id, t.index, t.parameters, t.sampled) for t in result.trials] == \
        [(t.id, t.index, t.parameters, t.sampled) for t in plan.trials]
    metric = result.primary_metric
    for trial in result.trials:
        values = [h[metric.value] for h in trial.history]
        assert [h["epoch"] for h in trial.history] == list(range(1, len(values) + 1))
        assert trial.best_metric == (max(values) if values else None)
        assert (trial.status is JobStatus.NOT_STARTED) == (trial.started_at is None) == (trial.attempts == 0)
        assert (trial.ended_at is None) == (trial.status in (JobStatus.NOT_STARTED, JobStatus.RUNNING))
        if trial.status is JobStatus.COMPLETED:
            assert len(values) == min(trial.parameters.number_of_epochs, 4)
    statuses = {t.status for t in result.trials}
    assert (result.status is JobStatus.RUNNING) == (JobStatus.RUNNING in statuses)
    if result.status is JobStatus.FAILED:
        assert statuses == {JobStatus.FAILED}
    if result.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        assert all(t.finished for t in result.trials)
    assert result.best_trial is None or result.best_trial.status is not JobStatus.FAILED
