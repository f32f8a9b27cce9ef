"""Each validation rule, one test each: the error names the path and the rule."""

import io
import warnings

import pytest

import imgtune
from imgtune import ValidationError

BASE = """
type: automl
task: {task}
target_column_name: label
training_data: {{path: data/train, type: mltable}}
"""


def load(extra: str = "", task: str = "image_classification"):
    return imgtune.loads(BASE.format(task=task) + extra)


def problems(extra: str = "", task: str = "image_classification") -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        load(extra, task)
    return {p.path: p.message for p in info.value.problems}


def test_valid_minimal_job():
    job = load()
    assert job.primary_metric is imgtune.PrimaryMetric.ACCURACY
    assert job.type == "automl" and job.task_type.value == "image_classification"
    assert set(job.inputs) == {"training_data"}


def test_grid_takes_only_choice():
    got = problems("""
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
    model_name: {type: choice, values: [resnet18]}
""")
    assert got == {"search_space[0].learning_rate": "grid sampling takes only choice, got uniform"}


def test_bayesian_rules():
    got = problems("""
sweep:
  sampling_algorithm: bayesian
  early_termination: {type: median_stopping}
search_space:
  - learning_rate: {type: loguniform, min_value: -6, max_value: -2}
  - momentum: {type: uniform, min_value: 0.8, max_value: 0.99}
""")
    assert "bayesian" in got["sweep.early_termination"]
    assert "only choice, uniform and quniform, got loguniform" in got["search_space[0].learning_rate"]
    assert "one subspace" in got["search_space"]


@pytest.mark.parametrize("policy, expected", [
    ("{type: bandit}", "got neither"),
    ("{type: bandit, slack_factor: 0.1, slack_amount: 0.2}", "got both"),
])
def test_bandit_exactly_one_slack(policy, expected):
    got = problems(f"sweep: {{sampling_algorithm: random, early_termination: {policy}}}")
    assert any(expected in m for p, m in got.items() if p.startswith("sweep.early_termination.slack"))


def test_policy_ranges():
    got = problems("""
sweep:
  sampling_algorithm: random
  early_termination: {type: truncation_selection, truncation_percentage: 100, evaluation_interval: -1}
""")
    assert got["sweep.early_termination.truncation_percentage"] == "must be in [1, 99], got 100"
    assert got["sweep.early_termination.evaluation_interval"] == "must be >= 0, got -1"
    got = problems("sweep: {sampling_algorithm: random, early_termination: {type: bandit, slack_factor: -1}}")
    assert got == {"sweep.early_termination.slack_factor": "must be >= 0, got -1.0"}


def test_truncation_percentage_required():
    got = problems("sweep: {sampling_algorithm: random, early_termination: {type: truncation_selection}}")
    assert got == {"sweep.early_termination.truncation_percentage": "is required"}


def test_iou_only_on_multilabel():
    got = problems("primary_metric: IOU")
    assert "only for multilabel" in got["primary_metric"]
    assert load("primary_metric: IOU", task="image_classification_multilabel").primary_metric.value == "iou"
    assert load(task="image_classification_multilabel").primary_metric.value == "iou"


def test_validation_data_and_size_exclusive():
    # A file's validation_data_size beside validation_data is dropped with a warning (Azure's reading:
    # tests/serialization/test_azure_quirks.py); a record built in Python refuses both, and so does a
    # file for test_data (imgtune's own extension).
    with pytest.warns(UserWarning, match="validation_data_size"):
        got = problems("validation_data: {path: v}\nvalidation_data_size: 0.2\ntest_data: {path: t}\n"
                       "test_data_size: 0.1")
    assert "validation_data_size" not in got
    assert "cannot be set together with test_data" in got["test_data_size"]
    with pytest.raises(ValidationError, match="cannot be set together with validation_data"):
        imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
                                       validation_data={"path": "v"}, validation_data_size=0.2)


def test_data_sizes_open_interval_and_sum():
    assert problems("validation_data_size: 1.0") == {"validation_data_size": "must be in (0, 1), got 1.0"}
    got = problems("validation_data_size: 0.6\ntest_data_size: 0.5")
    assert "must be < 1" in got["test_data_size"]


@pytest.mark.parametrize("key, value, message", [
    ("max_trials", 0, "must be in [1, 1000], got 0"),
    ("max_trials", 1001, "must be in [1, 1000], got 1001"),
    ("max_concurrent_trials", 101, "must be in [1, 100], got 101"),
    ("timeout_minutes", 60 * 24 * 60 + 1, "must be in [1, 86400], got 86401"),
    ("timeout_minutes", 0, "must be in [1, 86400], got 0"),
])
def test_limits_ranges(key, value, message):
    assert problems(f"limits: {{{key}: {value}}}") == {f"limits.{key}": message}


def test_concurrency_above_trials_is_capped_with_a_warning():
    with pytest.warns(UserWarning, match="capped to 2"):
        job = load("limits: {max_trials: 2, max_concurrent_trials: 4}")
    assert job.limits.max_concurrent_trials == 2


def test_vit_needs_equal_crops():
    got = problems("training_parameters: {model_name: vitb16r224, training_crop_size: 224, validation_crop_size: 256,"
                   " validation_resize_size: 288}")
    assert got == {"training_parameters.validation_crop_size":
                   "must equal training_crop_size (224) for ViT model vitb16r224, got 256"}
    got = problems("""
sweep: {sampling_algorithm: random}
search_space:
  - model_name: {type: choice, values: [vits16r224]}
    training_crop_size: 224
    validation_crop_size: 192
""")
    assert "for ViT model vits16r224" in got["search_space[0].validation_crop_size"]


def test_hugging_face_model_is_refused_with_the_reason():
    got = problems("training_parameters: {model_name: microsoft/beit-base-patch16-224-pt22k-ft22k}")
    assert "Hugging Face" in got["training_parameters.model_name"]
    assert "does not build" in got["training_parameters.model_name"]
    assert "timm/<architecture>" in got["training_parameters.model_name"]


def test_search_space_type_rules():
    got = problems("""
sweep: {sampling_algorithm: random}
search_space:
  - number_of_epochs: {type: uniform, min_value: 1, max_value: 10}
    training_batch_size: {type: quniform, min_value: 8.5, max_value: 64, q: 8}
    nesterov: {type: uniform, min_value: 0, max_value: 1}
    ams_gradient: {type: choice, values: [true, false]}
    optimizer: {type: choice, values: [Adam, sgd]}
    learning_rate: {type: loguniform, min_value: -3, max_value: 2}
    momentum: {type: randint, upper: 2}
""")
    assert "integer field" in got["search_space[0].number_of_epochs"]
    assert "must be an integer" in got["search_space[0].training_batch_size.min_value"]
    assert "takes a bool value or a choice" in got["search_space[0].nesterov"]
    assert "exponents" in got["search_space[0].learning_rate.max_value"]
    assert len(got) == 4  # ams_gradient, optimizer (casing normalised) and randint on momentum are fine


def test_search_space_needs_a_sampling_algorithm_to_compile():
    job = load("search_space: [{learning_rate: 0.01}]")  # a valid record: Azure's docs set the sweep last
    with pytest.raises(ValidationError) as info:
        imgtune.compile(job)
    assert {p.path: p.message for p in info.value.problems} == {
        "sweep.sampling_algorithm": "is required when search_space is given"}


def test_sweep_needs_a_sampling_algorithm():
    assert problems("sweep: {early_termination: {type: median_stopping}}") == {
        "sweep.sampling_algorithm": "is required: random, grid or bayesian"}


def test_every_problem_listed_with_line_and_column():
    with pytest.raises(ValidationError) as info:
        load("limits: {max_trials: 0}\ntraining_parameters:\n  learning_rat: 0.1\n  momentum: 2\n")
    by_path = {p.path: p for p in info.value.problems}
    assert set(by_path) == {"limits.max_trials", "training_parameters.learning_rat", "training_parameters.momentum"}
    assert "did you mean 'learning_rate'" in by_path["training_parameters.learning_rat"].message
    assert (by_path["limits.max_trials"].line, by_path["limits.max_trials"].column) == (6, 22)
    assert by_path["training_parameters.momentum"].line == 9
    assert isinstance(info.value, ValueError)


def test_missing_required_keys_are_validation_errors_not_key_errors():
    with pytest.raises(ValidationError) as info:
        imgtune.loads("type: automl\ntask: image_classification\n")
    assert {p.path for p in info.value.problems} == {"target_column_name", "training_data"}


def test_task_and_type_checked():
    with pytest.raises(ValidationError) as info:
        imgtune.loads("type: command\ntask: ImageClassification\ntarget_column_name: l\ntraining_data: {path: d}")
    got = {p.path: p.message for p in info.value.problems}
    assert got["type"] == "must be automl, got 'command'"
    assert "did you mean 'image_classification'" in got["task"]


def test_python_tags_are_refused():
    with pytest.raises(ValidationError, match="unsafe YAML tag"):
        imgtune.loads(BASE.format(task="image_classification") + "name: !!python/object/apply:os.system ['true']")


def test_yaml_12_floats_and_strings_that_look_like_floats():
    job = load("training_parameters: {weight_decay: 1e-4}\ntags: {version: '1e-4'}")
    assert job.training_parameters.weight_decay == 1e-4
    assert job.tags["version"] == "1e-4"
    assert imgtune.loads(imgtune.dumps(job)) == job


def test_advanced_settings_keys_checked():
    got = problems("training_parameters: {advanced_settings: '{\"path_mapp\": {}}'}")
    assert "did you mean 'path_map'" in got["training_parameters.advanced_settings"]


def test_python_construction_reports_every_problem():
    with pytest.raises(ValidationError) as info:
        imgtune.TrainingParameters(learning_rate=2, weighted_loss=3, optimizer="rmsprop", nesterov="yes")
    assert [p.path for p in info.value.problems] == ["learning_rate", "nesterov", "optimizer", "weighted_loss"]


def test_nested_mappings_in_python_report_full_paths():
    with pytest.raises(ValidationError) as info:
        imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
                                       limits={"max_trials": 0}, search_space=[{"momentum": 3}],
                                       sweep={"sampling_algorithm": "random"})
    assert {p.path for p in info.value.problems} == {"limits.max_trials", "search_space[0].momentum"}


def test_equality_ignores_base_path():
    a = imgtune.loads(BASE.format(task="image_classification"), base_path="/x")
    b = imgtune.loads(BASE.format(task="image_classification"), base_path="/y")
    assert a == b and a.base_path == "/x" and hash(a) == hash(b)


def test_azure_only_keys_round_trip():
    job = load("resources: {instance_count: 2}\nqueue_settings: {job_tier: spot}\nidentity: {type: managed}\n"
               "environment_variables: {A: '1'}\nservices: {s: {type: ssh}}\nenvironment_id: env:1\n"
               "outputs: {best_model: {type: mlflow_model}}")
    text = imgtune.dumps(job)
    assert imgtune.loads(text) == job
    assert job.queue_settings["job_tier"] == "spot"
    assert "job_tier: spot" in text and "best_model:" in text


def test_dump_refuses_to_overwrite_and_writes_atomically(tmp_path):
    job = load()
    dest = tmp_path / "job.yml"
    imgtune.dump(job, dest)
    assert imgtune.load(dest) == job
    dest.write_text("mine")
    with pytest.raises(FileExistsError):
        imgtune.dump(job, dest)
    assert dest.read_text() == "mine"
    imgtune.dump(job, dest, overwrite=True)
    assert imgtune.load(dest) == job
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.yml"]  # no temporary files left
    stream = io.StringIO()
    imgtune.dump(job, stream)
    assert imgtune.loads(stream.getvalue()) == job


def test_loads_rejects_non_text():
    for bad in (42, None, [1, 2], b"\xff\xfe"):
        with pytest.raises(ValidationError):
            imgtune.loads(bad)


def test_duplicate_keys_are_reported():
    with pytest.raises(ValidationError, match="duplicate key"):
        load("limits: {max_trials: 2}\nlimits: {max_trials: 3}")


def test_no_warnings_for_a_clean_job():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load("limits: {max_trials: 3, max_concurrent_trials: 3}")


def test_tags_and_properties_are_strings_as_in_azure():
    got = problems("tags: {a: 1, b: ok, c: null}\nproperties: {d: true}")
    assert got == {"tags.a": "must be a string (as in Azure; quote it), got 1",
                   "properties.d": "must be a string (as in Azure; quote it), got True"}
