"""The research API: generated record classes, compact reprs, plain ``to_dict``, and the bugs a
researcher hit first (issue 17)."""

from __future__ import annotations

import attrs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgtune
from imgtune import strategies as its
from imgtune.compiler.defaults import UNSET_BY_DESIGN, resolve
from imgtune.errors import ValidationError
from imgtune.spec import codegen
from imgtune.spec.fields import TRAINING_PARAMETERS
from imgtune.spec.records import ResolvedTrainingParameters, SearchSpace, TrainingParameters


def _job(**kw):
    return imgtune.ImageClassificationJob(training_data=imgtune.Input(path="data"), target_column_name="label", **kw)


def test_the_generated_classes_are_up_to_date():
    assert not codegen.update(check=True), "run: python -m imgtune.spec.codegen"


def test_the_generated_classes_have_every_field_of_the_table_with_its_meaning():
    own = "extra_parameters"  # imgtune's hand-written extension beyond Azure's table (the records' bases)
    for cls in (TrainingParameters, ResolvedTrainingParameters):
        assert [a.name for a in attrs.fields(cls) if a.name != own] == list(TRAINING_PARAMETERS)
    assert {a.name for a in attrs.fields(SearchSpace)} - {own} == {
        n for n, s in TRAINING_PARAMETERS.items() if s.searchable}
    text = codegen.RECORDS.read_text()
    for name, spec in TRAINING_PARAMETERS.items():
        assert f'    """{spec.meaning.rstrip(".")}.' in text, name


def test_resolved_parameters_have_no_unset_field_but_the_ones_compile_leaves():
    p = resolve(TrainingParameters(model_name="resnet18"), {}, multilabel=False, seed=0)
    assert type(p) is ResolvedTrainingParameters
    assert {k for k, v in attrs.asdict(p).items() if v is None} == UNSET_BY_DESIGN
    # equal to (and hashing as) the same values as plain TrainingParameters
    plain = TrainingParameters(**p.set_fields())
    assert plain == p and p == plain and hash(plain) == hash(p)
    assert plain != TrainingParameters(**{**p.set_fields(), "learning_rate": 0.5})
    plan = imgtune.compile(_job())
    assert all(type(t.parameters) is ResolvedTrainingParameters for t in plan.trials)
    assert imgtune.compiler.loads_plan(imgtune.compiler.dumps_plan(plan)) == plan


def test_resolved_parameters_require_every_resolved_field():
    with pytest.raises(ValidationError) as err:
        imgtune.compiler.plan.Trial(id="0000-x", index=0, parameters=TrainingParameters(learning_rate=0.1))
    assert "parameters.model_name: is required" in str(err.value)


def test_repr_shows_only_what_is_set():
    job = _job(limits={"max_trials": 4}, training_parameters={"optimizer": "Adam"})
    assert repr(job) == ("ImageClassificationJob(target_column_name='label', training_data=Input(path='data'), "
                         "limits=Limits(max_trials=4), training_parameters=TrainingParameters(optimizer='adam'))")
    assert repr(imgtune.ImageClassificationMultilabelJob(training_data={"path": "d"}, target_column_name="l",
                                                         primary_metric="accuracy")).endswith(
        "primary_metric='accuracy', target_column_name='l', training_data=Input(path='d'))")
    assert len(repr(_job())) < 100


def test_to_dict_is_plain_data():
    job = _job(training_parameters={"optimizer": "adam", "learning_rate_scheduler": "step"},
               sweep={"sampling_algorithm": {"type": "random", "rule": "sobol"}}, log_verbosity="debug",
               search_space=[{"optimizer": {"type": "choice", "values": ["sgd", "adamw"]}}])
    data = imgtune.to_dict(job)
    text = yaml.safe_dump(data)
    assert imgtune.loads(text) == job

    def kinds(value):
        if isinstance(value, dict):
            return {t for k, v in value.items() for t in kinds(k) | kinds(v)}
        if isinstance(value, list):
            return {t for v in value for t in kinds(v)}
        return {type(value)}

    assert kinds(data) <= {str, int, float, bool, type(None)}


def test_with_sweep_reports_the_job_problem_at_its_path():
    with pytest.raises(ValidationError) as err:
        imgtune.with_sweep(_job(), sampling_algorithm="bayesian",
                           early_termination={"type": "bandit", "slack_factor": 0.2})
    assert [p.path for p in err.value.problems] == ["sweep.early_termination"]
    with pytest.raises(ValidationError) as err:  # the sweep's own problems are under sweep.
        imgtune.with_sweep(_job(), sampling_algorithm="random", early_termination={"type": "bandit"})
    assert [p.path for p in err.value.problems] == ["sweep.early_termination.slack_factor"]


def test_strategies_export_every_job_strategy():
    assert {"jobs", "multiclass_jobs", "multilabel_jobs"} <= set(its.__all__)


def test_a_one_value_choice_of_crops_generates_valid_spaces():
    pinned = SearchSpace(validation_crop_size={"type": "choice", "values": [300]}, validation_resize_size=300)
    assert pinned.validation_resize_size == 300
    with pytest.raises(ValidationError):  # what the strategies must never generate
        SearchSpace(validation_crop_size={"type": "choice", "values": [300]}, validation_resize_size=256)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_strategies_never_raise_while_generating(data):
    space = data.draw(its.search_spaces(its.GRID_KINDS, max_fields=31))
    assert isinstance(space, SearchSpace)
    assert isinstance(data.draw(its.multiclass_jobs()), imgtune.ImageClassificationJob)
