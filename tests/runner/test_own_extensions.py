"""Open where Azure's schema ends: one's own model (``model_name: "module:function"``) trained, predicted
and exported end to end, and one's own hyperparameters (``extra_parameters``) searched by a grid and seen
by a custom trial function."""

import json
import os
import sys
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.datasets import make_digits
from imgtune.runner.store import RunStore

HERE = Path(__file__).parent

OWN_MODEL = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 1}
training_parameters:
  model_name: "own_model:build"
  training_crop_size: 16
  validation_crop_size: 16
  validation_resize_size: 16
  number_of_epochs: 2
  number_of_workers: 0
"""

EXTRA = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 4, max_concurrent_trials: 2}
extra_parameters: {mixup_alpha: 0.0, schedule: cosine}
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: choice, values: [0.01]}
    extra_parameters:
      mixup_alpha: {type: choice, values: [0.2, 0.4]}
"""


@pytest.fixture
def trial_path(monkeypatch):
    """Trial processes import own_model / own_trial from this folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), *sys.path]))


def test_own_model_trains_predicts_and_exports(tmp_path, trial_path):
    make_digits(tmp_path, size=16, n=48)
    (tmp_path / "job.yml").write_text(OWN_MODEL)
    job = imgtune.load(tmp_path / "job.yml")
    plan = imgtune.compile(job)
    p = plan.trials[0].parameters
    assert (p.training_batch_size, p.learning_rate) == (8, 0.05)  # the builder's own defaults
    result = imgtune.run(job, tmp_path / "out")
    assert result.status is JobStatus.COMPLETED and len(result.trials[0].history) == 2
    pre = json.loads((tmp_path / "out" / "best" / "preprocessing.json").read_text())
    assert pre["model_name"] == "own_model:build" and pre["start"] == "scratch"  # no pretrained hook
    assert pre["mean"] == [0.5, 0.5, 0.5] and pre["std"] == [0.25, 0.25, 0.25]  # the builder's statistics
    images = sorted((tmp_path / "images").glob("*.png"))[:3]
    predicted = imgtune.predict(tmp_path / "out", images)
    assert len(predicted) == 3 and all(len(r["probs"]) == 10 for r in predicted)
    pytest.importorskip("jax2onnx")
    from imgtune.export.onnx import export_onnx

    onnx_file = export_onnx(tmp_path / "out")
    by_onnx = imgtune.predict(tmp_path / "out", images, onnx=True)
    assert onnx_file.is_file()
    assert [r["predicted"] for r in by_onnx] == [r["predicted"] for r in predicted]


def test_own_model_that_onnx_cannot_hold_is_refused_by_export_with_a_message():
    pytest.importorskip("jax2onnx")
    from flax import nnx

    from imgtune.export.onnx import to_onnx_proto
    from imgtune.train.models import create_model

    model = create_model("own_model:build_fourier", 3, rngs=nnx.Rngs(0))
    info = {"model_name": "own_model:build_fourier", "classes": ["a", "b", "c"], "multilabel": False,
            "validation_crop_size": 16, "validation_resize_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3}
    with pytest.raises(imgtune.ValidationError, match="one's own model own_model:build_fourier is not exportable "
                                                      "to ONNX .*imgtune predict without --onnx"):
        to_onnx_proto(model, info, normalize=False)


def test_own_hyperparameters_are_searched_by_a_grid_and_seen_by_the_trial_function(tmp_path, trial_path):
    (tmp_path / "job.yml").write_text(EXTRA)
    job = imgtune.load(tmp_path / "job.yml")
    assert job.extensions() == ("extra_parameters.mixup_alpha", "extra_parameters.schedule",
                                "search_space[0].extra_parameters.mixup_alpha")
    result = imgtune.run(job, tmp_path / "out", trial_fn="own_trial:record_extra")
    assert result.status is JobStatus.COMPLETED and len(result.trials) == 2  # the grid has two points
    seen = [json.loads((tmp_path / "out" / "trials" / t.id / "extra.json").read_text()) for t in result.trials]
    assert seen == [{"mixup_alpha": 0.2, "schedule": "cosine"}, {"mixup_alpha": 0.4, "schedule": "cosine"}]
    assert result.best_trial.parameters.extra_parameters["mixup_alpha"] == 0.4  # it reported its alpha
    pytest.importorskip("pandas")
    frame = result.trials_frame()  # one column per own hyperparameter, as for Azure's
    assert list(frame["extra_parameters.mixup_alpha"]) == [0.2, 0.4] and "extra_parameters" not in frame
    plan = RunStore(tmp_path / "out").load_plan()  # the run folder's plan records them
    assert [dict(t.parameters.extra_parameters) for t in plan.trials] == seen
    assert [dict(t.sampled) for t in plan.trials] == [
        {"extra_parameters.mixup_alpha": a, "learning_rate": 0.01} for a in (0.2, 0.4)]


def job_with(**fields):
    return imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label", **fields)


def test_own_model_names_resolve_or_say_why(tmp_path, monkeypatch):
    from imgtune.spec.models import custom_model, model_spec

    bare = model_spec("own_model:bare_build")
    assert bare.builder == "own_model:bare_build" and bare.family == "custom"
    assert (bare.batch_size, bare.learning_rate(multilabel=True), bare.layer_groups) == (78, 0.035, 0)  # resnet50's
    with pytest.raises(imgtune.ValidationError) as err:
        job_with(training_parameters={"model_name": "own_model:nope", "layers_to_freeze": 1})
    assert "training_parameters.model_name: cannot import 'own_model:nope': AttributeError" in str(err.value)
    with pytest.raises(imgtune.ValidationError, match="'own_model:NOT_A_BUILDER' is not callable"):
        job_with(training_parameters={"model_name": "own_model:NOT_A_BUILDER"})
    with pytest.raises(imgtune.ValidationError, match="layers_to_freeze: must be at most 1"):
        job_with(training_parameters={"model_name": "own_model:build", "layers_to_freeze": 2})
    # a package's entry point (group imgtune.models) names a model by a short name, found in any process
    dist = tmp_path / "tinymodels-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinymodels\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[imgtune.models]\ntinynet = own_model:build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert custom_model("tinynet").builder == "own_model:build"
    job = job_with(training_parameters={"model_name": "tinynet"})
    assert job.extensions() == ("training_parameters.model_name (tinynet: one's own model)",)
    assert imgtune.compile(job).trials[0].parameters.training_batch_size == 8


def test_own_hyperparameters_are_validated():
    with pytest.raises(imgtune.ValidationError) as err:
        job_with(extra_parameters={"learning_rate": 0.1, "2x": 1, "ok": [1, 2]},
                 training_parameters={"extra_parameters": {"a": 1}},
                 sweep={"sampling_algorithm": "grid"},
                 search_space=[{"extra_parameters": {"alpha": {"type": "uniform", "min_value": 0, "max_value": 1},
                                                     "beta": {"type": "choice", "values": [[1], 2]}}}])
    text = str(err.value)
    with pytest.raises(imgtune.ValidationError, match=r"search_space\[0\].extra_parameters.alpha: grid sampling "
                                                      r"takes only choice, got uniform"):
        job_with(sweep={"sampling_algorithm": "grid"}, search_space=[
            {"extra_parameters": {"alpha": {"type": "uniform", "min_value": 0, "max_value": 1}}}])
    for line in ("extra_parameters.learning_rate: is one of Azure's training parameters",
                 "extra_parameters.2x: is not a valid name (a Python identifier)",
                 "extra_parameters.ok: must be a scalar (bool, int, float or str), got",
                 "training_parameters.extra_parameters: one's own hyperparameters go at the top level",
                 "search_space[0].extra_parameters.beta.values[0]: must be a string, number or bool, got [1]"):
        assert line in text, text


def test_a_job_without_extensions_writes_what_it_wrote(tmp_path):
    plain = job_with(training_parameters={"model_name": "resnet18"})
    assert plain.extensions() == () and "extra_parameters" not in imgtune.dumps(plain)
    own = job_with(extra_parameters={"alpha": 0.5})
    assert imgtune.loads(imgtune.dumps(own)) == own and "extra_parameters:\n  alpha: 0.5" in imgtune.dumps(own)
    azure_ml = pytest.importorskip("azure.ai.ml")
    import warnings

    for job, loads in ((plain, True), (own, False)):
        imgtune.dump(job, tmp_path / "job.yml", overwrite=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if loads:
                assert azure_ml.load_job(tmp_path / "job.yml").training_parameters.model_name == "resnet18"
            else:
                with pytest.raises(Exception, match="extra_parameters"):  # what it added, named by Azure too
                    azure_ml.load_job(tmp_path / "job.yml")


def test_own_model_starts_from_its_pretrained_hook_else_from_random_weights():
    from flax import nnx

    from imgtune.spec.records import TrainingParameters
    from imgtune.train import pretrained
    from imgtune.train.models import create_model

    assert pretrained.start_of(TrainingParameters(model_name="own_model:build")) == pretrained.SCRATCH
    params = TrainingParameters(model_name="own_model:build_pretrained")
    assert pretrained.start_of(params) == pretrained.PRETRAINED
    plan = imgtune.compile(job_with(training_parameters={"model_name": "own_model:build_pretrained"}))
    assert pretrained.plan_models(plan) == ()  # nothing for the driver to fetch
    model = create_model("own_model:build_pretrained", 3, rngs=nnx.Rngs(0))
    pretrained.own_weights("own_model:build_pretrained", model)  # what a trial does
    assert float(model.conv.bias[...].min()) == 1.0
