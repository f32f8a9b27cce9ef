"""Plans: serialisable, unique ids, every value inside its distribution's support with its field's type."""

import math

from hypothesis import given

import imgtune
from imgtune import strategies as its
from imgtune.compiler import compile, dumps_plan, loads_plan
from imgtune.spec.distributions import (
    Choice,
    LogUniform,
    QLogUniform,
    QUniform,
    Randint,
    Uniform,
)
from imgtune.spec.enums import AzureEnum
from imgtune.spec.fields import SEARCHABLE, Kind


def small(job):
    trials = min(job.limits.max_trials or 1, 6)
    return imgtune.with_limits(job, max_trials=trials,
                               max_concurrent_trials=min(job.limits.max_concurrent_trials or 1, 2, trials))


def in_support(dist, value) -> bool:
    tol = 1e-9
    if isinstance(dist, Choice):
        return value in [v.value if isinstance(v, AzureEnum) else v for v in dist.values]
    if isinstance(dist, Randint):
        return 0 <= value < dist.upper
    if isinstance(dist, Uniform):
        return dist.min_value - tol <= value <= dist.max_value + tol
    if isinstance(dist, LogUniform):
        return math.exp(dist.min_value) * (1 - tol) <= value <= math.exp(dist.max_value) * (1 + tol)
    if isinstance(dist, (QUniform, QLogUniform)):
        ratio = value / dist.q
        return abs(ratio - round(ratio)) < 1e-6 * max(1, abs(ratio))
    return math.isfinite(value)  # the normal family is unbounded


def has_field_type(name, value) -> bool:
    kind = SEARCHABLE[name].kind
    return {Kind.INT: isinstance(value, int) and not isinstance(value, bool),
            Kind.FLOAT: isinstance(value, (int, float)) and not isinstance(value, bool),
            Kind.BOOL: isinstance(value, bool),
            Kind.STR: isinstance(value, str), Kind.ENUM: isinstance(value, str)}[kind]


@given(its.jobs())
def test_plans_are_serialisable_with_unique_ids_and_values_in_support(job):
    job = small(job)
    plan = compile(job)
    assert loads_plan(dumps_plan(plan)) == plan
    assert len({t.id for t in plan.trials}) == len(plan.trials) <= plan.limits.max_trials
    assert plan.limits.max_concurrent_trials <= plan.limits.max_trials
    for trial in plan.trials:
        assert trial.parameters.model_name is not None and trial.parameters.learning_rate is not None
        if trial.subspace is None or plan.sampler.type == "automode":
            continue
        space = job.search_space[trial.subspace]
        for name, value in trial.sampled.items():
            assert has_field_type(name, value), (name, value)
            dist = getattr(space, name)
            if hasattr(dist, "type") and not isinstance(dist, (str, int, float)):
                assert in_support(dist, value), (name, dist, value)
            assert SEARCHABLE[name].check(value) is None


@given(its.jobs())
def test_compile_is_a_pure_function_of_the_job_and_seed(job):
    job = small(job)
    assert compile(job, seed=11) == compile(imgtune.loads(imgtune.dumps(job)), seed=11)
