"""The real Azure job files load into the records a test builds by hand."""

import warnings

import pytest

import imgtune
from imgtune import (
    BanditPolicy,
    Choice,
    ImageClassificationJob,
    ImageClassificationMultilabelJob,
    Input,
    Limits,
    RandomSampling,
    SearchSpace,
    Sweep,
    TrainingParameters,
    Uniform,
)

SCHEMA = "https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json"
DATA = dict(
    training_data=Input(path="data/training-mltable-folder", type="mltable"),
    validation_data=Input(path="data/validation-mltable-folder", type="mltable"),
    target_column_name="label",
    compute="azureml:gpu-cluster",
    log_verbosity="debug",
    schema=SCHEMA,
)
SWEEP = Sweep(sampling_algorithm=RandomSampling(),
              early_termination=BanditPolicy(evaluation_interval=2, slack_factor=0.2, delay_evaluation=6))
MC = dict(experiment_name="dpv2-cli-automl-image-classification-experiment",
          description="A multi-class Image classification job using fridge items dataset", **DATA)
ML = dict(experiment_name="dpv2-cli-automl-image-classification-multilabel-experiment",
          description="A multi-label Image classification job using fridge items dataset", **DATA)


def expected_mc_sweep():
    return ImageClassificationJob(
        primary_metric="accuracy",
        limits=Limits(timeout_minutes=60, max_trials=10, max_concurrent_trials=2),
        training_parameters=TrainingParameters(early_stopping=True, evaluation_frequency=1),
        sweep=SWEEP,
        search_space=[
            SearchSpace(model_name=Choice(values=["vitb16r224", "vits16r224"]),
                        learning_rate=Uniform(min_value=0.001, max_value=0.01),
                        number_of_epochs=Choice(values=[15, 30])),
            SearchSpace(model_name=Choice(values=["seresnext", "resnet50"]),
                        learning_rate=Uniform(min_value=0.001, max_value=0.01),
                        layers_to_freeze=Choice(values=[0, 2])),
        ],
        **MC,
    )


def expected_ml_sweep():
    return ImageClassificationMultilabelJob(
        primary_metric="iou",
        limits=Limits(timeout_minutes=60, max_trials=10, max_concurrent_trials=2),
        training_parameters=TrainingParameters(early_stopping=True, evaluation_frequency=1),
        sweep=SWEEP,
        search_space=[
            SearchSpace(model_name=Choice(values=["vitb16r224"]),
                        learning_rate=Uniform(min_value=0.005, max_value=0.05),
                        number_of_epochs=Choice(values=[15, 30]),
                        gradient_accumulation_step=Choice(values=[1, 2])),
            SearchSpace(model_name=Choice(values=["seresnext"]),
                        learning_rate=Uniform(min_value=0.005, max_value=0.05),
                        validation_resize_size=Choice(values=[288, 320, 352]),
                        validation_crop_size=Choice(values=[224, 256]),
                        training_crop_size=Choice(values=[224, 256])),
        ],
        **ML,
    )


CURRENT = {
    "cli-automl-img-cls-mc-task-fridge-items.yml": expected_mc_sweep,
    "cli-automl-img-cls-ml-task-fridge-items.yml": expected_ml_sweep,
    "cli-automl-img-cls-mc-task-fridge-items-automode.yml":
        lambda: ImageClassificationJob(primary_metric="accuracy", limits=Limits(max_trials=10, max_concurrent_trials=2),
                                       **MC),
    "cli-automl-img-cls-ml-task-fridge-items-automode.yml":
        lambda: ImageClassificationMultilabelJob(primary_metric="iou",
                                                 limits=Limits(max_trials=10, max_concurrent_trials=2), **ML),
}


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_current_azure_files_load_into_hand_built_records(azure_yaml, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no legacy warning for a current file
        job = imgtune.load(azure_yaml / name)
    assert job == CURRENT[name]()
    assert job.base_path == str(azure_yaml.resolve())
    assert imgtune.loads(imgtune.dumps(job)) == job


def test_legacy_multiclass_migrates_to_the_current_file(azure_yaml):
    legacy = azure_yaml / "legacy-2022-05" / "cli-automl-image-classification-multiclass-task-fridge-items.yml"
    with pytest.warns(imgtune.LegacySchemaWarning) as record:
        job = imgtune.load(legacy)
    message = str(record[0].message)
    for note in ("image_model -> training_parameters", "sweep.limits -> limits",
                 "search_space[0].learning_rate: 'uniform(0.001, 0.01)'"):
        assert note in message
    assert job == expected_mc_sweep()


def test_legacy_multilabel_migrates(azure_yaml):
    legacy = azure_yaml / "legacy-2022-05" / "cli-automl-image-classification-multilabel-task-fridge-items.yml"
    with pytest.warns(imgtune.LegacySchemaWarning, match="grad_accumulation_step -> gradient_accumulation_step"):
        job = imgtune.load(legacy)
    expected = expected_ml_sweep()
    # The legacy file fixes model_name as a scalar where the current one has a one-value choice.
    spaces = [imgtune.SearchSpace(**{**s.set_fields(), "model_name": s.model_name.values[0]})
              for s in expected.search_space]
    assert job == imgtune.replace_search_space(expected, spaces)


def test_dump_keeps_paths_as_written_and_azure_casing(azure_yaml):
    job = imgtune.load(azure_yaml / "cli-automl-img-cls-mc-task-fridge-items.yml")
    text = imgtune.dumps(job)
    assert "path: data/training-mltable-folder" in text  # no azureml: prefix added
    assert "sampling_algorithm: random" in text and "type: bandit" in text
    assert text.index("type: automl") < text.index("task:") < text.index("training_data:") < text.index("search_space:")


def test_enum_casings_normalise_on_load():
    job = imgtune.loads("""
type: automl
task: image_classification_multilabel
primary_metric: AUC_weighted
log_verbosity: DEBUG
target_column_name: label
training_data: {path: d}
training_parameters: {optimizer: AdamW, learning_rate_scheduler: WarmupCosine}
sweep: {sampling_algorithm: GRID, early_termination: {type: MedianStopping}}
""")
    assert job.primary_metric.value == "auc_weighted"
    assert job.training_parameters.optimizer.value == "adamw"
    assert job.training_parameters.learning_rate_scheduler.value == "warmup_cosine"
    assert isinstance(job.sweep.sampling_algorithm, imgtune.GridSampling)
    assert isinstance(job.sweep.early_termination, imgtune.MedianStoppingPolicy)
    text = imgtune.dumps(job)
    assert "primary_metric: auc_weighted" in text and "type: median_stopping" in text and "optimizer: adamw" in text


@pytest.mark.parametrize("spelling", ["AUC_weighted", "AUCWeighted", "auc_weighted"])
def test_metric_spellings(spelling):
    assert imgtune.PrimaryMetric.parse(spelling) is imgtune.PrimaryMetric.AUC_WEIGHTED


_BOTH_SLACKS = """\
type: automl
task: image_classification
target_column_name: label
training_data: {path: d}
sweep:
  sampling_algorithm: random
  early_termination: {type: bandit, slack_factor: %s, slack_amount: %s, evaluation_interval: 2}
"""


@pytest.mark.parametrize(("factor", "amount", "want"), [("0.2", "0.0", (0.2, None)), ("0.0", "0.1", (None, 0.1))])
def test_azure_sdk_bandit_dump_shape_loads(factor, amount, want):
    """azure-ai-ml writes both slacks, 0.0 for the unused one: YAML reads that zero as unset."""
    policy = imgtune.loads(_BOTH_SLACKS % (factor, amount)).sweep.early_termination
    assert (policy.slack_factor, policy.slack_amount) == want


def test_a_bandit_policy_built_in_python_takes_exactly_what_it_is_given():
    with pytest.raises(imgtune.ValidationError, match="exactly one of slack_factor and slack_amount is allowed"):
        imgtune.BanditPolicy(slack_factor=0.2, slack_amount=0.0, evaluation_interval=2)
    assert imgtune.BanditPolicy(slack_amount=0.0).slack_amount == 0.0  # a zero slack alone is a real setting


def test_limits_built_in_python_keep_their_values_and_compile_caps_them_with_one_warning():
    limits = imgtune.Limits(max_trials=2, max_concurrent_trials=4)
    assert limits.max_concurrent_trials == 4
    job = imgtune.ImageClassificationJob(training_data=imgtune.Input(path="d"), target_column_name="label",
                                         limits=limits)
    with pytest.warns(UserWarning, match="capped to 2") as caught:
        plan = imgtune.compile(job)
    assert plan.limits.max_concurrent_trials == 2 and len(caught) == 1
