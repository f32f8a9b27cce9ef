"""Shared fixtures."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _compat_dir() -> Path:
    for candidate in (ROOT.parent / "shared" / "compat" / "azure-yaml", ROOT / "tests" / "data" / "azure-yaml"):
        if candidate.is_dir():
            return candidate
    pytest.skip("the Azure YAML corpus (../shared/compat/azure-yaml) is not beside this checkout")


@pytest.fixture(scope="session")
def azure_yaml() -> Path:
    """The folder of real Azure job files (../shared/compat/azure-yaml)."""
    return _compat_dir()


_TRAINED_JOB = """\
type: automl
task: image_classification
experiment_name: imgtune-tests-digits
target_column_name: label
training_data: {path: data, type: mltable}
validation_data_size: 0.2
limits: {max_trials: 1}
training_parameters:
  model_name: resnet18
  training_crop_size: 32
  validation_crop_size: 32
  validation_resize_size: 32
  training_batch_size: 32
  validation_batch_size: 64
  number_of_epochs: 2
  learning_rate: 0.002
  optimizer: adam
  enable_onnx_normalization: true
  number_of_workers: 1
  advanced_settings: '{"apply_automl_train_augmentations": false, "pretrained": false}'
"""


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished real run (resnet18, 2 epochs on 300 digits at 32 px, ``enable_onnx_normalization``),
    shared by the tests of export, prediction and MLflow. Treat it as read-only."""
    import imgtune
    from imgtune.datasets import make_digits

    folder = tmp_path_factory.mktemp("trained")
    make_digits(folder, size=32, n=300)  # folder/data (MLTable), folder/images
    (folder / "job.yaml").write_text(_TRAINED_JOB)
    result = imgtune.run(imgtune.load(folder / "job.yaml"), folder / "out")
    assert result.status.value == "Completed", result.message
    return folder / "out"
