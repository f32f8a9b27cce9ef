"""Files Azure accepts with a clear meaning load, each with an AzureQuirkWarning naming the key
(imgtune.serialization.azure_quirks), and round-trip; what has no clear meaning stays an error."""

import json
import tempfile
import warnings
from pathlib import Path

import pytest

import imgtune
from imgtune.errors import ValidationError
from imgtune.serialization.azure_quirks import AzureQuirkWarning

HEAD = """\
type: automl
task: image_classification
target_column_name: label
training_data: {path: data/train, type: mltable}
"""


def load_warned(text):
    """The job and the keys its warnings name (the text before the first ':')."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = imgtune.loads(text)
    quirks = [str(w.message) for w in caught if issubclass(w.category, AzureQuirkWarning)]
    assert imgtune.loads(imgtune.dumps(job)) == job
    return job, [m.split(": ", 1)[0] for m in quirks]


def test_integral_floats_read_as_integers():
    job, keys = load_warned(HEAD + "limits: {max_trials: 4.0}\ntraining_parameters: {number_of_epochs: 10.0}\n"
                                   "sweep: {sampling_algorithm: random, early_termination: "
                                   "{type: bandit, slack_factor: 0.1, evaluation_interval: 2.0}}\n")
    assert job.training_parameters.number_of_epochs == 10 and type(job.training_parameters.number_of_epochs) is int
    assert job.limits.max_trials == 4 and job.sweep.early_termination.evaluation_interval == 2
    assert sorted(keys) == ["limits.max_trials", "sweep.early_termination.evaluation_interval",
                            "training_parameters.number_of_epochs"]
    with pytest.raises(ValidationError, match="number_of_epochs: must be an integer, got 10.5"):
        imgtune.loads(HEAD + "training_parameters: {number_of_epochs: 10.5}\n")


def test_model_names_in_any_casing():
    job, keys = load_warned(HEAD + "training_parameters: {model_name: ResNet50}\nsweep: {sampling_algorithm: grid}\n"
                                   "search_space:\n  - model_name: {type: choice, values: [SeResNext, vitb16r224]}\n")
    assert job.training_parameters.model_name == "resnet50"
    assert job.search_space[0].model_name.values == ("seresnext", "vitb16r224")
    assert keys == ["training_parameters.model_name", "search_space[0].model_name.values"]
    with pytest.raises(ValidationError, match="model_name: must be one of"):
        imgtune.loads(HEAD + "training_parameters: {model_name: ResNet51}\n")


def test_validation_data_wins_over_its_size():
    job, keys = load_warned(HEAD + "validation_data: {path: data/valid}\nvalidation_data_size: 0.3\n")
    assert job.validation_data.path == "data/valid" and job.validation_data_size is None
    assert keys == ["validation_data_size"]


def test_unknown_advanced_settings_kept_and_written_back():
    settings = json.dumps({"apply_mosaic_for_yolo": True, "pretrained": False})
    job, keys = load_warned(HEAD + f"training_parameters: {{advanced_settings: '{settings}'}}\n")
    assert json.loads(job.training_parameters.advanced_settings) == {"apply_mosaic_for_yolo": True, "pretrained": False}
    assert "apply_mosaic_for_yolo" in imgtune.dumps(job)
    assert keys == ["training_parameters.advanced_settings.apply_mosaic_for_yolo"]
    with pytest.raises(ValidationError, match="did you mean 'path_map'"):  # a near miss is a typo
        imgtune.loads(HEAD + """training_parameters: {advanced_settings: '{"path_maps": {}}'}\n""")


def test_both_bandit_slacks_zero_is_a_zero_slack():
    job, keys = load_warned(HEAD + "sweep: {sampling_algorithm: random, early_termination: "
                                   "{type: bandit, slack_factor: 0.0, slack_amount: 0.0}}\n")
    assert job.sweep.early_termination == imgtune.BanditPolicy(slack_factor=0.0)
    assert keys == ["sweep.early_termination"]


def test_azureml_prefix_on_local_paths_removed_assets_kept():
    job, keys = load_warned(HEAD.replace("path: data/train", "path: azureml:data/train")
                            + "validation_data: {path: 'azureml:./v'}\ntest_data: {path: 'azureml:fridge:3'}\n")
    assert (job.training_data.path, job.validation_data.path) == ("data/train", "./v")
    assert job.test_data.path == "azureml:fridge:3"
    assert keys == ["training_data.path", "validation_data.path"]


def test_azure_sdk_dump_loads_with_warnings_only():
    """azure-ai-ml's own dump of a docs job (BanditPolicy() slacks, azureml: local paths) loads."""
    azure_ml = pytest.importorskip("azure.ai.ml")
    from azure.ai.ml import Input, automl
    from azure.ai.ml.sweep import BanditPolicy

    job = automl.image_classification(training_data=Input(type="mltable", path="./data/train"),
                                      target_column_name="label", primary_metric="accuracy")
    job.set_limits(max_trials=4, max_concurrent_trials=2)
    job.set_training_parameters(model_name="resnet18", number_of_epochs=3)
    job.set_sweep(sampling_algorithm="random", early_termination=BanditPolicy(slack_factor=0.2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yml"
        job.dump(path)
        text = path.read_text()
    assert "azureml:./data/train" in text and "slack_amount: 0.0" in text
    ours, keys = load_warned(text)
    assert ours.training_data.path == "./data/train" and keys == ["training_data.path"]
    assert ours.sweep.early_termination.slack_factor == 0.2
    assert ours.sweep.early_termination.slack_amount is None
    assert azure_ml is not None


@pytest.mark.parametrize("mode, ok", [("ro_mount", True), ("direct", True), ("download", True), ("readonly", False)])
def test_input_mode_checked(mode, ok):
    text = HEAD.replace("type: mltable}", f"type: mltable, mode: {mode}}}")
    if ok:
        assert imgtune.loads(text).training_data.mode == mode
    else:
        with pytest.raises(ValidationError, match="training_data.mode: must be one of ro_mount"):
            imgtune.loads(text)
