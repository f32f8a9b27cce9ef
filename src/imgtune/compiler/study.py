"""Ask and tell: a sweep driven by hand, as a pure value.

A :class:`Study` holds a :class:`~imgtune.compiler.plan.Plan` (which carries the sampler's
state), how many of its trials were asked, and what was told of them. Every method returns a
new study and leaves the old one as it was:

* :meth:`Study.ask` hands out the plan's next trial; once they are all out, it proposes one more
  from what was told (:func:`~imgtune.compiler.extend`: Bayesian sampling learns from it), up
  to ``max_trials``; ``None`` when there is nothing more to ask.
* :meth:`Study.tell` records a trial's outcome: its primary metric, or its history of
  :class:`Observation` s (the metric is then the history's best), or that it failed.
* :meth:`Study.should_stop` asks the job's early-termination policy
  (:func:`~imgtune.compiler.make_policy`) about a running trial, given its history so far and
  the told trials' histories; the built-in policies keep no state, so the study carries none.

The same study asked and told the same things gives the same trials in any process.

Example:
    >>> import imgtune
    >>> job = imgtune.ImageClassificationJob(
    ...     training_data={"path": "data"}, target_column_name="label", limits={"max_trials": 3},
    ...     sweep={"sampling_algorithm": {"type": "random", "seed": 7}},
    ...     search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}}])
    >>> study = Study.create(job)
    >>> while True:
    ...     trial, study = study.ask()
    ...     if trial is None:
    ...         break
    ...     study = study.tell(trial, metric=1 - trial.parameters.learning_rate)
    >>> len(study.outcomes), study.done, study.best.metric == max(o.metric for o in study.outcomes)
    (3, True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from imgtune.compiler import compile, extend
from imgtune.compiler.plan import Plan, Trial, make_policy
from imgtune.compiler.policies import Decision
from imgtune.errors import Problem, ValidationError
from imgtune.spec.checks import Checker, Validated, is_int
from imgtune.spec.frozen import FrozenMap, freeze
from imgtune.spec.records import ImageClassificationJobBase
from imgtune.values import finite

__all__ = ["Observation", "Outcome", "Study"]


def _is_value(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)) or is_int(value)


@attrs.frozen
class Observation(Validated):
    """One evaluation of a trial: its epoch and the metrics it reported.

    Attributes:
        epoch: The epoch (1-based, as the trainer reports), or ``None`` when it does not apply.
        metrics: Metric name -> value, e.g. ``{"accuracy": 0.8, "loss": 0.4}``; a value that is
            ``None`` or not finite (NaN) counts as missing.

    Example:
        >>> Observation(3, {"accuracy": 0.8}).metrics["accuracy"]
        0.8
        >>> Observation.of({"epoch": 2, "accuracy": 0.7})   # a run's history entry (TrialRecord.history)
        Observation(epoch=2, metrics=FrozenMap({'accuracy': 0.7}))
    """

    epoch: int | None = None
    metrics: Mapping[str, float | None] = attrs.field(factory=FrozenMap, converter=freeze)

    @staticmethod
    def of(value: Observation | Mapping[str, Any]) -> Observation:
        """An observation as it is, or one from a mapping of ``epoch`` and the metrics (a run's history entry)."""
        if isinstance(value, Observation):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError([Problem("", f"must be an Observation or a mapping of epoch and metrics, "
                                               f"got {type(value).__name__}")])
        return Observation(value.get("epoch"), {k: v for k, v in value.items() if k != "epoch"})

    def _check(self, checker: Checker) -> None:
        if self.epoch is not None and not (is_int(self.epoch) and self.epoch >= 0):
            checker.add("epoch", f"must be an integer >= 0 or None, got {self.epoch!r}")
        if not isinstance(self.metrics, Mapping):
            checker.add("metrics", f"must be a mapping of metric names to numbers, got {self.metrics!r}")
            return
        for name, value in self.metrics.items():
            if not isinstance(name, str):
                checker.add("metrics", f"names must be strings, got {name!r}")
            elif not _is_value(value):
                checker.add(f"metrics.{name}", f"must be a number or None, got {value!r}")


@attrs.frozen(kw_only=True)
class Outcome:
    """What was told of one trial.

    Attributes:
        trial_id: The trial.
        metric: Its primary metric (the told one, else its history's best); ``None``: it failed
            (the sampler learns that the point is bad).
        history: Its evaluations, as told.
    """

    trial_id: str
    metric: float | None
    history: tuple[Observation, ...] = ()


def _observations(history: Iterable[Observation | Mapping[str, Any]], problems: list[Problem]) -> list[Observation]:
    """``history`` as :class:`Observation` s; each entry's problems go into ``problems`` at ``history[i]``."""
    observations: list[Observation] = []
    for i, entry in enumerate(history):
        try:
            observations.append(Observation.of(entry))
        except ValidationError as err:
            problems += [p.prefixed(f"history[{i}]") for p in err.problems]
    return observations


def _history_values(history: Iterable[Observation], metric: str) -> list[float]:
    return [v for v in (finite(o.metrics.get(metric)) for o in history) if v is not None]


@attrs.frozen(kw_only=True)
class Study:
    """A sweep driven by ask and tell (see the module docstring); make one with :meth:`create`.

    Attributes:
        plan: The plan so far: the trials known, the sampler's state.
        asked: How many of the plan's trials were handed out (always its first ones).
        outcomes: What was told, in the order it was told.

    Example:
        >>> import imgtune
        >>> job = imgtune.ImageClassificationJob(
        ...     training_data={"path": "d"}, target_column_name="label",
        ...     limits={"max_trials": 3, "max_concurrent_trials": 1}, sweep={"sampling_algorithm": "bayesian"},
        ...     search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}}])
        >>> study = Study.create(job, seed=0)
        >>> len(study.plan.trials)   # Bayesian: the first trial only; the others come from what is told
        1
        >>> for _ in range(3):
        ...     trial, study = study.ask()
        ...     study = study.tell(trial, metric=0.5 + trial.parameters.learning_rate)
        >>> len(study.plan.trials), len({t.id for t in study.trials}), study.ask()[0]
        (3, 3, None)
    """

    plan: Plan
    asked: int = 0
    outcomes: tuple[Outcome, ...] = ()

    @staticmethod
    def create(job: ImageClassificationJobBase | Plan, *, seed: int = 0) -> Study:
        """A study of a job (compiled with ``seed``, as :func:`~imgtune.compiler.compile` does), or of a plan.

        Example:
            >>> import imgtune
            >>> job = imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
            >>> study = Study.create(job, seed=3)
            >>> study.plan.seed, study.asked, study.pending
            (3, 0, ())
        """
        if isinstance(job, Plan):
            return Study(plan=job)
        if not isinstance(job, ImageClassificationJobBase):
            raise ValidationError([Problem("", f"a study takes a job or a plan, got {type(job).__name__}")])
        return Study(plan=compile(job, seed=seed))

    @property
    def trials(self) -> tuple[Trial, ...]:
        """The trials asked so far, in order."""
        return self.plan.trials[:self.asked]

    @property
    def pending(self) -> tuple[Trial, ...]:
        """The trials asked and not told yet."""
        told = {o.trial_id for o in self.outcomes}
        return tuple(t for t in self.trials if t.id not in told)

    @property
    def done(self) -> bool:
        """Whether :meth:`ask` is known to have nothing more to give: ``max_trials`` asked, or the
        sampler exhausted with every trial asked. (A Bayesian sampler may still find no further point
        when asked: :meth:`ask` then answers ``None``.)"""
        asked_all = self.asked >= len(self.plan.trials)
        return asked_all and (self.plan.exhausted or self.asked >= self.plan.limits.max_trials)

    @property
    def best(self) -> Outcome | None:
        """The outcome with the best primary metric (ties: the first told); ``None`` before any."""
        metric = self.plan.job.primary_metric
        best: Outcome | None = None
        for outcome in self.outcomes:
            if metric.better(outcome.metric, None if best is None else best.metric):
                best = outcome
        return best

    def ask(self) -> tuple[Trial | None, Study]:
        """The next trial, and the study that has handed it out; ``(None, study)`` when there is none.

        Example:
            >>> import imgtune
            >>> job = imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
            >>> trial, study = Study.create(job).ask()
            >>> trial.id == study.plan.trials[0].id, study.ask()[0]
            (True, None)
        """
        if self.asked < len(self.plan.trials):
            return self.plan.trials[self.asked], attrs.evolve(self, asked=self.asked + 1)
        plan = extend(self.plan, self._sampler_history(), count=1)
        if len(plan.trials) == len(self.plan.trials):
            return None, (self if plan is self.plan else attrs.evolve(self, plan=plan))
        return plan.trials[self.asked], attrs.evolve(self, plan=plan, asked=self.asked + 1)

    def tell(self, trial: Trial | str, metric: float | None = None, *,
             history: Iterable[Observation | Mapping[str, Any]] = (), failed: bool = False) -> Study:
        """The study that knows how ``trial`` (or the trial of this id) ended.

        Args:
            trial: A trial this study asked and was not told of yet.
            metric: Its primary metric; when not given, the best value of the primary metric in
                ``history``.
            history: Its evaluations (:class:`Observation` s, or mappings of ``epoch`` and metrics as
                in a run's ``TrialRecord.history``).
            failed: It failed: the sampler learns the point is bad (``metric`` must not be given).

        Raises:
            ValidationError: An unknown trial, one told already, a metric that is not a number, or
                no value of the primary metric at all (unless ``failed``).

        Example:
            >>> import imgtune
            >>> job = imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
            >>> trial, study = Study.create(job).ask()
            >>> told = study.tell(trial, history=[Observation(1, {"accuracy": 0.6}), Observation(2, {"accuracy": 0.7})])
            >>> told.outcomes[0].metric, study.outcomes
            (0.7, ())
            >>> told.tell(trial, metric=0.9)
            Traceback (most recent call last):
            ...
            imgtune.errors.ValidationError: 1 problem:
              trial: 0000-... was told already
        """
        problems = self._check_pending(trial, "trial")
        observations = _observations(history, problems)
        if not _is_value(metric):
            problems.append(Problem("metric", f"must be a number or None, got {metric!r}"))
        elif failed and metric is not None:
            problems.append(Problem("metric", "a failed trial has no metric: give failed=True or a metric"))
        primary = self.plan.job.primary_metric
        value = None
        if not problems and not failed:
            value = finite(metric) if metric is not None else primary.best(
                o.metrics.get(primary.value) for o in observations)[0]
            if value is None and metric is None:
                problems.append(Problem("metric", f"no value of the primary metric {primary.value!r}: give "
                                                  f"metric=..., a history that reports {primary.value!r}, "
                                                  f"or failed=True"))
        if problems:
            raise ValidationError(problems)
        trial_id = trial if isinstance(trial, str) else trial.id
        outcome = Outcome(trial_id=trial_id, metric=value, history=tuple(observations))
        return attrs.evolve(self, outcomes=(*self.outcomes, outcome))

    def should_stop(self, trial: Trial | str, history: Sequence[Observation | Mapping[str, Any]]) -> Decision:
        """Whether the job's early-termination policy stops a pending trial now, and why.

        The policy judges the trial at the evaluation its history has just reached (its number of
        finite primary-metric values), against the told trials' histories and its own, as a sweep
        does (:mod:`imgtune.compiler.policies`). With no policy, or at an evaluation the policy
        skips, the answer is not to stop.

        Raises:
            ValidationError: The trial is not pending (unknown, or told already), or a bad history.

        Example:
            >>> import imgtune
            >>> job = imgtune.ImageClassificationJob(
            ...     training_data={"path": "d"}, target_column_name="label", limits={"max_trials": 2},
            ...     sweep={"sampling_algorithm": "random", "early_termination": {"type": "bandit", "slack_factor": 0.1}},
            ...     search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}}])
            >>> first, study = Study.create(job).ask()
            >>> second, study = study.ask()
            >>> study = study.tell(first, history=[{"epoch": 1, "accuracy": 0.9}])
            >>> decision = study.should_stop(second, [Observation(1, {"accuracy": 0.5})])
            >>> decision.stop, decision.reason
            (True, 'bandit: 0.5 < 0.8182 = best 0.9 / (1 + 0.1) at interval 1')
        """
        problems = self._check_pending(trial, "trial")
        observations = _observations(history, problems)
        if problems:
            raise ValidationError(problems)
        trial_id = trial if isinstance(trial, str) else trial.id
        metric = self.plan.job.primary_metric
        histories = {o.trial_id: _history_values(o.history, metric.value) for o in self.outcomes if o.history}
        histories[trial_id] = _history_values(observations, metric.value)
        interval = len(histories[trial_id])
        if self.plan.policy is None:
            return Decision(trial_id, False, "no early-termination policy")
        policy = make_policy(self.plan.policy, metric)
        decisions, _ = policy.decide(policy.init(), histories, {trial_id}, interval)
        for decision in decisions:
            if decision.trial_id == trial_id:
                return decision
        return Decision(trial_id, False, f"{self.plan.policy.type}: does not judge at interval {interval}")

    def _check_pending(self, trial: object, path: str) -> list[Problem]:
        trial_id = trial if isinstance(trial, str) else trial.id if isinstance(trial, Trial) else None
        if trial_id is None:
            return [Problem(path, f"must be a Trial or a trial id, got {type(trial).__name__}")]
        known = {t.id: t for t in self.trials}
        if trial_id not in known:
            return [Problem(path, f"{trial_id} is not a trial this study asked (asked: "
                                  f"{', '.join(known) or 'none'})")]
        if isinstance(trial, Trial) and trial != known[trial_id]:
            return [Problem(path, f"{trial_id} differs from this study's trial of that id")]
        if any(o.trial_id == trial_id for o in self.outcomes):
            return [Problem(path, f"{trial_id} was told already")]
        return []

    def _sampler_history(self) -> list[tuple[int | None, dict[str, Any], float | None]]:
        """What the sampler learns from: every told trial in plan order, a failed one's metric ``None``."""
        told = {o.trial_id: o.metric for o in self.outcomes}
        return [(t.subspace, dict(t.sampled), told[t.id]) for t in self.trials if t.id in told]
