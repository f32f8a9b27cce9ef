"""Azure data assets (azureml:name:version, azureml://) resolve through a local mapping: the assets file
beside the job, the job's path_map or --path-map; an unmapped one is a validation error saying how to map it,
at `imgtune validate` and in the data check before the sweep."""

import json

import pytest

import imgtune
from imgtune import cli
from imgtune.errors import ValidationError
from imgtune.train.data.assets import ASSETS_FILE, check_assets, run_path_map
from imgtune.train.data.check import check_job_data

JOB = """\
type: automl
task: image_classification
target_column_name: label
training_data: {{path: '{train}', type: mltable}}
validation_data: {{path: '{valid}', type: mltable}}
training_parameters: {{training_batch_size: 2{settings}}}
"""


@pytest.fixture
def dataset(make_image, make_jsonl, make_mltable):
    def make(folder):
        rows = []
        for i in range(6):
            make_image(folder / f"img/{i}.png", seed=i)
            rows.append({"image_url": f"img/{i}.png", "label": "ab"[i % 2]})
        make_jsonl(folder / "train.jsonl", rows)
        return make_mltable(folder)
    return make


def write_job(tmp_path, train="azureml:fridge-train:1", valid="azureml:fridge-valid@latest", settings=""):
    path = tmp_path / "job.yml"
    path.write_text(JOB.format(train=train, valid=valid, settings=settings))
    return path


def test_mapped_assets_pass_validate_and_the_data_check(tmp_path, capsys, dataset):
    dataset(tmp_path / "data/train")
    dataset(tmp_path / "valid")
    (tmp_path / ASSETS_FILE).write_text("azureml:fridge-train:1: data/train\n")
    settings = ", advanced_settings: '" + json.dumps({"path_map": {"azureml:fridge-valid@latest": "valid"}}) + "'"
    path = write_job(tmp_path, settings=settings)
    job = imgtune.load(path)
    check_assets(job)
    check_job_data(job, [imgtune.compile(job).trials[0].parameters])
    assert cli.main(["validate", str(path)]) == 0
    assert cli.main(["validate", "--data", str(path)]) == 0
    # what a run hands its trials (which put the job's own path_map under it)
    assert run_path_map(job) == {"azureml:fridge-train:1": "data/train"}
    assert run_path_map(job, {"azureml:fridge-train:1": "elsewhere"}) == {"azureml:fridge-train:1": "elsewhere"}


def test_unmapped_assets_are_errors_that_say_how_to_map_them(tmp_path, capsys, dataset):
    dataset(tmp_path / "data/train")
    path = write_job(tmp_path, valid="azureml://datastores/blob/paths/valid/")
    job = imgtune.load(path)
    with pytest.raises(ValidationError) as info:
        check_job_data(job)
    got = {p.path: p.message for p in info.value.problems}
    assert set(got) == {"training_data.path", "validation_data.path"}
    assert "data asset 'azureml:fridge-train:1' is not mapped" in got["training_data.path"]
    assert ASSETS_FILE in got["training_data.path"] and "--path-map" in got["training_data.path"]
    assert got["validation_data.path"].startswith("URI 'azureml://datastores/blob/paths/valid/' is not mapped")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "training_data.path" in err and "validation_data.path" in err
    # --path-map maps them on the command line
    assert cli.main(["validate", str(path), "--path-map", "azureml:fridge-train:1=data/train",
                     "--path-map", "azureml://datastores/blob/paths/=data/"]) == 0


def test_malformed_assets_file_is_an_error(tmp_path):
    (tmp_path / ASSETS_FILE).write_text("azureml:fridge-train:1: [not, a, folder]\n")
    job = imgtune.load(write_job(tmp_path))
    with pytest.raises(ValidationError, match="must be a local folder"):
        check_assets(job)
