"""Ask/tell (imgtune.Study) and plan edits (Plan.select, Plan.map_parameters) that re-derive trial ids."""

from __future__ import annotations

import attrs
import pytest

import imgtune
from imgtune import Observation, Study
from imgtune.compiler import compile, extend, make_policy
from imgtune.compiler.plan import trial_id
from imgtune.errors import ValidationError
from imgtune.runner import RunResult, plan_difference, prepare


def _job(**kw):
    return imgtune.ImageClassificationJob(training_data={"path": "data"}, target_column_name="label", **kw)


LR = {"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}}
GRID = [{"model_name": {"type": "choice", "values": ["resnet18", "resnet34", "mobilenetv2"]},
         "learning_rate": {"type": "choice", "values": [0.01, 0.05]}}]


def test_ask_hands_out_the_plans_trials_and_tell_returns_a_new_study():
    job = _job(limits={"max_trials": 3}, sweep={"sampling_algorithm": "random"}, search_space=[LR])
    study = Study.create(job, seed=5)
    assert study.plan == compile(job, seed=5)
    asked = []
    for _ in range(3):
        trial, after = study.ask()
        assert trial is not None and study.asked == len(asked)  # the old study is unchanged
        asked.append(trial)
        study = after.tell(trial, history=[Observation(1, {"accuracy": 0.5}), {"epoch": 2, "accuracy": 0.6}])
    assert asked == list(study.plan.trials) and study.done and study.pending == ()
    assert study.ask() == (None, study)
    assert [o.metric for o in study.outcomes] == [0.6] * 3
    assert study.outcomes[0].history[1] == Observation(2, {"accuracy": 0.6})


def test_tell_refuses_an_unknown_trial_a_second_tell_and_a_missing_metric():
    study = Study.create(_job(limits={"max_trials": 2}, sweep={"sampling_algorithm": "random"}, search_space=[LR]))
    first, study = study.ask()
    second = study.plan.trials[1]
    with pytest.raises(ValidationError, match="is not a trial this study asked"):
        study.tell(second, metric=0.5)  # in the plan, but not asked yet
    with pytest.raises(ValidationError, match="differs from this study's trial"):
        study.tell(attrs.evolve(second, id=first.id), metric=0.5)
    told = study.tell(first.id, metric=0.5)
    with pytest.raises(ValidationError, match="was told already"):
        told.tell(first, metric=0.7)
    with pytest.raises(ValidationError) as err:  # every problem at once, each at its path
        study.tell(first, metric="high", history=[{"epoch": -1, "accuracy": "x"}])
    assert {p.path for p in err.value.problems} == {"metric", "history[0].epoch", "history[0].metrics.accuracy"}
    with pytest.raises(ValidationError, match="no value of the primary metric 'accuracy'"):
        study.tell(first, history=[Observation(1, {"acc": 0.9})])
    assert study.tell(first, failed=True).outcomes[0].metric is None


def test_a_bayesian_study_proposes_from_what_it_was_told_as_extend_does():
    job = _job(limits={"max_trials": 7, "max_concurrent_trials": 1}, sweep={"sampling_algorithm": "bayesian"},
               search_space=[{**LR, "momentum": {"type": "uniform", "min_value": 0.5, "max_value": 0.99}}])
    study = Study.create(job)
    plan, history = compile(job), []

    def score(trial):  # the best learning rate is 0.05
        return 1 - abs(trial.parameters.learning_rate - 0.05) if trial.index != 2 else None

    for _ in range(7):  # 5 start trials, then the Gaussian process
        trial, study = study.ask()
        assert trial is not None
        if trial.index >= len(plan.trials):
            plan = extend(plan, history, count=1)
        assert trial == plan.trials[trial.index]
        metric = score(trial)
        study = study.tell(trial, metric=metric, failed=metric is None)
        history.append((trial.subspace, dict(trial.sampled), metric))
    assert study.plan == plan and study.done and study.ask()[0] is None
    assert study.best is not None and study.best.metric == max(m for *_, m in history if m is not None)


def test_should_stop_asks_the_jobs_policy():
    policy = {"type": "median_stopping", "delay_evaluation": 2}
    job = _job(limits={"max_trials": 3}, sweep={"sampling_algorithm": "random", "early_termination": policy},
               search_space=[LR])
    study = Study.create(job)
    a, study = study.ask()
    b, study = study.ask()
    study = study.tell(a, history=[{"epoch": e, "accuracy": v} for e, v in ((1, 0.7), (2, 0.8))])
    low = [Observation(1, {"accuracy": 0.1}), Observation(2, {"accuracy": 0.2})]
    decision = study.should_stop(b, low)
    expected, _ = make_policy(job.sweep.early_termination, job.primary_metric).decide(
        (), {a.id: [0.7, 0.8], b.id: [0.1, 0.2]}, {b.id}, 2)
    assert decision == expected[0] and decision.stop
    assert not study.should_stop(b, low[:1]).stop  # delay_evaluation: not judged at 1
    with pytest.raises(ValidationError, match="was told already"):
        study.should_stop(a, low)
    quiet = Study.create(_job(limits={"max_trials": 2}, sweep={"sampling_algorithm": "random"}, search_space=[LR]))
    trial, quiet = quiet.ask()
    assert quiet.should_stop(trial, low).reason == "no early-termination policy"


def test_plan_edits_re_derive_trial_ids_and_resume_a_run_folder(tmp_path):
    plan = compile(_job(limits={"max_trials": 6}, sweep={"sampling_algorithm": "grid"}, search_space=GRID))
    stale = attrs.evolve(plan, trials=tuple(attrs.evolve(t, parameters=attrs.evolve(t.parameters, number_of_epochs=1))
                                            for t in plan.trials))
    assert stale.trials[0].id == plan.trials[0].id  # what the edits fix: an id that no longer names its content

    def edit(p):
        return p.select(lambda t: t.parameters.model_name != "resnet34").map_parameters(
            lambda q: attrs.evolve(q, number_of_epochs=1))

    edited = edit(plan)
    kept = [t for t in plan.trials if t.parameters.model_name != "resnet34"]
    assert [t.parameters.model_name for t in edited.trials] == [t.parameters.model_name for t in kept]
    assert sorted(t.parameters.model_name for t in kept) == ["mobilenetv2"] * 2 + ["resnet18"] * 2
    assert [t.index for t in edited.trials] == [0, 1, 2, 3]
    assert all(t.id == trial_id(t.index, t.parameters) for t in edited.trials)
    assert not {t.id for t in edited.trials} & {t.id for t in plan.trials}
    assert edited.limits.max_trials == 4 and imgtune.compiler.loads_plan(imgtune.compiler.dumps_plan(edited)) == edited
    assert plan.select([t.id for t in plan.trials]) is plan
    assert plan.select(plan.trials[4].id).trials[0].parameters == plan.trials[4].parameters

    stored, store = prepare(edited, tmp_path / "run")
    store.save_result(RunResult(primary_metric="accuracy", status="Running"))  # a run started there
    again = edit(compile(plan.job))  # the same edit in another session: the same plan, so the folder resumes
    assert again == edited and plan_difference(stored, again) == []
    resumed, _ = prepare(again, tmp_path / "run")
    assert resumed == edited
    with pytest.raises(ValidationError, match="another plan of this job"):
        prepare(plan, tmp_path / "run")


def test_map_parameters_keeps_sampled_values_in_step_and_reports_every_bad_trial():
    plan = compile(_job(limits={"max_trials": 3}, sweep={"sampling_algorithm": "random"}, search_space=[LR]))
    doubled = plan.map_parameters(lambda p: attrs.evolve(p, learning_rate=p.learning_rate * 2))
    for old, new in zip(plan.trials, doubled.trials):
        assert new.sampled["learning_rate"] == new.parameters.learning_rate == old.parameters.learning_rate * 2
    with pytest.raises(ValidationError) as err:
        plan.map_parameters(lambda p: attrs.evolve(p, learning_rate=2.0))
    assert [p.path for p in err.value.problems] == [f"trials[{i}].parameters.learning_rate" for i in range(3)]
    with pytest.raises(ValidationError, match="no trial nope in the plan"):
        plan.select(["nope"])
    with pytest.raises(ValidationError, match="keeps none"):
        plan.select(lambda t: False)
