"""Compile: from a job to a reproducible plan of trials.

``compile(job)`` resolves the limits and the defaults, derives the sampler and
the early-termination policy from the job's records, and proposes the trials
that can be known before anything runs: all of them (up to ``max_trials``) for
grid, random, Sobol and AutoMode sampling; the first ``max_concurrent_trials``
for Bayesian sampling, whose later trials depend on finished ones and are
added by :func:`extend` while the sweep runs.

Same job and seed, same plan, in any process. The compiler is the floor above
:mod:`imgtune.serialization` (plans are read and written as YAML through it) and
below :mod:`imgtune.train`: it imports neither the trainer nor the runner. JAX is
imported only by the Bayesian sampler's Gaussian process (:mod:`imgtune.compiler.gp`),
on the first Bayesian proposal.

Modules: :mod:`~imgtune.compiler.defaults` (the defaults per model and task),
:mod:`~imgtune.compiler.plan` (the plan's records, YAML, and the sampler and policy
built from them), :mod:`~imgtune.compiler.samplers` and
:mod:`~imgtune.compiler.policies` (pure ``init``/``propose`` and ``init``/``update``
pairs), :mod:`~imgtune.compiler.gp` (the Gaussian process).

Example:
    >>> import imgtune
    >>> job = imgtune.loads('''
    ... type: automl
    ... task: image_classification
    ... target_column_name: label
    ... training_data: {path: data}
    ... limits: {max_trials: 3}
    ... sweep: {sampling_algorithm: {type: random, seed: 1}}
    ... search_space:
    ...   - model_name: {type: choice, values: [resnet18, mobilenetv2]}
    ...     learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
    ... ''')
    >>> plan = imgtune.compile(job)
    >>> len(plan.trials), plan.seed, plan.trials[0].parameters.optimizer.value
    (3, 1, 'sgd')
    >>> imgtune.compile(job) == plan
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import attrs

from imgtune.compiler.defaults import resolve
from imgtune.compiler.plan import (
    Plan,
    ResolvedLimits,
    SamplerConfig,
    Trial,
    check_runnable,
    dumps_plan,
    loads_plan,
    make_policy,
    make_sampler,
    runnable_problems,
    trial_id,
)
from imgtune.compiler.samplers import state_from_json, state_to_json
from imgtune.errors import Problem, ValidationError
from imgtune.serialization import dumps
from imgtune.spec.enums import RandomRule
from imgtune.spec.records import (
    BayesianSampling,
    GridSampling,
    ImageClassificationJobBase,
    RandomSampling,
)
from imgtune.values import finite, jsonable

__all__ = [
    "Plan",
    "ResolvedLimits",
    "SamplerConfig",
    "Trial",
    "check_runnable",
    "compile",
    "dumps_plan",
    "extend",
    "loads_plan",
    "make_policy",
    "make_sampler",
    "render",
    "resolve",
    "resolve_limits",
    "runnable_problems",
]

DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60
#: Consecutive rejected proposals (invalid once resolved, or equal to an earlier trial) before giving up.
MAX_REJECTIONS = 200

Job = ImageClassificationJobBase
History = Sequence  # (subspace, sampled params, metric | None) per finished trial


def resolve_limits(job: Job) -> ResolvedLimits:
    """The limits with defaults: 1 trial (AutoMode: as given), 1 at a time, 7 days;
    ``max_concurrent_trials`` capped at ``max_trials`` (:func:`compile` warns when it caps).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> resolve_limits(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
        ...                                       limits={"max_trials": 8, "max_concurrent_trials": 2}))
        ResolvedLimits(max_trials=8, max_concurrent_trials=2, timeout_minutes=10080)
    """
    limits = job.limits
    trials = limits.max_trials or 1
    concurrent = min(limits.max_concurrent_trials or 1, trials)
    return ResolvedLimits(max_trials=trials, max_concurrent_trials=concurrent,
                          timeout_minutes=limits.timeout_minutes or DEFAULT_TIMEOUT_MINUTES)


def _sampler_config(job: Job, limits: ResolvedLimits) -> SamplerConfig:
    algorithm = job.sweep.sampling_algorithm if job.sweep is not None else None
    if algorithm is None:
        automode = limits.max_trials > 1 and not job.search_space
        return SamplerConfig(type="automode" if automode else "fixed")
    if isinstance(algorithm, GridSampling):
        return SamplerConfig(type="grid")
    if isinstance(algorithm, BayesianSampling):
        return SamplerConfig(type="bayesian")
    assert isinstance(algorithm, RandomSampling)
    logbase = None if algorithm.logbase in (None, "e") else float(algorithm.logbase)
    return SamplerConfig(type="sobol" if algorithm.rule is RandomRule.SOBOL else "random", logbase=logbase)


def _space(job: Job, config: SamplerConfig) -> tuple:
    if config.type in ("automode", "fixed"):
        return ()
    return tuple(s.set_fields() for s in job.search_space)


def compile(job: Job, *, seed: int = 0) -> Plan:  # noqa: A001 - the name users expect
    """Compiles a job into a :class:`Plan`.

    Args:
        job: The job.
        seed: Used when the job's sampling algorithm has no seed of its own
            (``sweep.sampling_algorithm.seed`` wins).

    Returns:
        The plan, with the trials that can be known before running.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label",
        ...                              limits={"max_trials": 3}, sweep={"sampling_algorithm": "grid"},
        ...                              search_space=[{"model_name": {"type": "choice",
        ...                                                            "values": ["resnet18", "resnet50"]}}])
        >>> plan = compile(job, seed=0)
        >>> [t.parameters.model_name for t in plan.trials], plan.notes[0][:40]
        (['resnet18', 'resnet50'], 'the search space gives 2 distinct valid ')
    """
    if not isinstance(job, Job):
        raise TypeError(f"compile takes a job, got {type(job).__name__}")
    check_runnable(job)  # a job built in the docs' order may still lack its sweep
    seed = compile_seed(job, seed)
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**64):
        raise ValidationError([Problem("seed", f"must be an integer in [0, 2**64), got {seed!r}")])
    limits = resolve_limits(job)
    asked = job.limits.max_concurrent_trials
    if job.limits.max_trials is not None and asked is not None and asked > limits.max_concurrent_trials:
        warnings.warn(f"limits.max_concurrent_trials ({asked}) is above max_trials ({job.limits.max_trials}); "
                      f"capped to {limits.max_concurrent_trials}", UserWarning, stacklevel=2)
    config = _sampler_config(job, limits)
    sampler = make_sampler(config, multilabel=job.multilabel)
    state = sampler.init(_space(job, config), seed)
    plan = Plan(job=job, seed=seed, limits=limits, sampler=config,
                policy=job.sweep.early_termination if job.sweep is not None else None,
                sampler_state=state_to_json(state))
    want = limits.max_concurrent_trials if config.sequential else limits.max_trials
    return _propose(plan, sampler, state, history=(), count=want)


def extend(plan: Plan, history: History = (), *, count: int = 1) -> Plan:
    """Proposes up to ``count`` more trials, given the finished ones.

    Args:
        plan: A plan from :func:`compile` (or :func:`extend`).
        history: Per finished trial ``(subspace, sampled values, metric)``; the
            metric is ``None`` for a failed trial. Bayesian sampling uses it;
            the others ignore it.
        count: How many trials to add, at most; never beyond ``max_trials``.

    Returns:
        The plan with the new trials (the same plan when none could be added).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label",
        ...     limits={"max_trials": 4, "max_concurrent_trials": 2}, sweep={"sampling_algorithm": "bayesian"},
        ...     search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}}])
        >>> plan = compile(job)
        >>> len(plan.trials)   # Bayesian: the first trials only
        2
        >>> history = [(t.subspace, dict(t.sampled), 0.5 + i / 10) for i, t in enumerate(plan.trials)]
        >>> len(extend(plan, history, count=2).trials)
        4
    """
    room = plan.limits.max_trials - len(plan.trials)
    if room <= 0 or plan.exhausted:
        return plan
    sampler = make_sampler(plan.sampler, multilabel=plan.job.multilabel)
    state = state_from_json(_space(plan.job, plan.sampler), plan.sampler_state)
    metric = plan.job.primary_metric  # the samplers maximise: they see the metric's scores
    scored = tuple((sub, drawn, None if finite(value) is None else metric.score(value))
                   for sub, drawn, value in history)
    return _propose(plan, sampler, state, history=scored, count=min(count, room))


def _propose(plan: Plan, sampler: Any, state: Any, *, history: History, count: int) -> Plan:
    job = plan.job
    trials = list(plan.trials)
    seen = {t.parameters for t in trials}
    notes = list(plan.notes)
    rejected = 0
    exhausted = False
    target = len(trials) + count
    while len(trials) < target:
        proposal, state = sampler.propose(state, tuple(history))
        if proposal is None:
            exhausted = True
            break
        subspace, drawn = proposal
        try:
            params = resolve(job.training_parameters, drawn, multilabel=job.multilabel, seed=plan.seed,
                             extra=job.extra_parameters)
        except ValidationError:
            params = None  # e.g. a drawn crop size that, with the default for the model, breaks the ViT rule
        if params is None or params in seen:
            rejected += 1
            if rejected >= MAX_REJECTIONS:
                exhausted = True
                break
            continue
        rejected = 0
        seen.add(params)
        index = len(trials)
        searched = plan.sampler.type != "fixed" and bool(drawn or job.search_space)
        trials.append(Trial(id=trial_id(index, params), index=index, subspace=subspace if searched else None,
                            sampled=jsonable(drawn), parameters=params))
    if exhausted and len(trials) < plan.limits.max_trials:
        note = (f"the search space gives {len(trials)} distinct valid trial{'s' if len(trials) != 1 else ''} "
                f"of max_trials {plan.limits.max_trials}")
        notes = [n for n in notes if not n.startswith("the search space gives")] + [note]
    if plan.sampler.sequential and len(trials) < plan.limits.max_trials and not exhausted:
        note = "bayesian: the later trials are proposed from the finished ones while the sweep runs"
        if note not in notes:
            notes.append(note)
    return attrs.evolve(plan, trials=tuple(trials), sampler_state=state_to_json(state), exhausted=exhausted,
                        notes=tuple(notes))


def render(job: Job) -> str:
    """The job as YAML with every default filled in: the limits, and the training
    parameters as a trial with no searched values would get them.

    Values drawn from ``search_space`` take precedence over these per trial.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> text = render(ImageClassificationJob(training_data={"path": "data"}, target_column_name="label"))
        >>> "learning_rate: 0.01" in text, "max_trials: 1" in text
        (True, True)
    """
    limits = resolve_limits(job)
    params = resolve(job.training_parameters, {}, multilabel=job.multilabel,
                     seed=compile_seed(job))
    resolved = attrs.evolve(job, limits=attrs.evolve(job.limits, max_trials=limits.max_trials,
                                                     max_concurrent_trials=limits.max_concurrent_trials,
                                                     timeout_minutes=limits.timeout_minutes),
                            training_parameters=params)
    header = ("# imgtune render: every default filled in. Per trial, values drawn from search_space\n"
              "# take precedence over training_parameters; defaults depend on the model and task.\n")
    return header + dumps(resolved)


def compile_seed(job: Job, seed: int = 0) -> int:
    """The seed a plan of this job gets: the sampling algorithm's, else ``seed``."""
    algorithm = job.sweep.sampling_algorithm if job.sweep is not None else None
    if isinstance(algorithm, RandomSampling) and algorithm.seed is not None:
        return algorithm.seed
    return seed

