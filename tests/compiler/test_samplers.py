"""Samplers: grid, random, sobol, Bayesian and AutoMode (imgtune.compiler.samplers)."""

from __future__ import annotations

import enum
import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgtune.compiler import samplers as S
from imgtune.errors import ValidationError
from imgtune.spec.distributions import (
    Choice,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    Uniform,
)
from imgtune.spec.enums import Optimizer
from imgtune.spec.fields import SEARCHABLE, Kind

MIXED = (
    {
        "model_name": Choice(values=("seresnext", "resnet50", "vitb16r224")),
        "learning_rate": LogUniform(min_value=-6, max_value=-2),
        "momentum": Uniform(min_value=0.8, max_value=0.99),
        "number_of_epochs": QUniform(min_value=5, max_value=40, q=5),
        "optimizer": Choice(values=("sgd", "Adam")),
        "training_batch_size": Randint(upper=64),
    },
    {
        "model_name": "mobilenetv2",
        "beta1": Normal(mu=0.9, sigma=0.02),
        "weight_decay": QLogUniform(min_value=-9, max_value=-3, q=0.0001),
    },
)


def _jsonable(proposals):
    return [[i, {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in p.items()}] for i, p in proposals]


# -- grid ---------------------------------------------------------------------------

def test_grid_order_is_sorted_keys_last_fastest_values_as_written():
    space = ({"optimizer": Choice(values=("adamw", "sgd")), "layers_to_freeze": Choice(values=(2, 0, 1))},)
    got = S.proposals(S.grid_sampler(), space, seed=0, n=100)
    assert [(p["layers_to_freeze"], p["optimizer"].value) for _, p in got] == [
        (2, "adamw"), (2, "sgd"), (0, "adamw"), (0, "sgd"), (1, "adamw"), (1, "sgd")]
    assert all(isinstance(p["optimizer"], Optimizer) for _, p in got)


@pytest.mark.parametrize("space, n, expected", [
    # size = product; a cap smaller than the grid gives the first n points
    (({"number_of_epochs": Choice(values=(1, 2, 3)), "nesterov": Choice(values=(True, False))},), 100, 6),
    (({"number_of_epochs": Choice(values=(1, 2, 3)), "nesterov": Choice(values=(True, False))},), 4, 4),
    # repeated values inside a choice count once
    (({"number_of_epochs": Choice(values=(1, 1, 2))},), 100, 2),
    # a point equal to one of an earlier subspace is skipped: {1,2} then {2,3} -> 1, 2, 3
    (({"number_of_epochs": Choice(values=(1, 2))}, {"number_of_epochs": Choice(values=(2, 3))}), 100, 3),
    # different keys are different points
    (({"number_of_epochs": Choice(values=(1, 2))}, {"number_of_epochs": Choice(values=(1, 2)), "nesterov": True}),
     100, 4),
    # fixed scalars only: one point; the empty space: one empty point
    (({"number_of_epochs": 3},), 100, 1),
    ((), 100, 1),
    # float field: 1 and 1.0 are one value
    (({"momentum": Choice(values=(0.5, 1, 1.0))},), 100, 2),
])
def test_grid_size_dedup_and_cap(space, n, expected):
    assert len(S.proposals(S.grid_sampler(), space, seed=0, n=n)) == expected


def test_grid_dedup_across_subspaces_keeps_order_and_index():
    space = ({"number_of_epochs": Choice(values=(1, 2))}, {"number_of_epochs": Choice(values=(2, 3))})
    assert S.proposals(S.grid_sampler(), space, 0, 10) == [
        (0, {"number_of_epochs": 1}), (0, {"number_of_epochs": 2}), (1, {"number_of_epochs": 3})]


def test_grid_empty_space_is_one_default_trial():
    assert S.proposals(S.grid_sampler(), (), 0, 5) == [(0, {})]


@pytest.mark.parametrize("dist", [Uniform(min_value=0, max_value=1), Randint(upper=3),
                                  QUniform(min_value=1, max_value=4, q=1)])
def test_grid_rejects_non_choice(dist):
    with pytest.raises(ValidationError, match="grid sampling takes only choice"):
        S.grid_sampler().init(({"number_of_epochs": 2, "momentum": dist},), 0)


def test_grid_skips_vit_points_with_unequal_crops_and_small_resize():
    space = ({
        "model_name": Choice(values=("vitb16r224", "resnet50")),
        "training_crop_size": Choice(values=(224, 256)),
        "validation_crop_size": 224,
        "validation_resize_size": Choice(values=(200, 256)),
    },)
    got = S.proposals(S.grid_sampler(), space, 0, 100)
    pairs = [(p["model_name"], p["training_crop_size"], p["validation_resize_size"]) for _, p in got]
    assert pairs == [("vitb16r224", 224, 256), ("resnet50", 224, 256), ("resnet50", 256, 256)]


def test_grid_resumes_from_json_state():
    space = ({"number_of_epochs": Choice(values=(1, 2, 3, 4))},)
    sampler = S.grid_sampler()
    state = sampler.init(space, 0)
    first, state = sampler.propose(state, ())
    data = json.loads(json.dumps(S.state_to_json(state)))
    rest = []
    state2 = S.state_from_json(space, data)
    while (p := sampler.propose(state2, ())[0]) is not None:
        rest.append(p)
        state2 = sampler.propose(state2, ())[1]
    assert [first] + rest == S.proposals(sampler, space, 0, 10)


# -- random: distributions, types, support ------------------------------------------------

@pytest.mark.parametrize("rule", ["random", "sobol"])
def test_every_distribution_gives_its_fields_type(rule):
    got = S.proposals(S.random_sampler(rule), MIXED, seed=1, n=200)
    assert len(got) == 200
    assert {i for i, _ in got} == {0, 1}
    for i, params in got:
        assert set(params) == set(MIXED[i])
        for key, value in params.items():
            kind = SEARCHABLE[key].kind
            expected = {Kind.FLOAT: float, Kind.INT: int, Kind.BOOL: bool, Kind.STR: str, Kind.ENUM: Optimizer}[kind]
            assert type(value) is expected, (key, value)
            assert SEARCHABLE[key].check(value) is None


def test_loguniform_bounds_are_exponents():
    space = ({"learning_rate": LogUniform(min_value=-6, max_value=-2)},)
    values = np.array([p["learning_rate"] for _, p in S.proposals(S.random_sampler(), space, 0, 400)])
    assert values.min() >= math.exp(-6) and values.max() <= math.exp(-2)
    logs = np.log(values)
    # uniform in the exponent: the mean of the log is near -4, a quarter below -5
    assert abs(logs.mean() + 4) < 0.2
    assert 0.18 < np.mean(logs < -5) < 0.32


@pytest.mark.parametrize("dist, key, check", [
    (QUniform(min_value=8, max_value=64, q=8), "training_batch_size", lambda v: v % 8 == 0 and 8 <= v <= 64),
    (QUniform(min_value=0.0, max_value=1.0, q=0.25), "momentum", lambda v: v in (0.0, 0.25, 0.5, 0.75, 1.0)),
    (QLogUniform(min_value=0, max_value=math.log(100), q=10), "number_of_epochs", lambda v: v % 10 == 0 and v <= 100),
    (QNormal(mu=30, sigma=5, q=3), "number_of_epochs", lambda v: v % 3 == 0),
    (QLogNormal(mu=3, sigma=0.3, q=2), "number_of_epochs", lambda v: v % 2 == 0),
])
def test_q_distributions_round_to_multiples(dist, key, check):
    got = [p[key] for _, p in S.proposals(S.random_sampler(), ({key: dist},), 0, 30)]
    assert got and all(check(v) for v in got), got


def test_q_rounding_is_round_half_to_even_like_numpy():
    # quniform(0, 4, 2) at quantile u: x = 4u, value = round(x / 2) * 2, halves to even
    d = QUniform(min_value=0, max_value=4, q=2)
    assert [S._inverse_cdf(d, u) for u in (0.1, 0.25, 0.3, 0.5, 0.75, 0.9)] == [0.0, 0.0, 2.0, 2.0, 4.0, 4.0]
    assert S._inverse_cdf(QUniform(min_value=0, max_value=1, q=0.1), 0.3) == 0.3  # tidied, not 0.30000000000000004


def test_out_of_range_normal_on_beta1_is_redrawn():
    # N(0.98, 0.05) exceeds 1 about a third of the time: every proposal still lies in [0, 1]
    space = ({"beta1": Normal(mu=0.98, sigma=0.05)},)
    got = [p["beta1"] for _, p in S.proposals(S.random_sampler(), space, 0, 200)]
    assert len(got) == 200 and max(got) <= 1.0 and min(got) >= 0.0


def test_impossible_space_is_exhausted():
    # N(5, 0.1) never lands in [0, 1]
    assert S.proposals(S.random_sampler(), ({"beta1": Normal(mu=5, sigma=0.1)},), 0, 3) == []


@pytest.mark.parametrize("rule", ["random", "sobol"])
@pytest.mark.parametrize("space, size", [
    (({"optimizer": Choice(values=("sgd", "adam", "adamw"))},), 3),
    (({"layers_to_freeze": Randint(upper=4), "nesterov": Choice(values=(True, False))},), 8),
    (({"number_of_epochs": QUniform(min_value=1, max_value=3, q=1)},), 3),
    # two subspaces sharing a point: 2 + 2 - 1
    (({"number_of_epochs": Choice(values=(1, 2))}, {"number_of_epochs": Choice(values=(2, 3))}), 3),
])
def test_tiny_space_gives_every_point_once_then_none(rule, space, size):
    got = S.proposals(S.random_sampler(rule), space, 0, 20)
    assert len(got) == size
    assert len({json.dumps(p, sort_keys=True) for _, p in _jsonable(got)}) == size


def test_vit_rule_random():
    space = ({"model_name": Choice(values=("vits16r224", "resnet18")),
              "training_crop_size": Choice(values=(224, 256)), "validation_crop_size": Choice(values=(224, 256))},)
    got = S.proposals(S.random_sampler(), space, 3, 50)
    assert len(got) == 6  # 2 ViT points with equal crops + 4 resnet18 points
    assert all(p["training_crop_size"] == p["validation_crop_size"] for _, p in got if p["model_name"] == "vits16r224")


def test_resize_smaller_than_crop_is_redrawn():
    space = ({"validation_crop_size": QUniform(min_value=200, max_value=300, q=1),
              "validation_resize_size": QUniform(min_value=200, max_value=300, q=1)},)
    got = S.proposals(S.random_sampler(), space, 0, 100)
    assert len(got) == 100
    assert all(p["validation_resize_size"] >= p["validation_crop_size"] for _, p in got)


def test_subspace_chosen_about_uniformly():
    space = ({"number_of_epochs": Randint(upper=1000)}, {"momentum": Uniform(min_value=0, max_value=1)})
    idx = [i for i, _ in S.proposals(S.random_sampler(), space, 0, 400)]
    assert 160 < idx.count(0) < 240


# -- reproducibility -------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["random", "sobol"])
def test_same_seed_same_proposals_other_seed_different(rule):
    a = S.proposals(S.random_sampler(rule), MIXED, 7, 20)
    assert a == S.proposals(S.random_sampler(rule), MIXED, 7, 20)
    assert a != S.proposals(S.random_sampler(rule), MIXED, 8, 20)


def test_same_proposals_in_fresh_process_with_other_hash_seed():
    code = (
        "import json, enum, math\n"
        "from imgtune.compiler import samplers as S\n"
        "from imgtune.spec.distributions import *\n"
        "MIXED = " + repr(MIXED) + "\n"
        "out = {}\n"
        "for rule in ('random', 'sobol'):\n"
        "    got = S.proposals(S.random_sampler(rule), MIXED, 11, 15)\n"
        "    out[rule] = [[i, {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in p.items()}] for i, p in got]\n"
        "got = S.proposals(S.automode_sampler(), (), 11, 20)\n"
        "out['automode'] = [[i, p] for i, p in got]\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    theirs = json.loads(result.stdout)
    for rule in ("random", "sobol"):
        ours = json.loads(json.dumps(_jsonable(S.proposals(S.random_sampler(rule), MIXED, 11, 15))))
        assert theirs[rule] == ours
    assert theirs["automode"] == json.loads(json.dumps(S.proposals(S.automode_sampler(), (), 11, 20)))


@pytest.mark.parametrize("sampler, space", [(S.random_sampler(), MIXED), (S.random_sampler("sobol"), MIXED),
                                            (S.automode_sampler(), ())], ids=["random", "sobol", "automode"])
def test_resume_from_json_equals_uninterrupted(sampler, space):
    state = sampler.init(space, 5)
    head = []
    for _ in range(7):
        p, state = sampler.propose(state, ())
        head.append(p)
    state = S.state_from_json(space, json.loads(json.dumps(S.state_to_json(state))))
    tail = []
    for _ in range(13):
        p, state = sampler.propose(state, ())
        tail.append(p)
    assert head + tail == S.proposals(sampler, space, 5, 20)
    assert pickle.loads(pickle.dumps(state)) == state


# -- sobol -------------------------------------------------------------------------------

def test_sobol_is_stratified_random_is_not():
    space = ({"momentum": Uniform(min_value=0, max_value=1)},)
    for rule, expect_all in (("sobol", True), ("random", False)):
        values = [p["momentum"] for _, p in S.proposals(S.random_sampler(rule), space, 3, 64)]
        bins = {min(int(v * 64), 63) for v in values}
        assert (len(bins) == 64) is expect_all, rule


def test_sobol_covers_2d_better_than_random():
    space = ({"momentum": Uniform(min_value=0, max_value=1), "beta2": Uniform(min_value=0, max_value=1)},)

    def cells(rule, seed):
        got = S.proposals(S.random_sampler(rule), space, seed, 64)
        return len({(int(p["momentum"] * 8), int(p["beta2"] * 8)) for _, p in got})

    assert all(cells("sobol", s) == 64 for s in range(3))  # every 1/8 x 1/8 cell once
    assert all(cells("random", s) < 64 for s in range(3))


# -- hypothesis: support and types ------------------------------------------------------------

_UNIT_FLOATS = ["beta1", "beta2", "momentum", "weight_decay", "learning_rate", "step_lr_gamma"]
_INTS = ["number_of_epochs", "training_batch_size", "step_lr_step_size", "validation_batch_size"]


@st.composite
def _unit_float_dist(draw):
    a = draw(st.floats(0.0, 0.9))
    b = draw(st.floats(a + 0.01, 1.0))
    q = draw(st.sampled_from([0.01, 0.05, 0.1]))
    return draw(st.sampled_from([
        Uniform(min_value=a, max_value=b),
        LogUniform(min_value=math.log(a + 0.01) - 1, max_value=math.log(a + 0.01)),
        QUniform(min_value=a, max_value=b, q=q),
        QLogUniform(min_value=math.log(a + 0.05), max_value=math.log(b), q=q) if math.log(a + 0.05) < math.log(b)
        else Uniform(min_value=a, max_value=b),
        Normal(mu=(a + b) / 2, sigma=0.1),
        LogNormal(mu=math.log((a + b) / 2 + 0.01), sigma=0.2),
        QNormal(mu=(a + b) / 2, sigma=0.1, q=q),
        Choice(values=(a, b)),
        Randint(upper=2),
    ]))


@st.composite
def _int_dist(draw):
    lo = draw(st.integers(1, 50))
    hi = draw(st.integers(lo + 1, 120))
    q = draw(st.integers(1, 4))
    return draw(st.sampled_from([
        Randint(upper=hi),
        QUniform(min_value=lo, max_value=hi, q=q),
        QLogUniform(min_value=math.log(lo), max_value=math.log(hi), q=q),
        QNormal(mu=(lo + hi) / 2, sigma=5, q=q),
        QLogNormal(mu=math.log(hi), sigma=0.2, q=q),
        Choice(values=(lo, hi)),
    ]))


@st.composite
def _subspace(draw):
    sub = {}
    for key in draw(st.lists(st.sampled_from(_UNIT_FLOATS), max_size=3, unique=True)):
        sub[key] = draw(_unit_float_dist())
    for key in draw(st.lists(st.sampled_from(_INTS), max_size=2, unique=True)):
        sub[key] = draw(_int_dist())
    if draw(st.booleans()):
        sub["optimizer"] = Choice(values=("SGD", "adamw"))
    if draw(st.booleans()):
        sub["nesterov"] = Choice(values=(True, False))
    if draw(st.booleans()):
        sub["model_name"] = draw(st.sampled_from(["resnet18", Choice(values=("resnet18", "vits16r224"))]))
    return sub


def _in_support(dist, v) -> bool:
    eps = 1e-9
    if isinstance(dist, Randint):
        return float(v).is_integer() and 0 <= v < dist.upper
    if isinstance(dist, Uniform):
        return dist.min_value - eps <= v <= dist.max_value + eps
    if isinstance(dist, LogUniform):
        return math.exp(dist.min_value) * (1 - eps) <= v <= math.exp(dist.max_value) * (1 + eps)
    if isinstance(dist, (QUniform, QLogUniform, QNormal, QLogNormal)):
        k = v / dist.q
        if abs(k - round(k)) > 1e-6:
            return False
        if isinstance(dist, QUniform):
            return round(dist.min_value / dist.q) * dist.q - eps <= v <= round(dist.max_value / dist.q) * dist.q + eps
        if isinstance(dist, QLogUniform):
            lo, hi = math.exp(dist.min_value), math.exp(dist.max_value)
            return round(lo / dist.q) * dist.q - eps <= v <= round(hi / dist.q) * dist.q + eps
        return True
    if isinstance(dist, LogNormal):
        return v >= 0
    return isinstance(dist, Normal)


_TYPES = {Kind.FLOAT: float, Kind.INT: int, Kind.BOOL: bool, Kind.STR: str}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sub=_subspace(), seed=st.integers(0, 2**32), rule=st.sampled_from(["random", "sobol"]))
def test_property_values_lie_in_support_and_have_field_type(sub, seed, rule):
    for index, params in S.proposals(S.random_sampler(rule), (sub,), seed, 8):
        assert index == 0 and set(params) == set(sub)
        assert S.violation(params) is None
        for key, value in params.items():
            spec = SEARCHABLE[key]
            if spec.kind is Kind.ENUM:
                assert isinstance(value, spec.enum)
            else:
                assert type(value) is _TYPES[spec.kind], (key, value)
            dist = sub[key]
            if hasattr(dist, "type"):
                if isinstance(dist, Choice):
                    assert value in [spec.convert(w) for w in dist.values]
                else:
                    assert _in_support(dist, value), (dist, value)
            else:
                assert value == spec.convert(dist)


# -- Bayesian ------------------------------------------------------------------------------

QUAD = ({"beta1": Uniform(min_value=0, max_value=1), "momentum": Uniform(min_value=0, max_value=1)},)


def _quad(p):
    return -((p["beta1"] - 0.3) ** 2 + (p["momentum"] - 0.7) ** 2)


def _optimise(sampler, space, f, seed, n):
    state = sampler.init(space, seed)
    history = []
    for _ in range(n):
        proposal, state = sampler.propose(state, history)
        history.append((proposal[0], proposal[1], f(proposal[1])))
    return history


def test_bayesian_beats_random_on_2d_quadratic():
    bayes = [max(m for *_, m in _optimise(S.bayesian_sampler(), QUAD, _quad, s, 20)) for s in range(3)]
    rand = [max(m for *_, m in _optimise(S.random_sampler(), QUAD, _quad, s, 20)) for s in range(3)]
    assert np.median(bayes) > np.median(rand)
    assert np.median(bayes) > -1e-3  # within ~0.03 of the optimum


def test_bayesian_is_deterministic_given_history_and_seed():
    history = _optimise(S.random_sampler(), QUAD, _quad, 0, 8)
    sampler = S.bayesian_sampler(n_startup=5)

    def next_after(seed):
        state = sampler.init(QUAD, seed)
        for i, p, _ in history:  # replay the issued proposals' count
            state = state._replace(count=state.count + 1, issued=state.issued + ((i, S._canon(p)),))
        return sampler.propose(state, history)[0]

    a = next_after(1)
    assert a == next_after(1)
    assert a != next_after(2)
    assert a[1] not in [p for _, p, _ in history]


def test_bayesian_start_trials_then_model_and_failed_trials_ignored():
    sampler = S.bayesian_sampler(n_startup=3, startup_rule="sobol")
    state = sampler.init(QUAD, 0)
    history = []
    for _ in range(6):  # every trial fails: the model never has 2 points, proposals stay Sobol start trials
        proposal, state = sampler.propose(state, history)
        history.append((proposal[0], proposal[1], None))
    sobol = S.proposals(S.random_sampler("sobol"), QUAD, 0, 6)
    assert [(i, p) for i, p, _ in history] == sobol


def test_bayesian_default_start_trials_are_the_random_samplers():
    history = _optimise(S.bayesian_sampler(), QUAD, _quad, 4, 7)
    start = [(i, p) for i, p, _ in history[:5]]  # max(5, 2 dimensions + 1) = 5
    assert start == S.proposals(S.random_sampler(), QUAD, 4, 5)
    assert [(i, p) for i, p, _ in history[5:]] != S.proposals(S.random_sampler(), QUAD, 4, 7)[5:]


def test_bayesian_proposals_are_typed_and_rounded():
    space = ({"number_of_epochs": QUniform(min_value=5, max_value=50, q=5),
              "optimizer": Choice(values=("sgd", "adam", "adamw")),
              "momentum": Uniform(min_value=0.5, max_value=1.0)},)

    def f(p):
        return -abs(p["number_of_epochs"] - 30) / 10 - (p["optimizer"] != Optimizer.ADAM) - abs(p["momentum"] - 0.9)

    history = _optimise(S.bayesian_sampler(n_startup=6), space, f, 0, 14)
    for _, p, _ in history:
        assert type(p["number_of_epochs"]) is int and p["number_of_epochs"] % 5 == 0
        assert isinstance(p["optimizer"], Optimizer) and type(p["momentum"]) is float
    assert len({json.dumps(q, sort_keys=True) for _, q in _jsonable([(i, p) for i, p, _ in history])}) == 14
    assert max(m for *_, m in history) > -0.3


def test_bayesian_padded_history_does_not_recompile():
    from imgtune.compiler import gp

    sampler = S.bayesian_sampler(n_startup=9)
    state = sampler.init(QUAD, 0)
    history = []
    sizes = []
    for _ in range(16):  # fits on 9..15 points all pad to 16 rows
        proposal, state = sampler.propose(state, history)
        history.append((proposal[0], proposal[1], _quad(proposal[1])))
        sizes.append(gp.compilation_cache_sizes()["fit"])
    assert sizes[-1] - sizes[9] == 0


@pytest.mark.parametrize("space, match", [
    (({"momentum": LogUniform(min_value=-3, max_value=0)},), "bayesian sampling takes only"),
    (({"momentum": Normal(mu=0.9, sigma=0.01)},), "bayesian sampling takes only"),
    (({"momentum": Uniform(min_value=0, max_value=1)}, {"beta1": Uniform(min_value=0, max_value=1)}), "1 subspace"),
])
def test_bayesian_rejects_what_azure_rejects(space, match):
    with pytest.raises(ValidationError, match=match):
        S.bayesian_sampler().init(space, 0)


def test_bayesian_extended_accepts_log_dims():
    space = ({"learning_rate": LogUniform(min_value=-9, max_value=-1), "layers_to_freeze": Randint(upper=5)},)

    def f(p):
        return -(math.log(p["learning_rate"]) + 5) ** 2 - abs(p["layers_to_freeze"] - 2)

    history = _optimise(S.bayesian_sampler(n_startup=5, extended=True), space, f, 0, 12)
    assert all(type(p["layers_to_freeze"]) is int for _, p, _ in history)


def test_bayesian_pending_proposals_are_spread():
    # two proposals without new results (concurrent trials): distinct, and the liar keeps them apart
    history = _optimise(S.random_sampler(), QUAD, _quad, 0, 8)
    sampler = S.bayesian_sampler(n_startup=5)
    state = sampler.init(QUAD, 0)
    state = state._replace(count=8, issued=tuple((i, S._canon(p)) for i, p, _ in history))
    a, state = sampler.propose(state, history)
    b, state = sampler.propose(state, history)
    assert a != b
    dist = math.dist((a[1]["beta1"], a[1]["momentum"]), (b[1]["beta1"], b[1]["momentum"]))
    assert dist > 1e-3


# -- AutoMode -------------------------------------------------------------------------------

def test_automode_portfolio_then_random_default_space():
    got = S.proposals(S.automode_sampler(), (), 0, 40)
    portfolio = S.automode_portfolio()
    assert [(p["model_name"], p["learning_rate"]) for _, p in got[:len(portfolio)]] == list(portfolio)
    assert got[0] == (0, {"learning_rate": 0.01, "model_name": "seresnext"})
    assert got[1] == (1, {"learning_rate": 0.0125, "model_name": "vitb16r224"})
    space = S.automode_space()
    for i, p in got[len(portfolio):]:
        assert i in (0, 1) and p["model_name"] in space[i]["model_name"].values
        lr = space[i]["learning_rate"]
        assert math.exp(lr.min_value) <= p["learning_rate"] <= math.exp(lr.max_value)


@pytest.mark.parametrize("multilabel, model, lr", [
    (False, "resnet50", 0.01), (True, "resnet50", 0.035), (False, "vits16r224", 0.0125),
    (True, "vits16r224", 0.025), (False, "vitl16r224", 0.001), (True, "vitl16r224", 0.002),
])
def test_automode_learning_rates(multilabel, model, lr):
    assert (model, lr) in S.automode_portfolio(multilabel)


def test_automode_rejects_a_search_space():
    with pytest.raises(ValidationError, match="AutoMode takes no search space"):
        S.automode_sampler().init(({"number_of_epochs": 3},), 0)


def test_compile_layer_does_not_import_jax():
    code = ("import sys\nfrom imgtune.compiler import samplers, policies\n"
            "from imgtune.spec.distributions import Choice\n"
            "samplers.proposals(samplers.random_sampler('sobol'), ({'number_of_epochs': Choice(values=(1, 2))},), 0, 2)\n"
            "samplers.proposals(samplers.grid_sampler(), ({'number_of_epochs': Choice(values=(1, 2))},), 0, 2)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('jax', 'optax') or m.startswith('imgtune.train')"
            " or m.startswith('imgtune.run')]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("dist", [Randint(upper=7), Uniform(min_value=-1, max_value=2),
                                  LogUniform(min_value=-5, max_value=0), QUniform(min_value=2, max_value=60, q=1),
                                  QLogUniform(min_value=0, max_value=4, q=3)])
def test_vectorised_inverse_cdf_matches_scalar(dist):
    u = np.random.default_rng(0).random(500)
    np.testing.assert_allclose(S._inverse_cdf_array(dist, u), [S._inverse_cdf(dist, x) for x in u], rtol=1e-12)
