"""Random sampling's ``logbase`` is the base of log-scale draws (azure-ai-ml's docstring): with
logbase b, ``log_b`` of a loguniform draw is uniform over the bounds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import imgtune
from imgtune.compiler import samplers as S
from imgtune.errors import ValidationError
from imgtune.spec.distributions import LogNormal, LogUniform


def draws(logbase, dist, n, rule="random", seed=0, key="learning_rate"):
    sampler = S.random_sampler(rule, logbase=logbase)
    return [p[key] for _, p in S.proposals(sampler, ({key: dist},), seed, n)]


@settings(max_examples=15, deadline=None)
@given(base=st.sampled_from([2.0, 10.0, 3.5]), low=st.floats(-8.0, -3.0), width=st.floats(0.5, 3.0),
       seed=st.integers(0, 2**32 - 1))
def test_log_of_loguniform_draws_is_uniform_over_the_bounds(base, low, width, seed):
    high = min(low + width, 0.0)
    exps = np.array([math.log(v, base) for v in draws(base, LogUniform(min_value=low, max_value=high), 120,
                                                      seed=seed)])
    assert exps.min() >= low - 1e-9 and exps.max() <= high + 1e-9
    # Kolmogorov-Smirnov against U(low, high); with e's exponents instead the mean is off by far more.
    assert stats.kstest(exps, "uniform", args=(low, high - low)).pvalue > 1e-4


def test_lognormal_in_base_10_and_default_e():
    ten = np.log10(draws(10, LogNormal(mu=-3, sigma=0.5), 150, key="weight_decay"))
    assert abs(ten.mean() + 3) < 0.15 and abs(ten.std() - 0.5) < 0.15
    e = np.log(draws(None, LogUniform(min_value=-4, max_value=-2), 60, rule="sobol"))
    assert e.min() >= -4 - 1e-9 and e.max() <= -2 + 1e-9 and e.mean() < -2.5


def test_job_logbase_reaches_the_plan():
    job = imgtune.loads("""\
type: automl
task: image_classification
target_column_name: label
training_data: {path: d}
limits: {max_trials: 12}
sweep: {sampling_algorithm: {type: random, logbase: 10, seed: 3}}
search_space: [{learning_rate: {type: loguniform, min_value: -4, max_value: -2}}]
""")
    plan = imgtune.compile(job)
    assert plan.sampler.logbase == 10
    rates = [t.parameters.learning_rate for t in plan.trials]
    assert all(1e-4 <= r <= 1e-2 for r in rates)  # exp(-4..-2) would give 0.018 to 0.135
    with pytest.raises(ValidationError, match="logbase: must be a positive number other than 1"):
        imgtune.loads(imgtune.dumps(job).replace("logbase: 10", "logbase: 1"))
