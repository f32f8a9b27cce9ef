"""Early-termination policies as pairs of pure functions (optax style).

A policy is ``Policy(init, decide)``:

* ``init() -> state``
* ``decide(state, histories, running, interval) -> (decisions, state)``

``histories`` maps every trial id (running and finished) to the primary-metric
values it has reported so far, one per report; ``running`` is the set of ids
still running; ``interval`` is the (1-based) report index just reached. The
trials judged are the running trials whose history has exactly ``interval``
values (they have just reached it); only they can be stopped. ``decide``
returns one :class:`Decision` per judged trial when the policy acts at
``interval`` (:func:`acts_at`) and an empty list otherwise. Every metric is
maximised. Non-finite values (NaN) count as missing: a trial whose values up
to the interval are all non-finite is neither judged nor used as a reference.

The built-in policies keep no state (``EmptyState()``); the state exists so
that a policy that needs one fits the same executor.

Definitions (Azure's where documented, imgtune's choice where not):

* **When**: at every multiple of ``evaluation_interval`` that is at least
  ``delay_evaluation``; an ``evaluation_interval`` of 0 (the SDK default for
  bandit and truncation) acts as 1.
* **Bandit**: with ``Y`` a trial's best value over reports ``1..N`` and
  ``best`` the largest such value over *all* trials (running or finished,
  the judged trial included) that reported at least ``N`` times, stop when
  ``Y < best - gap`` with ``gap = slack_amount`` or
  ``gap = |best| * slack_factor / (1 + slack_factor)``; for ``best > 0`` this
  is Azure's ``Y < best / (1 + slack_factor)``, and for a negative best (e.g.
  ``norm_macro_recall``) it still never stops the leading trial.
* **Median stopping**: stop when the trial's best value over ``1..N`` is below
  the median of the running averages (mean of reports ``1..N``) of all trials
  that reported at least ``N`` times, the judged trial included (as Azure and
  Vizier do). No minimum number of trials.
* **Truncation selection**: rank the trials that reported at least ``N``
  times by their value *at* ``N``; ``k = floor(truncation_percentage% * count)``
  of them are the lowest. A judged trial is stopped when it and every trial
  tied with it fit in the lowest ``k`` (``#{v <= value} <= k``), so ties at the
  cut survive, at most ``k`` trials are stopped and the best trial never is.
  Finished trials count (Azure's ``exclude_finished_jobs: false``).

Example:
    >>> policy = bandit_policy(slack_factor=0.2)
    >>> decisions, _ = policy.decide(policy.init(), {"a": [0.8], "b": [0.6]}, {"a", "b"}, 1)
    >>> [(d.trial_id, d.stop) for d in decisions]
    [('a', False), ('b', True)]
    >>> decisions[1].reason
    'bandit: 0.6 < 0.6667 = best 0.8 / (1 + 0.2) at interval 1'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.values import finite

__all__ = [
    "Decision",
    "EmptyState",
    "Policy",
    "acts_at",
    "bandit_policy",
    "chain",
    "median_stopping_policy",
    "no_policy",
    "on_scores",
    "truncation_selection_policy",
]

Histories = Mapping[Hashable, Sequence[float]]


@attrs.frozen
class Decision:
    """What a policy decided about one trial at one interval.

    Attributes:
        trial_id: The trial.
        stop: Whether to stop (cancel) it now.
        reason: Why, readable, e.g.
            ``bandit: 0.61 < 0.6667 = best 0.8 / (1 + 0.2) at interval 4``.
    """

    trial_id: Hashable
    stop: bool
    reason: str


class EmptyState(NamedTuple):
    """The state of a policy that keeps none."""


class Policy(NamedTuple):
    """A policy: ``init() -> state``, ``decide(state, histories, running, interval) -> (decisions, state)``."""

    init: Callable[[], Any]
    decide: Callable[[Any, Histories, Collection[Hashable], int], tuple[list[Decision], Any]]


def acts_at(interval: int, evaluation_interval: int = 1, delay_evaluation: int = 0) -> bool:
    """Whether a policy acts at report ``interval`` (1-based).

    >>> [i for i in range(1, 11) if acts_at(i, evaluation_interval=3, delay_evaluation=5)]
    [6, 9]
    >>> acts_at(1, evaluation_interval=0)
    True
    """
    every = max(int(evaluation_interval), 1)
    return interval >= 1 and interval % every == 0 and interval >= delay_evaluation


def _g(x: float) -> str:
    return f"{x:.4g}"


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in map(finite, values) if v is not None]


def _judged(histories: Histories, running: Collection[Hashable], interval: int) -> list[Hashable]:
    return [t for t, h in histories.items() if t in running and len(h) == interval and _finite(h[:interval])]


def _check_gating(problems: list[Problem], evaluation_interval: Any, delay_evaluation: Any) -> None:
    for name, value in (("evaluation_interval", evaluation_interval), ("delay_evaluation", delay_evaluation)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(Problem(f"sweep.early_termination.{name}", f"must be an integer >= 0, got {value!r}"))


def _gated(name: str, evaluation_interval: int, delay_evaluation: int,
           judge: Callable[[Histories, list[Hashable], int], list[Decision]]) -> Policy:
    def init() -> EmptyState:
        return EmptyState()

    def decide(state: Any, histories: Histories, running: Collection[Hashable], interval: int):
        if not acts_at(interval, evaluation_interval, delay_evaluation):
            return [], state
        judged = _judged(histories, running, interval)
        return (judge(histories, judged, interval) if judged else []), state

    decide.__qualname__ = f"{name}.decide"
    return Policy(init, decide)


def bandit_policy(*, slack_factor: float | None = None, slack_amount: float | None = None,
                  evaluation_interval: int = 1, delay_evaluation: int = 0) -> Policy:
    """Stops trials whose best value falls outside the slack from the best trial at the same interval.

    Exactly one of ``slack_factor`` (ratio, ``> 0``) and ``slack_amount``
    (distance, ``>= 0``) is given. See the module docstring for the exact rule.
    """
    problems: list[Problem] = []
    if (slack_factor is None) == (slack_amount is None):
        problems.append(Problem("sweep.early_termination", "bandit needs exactly one of slack_factor and slack_amount"))
    for name, value, low in (("slack_factor", slack_factor, 0.0), ("slack_amount", slack_amount, 0.0)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value) and value >= low):
            problems.append(Problem(f"sweep.early_termination.{name}", f"must be a number >= 0, got {value!r}"))
    _check_gating(problems, evaluation_interval, delay_evaluation)
    if problems:
        raise ValidationError(problems, "bandit policy")

    def judge(histories: Histories, judged: list[Hashable], n: int) -> list[Decision]:
        bests = [max(v) for h in histories.values() if len(h) >= n and (v := _finite(h[:n]))]
        best = max(bests)
        if slack_factor is not None:
            f = float(slack_factor)
            gap = abs(best) * f / (1 + f)
            rule = (f"best {_g(best)} / (1 + {_g(f)})" if best > 0
                    else f"best {_g(best)} - |{_g(best)}| * {_g(f)} / (1 + {_g(f)})")
        else:
            gap = float(slack_amount)
            rule = f"best {_g(best)} - {_g(gap)}"
        threshold = best - gap
        out = []
        for t in judged:
            y = max(_finite(histories[t][:n]))
            if y < threshold:
                out.append(Decision(t, True, f"bandit: {_g(y)} < {_g(threshold)} = {rule} at interval {n}"))
            else:
                out.append(Decision(t, False, f"bandit: {_g(y)} >= {_g(threshold)} = {rule} at interval {n}"))
        return out

    return _gated("bandit_policy", evaluation_interval, delay_evaluation, judge)


def median_stopping_policy(*, evaluation_interval: int = 1, delay_evaluation: int = 0) -> Policy:
    """Stops trials whose best value is below the median of all trials' running averages."""
    problems: list[Problem] = []
    _check_gating(problems, evaluation_interval, delay_evaluation)
    if problems:
        raise ValidationError(problems, "median stopping policy")

    def judge(histories: Histories, judged: list[Hashable], n: int) -> list[Decision]:
        averages = [sum(v) / len(v) for h in histories.values() if len(h) >= n and (v := _finite(h[:n]))]
        median = _median(averages)
        out = []
        for t in judged:
            y = max(_finite(histories[t][:n]))
            stop = y < median
            op = "<" if stop else ">="
            out.append(Decision(t, stop, f"median_stopping: best {_g(y)} {op} median {_g(median)} of running "
                                         f"averages of {len(averages)} trials at interval {n}"))
        return out

    return _gated("median_stopping_policy", evaluation_interval, delay_evaluation, judge)


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def truncation_selection_policy(*, truncation_percentage: int, evaluation_interval: int = 1,
                                delay_evaluation: int = 0) -> Policy:
    """Stops the trials in the lowest ``truncation_percentage`` percent at each interval."""
    problems: list[Problem] = []
    if not (isinstance(truncation_percentage, int) and not isinstance(truncation_percentage, bool)
            and 1 <= truncation_percentage <= 99):
        problems.append(Problem("sweep.early_termination.truncation_percentage",
                                f"must be an integer in [1, 99], got {truncation_percentage!r}"))
    _check_gating(problems, evaluation_interval, delay_evaluation)
    if problems:
        raise ValidationError(problems, "truncation selection policy")
    pct = truncation_percentage

    def judge(histories: Histories, judged: list[Hashable], n: int) -> list[Decision]:
        values = [float(h[n - 1]) for h in histories.values() if len(h) >= n and _finite([h[n - 1]])]
        k = len(values) * pct // 100
        out = []
        for t in judged:
            raw = histories[t][n - 1]
            if not _finite([raw]):
                continue
            v = float(raw)
            at_or_below = sum(1 for w in values if w <= v)
            stop = at_or_below <= k
            where = "in" if stop else "not in"
            out.append(Decision(t, stop, f"truncation_selection: {_g(v)} {where} lowest {pct}% "
                                         f"({k} of {len(values)}) at interval {n}"))
        return out

    return _gated("truncation_selection_policy", evaluation_interval, delay_evaluation, judge)


def no_policy() -> Policy:
    """Every trial runs to completion."""
    return Policy(lambda: EmptyState(), lambda state, histories, running, interval: ([], state))


def chain(*policies: Policy) -> Policy:
    """Applies several policies; a trial stops when any of them stops it.

    The state is the tuple of the inner states. Decisions are merged per trial
    (in the order first seen): ``stop`` is the OR, and the reason joins with
    ``"; "`` the reasons of the policies that stop it (or, when none does, all
    the reasons).
    """

    def init() -> tuple:
        return tuple(p.init() for p in policies)

    def decide(state: tuple, histories: Histories, running: Collection[Hashable], interval: int):
        merged: dict[Hashable, list[Decision]] = {}
        new_state = []
        for policy, inner in zip(policies, state):
            decisions, inner = policy.decide(inner, histories, running, interval)
            new_state.append(inner)
            for d in decisions:
                merged.setdefault(d.trial_id, []).append(d)
        out = []
        for t, ds in merged.items():
            stops = [d.reason for d in ds if d.stop]
            out.append(Decision(t, bool(stops), "; ".join(stops or [d.reason for d in ds])))
        return out, tuple(new_state)

    return Policy(init, decide)


def on_scores(policy: Policy, score: Callable[[Any], float]) -> Policy:
    """The policy judging ``score(value)`` instead of each reported value (a combinator, as optax's).

    The policies compare values as "higher is better"; the primary metric says what better
    means (:meth:`imgtune.spec.enums.PrimaryMetric.score`), so the sweep hands its policy
    ``on_scores(policy, metric.score)``. A score that is not finite counts as missing.

    Example:
        >>> policy = on_scores(bandit_policy(slack_amount=0.1), lambda v: -v)  # a metric to minimise
        >>> decisions, _ = policy.decide(policy.init(), {"a": [0.2], "b": [0.5]}, {"a", "b"}, 1)
        >>> [(d.trial_id, d.stop) for d in decisions]
        [('a', False), ('b', True)]
    """

    def decide(state: Any, histories: Histories, running: Collection[Hashable], interval: int):
        scored = {t: [score(v) for v in values] for t, values in histories.items()}
        return policy.decide(state, scored, running, interval)

    return Policy(policy.init, decide)
