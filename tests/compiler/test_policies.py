"""Early-termination policies (imgtune.compiler.policies)."""

from __future__ import annotations

import pickle

import pytest

from imgtune.compiler import policies as P
from imgtune.errors import ValidationError


def _decide(policy, histories, running=None, interval=None):
    running = set(histories) if running is None else set(running)
    if interval is None:
        interval = max(len(h) for h in histories.values())
    decisions, _ = policy.decide(policy.init(), histories, running, interval)
    return {d.trial_id: d for d in decisions}


def _stopped(policy, histories, running=None, interval=None):
    return {t for t, d in _decide(policy, histories, running, interval).items() if d.stop}


# -- gating ---------------------------------------------------------------------------

@pytest.mark.parametrize("every, delay, expected", [
    (1, 0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    (0, 0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),  # 0 acts as 1
    (2, 0, [2, 4, 6, 8, 10]),
    (1, 5, [5, 6, 7, 8, 9, 10]),
    (3, 5, [6, 9]),  # first multiple of 3 at or above 5
    (5, 5, [5, 10]),
    (4, 11, []),
])
def test_acts_at(every, delay, expected):
    assert [i for i in range(1, 11) if P.acts_at(i, every, delay)] == expected


@pytest.mark.parametrize("make", [
    lambda: P.bandit_policy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=3),
    lambda: P.median_stopping_policy(evaluation_interval=2, delay_evaluation=3),
    lambda: P.truncation_selection_policy(truncation_percentage=50, evaluation_interval=2, delay_evaluation=3),
])
def test_policies_act_only_when_gated(make):
    policy = make()
    for interval in range(1, 9):
        histories = {"good": [0.9] * interval, "bad": [0.1] * interval, "mid": [0.5] * interval}
        acted = bool(_decide(policy, histories, interval=interval))
        assert acted is P.acts_at(interval, 2, 3), interval
    assert P.acts_at(4, 2, 3)
    assert "bad" in _stopped(policy, {"good": [0.9] * 4, "bad": [0.1] * 4, "mid": [0.5] * 4}, interval=4)


# -- bandit ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, histories, stopped", [
    # the reference's worked example: best 0.8, f = 0.2 -> stop below 0.8 / 1.2 = 0.667
    (dict(slack_factor=0.2), {"best": [0.8], "a": [0.66], "b": [0.67]}, {"a"}),
    (dict(slack_factor=0.2), {"best": [0.8], "a": [0.6667]}, set()),
    # best so far counts, not the latest value
    (dict(slack_factor=0.2), {"best": [0.5, 0.8], "a": [0.7, 0.3]}, set()),
    # slack_amount: stop below best - a
    (dict(slack_amount=0.15), {"best": [0.9], "a": [0.74], "b": [0.76]}, {"a"}),
    # negative metric (norm_macro_recall): the leader never stops, the gap is |best| f / (1 + f)
    (dict(slack_factor=0.2), {"lead": [-0.5], "a": [-0.55], "b": [-0.6]}, {"b"}),
    (dict(slack_factor=0.2), {"lead": [-0.5]}, set()),
    (dict(slack_factor=0.5), {"lead": [-0.2], "tie": [-0.2]}, set()),
])
def test_bandit(kwargs, histories, stopped):
    assert _stopped(P.bandit_policy(**kwargs), histories) == stopped


def test_bandit_reference_is_best_of_all_trials_at_that_interval_including_finished():
    policy = P.bandit_policy(slack_factor=0.2)
    histories = {"done": [0.9, 0.95, 0.97], "a": [0.7, 0.72], "b": [0.75, 0.76]}
    # at interval 2 the finished trial's best up to 2 is 0.95: threshold 0.7917
    assert _stopped(policy, histories, running={"a", "b"}, interval=2) == {"a", "b"}
    # the finished trial itself is never judged
    assert "done" not in _decide(policy, histories, running={"a", "b"}, interval=2)


def test_bandit_reason_text():
    d = _decide(P.bandit_policy(slack_factor=0.2), {"best": [0.5, 0.8, 0.7, 0.75], "a": [0.4, 0.5, 0.55, 0.61]})
    assert d["a"].stop and d["a"].reason == "bandit: 0.61 < 0.6667 = best 0.8 / (1 + 0.2) at interval 4"
    assert not d["best"].stop and d["best"].reason.startswith("bandit: 0.8 >= 0.6667")
    d = _decide(P.bandit_policy(slack_amount=0.1), {"best": [0.8], "a": [0.6]})
    assert d["a"].reason == "bandit: 0.6 < 0.7 = best 0.8 - 0.1 at interval 1"
    d = _decide(P.bandit_policy(slack_factor=0.2), {"best": [-0.5], "a": [-0.7]})
    assert d["a"].reason == "bandit: -0.7 < -0.5833 = best -0.5 - |-0.5| * 0.2 / (1 + 0.2) at interval 1"


@pytest.mark.parametrize("kwargs", [{}, dict(slack_factor=0.1, slack_amount=0.1), dict(slack_factor=-0.1),
                                    dict(slack_amount=0.1, evaluation_interval=-1)])
def test_bandit_rejects_bad_settings(kwargs):
    with pytest.raises(ValidationError):
        P.bandit_policy(**kwargs)


# -- median stopping ---------------------------------------------------------------------

def test_median_stopping_on_hand_made_histories():
    histories = {
        "a": [0.50, 0.60, 0.70],  # avg 0.600, best 0.70
        "b": [0.40, 0.45, 0.50],  # avg 0.450, best 0.50
        "c": [0.20, 0.30, 0.52],  # avg 0.340, best 0.52
        "d": [0.60, 0.65, 0.66],  # avg 0.637, best 0.66
        "e": [0.10, 0.20, 0.30],  # avg 0.200, best 0.30
    }
    # running averages: 0.2, 0.34, 0.45, 0.6, 0.637 -> median 0.45 (the judged trials included)
    assert _stopped(P.median_stopping_policy(), histories) == {"e"}
    d = _decide(P.median_stopping_policy(), histories)
    assert d["e"].reason == "median_stopping: best 0.3 < median 0.45 of running averages of 5 trials at interval 3"
    assert not d["c"].stop  # best 0.52 >= 0.45 although its average is below


def test_median_uses_only_values_up_to_the_interval_and_counts_finished_trials():
    histories = {"done": [0.9, 0.9, 0.9, 0.1, 0.1], "x": [0.3, 0.35], "y": [0.5, 0.8]}
    # at 2: averages 0.9, 0.325, 0.65 -> median 0.65; x (best 0.35) stops, y (best 0.8) runs
    assert _stopped(P.median_stopping_policy(), histories, running={"x", "y"}, interval=2) == {"x"}


def test_median_single_trial_never_stops():
    assert _stopped(P.median_stopping_policy(), {"only": [0.1, 0.05]}) == set()


# -- truncation selection -----------------------------------------------------------------

@pytest.mark.parametrize("pct, values, stopped", [
    (20, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], {0, 1}),  # floor(20% of 10) = 2
    (25, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], {0}),  # floor(1.75) = 1
    (10, [0.1, 0.2, 0.3, 0.4, 0.5], set()),  # floor(0.5) = 0
    (99, [0.5, 0.9], {0}),  # floor(1.98) = 1, never the best
    (50, [0.5, 0.5], set()),  # ties at the cut survive
    (50, [0.1, 0.5, 0.5, 0.5], {0}),
])
def test_truncation_selection(pct, values, stopped):
    histories = {i: [0.0, v] for i, v in enumerate(values)}
    assert _stopped(P.truncation_selection_policy(truncation_percentage=pct), histories) == stopped


def test_truncation_compares_values_at_the_interval_only():
    # a's best (0.9 at report 1) is high, but at interval 2 its value 0.2 is the lowest
    histories = {"a": [0.9, 0.2], "b": [0.3, 0.5], "c": [0.4, 0.6], "d": [0.1, 0.7]}
    d = _decide(P.truncation_selection_policy(truncation_percentage=25), histories)
    assert {t for t, x in d.items() if x.stop} == {"a"}
    assert d["a"].reason == "truncation_selection: 0.2 in lowest 25% (1 of 4) at interval 2"


def test_truncation_counts_finished_trials_but_stops_only_running():
    histories = {"f1": [0.1], "f2": [0.2], "r1": [0.3], "r2": [0.9]}
    assert _stopped(P.truncation_selection_policy(truncation_percentage=75), histories,
                    running={"r1", "r2"}) == {"r1"}


@pytest.mark.parametrize("pct", [0, 100, 12.5, True])
def test_truncation_rejects_bad_percentage(pct):
    with pytest.raises(ValidationError):
        P.truncation_selection_policy(truncation_percentage=pct)


# -- who is judged, chain, no policy ----------------------------------------------------------

def test_only_running_trials_that_reached_the_interval_are_judged():
    histories = {"ahead": [0.1, 0.1, 0.1], "now": [0.1, 0.1], "best": [0.9, 0.9], "stopped": [0.0, 0.0]}
    d = _decide(P.bandit_policy(slack_amount=0.1), histories, running={"ahead", "now", "best"}, interval=2)
    assert set(d) == {"now", "best"}
    assert d["now"].stop and not d["best"].stop


def test_nan_values_are_ignored():
    histories = {"nan": [float("nan")], "a": [0.8], "b": [0.5]}
    d = _decide(P.bandit_policy(slack_factor=0.1), histories)
    assert set(d) == {"a", "b"} and d["b"].stop


def test_chain_stops_when_any_stops_and_joins_reasons():
    policy = P.chain(P.bandit_policy(slack_amount=0.5), P.truncation_selection_policy(truncation_percentage=40),
                     P.no_policy())
    histories = {"a": [0.9], "b": [0.5], "c": [0.2], "d": [0.8], "e": [0.7]}
    decisions, state = policy.decide(policy.init(), histories, set(histories), 1)
    d = {x.trial_id: x for x in decisions}
    assert {t for t, x in d.items() if x.stop} == {"b", "c"}
    assert d["c"].reason.startswith("bandit: 0.2 < 0.4") and "; truncation_selection: 0.2 in lowest 40%" in d["c"].reason
    assert d["b"].reason.startswith("truncation_selection: 0.5 in lowest")
    assert "bandit" in d["a"].reason and "truncation_selection" in d["a"].reason and not d["a"].stop
    assert len(state) == 3 and pickle.loads(pickle.dumps(state)) == state


def test_no_policy_never_stops():
    policy = P.no_policy()
    assert policy.decide(policy.init(), {"a": [0.0], "b": [1.0]}, {"a", "b"}, 1) == ([], policy.init())
