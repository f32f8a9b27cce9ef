"""The plan: exactly what will be trained, as an inspectable, serialisable value.

A :class:`Plan` holds the job, the seed, the resolved limits, the sampler and
the early-termination policy as records (their pure functions are derived
from these by :func:`make_sampler` and :func:`make_policy`, never stored), and
the trials known so far, each with its fully resolved training parameters.
``dumps_plan``/``loads_plan`` write and read it as YAML (JSON is a subset).

The plan's format has a version, :data:`PLAN_VERSION`, written as its ``version``. Version 2
made ``exhausted`` a field of its own; version 1 kept it inside ``sampler_state``. Reading a
version-1 plan (:func:`loads_plan`, or ``structure(data, Plan)``, which ``loads_plan`` uses)
moves it into the field: :func:`upgrade_plan_data`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from imgtune.compiler import policies, samplers
from imgtune.errors import Problem, ValidationError
from imgtune.formats import upgrade
from imgtune.serialization import (
    dump_text,
    loads,
    parse_with_marks,
    structure,
    unstructure,
)
from imgtune.spec.checks import Checker, Validated, is_int, is_number, lenient
from imgtune.spec.convert import record_converter, register_upgrade
from imgtune.spec.enums import PrimaryMetric
from imgtune.spec.frozen import FrozenMap, freeze
from imgtune.spec.records import (
    BanditPolicy,
    EarlyTerminationPolicy,
    ImageClassificationJobBase,
    MedianStoppingPolicy,
    ResolvedTrainingParameters,
    TrainingParameters,
    TruncationSelectionPolicy,
    to_policy,
)
from imgtune.values import data_frame, jsonable

__all__ = [
    "PLAN_MIGRATIONS",
    "PLAN_VERSION",
    "Plan",
    "ResolvedLimits",
    "SamplerConfig",
    "SAMPLER_TYPES",
    "Trial",
    "check_runnable",
    "dumps_plan",
    "loads_plan",
    "make_policy",
    "make_sampler",
    "runnable_problems",
    "trial_id",
    "upgrade_plan_data",
]

#: The plan format's version (see the module doc): 2 since ``exhausted`` is a field.
PLAN_VERSION = 2
#: ``fixed``: one trial of the defaults (no sweep, ``max_trials: 1``); ``automode``: Azure's AutoMode.
SAMPLER_TYPES = ("grid", "random", "sobol", "bayesian", "automode", "fixed")


def _to_job(value: Any) -> Any:
    if isinstance(value, ImageClassificationJobBase):
        return value
    return loads(value)


def runnable_problems(job: ImageClassificationJobBase) -> list[Problem]:
    """What a valid job still lacks to be compiled or run.

    A job record may be built in Azure's docs' order (limits, training parameters, search space,
    then the sweep), so a ``search_space`` without ``sweep.sampling_algorithm`` is a valid job; only
    :func:`~imgtune.compiler.compile`, ``run`` and ``imgtune validate`` refuse it.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
        ...                              search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001,
        ...                                                               "max_value": 0.01}}])
        >>> runnable_problems(job)
        [Problem(path='sweep.sampling_algorithm', message='is required when search_space is given', ...)]
    """
    sampling = job.sweep.sampling_algorithm if job.sweep is not None else None
    if job.search_space and sampling is None:
        return [Problem("sweep.sampling_algorithm", "is required when search_space is given")]
    return []


def check_runnable(job: ImageClassificationJobBase) -> None:
    """Raises when the job cannot be compiled or run yet (:func:`runnable_problems`).

    Raises:
        ValidationError: Listing :func:`runnable_problems`.

    Example:
        >>> from imgtune import ImageClassificationJob, Uniform, extend_search_space, with_sweep
        >>> job = extend_search_space(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"),
        ...                           {"learning_rate": Uniform(0.001, 0.01)})
        >>> check_runnable(job)
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in job:
          sweep.sampling_algorithm: is required when search_space is given
        >>> check_runnable(with_sweep(job, sampling_algorithm="random"))
    """
    problems = runnable_problems(job)
    if problems:
        raise ValidationError(problems, "job")


@attrs.frozen(kw_only=True)
class ResolvedLimits(Validated):
    """Limits with the defaults filled in (1 trial, 1 at a time, 7 days).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> from imgtune.compiler import resolve_limits
        >>> resolve_limits(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"))
        ResolvedLimits(max_trials=1, max_concurrent_trials=1, timeout_minutes=10080)
    """

    max_trials: int
    max_concurrent_trials: int
    timeout_minutes: int

    def _check(self, checker: Checker) -> None:
        for name in ("max_trials", "max_concurrent_trials", "timeout_minutes"):
            if not (is_int(getattr(self, name)) and getattr(self, name) >= 1):
                checker.add(name, f"must be an integer >= 1, got {getattr(self, name)!r}")


@attrs.frozen(kw_only=True)
class SamplerConfig(Validated):
    """Which sampler proposes the trials; ``sequential`` samplers need the history.

    Example:
        >>> SamplerConfig(type="bayesian").sequential, SamplerConfig(type="grid").sequential
        (True, False)
    """

    type: str
    logbase: float | None = None
    """Random and Sobol sampling: the base of log-scale draws (``None``: e)."""

    @property
    def sequential(self) -> bool:
        """Whether proposals depend on finished trials (Bayesian)."""
        return self.type == "bayesian"

    def _check(self, checker: Checker) -> None:
        if self.type not in SAMPLER_TYPES:
            checker.add("type", f"must be one of {', '.join(SAMPLER_TYPES)}, got {self.type!r}")
        if self.logbase is not None and not (is_number(self.logbase) and self.logbase > 0 and self.logbase != 1):
            checker.add("logbase", f"must be a positive number other than 1, got {self.logbase!r}")


_RESOLVED = record_converter(ResolvedTrainingParameters)


def _to_resolved(value: ResolvedTrainingParameters | Mapping[str, Any]) -> ResolvedTrainingParameters:
    """A trial's parameters: resolved ones as they are; unresolved ones (or a mapping) are built into
    resolved ones, each unset field reported as required."""
    if type(value) is TrainingParameters:
        value = unstructure(value)
    return _RESOLVED(value)  # type: ignore[no-any-return]


@attrs.frozen(kw_only=True)
class Trial(Validated):
    """One trial: its id, ordinal, subspace, the values drawn for it and its resolved parameters.

    Attributes:
        id: ``<ordinal>-<hash>``: the 0-based ordinal (4 digits) and the first 8 hex
            digits of a SHA-256 of the resolved parameters.
        index: The ordinal.
        subspace: Index into ``job.search_space`` (AutoMode: into its own portfolio
            space), or ``None`` when nothing was searched.
        sampled: The values drawn from the search space (plain JSON values).
        parameters: Every training parameter resolved; only ``checkpoint_frequency``
            and ``checkpoint_run_id`` may be ``None``, which is itself a setting.

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> trial = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")).trials[0]
        >>> trial.id, trial.parameters.model_name, trial.parameters.learning_rate
        ('0000-...', 'seresnext', 0.01)
    """

    id: str
    index: int
    subspace: int | None = None
    sampled: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    parameters: ResolvedTrainingParameters = attrs.field(converter=_to_resolved)

    def _check(self, checker: Checker) -> None:
        if not is_int(self.index) or self.index < 0:
            checker.add("index", f"must be an integer >= 0, got {self.index!r}")


def _to_trials(value: Any) -> tuple:
    build = record_converter(Trial)
    return tuple(build(v) for v in (value or ()))


@attrs.frozen(kw_only=True)
class Plan(Validated):
    """A compiled job: see the module docstring.

    Attributes:
        version: The plan format's version, :data:`PLAN_VERSION`.
        job: The job (``plan.yaml``'s has no ``base_path``).
        seed: The seed of the sampler and of every trial.
        limits: The limits, defaults filled in.
        sampler: Which sampler proposes the trials.
        policy: The early-termination policy's record, or ``None``.
        trials: The trials known so far, in order.
        sampler_state: The sampler's state as plain JSON (the sampler's own; see
            :func:`~imgtune.compiler.samplers.state_to_json`).
        exhausted: Whether the sampler can propose no further trial.
        notes: What the compiler wants a reader to know (a grid smaller than ``max_trials``, ...).

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> plan = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"), seed=3)
        >>> plan.seed, plan.limits.max_trials, plan.sampler.type, len(plan.trials)
        (3, 1, 'fixed', 1)
        >>> loads_plan(dumps_plan(plan)) == plan
        True
    """

    version: int = PLAN_VERSION
    job: ImageClassificationJobBase = attrs.field(converter=lenient(_to_job))
    seed: int
    limits: ResolvedLimits = attrs.field(converter=record_converter(ResolvedLimits))
    sampler: SamplerConfig = attrs.field(converter=record_converter(SamplerConfig))
    policy: EarlyTerminationPolicy | None = attrs.field(default=None, converter=lenient(to_policy))
    trials: tuple[Trial, ...] = attrs.field(default=(), converter=_to_trials)
    sampler_state: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    exhausted: bool = False
    notes: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def select(self, which: str | Iterable[str] | Callable[[Trial], bool]) -> Plan:
        """The plan of some of these trials only: by id (one, or several) or by a predicate.

        The selected trials keep their order and parameters; they are numbered again from 0 and
        their ids derived again from their content (:func:`trial_id`), so the same selection of
        the same plan is the same plan in any process, and a run folder of it resumes. The plan
        runs exactly these trials: ``limits.max_trials`` becomes their number (a Bayesian sweep
        proposes no more), ``max_concurrent_trials`` at most that.

        Raises:
            ValidationError: An id that is not in the plan, or a selection of no trial.

        Example:
            >>> from imgtune import ImageClassificationJob, compile
            >>> plan = compile(ImageClassificationJob(
            ...     training_data={"path": "d"}, target_column_name="label", limits={"max_trials": 4},
            ...     sweep={"sampling_algorithm": "grid"},
            ...     search_space=[{"model_name": {"type": "choice", "values": ["resnet18", "resnet34"]},
            ...                    "learning_rate": {"type": "choice", "values": [0.01, 0.1]}}]))
            >>> fast = plan.select(lambda t: t.parameters.learning_rate == 0.1)
            >>> [(t.index, t.parameters.model_name) for t in fast.trials], fast.limits.max_trials
            ([(0, 'resnet18'), (1, 'resnet34')], 2)
            >>> fast.trials[0].id == trial_id(0, fast.trials[0].parameters) != plan.trials[1].id
            True
            >>> plan.select(plan.trials[3].id).trials[0].parameters == plan.trials[3].parameters
            True
            >>> plan.select(["0009-00000000"])
            Traceback (most recent call last):
            ...
            imgtune.errors.ValidationError: 1 problem:
              trials: no trial 0009-00000000 in the plan (its ids: 0000-..., 0001-..., 0002-..., 0003-...)
        """
        if callable(which):
            chosen = [t for t in self.trials if which(t)]
        else:
            wanted = {which} if isinstance(which, str) else set(which)
            known = {t.id for t in self.trials}
            unknown = sorted(str(w) for w in wanted - known)
            if unknown:
                raise ValidationError([Problem("trials", f"no trial {', '.join(unknown)} in the plan "
                                                         f"(its ids: {', '.join(t.id for t in self.trials)})")])
            chosen = [t for t in self.trials if t.id in wanted]
        if not chosen:
            raise ValidationError([Problem("trials", f"the selection keeps none of the plan's {len(self.trials)} "
                                                     f"trials")])
        if len(chosen) == len(self.trials):
            return self
        count = len(chosen)
        limits = attrs.evolve(self.limits, max_trials=count,
                              max_concurrent_trials=min(self.limits.max_concurrent_trials, count))
        note = (f"select: {count} of {len(self.trials)} trials (ordinals "
                f"{', '.join(str(t.index) for t in chosen)}), numbered again")
        return attrs.evolve(self, limits=limits, trials=_renumbered(chosen), notes=(*self.notes, note))

    def map_parameters(self, fn: Callable[[ResolvedTrainingParameters], TrainingParameters]) -> Plan:
        """The plan with ``fn`` applied to every trial's parameters (``attrs.evolve`` suits ``fn``).

        The trials' ids are derived again from their new content (:func:`trial_id`), and the drawn
        values (``sampled``) follow the parameters they name, so the edited plan is a consistent
        plan: the same edit of the same plan is the same plan, and a run folder of it resumes. The
        new parameters are checked like any others; every trial's problems are reported at once.

        Raises:
            ValidationError: ``fn`` gave invalid parameters (each problem at ``trials[i].parameters``).

        Example:
            >>> import attrs
            >>> from imgtune import ImageClassificationJob, compile
            >>> plan = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
            ...                                       training_parameters={"model_name": "resnet18"}))
            >>> short = plan.map_parameters(lambda p: attrs.evolve(p, number_of_epochs=1))
            >>> short.trials[0].parameters.number_of_epochs, short.trials[0].id != plan.trials[0].id
            (1, True)
            >>> short.trials[0].id == trial_id(0, short.trials[0].parameters)
            True
            >>> plan.map_parameters(lambda p: attrs.evolve(p, number_of_epochs=0))
            Traceback (most recent call last):
            ...
            imgtune.errors.ValidationError: 1 problem:
              trials[0].parameters.number_of_epochs: must be ...
        """
        problems: list[Problem] = []
        trials = []
        for trial in self.trials:
            try:
                new = fn(trial.parameters)
            except ValidationError as err:  # e.g. attrs.evolve of the parameters with a value out of range
                problems += [p.prefixed(f"trials[{trial.index}].parameters") for p in err.problems]
                continue
            try:
                edited = attrs.evolve(trial, parameters=new)
            except ValidationError as err:
                problems += [p.prefixed(f"trials[{trial.index}]") for p in err.problems]
                continue
            values = jsonable(edited.parameters.set_fields())
            trials.append(attrs.evolve(edited, sampled={k: values.get(k, v) for k, v in trial.sampled.items()}))
        if problems:
            raise ValidationError(problems)
        return attrs.evolve(self, trials=_renumbered(trials))

    def _check(self, checker: Checker) -> None:
        if self.version != PLAN_VERSION:
            checker.add("version", f"must be {PLAN_VERSION}, the plan format this imgtune writes "
                                   f"(read older plans with loads_plan), got {self.version!r}")
        if not (is_int(self.seed) and self.seed >= 0):
            checker.add("seed", f"must be an integer >= 0, got {self.seed!r}")
        ids = [t.id for t in self.trials if isinstance(t, Trial)]
        if len(set(ids)) != len(ids):
            checker.add("trials", "trial ids must be unique")
        if not isinstance(self.exhausted, bool):
            checker.add("exhausted", f"must be true or false, got {self.exhausted!r}")
        if isinstance(self.job, ImageClassificationJobBase):
            checker.extend("job", runnable_problems(self.job))

    def to_frame(self) -> Any:
        """The trials as a ``pandas.DataFrame``, one row per trial: ``trial_id``, ``index``,
        ``subspace``, then every resolved training parameter (one column each; enums as their values), then
        one's own hyperparameters, ``extra_parameters.<name>``.

        Needs pandas: ``pip install 'imgtune[frames]'`` (else an ``ImportError`` says so).
        """
        rows = [{"trial_id": t.id, "index": t.index, "subspace": t.subspace, **t.parameters.flat_fields()}
                for t in self.trials]
        return data_frame(rows, ("trial_id", "index", "subspace",
                                 *(a.name for a in attrs.fields(ResolvedTrainingParameters)
                                   if a.name != "extra_parameters")))


def _renumbered(trials: Iterable[Trial]) -> tuple[Trial, ...]:
    """The trials numbered from 0 in order, each id derived from its ordinal and content."""
    return tuple(attrs.evolve(t, index=i, id=trial_id(i, t.parameters)) for i, t in enumerate(trials))


def _exhausted_as_a_field(data: dict[str, Any]) -> dict[str, Any]:
    """Plan format 1 -> 2: ``exhausted`` moves out of ``sampler_state`` into its own field."""
    state = data.get("sampler_state")
    if isinstance(state, Mapping):
        data = {**data, "sampler_state": {k: v for k, v in state.items() if k != "exhausted"},
                "exhausted": state.get("exhausted", False)}
    return data


#: How a plan of each older format is brought up to the next (:mod:`imgtune.formats`).
PLAN_MIGRATIONS = {1: _exhausted_as_a_field}


def upgrade_plan_data(data: Any) -> Any:
    """A plan's data (as :func:`dumps_plan` writes it) in the current format, :data:`PLAN_VERSION`.

    Older formats are migrated (:data:`PLAN_MIGRATIONS`); a newer one is refused, saying to upgrade
    imgtune (:func:`imgtune.formats.upgrade`). Data that is not a mapping is left for the checks.

    >>> upgrade_plan_data({"version": 1, "seed": 0, "sampler_state": {"rng": [1, 2], "exhausted": True}})
    {'version': 2, 'seed': 0, 'sampler_state': {'rng': [1, 2]}, 'exhausted': True}
    >>> upgrade_plan_data({"version": 3})
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      version: made by a newer imgtune (plan format 3, this imgtune reads up to 2): upgrade imgtune (pip install --upgrade imgtune), or use another output folder
    """
    if not isinstance(data, Mapping):
        return data
    return upgrade(data, PLAN_VERSION, PLAN_MIGRATIONS, format="plan", where="version")


register_upgrade(Plan, upgrade_plan_data)


def trial_id(index: int, parameters: TrainingParameters) -> str:
    """``NNNN-hhhhhhhh``: the ordinal and a content hash of the resolved parameters.

    The hash is of canonical JSON, so it is the same in every process
    (independent of ``PYTHONHASHSEED``).
    """
    canonical = json.dumps(jsonable(parameters.set_fields()), sort_keys=True, separators=(",", ":"))
    return f"{index:04d}-{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


def make_sampler(config: SamplerConfig, *, multilabel: bool):
    """The sampler's pure functions, derived from its record.

    Example:
        >>> from imgtune import Choice
        >>> sampler = make_sampler(SamplerConfig(type="grid"), multilabel=False)
        >>> state = sampler.init(({"optimizer": Choice(values=["sgd", "adam"])},), 0)
        >>> proposal, state = sampler.propose(state, ())
        >>> proposal
        (0, {'optimizer': <Optimizer.SGD: 'sgd'>})
    """
    if config.type == "grid":
        return samplers.grid_sampler()
    if config.type in ("random", "fixed"):
        return samplers.random_sampler("random", logbase=config.logbase)
    if config.type == "sobol":
        return samplers.random_sampler("sobol", logbase=config.logbase)
    if config.type == "bayesian":
        return samplers.bayesian_sampler()
    if config.type == "automode":
        return samplers.automode_sampler(multilabel)
    raise ValidationError([Problem("sampler.type", f"unknown sampler {config.type!r}")])


def make_policy(record: EarlyTerminationPolicy | None, metric: PrimaryMetric) -> policies.Policy:
    """The policy's pure functions, derived from its record (``None``: no policy), judging the
    primary metric's scores (:meth:`~imgtune.spec.enums.PrimaryMetric.score`: higher is better).

    ``evaluation_interval: 0`` (Azure SDK's default) acts as 1.

    Example:
        >>> from imgtune import BanditPolicy, PrimaryMetric
        >>> policy = make_policy(BanditPolicy(slack_factor=0.2), PrimaryMetric.ACCURACY)
        >>> decisions, state = policy.decide(policy.init(), {"a": [0.9], "b": [0.5]}, {"a", "b"}, 1)
        >>> [(d.trial_id, d.stop) for d in decisions]
        [('a', False), ('b', True)]
        >>> decisions[1].reason
        'bandit: 0.5 < 0.75 = best 0.9 / (1 + 0.2) at interval 1'
    """
    if record is None:
        return policies.no_policy()
    return policies.on_scores(_policy(record), metric.score)


def _policy(record: EarlyTerminationPolicy) -> policies.Policy:
    gating = {"evaluation_interval": max(1, record.evaluation_interval), "delay_evaluation": record.delay_evaluation}
    if isinstance(record, BanditPolicy):
        return policies.bandit_policy(slack_factor=record.slack_factor, slack_amount=record.slack_amount, **gating)
    if isinstance(record, MedianStoppingPolicy):
        return policies.median_stopping_policy(**gating)
    if isinstance(record, TruncationSelectionPolicy):
        return policies.truncation_selection_policy(truncation_percentage=record.truncation_percentage, **gating)
    raise ValidationError([Problem("policy", f"unknown policy {type(record).__name__}")])


def dumps_plan(plan: Plan) -> str:
    """The plan as YAML text (readable; ``loads_plan`` reads it back equal).

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> text = dumps_plan(compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")))
        >>> text.splitlines()[0], loads_plan(text).trials[0].parameters.model_name
        ('version: 2', 'seresnext')
    """
    return dump_text(unstructure(plan))


def loads_plan(source: str | Mapping[str, Any]) -> Plan:
    """Reads a plan written by :func:`dumps_plan` (or its JSON form).

    Raises:
        ValidationError: The text is not a valid plan.

    Example:
        >>> from imgtune import ImageClassificationJob, compile
        >>> plan = compile(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label"))
        >>> loads_plan(dumps_plan(plan)) == plan
        True
    """
    data = parse_with_marks(source)[0] if isinstance(source, str) else source
    return structure(data, Plan)
