"""Prediction: Azure's output format, JAX and onnxruntime agreeing, inputs of every kind, bad images."""

import base64
import json
import subprocess
import sys

import numpy as np
import pytest
from flax import nnx

import imgtune
from imgtune.prediction import collect_images, load_predictor
from imgtune.train.checkpoints import Checkpoints
from imgtune.train.inference import logits_to_scores
from imgtune.train.models import create_model
from imgtune.train.state import Progress, TrainState


def _images(run, n=12):
    root = run.parent / "images"
    return sorted(str(p) for p in root.glob("*.png"))[:n]


def test_predict_gives_azure_scoring_output(trained_run):
    paths = _images(trained_run)
    labels = json.loads((trained_run / "best" / "labels.json").read_text())
    out = imgtune.predict(trained_run, paths)
    assert [r["filename"] for r in out] == paths
    for r in out:
        assert r["labels"] == labels  # class order without top_k: labels[i] names probs[i]
        assert abs(sum(r["probs"]) - 1) < 1e-6 and all(0 <= p <= 1 for p in r["probs"])  # softmax
        assert r["predicted"] == [labels[int(np.argmax(r["probs"]))]]
    # the best model predicts most training digits right after 2 epochs (the labels are in the manifest)
    truth = {}
    for line in (trained_run.parent / "data" / "annotations.jsonl").read_text().splitlines():
        obj = json.loads(line)
        truth[obj["image_url"].rsplit("/", 1)[-1]] = obj["label"]
    right = sum(r["predicted"][0] == truth[r["filename"].rsplit("/", 1)[-1]] for r in out)
    assert right >= len(out) // 3


def test_top_k_sorts_and_cuts(trained_run):
    paths = _images(trained_run, 3)
    full = imgtune.predict(trained_run, paths)
    top = imgtune.predict(trained_run, paths, top_k=3)
    for f, t in zip(full, top):
        order = np.argsort(-np.asarray(f["probs"]), kind="stable")[:3]
        assert t["labels"] == [f["labels"][i] for i in order]
        assert t["probs"] == pytest.approx([f["probs"][i] for i in order])
        assert t["probs"] == sorted(t["probs"], reverse=True)
    with pytest.raises(imgtune.ValidationError, match="top_k: must be an integer >= 1"):
        imgtune.predict(trained_run, paths, top_k=0)


def test_onnx_and_jax_give_the_same_labels(trained_run):
    paths = _images(trained_run, 24)
    jax_out = imgtune.predict(trained_run, paths, top_k=3)
    onnx_out = imgtune.predict(trained_run, paths, top_k=3, onnx=True)  # best/model.onnx (0-1 input)
    assert [r["labels"] for r in jax_out] == [r["labels"] for r in onnx_out]
    assert [r["predicted"] for r in jax_out] == [r["predicted"] for r in onnx_out]
    for a, b in zip(jax_out, onnx_out):
        assert np.allclose(a["probs"], b["probs"], atol=1e-5)
    # the .onnx file on its own (labels and sizes come from its metadata), and an export without
    # normalisation in the graph: the same labels
    alone = imgtune.predict(trained_run / "best" / "model.onnx", paths, top_k=3)
    assert [r["labels"] for r in alone] == [r["labels"] for r in jax_out]


def test_bad_images_are_reported_and_the_others_predicted(trained_run, tmp_path):
    good = _images(trained_run, 2)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = imgtune.predict(trained_run, [good[0], str(tmp_path / "missing.png"), str(text), good[1]])
    assert [r["filename"] for r in out] == [good[0], str(tmp_path / "missing.png"), str(text), good[1]]
    assert "probs" in out[0] and "probs" in out[3]
    assert out[1] == {"filename": str(tmp_path / "missing.png"), "error": "file not found"}
    assert "not an image" in out[2]["error"] and "probs" not in out[2]


def test_folders_manifests_and_bytes(trained_run, tmp_path):
    paths = _images(trained_run, 4)
    folder = tmp_path / "imgs" / "sub"
    folder.mkdir(parents=True)
    for p in paths:
        (folder / p.rsplit("/", 1)[-1]).write_bytes(open(p, "rb").read())
    (folder / "readme.txt").write_text("skipped: not an image file name")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps({"image_url": f"imgs/sub/{p.rsplit('/', 1)[-1]}", "label": "x"})
                                  for p in paths) + "\n{\"image_url\": \"imgs/sub/gone.png\"}\nnot json\n")
    by_path = {r["filename"].rsplit("/", 1)[-1]: r["probs"] for r in imgtune.predict(trained_run, paths)}
    from_folder = imgtune.predict(trained_run, tmp_path / "imgs")
    assert len(from_folder) == 4
    for r in from_folder:
        assert r["probs"] == pytest.approx(by_path[r["filename"].rsplit("/", 1)[-1]])
    from_manifest = imgtune.predict(trained_run, manifest)
    assert [("probs" in r) for r in from_manifest] == [True] * 4 + [False, False]
    assert "file not found" in from_manifest[4]["error"] and "not valid JSON" in from_manifest[5]["error"]
    raw = open(paths[0], "rb").read()
    (from_bytes,) = imgtune.predict(trained_run, raw)
    assert from_bytes["probs"] == pytest.approx(by_path[paths[0].rsplit("/", 1)[-1]])
    assert imgtune.predict(trained_run, [base64.b64encode(raw)])[0]["error"]  # bytes must be an image


def test_multilabel_uses_a_sigmoid_and_the_threshold(tmp_path, monkeypatch):
    # machinery: a checkpoint written directly (reduced width), no training
    classes = ["cat", "dog", "fox"]
    model = create_model("resnet18", len(classes), rngs=nnx.Rngs(0), width=0.125)
    _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    info = {"model_name": "resnet18", "model_width": 0.125, "classes": classes, "multilabel": True,
            "primary_metric": "iou", "training_crop_size": 32, "validation_crop_size": 32,
            "validation_resize_size": 36, "compute_dtype": "float32", "enable_onnx_normalization": False}
    _save(tmp_path / "ck", params, stats, info)
    from PIL import Image

    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((40, 50, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    paths = [str(tmp_path / f"{i}.png") for i in range(3)]
    predictor = load_predictor(tmp_path / "ck")
    out = imgtune.predict(predictor, paths)
    for r in out:
        assert r["labels"] == classes
        assert r["predicted"] == [c for c, p in zip(classes, r["probs"]) if p >= 0.5]
    from imgtune.train.data import eval_crop, load_image

    pixels = np.stack([eval_crop(load_image(p), resize_size=36, crop_size=32) for p in paths])
    logits = predictor.logits(pixels)
    assert np.allclose([r["probs"] for r in out], 1 / (1 + np.exp(-logits)), atol=1e-6)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    onnx_out = imgtune.predict(tmp_path / "ck", paths, onnx=True)  # a temporary export, removed once loaded
    assert [r["predicted"] for r in onnx_out] == [r["predicted"] for r in out]
    assert not any((tmp_path / "tmp").iterdir()) and not (tmp_path / "ck" / "model.onnx").exists()


def _save(folder, params, stats, info):
    import jax.numpy as jnp

    ck = Checkpoints(folder)
    ck.save(TrainState(jnp.zeros((), jnp.int32), params, stats, ()), Progress(epochs_done=1), info=info, best=True)
    ck.finish()


def test_scores_are_stable_for_large_logits():
    scores = logits_to_scores
    big = np.array([[1000.0, -1000.0, 0.0]])
    assert np.isfinite(scores(big, multilabel=False)).all() and np.isfinite(scores(big, multilabel=True)).all()
    assert scores(big, multilabel=False)[0, 0] == pytest.approx(1.0)


def test_collect_images_reports_an_empty_folder_and_refuses_a_non_iterable(tmp_path):
    (item,) = collect_images(tmp_path)
    assert "holds no images" in item.error
    (item,) = collect_images([3])
    assert item.error == "expected a path or image bytes, got int"
    with pytest.raises(imgtune.ValidationError, match="images: expected image paths or bytes"):
        collect_images(3)


def test_predict_command(trained_run, tmp_path):
    paths = _images(trained_run, 2)
    done = subprocess.run([sys.executable, "-m", "imgtune", "predict", str(trained_run), *paths,
                           str(tmp_path / "missing.png"), "--top-k", "2", "--onnx"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1  # one image failed
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [len(r.get("labels", [])) for r in lines] == [2, 2, 0]
    assert lines[2]["error"] == "file not found" and "missing.png: file not found" in done.stderr
    assert "Traceback" not in done.stderr
    assert lines[:2] == imgtune.predict(trained_run, paths, top_k=2, onnx=True)


def test_prediction_normalises_as_the_checkpoint_records(trained_run, tmp_path):
    """``info.json`` records the mean and std the model's weights expect; prediction and the ONNX
    export follow it (this run trains from scratch: ImageNet's; timm's ViT weights would give 0.5)."""
    import shutil

    from imgtune.export import read_metadata
    from imgtune.train.data import IMAGENET_MEAN, normalize
    from imgtune.train.inference import load_model

    info = json.loads((trained_run / "best" / "checkpoint" / "info.json").read_text())
    assert info["start"] == "scratch" and info["mean"] == list(IMAGENET_MEAN)
    assert read_metadata(trained_run / "best" / "model.onnx")["mean"] == info["mean"]
    folder = tmp_path / "checkpoint"
    shutil.copytree(trained_run / "best" / "checkpoint", folder)
    (folder / "info.json").write_text(json.dumps({**info, "mean": [0.5] * 3, "std": [0.5] * 3}))
    crop = info["validation_crop_size"]
    pixels = np.random.RandomState(0).randint(0, 256, (2, crop, crop, 3)).astype(np.uint8)
    half = load_predictor(folder).logits(pixels)
    model, _ = load_model(folder)
    want = np.asarray(model(normalize(pixels, mean=(0.5,) * 3, std=(0.5,) * 3), train=False))
    np.testing.assert_allclose(half, want, rtol=1e-4, atol=1e-4)
    assert not np.allclose(half, load_predictor(trained_run).logits(pixels), atol=1e-3)
