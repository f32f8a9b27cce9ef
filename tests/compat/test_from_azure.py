"""``imgtune.from_azure``: the Python of Azure's docs, built with azure-ai-ml unchanged, converted.

Each conversion is checked against azure-ai-ml's own dump of the same job read by ``imgtune.load``.
azure-ai-ml is in the ``test`` extra (``make test`` installs it); without it these tests skip.
"""

import warnings

import attrs
import pytest

import imgtune
from imgtune.errors import ValidationError

azure_ml = pytest.importorskip("azure.ai.ml")
from azure.ai.ml import Input, automl
from azure.ai.ml import sweep as az
from azure.ai.ml.automl import (
    ClassificationMultilabelPrimaryMetrics,
    ClassificationPrimaryMetrics,
    ImageClassificationSearchSpace,
    ImageLimitSettings,
    ImageModelSettingsClassification,
    ImageSweepSettings,
    SearchSpace,
)
from azure.ai.ml.constants import AssetTypes


def docs_job():
    """The multiclass flow of Azure's docs ("Set up AutoML to train computer-vision models"), verbatim in form."""
    my_training_data_input = Input(type=AssetTypes.MLTABLE, path="./data/training-mltable-folder")
    my_validation_data_input = Input(type=AssetTypes.MLTABLE, path="./data/validation-mltable-folder")
    image_classification_job = automl.image_classification(
        compute="gpu-cluster",
        experiment_name="dpv2-image-classification-experiment",
        training_data=my_training_data_input,
        validation_data=my_validation_data_input,
        target_column_name="label",
        primary_metric=ClassificationPrimaryMetrics.ACCURACY,
        tags={"my_custom_tag": "My custom value"},
    )
    image_classification_job.set_limits(timeout_minutes=60, max_trials=10, max_concurrent_trials=2)
    image_classification_job.set_training_parameters(early_stopping=True, evaluation_frequency=1)
    image_classification_job.extend_search_space([
        SearchSpace(model_name=az.Choice(["vitb16r224", "vits16r224"]), learning_rate=az.Uniform(0.001, 0.01),
                    number_of_epochs=az.Choice([15, 30])),
        SearchSpace(model_name=az.Choice(["seresnext", "resnet50"]), learning_rate=az.Uniform(0.001, 0.01),
                    layers_to_freeze=az.Choice([0, 2])),
    ])
    image_classification_job.set_sweep(
        sampling_algorithm="Random",
        early_termination=az.BanditPolicy(evaluation_interval=2, slack_factor=0.2, delay_evaluation=6),
    )
    return image_classification_job


def multilabel_job():
    """The multilabel notebook's flow: one subspace, other distributions, Bayesian sampling, no policy."""
    job = automl.image_classification_multilabel(
        compute="gpu-cluster", experiment_name="multilabel",
        training_data=Input(type=AssetTypes.MLTABLE, path="azureml:fridge-train:1"),
        validation_data=Input(type=AssetTypes.MLTABLE, path="azureml:fridge-valid:1"),
        target_column_name="label", primary_metric=ClassificationMultilabelPrimaryMetrics.IOU)
    job.set_limits(timeout_minutes=120, max_trials=8, max_concurrent_trials=2)
    job.set_training_parameters(model_name="vitb16r224", optimizer="adamw", learning_rate_scheduler="warmup_cosine",
                                number_of_epochs=10.0, training_batch_size=8)
    job.extend_search_space(ImageClassificationSearchSpace(
        learning_rate=az.Uniform(0.005, 0.05), training_batch_size=az.QUniform(8, 32, 8),
        warmup_cosine_lr_cycles=az.Choice([0.5, 1.0])))
    job.set_sweep(sampling_algorithm=az.BayesianSamplingAlgorithm())
    return job


def loaded_dump(azure_job, tmp_path):
    """azure-ai-ml's dump of the job, read by imgtune."""
    path = tmp_path / "job.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        azure_job.dump(path)
        return imgtune.load(path)


def converted(obj, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same Azure habits warn on both sides (azure_quirks)
        return imgtune.from_azure(obj, **kwargs)


@pytest.mark.parametrize("build", [docs_job, multilabel_job])
def test_the_docs_job_converts_as_its_dump_loads(build, tmp_path):
    azure_job = build()
    job = converted(azure_job, base_path=tmp_path)
    assert job == loaded_dump(azure_job, tmp_path)
    assert job.base_path == str(tmp_path)
    assert imgtune.loads(imgtune.dumps(job)) == job
    imgtune.compile(job)  # and it compiles


def test_each_step_of_the_docs_flow_converts_as_its_dump_loads(tmp_path):
    """After ``extend_search_space`` and before ``set_sweep`` the job is valid in both, and does not compile."""
    azure_job = automl.image_classification(training_data=Input(type="mltable", path="azureml:dogs:1"),
                                            target_column_name="label")
    steps = [lambda j: j.set_limits(max_trials=4), lambda j: j.set_training_parameters(model_name="resnet50"),
             lambda j: j.extend_search_space(SearchSpace(learning_rate=az.Uniform(0.001, 0.01))),
             lambda j: j.set_sweep(sampling_algorithm="Random")]
    jobs = []
    for i, step in enumerate(steps):
        step(azure_job)
        jobs.append(converted(azure_job))
        assert jobs[-1] == loaded_dump(azure_job, tmp_path / str(i))
    assert jobs[2].search_space and jobs[2].sweep is None
    with pytest.raises(ValidationError, match="sweep.sampling_algorithm: is required when search_space is given"):
        imgtune.compile(jobs[2])
    assert jobs[3] == imgtune.with_sweep(jobs[2], sampling_algorithm="random")


def test_the_docs_job_field_by_field():
    job = converted(docs_job())
    assert isinstance(job, imgtune.ImageClassificationJob)
    assert (job.limits.max_trials, job.limits.max_concurrent_trials, job.limits.timeout_minutes) == (10, 2, 60)
    assert job.training_parameters.early_stopping is True and job.training_parameters.evaluation_frequency == 1
    assert job.search_space[0].model_name == imgtune.Choice(["vitb16r224", "vits16r224"])
    assert job.search_space[0].learning_rate == imgtune.Uniform(0.001, 0.01)
    assert job.search_space[1].layers_to_freeze == imgtune.Choice([0, 2])
    assert job.sweep == imgtune.Sweep(sampling_algorithm="random", early_termination=imgtune.BanditPolicy(
        slack_factor=0.2, evaluation_interval=2, delay_evaluation=6))
    assert job.primary_metric.value == "accuracy" and dict(job.tags) == {"my_custom_tag": "My custom value"}


def test_the_same_flow_as_a_pipe_of_imgtune_transforms():
    """The docs' order with imgtune's factory and transforms gives the job from_azure gives (paths aside:
    azure-ai-ml writes its local paths and compute with an ``azureml:`` prefix)."""
    job = imgtune.pipe(
        imgtune.image_classification(
            compute="azureml:gpu-cluster", experiment_name="dpv2-image-classification-experiment",
            training_data=imgtune.Input(type="mltable", path="./data/training-mltable-folder"),
            validation_data=imgtune.Input(type="mltable", path="./data/validation-mltable-folder"),
            target_column_name="label", primary_metric="accuracy", tags={"my_custom_tag": "My custom value"}),
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
    )
    theirs = converted(docs_job())
    same_paths = {"training_data": job.training_data, "validation_data": job.validation_data}
    assert attrs.evolve(theirs, **same_paths) == job


def part_in_a_job(put, take, tmp_path):
    """A part put into an azure-ai-ml job by ``put``, dumped, loaded by imgtune and taken out by ``take``."""
    carrier = automl.image_classification(training_data=Input(type="mltable", path="azureml:train:1"),
                                          target_column_name="label")
    put(carrier)
    return take(loaded_dump(carrier, tmp_path))


DISTRIBUTIONS = [
    ("model_name", az.Choice(["vitb16r224", "resnet50"])), ("number_of_epochs", az.Choice([15, 30])),
    ("learning_rate", az.Uniform(0.001, 0.01)), ("learning_rate", az.LogUniform(-7, -3)),
    ("training_batch_size", az.QUniform(8, 64, 8)), ("momentum", az.Normal(0.9, 0.02)),
    ("weight_decay", az.LogNormal(-5, 1)), ("validation_batch_size", az.QNormal(32, 8, 4)),
    ("training_batch_size", az.QLogUniform(2, 4, 1)), ("weight_decay", az.QLogNormal(-6, 0.5, 0.0001)),
    ("layers_to_freeze", az.Randint(3)), ("ams_gradient", az.Choice([True, False])),
]


@pytest.mark.parametrize(("field", "dist"), DISTRIBUTIONS, ids=lambda v: type(v).__name__ if not isinstance(v, str)
                         else v)
def test_each_distribution_converts_as_in_a_dumped_job(field, dist, tmp_path):
    ours = converted(dist)
    assert isinstance(ours, imgtune.Distribution)
    theirs = part_in_a_job(lambda j: j.extend_search_space(SearchSpace(**{field: dist})),
                           lambda job: getattr(job.search_space[0], field), tmp_path)
    assert ours == theirs


PARTS = {
    "Input": (Input(type="mltable", path="azureml:dogs:2", mode="ro_mount"),
              lambda j, o: setattr(j, "training_data", o), lambda job: job.training_data),
    "SearchSpace": (ImageClassificationSearchSpace(model_name=az.Choice(["seresnext"]),
                                                   learning_rate=az.Uniform(0.001, 0.01)),
                    lambda j, o: j.extend_search_space(o), lambda job: job.search_space[0]),
    "limits": (ImageLimitSettings(max_trials=6, timeout_minutes=30),
               lambda j, o: setattr(j, "limits", o), lambda job: job.limits),
    "sweep": (ImageSweepSettings(sampling_algorithm="grid", early_termination=az.MedianStoppingPolicy(
        delay_evaluation=2)), lambda j, o: setattr(j, "sweep", o), lambda job: job.sweep),
    "training": (ImageModelSettingsClassification(model_name="resnet50", learning_rate=0.01, optimizer="sgd"),
                 lambda j, o: setattr(j, "training_parameters", o), lambda job: job.training_parameters),
    "bandit": (az.BanditPolicy(slack_amount=0.05, evaluation_interval=1),
               lambda j, o: j.set_sweep(sampling_algorithm="random", early_termination=o),
               lambda job: job.sweep.early_termination),
    "median": (az.MedianStoppingPolicy(delay_evaluation=3),
               lambda j, o: j.set_sweep(sampling_algorithm="random", early_termination=o),
               lambda job: job.sweep.early_termination),
    "truncation": (az.TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=2),
                   lambda j, o: j.set_sweep(sampling_algorithm="random", early_termination=o),
                   lambda job: job.sweep.early_termination),
    "random": (az.RandomSamplingAlgorithm(seed=7, rule="sobol"), lambda j, o: j.set_sweep(sampling_algorithm=o),
               lambda job: job.sweep.sampling_algorithm),
    "grid": (az.GridSamplingAlgorithm(), lambda j, o: j.set_sweep(sampling_algorithm=o),
             lambda job: job.sweep.sampling_algorithm),
    "bayesian": (az.BayesianSamplingAlgorithm(), lambda j, o: j.set_sweep(sampling_algorithm=o),
                 lambda job: job.sweep.sampling_algorithm),
}


@pytest.mark.parametrize("name", sorted(PARTS))
def test_each_part_converts_as_in_a_dumped_job(name, tmp_path):
    obj, put, take = PARTS[name]
    ours = converted(obj)
    assert ours == part_in_a_job(lambda j: put(j, obj), take, tmp_path)
    assert type(ours).__module__.startswith("imgtune.")


def test_what_is_not_converted_is_a_validation_error():
    with pytest.raises(ValidationError, match="takes an azure-ai-ml object"):
        imgtune.from_azure(imgtune.Uniform(0.1, 1))  # imgtune's own records need nothing
    with pytest.raises(ValidationError, match="cannot convert azure-ai-ml's ImageObjectDetectionJob"):
        converted(automl.image_object_detection(training_data=Input(type="mltable", path="azureml:d:1"),
                                                target_column_name="label"))
    with pytest.raises(ValidationError, match="nested Choice"):
        converted(az.Choice([az.Choice([1, 2])]))
    with pytest.raises(ValidationError, match="azure-ai-ml cannot write"):  # its multilabel jobs take mltable only
        converted(automl.image_classification_multilabel(training_data=Input(path="./images"),
                                                         target_column_name="label"))
    with pytest.raises(ValidationError) as info:  # imgtune's ranges hold for converted jobs too
        converted(ImageModelSettingsClassification(learning_rate=5.0))
    assert [p.path for p in info.value.problems] == ["training_parameters.learning_rate"]


def test_imgtune_records_stay_strict_and_say_how_to_convert():
    with pytest.raises(ValidationError, match=r"azure-ai-ml's Input: convert it with imgtune.from_azure"):
        imgtune.ImageClassificationJob(training_data=Input(type="mltable", path="d"), target_column_name="label")
