"""Ranges: derived from the one constraint table, so no field can be forgotten.

For every constrained field, values inside the documented range are accepted
and values outside are rejected with a ValidationError naming that field's path.
"""

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imgtune
from imgtune.spec.fields import JOB_FIELDS, LIMITS, POLICY_FIELDS, TRAINING_PARAMETERS, FieldSpec, Kind
from imgtune.spec.records import POLICIES
from imgtune.strategies import field_values

BASE = {"type": "automl", "task": "image_classification", "target_column_name": "label",
        "training_data": {"path": "d"}}


def _policy_cases():
    for ptype, cls in POLICIES.items():
        for name in (a.name for a in cls.__attrs_attrs__):
            if name in POLICY_FIELDS:
                yield f"sweep.early_termination.{name}", POLICY_FIELDS[name], ptype


CASES = (
    [(f"training_parameters.{n}", s, None) for n, s in TRAINING_PARAMETERS.items()]
    + [(f"limits.{n}", s, None) for n, s in LIMITS.items()]
    + [(n, s, None) for n, s in JOB_FIELDS.items()]
    + list(_policy_cases())
)
CONSTRAINED = [c for c in CASES if c[1].kind in (Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.ENUM, Kind.STR, Kind.JSON)]


def job_with(path: str, value, policy_type):
    data = {**BASE}
    *parents, leaf = path.split(".")
    if policy_type is not None:
        policy = {"type": policy_type}
        if policy_type == "bandit" and leaf not in ("slack_factor", "slack_amount"):
            policy["slack_factor"] = 0.1
        if policy_type == "truncation_selection" and leaf != "truncation_percentage":
            policy["truncation_percentage"] = 10
        policy[leaf] = value
        data["sweep"] = {"sampling_algorithm": "random", "early_termination": policy}
        return data
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return data


def outside(spec: FieldSpec):
    """Values of the right type (or not) that break the field's rule."""
    wrong_type = {Kind.INT: st.sampled_from([1.5, "3", True]), Kind.FLOAT: st.sampled_from(["0.1", True, [0.1]]),
                  Kind.BOOL: st.sampled_from([1, "yes", 0.0]), Kind.ENUM: st.sampled_from(["bogus", 3]),
                  Kind.STR: st.sampled_from([3, True]), Kind.JSON: st.sampled_from(["[1]", "{bad", '{"path_maps": {}}'])}
    options = [wrong_type[spec.kind]]
    number = st.integers if spec.kind is Kind.INT else (lambda a, b: st.floats(a, b, allow_nan=False))
    if spec.allowed is not None and spec.kind is Kind.INT:
        options.append(st.integers(-100, 100).filter(lambda v: v not in spec.allowed))
    elif spec.allowed is not None:
        options.append(st.text(min_size=1).filter(lambda v: v not in spec.allowed))
    if spec.kind in (Kind.INT, Kind.FLOAT) and spec.allowed is None:
        if spec.low is not None:
            low = spec.low
            options.append(number(low - 1000, low - (1 if spec.kind is Kind.INT else 1e-9)))
            if spec.low_open:
                options.append(st.just(type(1 if spec.kind is Kind.INT else 1.0)(low)))
        if spec.high is not None:
            high = spec.high
            options.append(number(high + (1 if spec.kind is Kind.INT else 1e-9), high + 1000))
            if spec.high_open:
                options.append(st.just(type(1 if spec.kind is Kind.INT else 1.0)(high)))
    return st.one_of(options)


def test_every_table_field_is_covered():
    covered = {path for path, _, _ in CONSTRAINED}
    assert {f"training_parameters.{n}" for n in TRAINING_PARAMETERS} <= covered
    assert {f"limits.{n}" for n in LIMITS} <= covered
    assert {f"sweep.early_termination.{n}" for n in POLICY_FIELDS} <= covered


@pytest.mark.parametrize("path, spec, policy", CONSTRAINED, ids=[f"{c[0]}[{c[2]}]" for c in CONSTRAINED])
@given(data=st.data())
def test_inside_accepted_outside_rejected(path, spec, policy, data):
    value = data.draw(field_values(spec), label="inside")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job = imgtune.loads(job_with(path, value, policy))
    assert imgtune.loads(imgtune.dumps(job)) == job

    bad = data.draw(outside(spec), label="outside")
    if isinstance(bad, float) and spec.kind is Kind.FLOAT and spec.in_range(bad) and math.isfinite(bad):
        return  # float rounding landed on the bound itself
    with pytest.raises(imgtune.ValidationError) as info:
        imgtune.loads(job_with(path, bad, policy))
    assert path in {p.path for p in info.value.problems}, info.value


@given(st.sampled_from([n for n, s in TRAINING_PARAMETERS.items() if s.low is not None or s.high is not None]),
       st.data())
def test_python_construction_uses_the_same_table(name, data):
    spec = TRAINING_PARAMETERS[name]
    bad = data.draw(outside(spec))
    with pytest.raises(imgtune.ValidationError) as info:
        imgtune.TrainingParameters(**{name: bad})
    assert [p.path for p in info.value.problems] == [name]
