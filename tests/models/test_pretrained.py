"""The ImageNet weights of the model table, with no network: a local Hugging Face cache laid out as
``huggingface_hub`` writes it (``models--<org>--<name>/{blobs,refs,snapshots}``), filled here with
weights made from the PyTorch references under the source's key names.

``HF_HUB_OFFLINE=1`` and an empty ``HF_HOME`` are set for the whole session (the root
``conftest.py``): nothing here can download.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import imgtune
from imgtune.errors import ValidationError
from imgtune.spec.models import MODELS, model_spec
from imgtune.train import pretrained as pw
from imgtune.train.models import create_model, load_pretrained

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from . import torch_reference as tr

ROOT = Path(__file__).resolve().parents[2]


def put_in_cache(cache: Path, name: str, content: bytes, commit: str | None = None) -> Path:
    """Writes ``content`` as ``name``'s weights file into the hub cache ``cache``, as
    ``huggingface_hub`` does: the blob named by its sha256 (the Hub's etag of an LFS file), the
    snapshot a relative symlink to it, ``refs/main`` the commit."""
    w = model_spec(name).weights
    commit = commit or w.revision or hashlib.sha1(content).hexdigest()  # a made-up commit for the test
    repo = cache / ("models--" + w.repo.replace("/", "--"))
    sha = hashlib.sha256(content).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / sha).write_bytes(content)
    snap = repo / "snapshots" / commit / w.filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    if snap.is_symlink() or snap.exists():
        snap.unlink()
    snap.symlink_to(Path("..") / ".." / "blobs" / sha)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


def _safetensors_bytes(module, tmp: Path) -> bytes:
    path = tmp / "weights.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """``timm/resnet18.tv_in1k``'s file made from the reference (torchvision's key names, which
    timm's copy keeps), and the reference itself."""
    tmodel = tr.randomize_(tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], num_classes=1000), seed=3)
    return _safetensors_bytes(tmodel, tmp_path_factory.mktemp("resnet18")), tmodel


@pytest.fixture
def resnet18_hub(resnet18_file, tmp_path):
    """A cache of its own holding the resnet18 file."""
    put_in_cache(tmp_path / "cache", "resnet18", resnet18_file[0])
    return tmp_path / "cache", resnet18_file[1]


def test_offline_hub_download_resolves_the_cache_and_the_logits_equal_the_reference(resnet18_hub):
    cache, tmodel = resnet18_hub
    assert pw.cached_path("resnet18", cache_dir=cache) is not None and pw.record_status("resnet18", cache_dir=cache) == "-"
    path = pw.fetch(["resnet18"], cache_dir=cache)["resnet18"]  # hf_hub_download, offline (HF_HUB_OFFLINE=1)
    assert path.parent.parent.name == "snapshots" and path.is_symlink()
    assert pw.record_status("resnet18", cache_dir=cache) == "recorded"  # trust on first use
    model = create_model("resnet18", 1000, rngs=nnx.Rngs(0))
    load_pretrained(model, path, source_layout=MODELS["resnet18"].weights.source_layout)
    x = np.random.RandomState(0).randn(2, 3, 32, 32).astype(np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    out = np.asarray(nnx.jit(lambda m, v: m(v, train=False))(model, jnp.asarray(x.transpose(0, 2, 3, 1))))
    assert np.abs(out - ref).max() / np.abs(ref).max() < 1e-4
    assert pw.fetch(["resnet18"], cache_dir=cache)["resnet18"] == path  # verified again against the record


def test_a_tampered_file_is_refused_and_named(tmp_path):
    cache = tmp_path / "cache"
    snap = put_in_cache(cache, "resnet34", b"the weights as first downloaded")
    pw.fetch(["resnet34"], cache_dir=cache)  # records the sha256
    blob = snap.resolve()
    blob.write_bytes(b"the weights, changed afterwards")
    with pytest.raises(ValidationError) as err:
        pw.fetch(["resnet34"], cache_dir=cache)
    assert err.value.problems[0].path == "resnet34" and "recorded when it was first loaded" in str(err.value)


def test_a_pinned_hash_is_checked_on_every_load(tmp_path):
    w = MODELS["resnet50"].weights
    assert w.sha256 and w.revision  # stated publicly (the Hub's LFS details), see the table
    put_in_cache(tmp_path, "resnet50", b"not torchvision's resnet50")
    with pytest.raises(ValidationError, match=f"does not match the pinned {w.sha256}"):
        pw.fetch(["resnet50"], cache_dir=tmp_path)
    assert pw.record_status("resnet50", cache_dir=tmp_path) == "pinned"


def test_missing_and_offline_names_each_model_and_the_ways_out(tmp_path):
    with pytest.raises(ValidationError) as err:
        pw.fetch(["resnet18", "vitb16r224"], cache_dir=tmp_path)
    paths = [p.path for p in err.value.problems]
    assert paths == ["resnet18", "vitb16r224", "pretrained"]
    text = str(err.value)
    assert "imgtune weights download resnet18 vitb16r224" in text and '"pretrained": false' in text
    assert "HF_HOME" in text and "connect" in text


JOB = """\
type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 3}
training_parameters: {training_crop_size: 16, validation_crop_size: 16, validation_resize_size: 16}
"""


def test_imgtune_run_offline_with_an_empty_cache_exits_2_before_any_trial(tmp_path):
    from imgtune.datasets import make_digits

    make_digits(tmp_path, size=16, n=20)
    (tmp_path / "job.yml").write_text(JOB)  # AutoMode, 3 trials: seresnext, vitb16r224, resnet50
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
           "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "imgtune", "run", str(tmp_path / "job.yml"), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 2, result.stderr
    for name in ("seresnext", "vitb16r224", "resnet50"):
        assert f"error: {name}: ImageNet weights" in result.stderr
    assert "imgtune weights download resnet50 seresnext vitb16r224" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused before anything is written, so before any trial


def test_the_models_a_plan_can_propose():
    def plan(text: str):
        return imgtune.compile(imgtune.loads(JOB + text))

    assert pw.plan_models(plan("")) == ("resnet50", "seresnext", "vitb16r224")  # AutoMode's first three, in table order
    space = ("sweep: {sampling_algorithm: random}\nsearch_space:\n"
             "  - model_name: {type: choice, values: [resnet18, mobilenetv2]}\n  - learning_rate: 0.1\n")
    assert pw.plan_models(plan(space)) == ("mobilenetv2", "resnet18", "seresnext")  # the second: the default model
    off = "\n".join(line + (", advanced_settings: '{\"pretrained\": false}'}" if line.startswith("training_p") else "")
                    for line in JOB.splitlines()).replace("16}, adv", "16, adv")
    assert pw.plan_models(imgtune.compile(imgtune.loads(off))) == ()


def test_layers_to_freeze_above_the_models_layer_groups_is_invalid():
    job = JOB.replace("validation_resize_size: 16}", "validation_resize_size: 16, model_name: resnet18, "
                                                     "layers_to_freeze: 6}")
    with pytest.raises(ValidationError, match="at most 5, the number of layer groups of resnet18"):
        imgtune.loads(job)
    imgtune.loads(job.replace("layers_to_freeze: 6", "layers_to_freeze: 5"))


def test_a_trial_starts_from_the_table_weights_with_their_normalisation(resnet18_file, tmp_path):
    from imgtune.compiler.defaults import resolve
    from imgtune.datasets import make_digits
    from imgtune.spec.records import TrainingParameters
    from imgtune.train.checkpoints import load_weights, read_info
    from imgtune.train.data.trial_data import load_trial_data
    from imgtune.train.trial import TrialSettings, train_trial

    content, tmodel = resnet18_file
    put_in_cache(pw.cache_root(), "resnet18", content)  # the session's own cache (conftest.py), where trials look
    data = load_trial_data(make_digits(tmp_path / "d", size=16, n=40), multilabel=False, seed=0)
    params = resolve(TrainingParameters(model_name="resnet18", number_of_epochs=1, learning_rate=0.0,
                                        training_batch_size=16, validation_batch_size=16, training_crop_size=16,
                                        validation_crop_size=16, validation_resize_size=16, number_of_workers=0),
                     {}, multilabel=False, seed=0)
    result = train_trial(TrialSettings(params=params, primary_metric="accuracy", multilabel=False, seed=0), data,
                         tmp_path / "trial")
    info = read_info(result.checkpoint)
    assert info["start"] == "pretrained" and info["mean"] == list(MODELS["resnet18"].weights.mean)
    weights, _ = load_weights(result.checkpoint)
    stem = np.asarray(weights["conv1"]["kernel"]).transpose(3, 2, 0, 1)  # HWIO -> OIHW; learning rate 0
    np.testing.assert_allclose(stem, tmodel.conv1.weight.detach().numpy(), rtol=1e-6)


def test_weights_commands(resnet18_hub):
    cache, _ = resnet18_hub
    env = {**os.environ, "HF_HUB_CACHE": str(cache)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "imgtune", "weights", *args], capture_output=True, text=True, check=False,
                              timeout=60, env=env)

    path = cli("path", "resnet18")  # the first load records the sha256
    assert path.returncode == 0 and path.stdout.strip().endswith("model.safetensors"), path.stderr
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:-1]}
    assert set(rows) == set(MODELS)
    assert rows["resnet18"][-2:] == ["yes", "recorded"] and rows["resnet50"][-2:] == ["no", "pinned"]
    missing = cli("download", "resnet34")
    assert missing.returncode == 2 and "error: resnet34:" in missing.stderr


HUB_ID = "timm/resnet18.a1_in1k@0123456789abcdef0123456789abcdef01234567"


def test_a_timm_hub_model_fetches_trains_and_predicts_from_a_local_cache(resnet18_file, tmp_path, capsys):
    """A timm Hub id whose architecture the zoo builds: the defaults of its Azure name, its weights fetched
    and verified (trust on first use) from a local hub cache, trained, its id in the checkpoint, predicted."""
    from imgtune.compiler.defaults import resolve
    from imgtune.datasets import make_digits
    from imgtune.spec.records import TrainingParameters
    from imgtune.train.checkpoints import load_weights, read_info
    from imgtune.train.data.trial_data import load_trial_data
    from imgtune.train.inference import load_model
    from imgtune.train.trial import TrialSettings, train_trial

    content, tmodel = resnet18_file
    put_in_cache(pw.cache_root(), HUB_ID, content)  # models--timm--resnet18.a1_in1k/snapshots/<revision>/
    path = pw.fetch([HUB_ID])[HUB_ID]
    assert path.parent.name == HUB_ID.split("@")[1] and pw.record_status(HUB_ID) == "recorded"
    from imgtune import cli

    assert cli.main(["weights", "path", HUB_ID]) == 0 and capsys.readouterr().out.strip() == str(path)
    job = imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
                                         training_parameters={"model_name": HUB_ID})
    plan = imgtune.compile(job, seed=0)
    assert pw.plan_models(plan) == (HUB_ID,)
    assert plan.trials[0].parameters.training_batch_size == MODELS["resnet18"].batch_size
    data = load_trial_data(make_digits(tmp_path / "d", size=16, n=40), multilabel=False, seed=0)
    params = resolve(TrainingParameters(model_name=HUB_ID, number_of_epochs=1, learning_rate=0.0,
                                        training_batch_size=16, validation_batch_size=16, training_crop_size=16,
                                        validation_crop_size=16, validation_resize_size=16, number_of_workers=0),
                     {}, multilabel=False, seed=0)
    result = train_trial(TrialSettings(params=params, primary_metric="accuracy", multilabel=False, seed=0), data,
                         tmp_path / "trial")
    info = read_info(result.checkpoint)
    assert info["start"] == "pretrained" and info["model_name"] == HUB_ID
    weights, _ = load_weights(result.checkpoint)
    stem = np.asarray(weights["conv1"]["kernel"]).transpose(3, 2, 0, 1)  # learning rate 0: the Hub file's
    np.testing.assert_allclose(stem, tmodel.conv1.weight.detach().numpy(), rtol=1e-6)
    model, _ = load_model(result.checkpoint)
    logits = nnx.jit(lambda m, v: m(v, train=False))(model, jnp.zeros((2, 16, 16, 3)))
    assert logits.shape == (2, len(info["classes"]))


@pytest.mark.parametrize("model_id", ["microsoft/beit-base-patch16-224-pt22k-ft22k", "timm/convnext_tiny.fb_in1k"])
def test_other_hub_ids_are_refused_with_what_is_supported(model_id):
    with pytest.raises(ValidationError) as info:
        imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
                                       training_parameters={"model_name": model_id})
    message = str(info.value)
    assert "does not build" in message and "vit_base_patch16_224" in message and "resnet50" in message
