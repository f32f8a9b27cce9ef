"""The Python flow of Azure's docs, as a pipe of imgtune transforms: limits, training parameters, search
space, then the sweep. Each step is a valid job; one with a search space and no sweep yet is refused only
where a job is compiled or run."""

import subprocess
import sys

import attrs
import pytest

import imgtune
from imgtune import ValidationError, cli
from imgtune.compiler import Plan

REFUSAL = {"sweep.sampling_algorithm": "is required when search_space is given"}

START = imgtune.image_classification(
    compute="gpu-cluster", experiment_name="dogs",
    training_data=imgtune.Input(type="mltable", path="./data/training-mltable-folder"),
    validation_data=imgtune.Input(type="mltable", path="./data/validation-mltable-folder"),
    target_column_name="label", primary_metric="Accuracy", tags={"my_custom_tag": "My custom value"})

STEPS = [
    imgtune.with_limits(timeout_minutes=60, max_trials=10, max_concurrent_trials=2),
    imgtune.with_training_parameters(early_stopping=True, evaluation_frequency=1),
    imgtune.extend_search_space([
        imgtune.SearchSpace(model_name=imgtune.Choice(["vitb16r224", "vits16r224"]),
                            learning_rate=imgtune.Uniform(0.001, 0.01), number_of_epochs=imgtune.Choice([15, 30])),
        imgtune.SearchSpace(model_name=imgtune.Choice(["seresnext", "resnet50"]),
                            learning_rate=imgtune.Uniform(0.001, 0.01), layers_to_freeze=imgtune.Choice([0, 2])),
    ]),
    imgtune.with_sweep(sampling_algorithm="random",
                       early_termination=imgtune.BanditPolicy(evaluation_interval=2, slack_factor=0.2,
                                                              delay_evaluation=6)),
]

DOCS_YAML = """
type: automl
task: image_classification
compute: gpu-cluster
experiment_name: dogs
tags: {my_custom_tag: My custom value}
primary_metric: accuracy
target_column_name: label
training_data: {type: mltable, path: ./data/training-mltable-folder}
validation_data: {type: mltable, path: ./data/validation-mltable-folder}
limits: {timeout_minutes: 60, max_trials: 10, max_concurrent_trials: 2}
training_parameters: {early_stopping: true, evaluation_frequency: 1}
search_space:
  - model_name: {type: choice, values: [vitb16r224, vits16r224]}
    learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
    number_of_epochs: {type: choice, values: [15, 30]}
  - model_name: {type: choice, values: [seresnext, resnet50]}
    learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
    layers_to_freeze: {type: choice, values: [0, 2]}
sweep:
  sampling_algorithm: random
  early_termination: {type: bandit, evaluation_interval: 2, slack_factor: 0.2, delay_evaluation: 6}
"""


def refusal(call):
    with pytest.raises(ValidationError) as info:
        call()
    return {p.path: p.message for p in info.value.problems}


def test_the_docs_order_is_a_pipe_and_equals_the_docs_yaml():
    jobs = [START]
    for step in STEPS:
        jobs.append(step(jobs[-1]))
    assert jobs[-1] == imgtune.pipe(START, *STEPS) == imgtune.loads(DOCS_YAML)
    for job in jobs:  # every step is a valid job that round-trips
        assert imgtune.loads(imgtune.dumps(job)) == job
    assert len(imgtune.compile(jobs[-1]).trials) == 10


def test_a_search_space_without_a_sweep_is_a_job_that_does_not_compile(tmp_path, capsys):
    job = imgtune.pipe(START, *STEPS[:3])
    assert job.search_space and job.sweep is None
    assert imgtune.loads(imgtune.dumps(job)) == job
    assert refusal(lambda: imgtune.compile(job)) == REFUSAL
    plan = imgtune.compile(STEPS[3](job))
    assert refusal(lambda: attrs.evolve(plan, job=job)) == {"job." + k: v for k, v in REFUSAL.items()}
    assert isinstance(plan, Plan)
    assert refusal(lambda: imgtune.run(job, tmp_path / "run")) == REFUSAL
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    path = tmp_path / "job.yml"
    imgtune.dump(job, path)
    assert cli.main(["validate", str(path)]) == 2
    assert "sweep.sampling_algorithm: is required when search_space is given" in capsys.readouterr().err


def test_the_factories_take_azures_keywords():
    job = imgtune.image_classification_multilabel(training_data={"path": "d"}, target_column_name="labels",
                                                  validation_data_size=0.2)
    assert isinstance(job, imgtune.ImageClassificationMultilabelJob)
    assert (job.primary_metric.value, job.validation_data_size) == ("iou", 0.2)
    assert refusal(lambda: imgtune.image_classification(training_data={"path": "d"}, target_column_name="label",
                                                        primary_metric="iou")) == {
        "primary_metric": "iou is only for multilabel jobs (task image_classification_multilabel)"}
    assert set(refusal(lambda: imgtune.image_classification(training_data={"path": "d"}, target_column_name="x",
                                                            sweeep={}, type="automl"))) == {"sweeep", "type"}


def test_distributions_take_azures_positional_forms_with_the_same_checks():
    assert imgtune.Choice(["a", "b"]) == imgtune.Choice(values=("a", "b"))
    assert imgtune.QUniform(8, 64, 8) == imgtune.QUniform(min_value=8, max_value=64, q=8)
    assert imgtune.Randint(4) == imgtune.Randint(upper=4)
    assert imgtune.QLogNormal(1, 2, 3) == imgtune.QLogNormal(mu=1, sigma=2, q=3)
    assert refusal(lambda: imgtune.Uniform(0.01, 0.001)) == refusal(
        lambda: imgtune.Uniform(min_value=0.01, max_value=0.001)) == {"min_value": "must be < max_value (0.001), "
                                                                                    "got 0.01"}
    assert refusal(lambda: imgtune.Normal(0, -1)) == {"sigma": "must be > 0, got -1"}


def test_import_imgtune_does_not_import_azure_ai_ml():
    code = "import sys, imgtune; print(sorted(m for m in sys.modules if m.startswith('azure')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
