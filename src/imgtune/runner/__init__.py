"""Run: execute a plan end to end, and read a run back.

What watches a run (console progress, the report, MLflow, the end-of-run export) is no part of it: it
subscribes as a :class:`RunObserver` (:mod:`imgtune.runner.observers`); :func:`imgtune.run` (in
:mod:`imgtune.launch`) subscribes them and calls :func:`run_plan`.

Example (a cheap trial function stands in for training here)::

    result = imgtune.run("job.yaml" or job or plan, "runs/digits")
    result.status, result.best_trial.id, result.best_trial.best_metric
    imgtune.load_result("runs/digits")   # also while the run is going on
"""

from __future__ import annotations

import os

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan, compile, extend, resolve_limits
from imgtune.errors import Problem, ValidationError
from imgtune.runner.local import Resources, run_plan
from imgtune.runner.observers import RunObserver
from imgtune.runner.ray_executor import RayOptions
from imgtune.runner.results import RunResult, TrialRecord
from imgtune.runner.store import RunStore, job_difference, load_result
from imgtune.runner.training import TRIAL_FN
from imgtune.serialization import dumps, load
from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["DEFAULT_TRIAL_FN", "EXECUTORS", "RayOptions", "Resources", "RunObserver", "RunResult", "TrialRecord",
           "load_result", "plan_difference", "prepare", "run_plan"]

#: What each trial runs by default: real training of the trial's model on the job's data.
DEFAULT_TRIAL_FN = TRIAL_FN
EXECUTORS = ("local", "ray")


def plan_difference(stored: Plan, given: Plan) -> list[str]:
    """What a plan given to run differs in from the one stored in the folder (empty: the same run).

    The stored plan may have more trials (a sweep proposes some as it goes): the given plan's
    trials must be its first ones.

    >>> from imgtune import ImageClassificationJob, compile, with_training_parameters
    >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
    >>> plan = compile(job)
    >>> edited = attrs.evolve(plan, trials=tuple(attrs.evolve(t, parameters=attrs.evolve(
    ...     t.parameters, learning_rate=0.5)) for t in plan.trials))
    >>> plan_difference(plan, edited)
    ['trials[0].parameters.learning_rate (0.01 stored, 0.5 given)']
    """
    out = [name for name in ("seed", "limits", "sampler", "policy") if getattr(stored, name) != getattr(given, name)]
    if len(given.trials) > len(stored.trials):
        out.append(f"trials ({len(given.trials)} given, {len(stored.trials)} stored)")
    for i, (a, b) in enumerate(zip(stored.trials, given.trials)):
        if a == b:
            continue
        if a.parameters != b.parameters:
            pa, pb = attrs.asdict(a.parameters, recurse=False), attrs.asdict(b.parameters, recurse=False)
            out += [f"trials[{i}].parameters.{k} ({_shown(pa[k])} stored, {_shown(pb[k])} given)"
                    for k in pa if pa[k] != pb[k]]
        out += [f"trials[{i}].{k}" for k in ("id", "index", "subspace", "sampled") if getattr(a, k) != getattr(b, k)]
        break  # the first trial that differs says enough
    return out


def _shown(value: object) -> str:
    return repr(getattr(value, "value", value))


def prepare(job_or_plan: ImageClassificationJobBase | Plan | str | os.PathLike[str],
            output_dir: str | os.PathLike[str], *, seed: int = 0) -> tuple[Plan, RunStore]:
    """The plan to run in ``output_dir``: a new one, the one found there (resume), or the
    one found there extended to the job's new limits.

    Raises:
        ValidationError: The folder holds a run of a job that differs in more than its limits.

    Example:
        >>> import tempfile
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
        >>> plan, store = prepare(job, tempfile.mkdtemp())   # writes job.yaml, job.resolved.yaml and plan.yaml
        >>> len(plan.trials), sorted(p.name for p in store.root.iterdir())
        (1, ['job.resolved.yaml', 'job.yaml', 'plan.yaml'])
    """
    if isinstance(job_or_plan, (str, os.PathLike)):
        job_or_plan = load(job_or_plan)
    if isinstance(job_or_plan, Plan):
        plan = job_or_plan
    elif isinstance(job_or_plan, ImageClassificationJobBase):
        plan = compile(job_or_plan, seed=seed)
    else:
        raise TypeError(f"run takes a job, a plan or a job file, got {type(job_or_plan).__name__}")
    store = RunStore(output_dir)
    if not store.exists():
        store.start(plan.job, plan)
        return plan, store
    old = store.load_plan()
    differences = job_difference(old.job, plan.job)
    if old.seed != plan.seed:
        differences.append("seed")
    if differences:
        raise ValidationError([Problem("", f"{store.root} holds a run of another job (it differs in "
                                           f"{', '.join(differences)}); use another output folder, or the same "
                                           f"job (only its limits may change, to extend the sweep)")])
    old = attrs.evolve(old, job=attrs.evolve(old.job, base_path=plan.job.base_path))  # plan.yaml has no base_path
    if old.job.limits == plan.job.limits:
        edits = plan_difference(old, plan) if isinstance(job_or_plan, Plan) else []
        if edits:
            raise ValidationError([Problem("", f"{store.root} holds a run of another plan of this job (it differs "
                                               f"in {'; '.join(edits)}); use another output folder, or pass the "
                                               f"job (or the plan stored there) to resume")])
        return old, store
    grown = attrs.evolve(old, job=plan.job, limits=resolve_limits(plan.job))
    if not grown.sampler.sequential and len(grown.trials) < grown.limits.max_trials:
        grown = extend(grown, (), count=grown.limits.max_trials - len(grown.trials))
    write_atomic(store.layout.job, dumps(plan.job))
    store.save_plan(grown)
    store.log(f"limits changed: the sweep now allows {grown.limits.max_trials} trials, "
              f"{grown.limits.timeout_minutes} minutes")
    return grown, store
