"""train_trial end to end on tiny real images: stops, failures, seeds, checkpoints, resume."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from conftest import tiny_params
from imgtune.spec.convert import structure
from imgtune.train import trial as trial_mod
from imgtune.train.checkpoints import Checkpoints, load_weights
from imgtune.train.data.image_store import build_image_store
from imgtune.train.trial import TrialResult, TrialSettings, train_trial

KW = dict(primary_metric="accuracy", multilabel=False, seed=0, model_width=0.25)


def _settings(params, **extra):
    return TrialSettings(params=params, **{**KW, **extra})
STEPS_PER_EPOCH = 6  # 48 training images, batch 8


def _listing(workdir: Path) -> set[str]:
    return {p.name for p in (workdir / "checkpoints").iterdir()}


def _arrays(folder: Path) -> list[np.ndarray]:
    import orbax.checkpoint as ocp

    tree = ocp.StandardCheckpointer().restore((folder / "state").absolute())
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_report_stop_cancels_cleanly_and_keeps_only_the_best(digits, tmp_path):
    seen = []

    def report(entry):
        seen.append(entry)
        return "stop" if entry["epoch"] == 2 else None

    r = train_trial(_settings(tiny_params(number_of_epochs=4)), digits, tmp_path, report=report)
    assert r.status == "Canceled" and r.stop_reason == "stopped by report"
    assert [h["epoch"] for h in r.history] == [1, 2] == [e["epoch"] for e in seen]
    assert set(seen[0]) >= {"epoch", "accuracy", "auc_weighted", "norm_macro_recall", "loss", "train_loss"}
    assert r.best_epoch in (1, 2) and r.best_metric == max(h["accuracy"] for h in r.history)
    assert r.checkpoint is not None and r.checkpoint.is_dir()
    assert _listing(tmp_path) == {"BEST", r.checkpoint.name}
    assert len(r.best_evaluation["confusion_matrix"]) == 10
    assert r.steps == 2 * STEPS_PER_EPOCH and r.classes == digits.classes
    # an ended trial is not trained again: its stored result comes back
    assert train_trial(_settings(tiny_params(number_of_epochs=4)), digits, tmp_path) == r
    assert structure(json.loads((tmp_path / "result.json").read_text()), TrialResult) == r


def test_non_finite_loss_fails_the_trial(digits, tmp_path, monkeypatch):
    real = trial_mod._train_transform

    def poisoned(image, key, **kw):
        x = real(image, key, **kw)
        return x * np.float32("inf") if key[1] == 1 else x  # every image of epoch 2

    monkeypatch.setattr(trial_mod, "_train_transform", poisoned)
    r = train_trial(_settings(tiny_params(number_of_epochs=3)), digits, tmp_path)
    assert r.status == "Failed"
    assert "training loss is nan" in r.stop_reason and "epoch 2" in r.stop_reason
    assert [h["epoch"] for h in r.history] == [1]
    assert r.best_epoch == 1 and _listing(tmp_path) == {"BEST", r.checkpoint.name}


def test_same_random_seed_same_metrics_and_checkpoint_frequency(digits, tmp_path):
    p = tiny_params(number_of_epochs=3, checkpoint_frequency=2, random_seed=5)
    a = train_trial(_settings(p), digits, tmp_path / "a")
    b = train_trial(_settings(p), digits, tmp_path / "b")
    c = train_trial(_settings(tiny_params(number_of_epochs=3, checkpoint_frequency=2, random_seed=6)), digits,
                    tmp_path / "c")
    assert a.status == b.status == "Completed"
    assert a.history == b.history and a.best_metric == b.best_metric
    assert a.history != c.history
    for x, y in zip(_arrays(a.checkpoint), _arrays(b.checkpoint)):
        np.testing.assert_array_equal(x, y)
    # checkpoint_frequency 2 of 3 epochs: only epochs 2 and 3 can be the kept checkpoint
    assert len(a.history) == 3 and a.best_epoch in (2, 3)
    assert a.best_metric == max(h["accuracy"] for h in a.history[1:])


def test_resume_is_bitwise_identical(digits, tmp_path):
    """Pausing mid-epoch or crashing, then calling again, ends with the same state bit for bit."""
    p = tiny_params(number_of_epochs=3, evaluation_frequency=2, optimizer="adamw", gradient_accumulation_step=2,
                    learning_rate=0.003, weight_decay=0.01)
    total = 3 * STEPS_PER_EPOCH

    whole = train_trial(_settings(p, max_steps=total), digits, tmp_path / "whole")
    assert whole.status == "Canceled" and "max_steps" in whole.stop_reason

    paused = train_trial(_settings(p, max_steps=STEPS_PER_EPOCH + 3), digits, tmp_path / "paused")  # mid-epoch 2
    assert paused.steps == STEPS_PER_EPOCH + 3 and paused.history == ()
    paused = train_trial(_settings(p, max_steps=total), digits, tmp_path / "paused")

    class Crash(Exception):
        pass

    def crash(entry):
        raise Crash

    with pytest.raises(Crash):  # dies after epoch 2's checkpoint
        train_trial(_settings(p), digits, tmp_path / "crashed", report=crash)
    crashed = train_trial(_settings(p, max_steps=total), digits, tmp_path / "crashed")

    assert [h["epoch"] for h in whole.history] == [2, 3]
    assert paused.history == whole.history == crashed.history
    ref = _arrays(Checkpoints(tmp_path / "whole" / "checkpoints").last())
    for name in ("paused", "crashed"):
        got = _arrays(Checkpoints(tmp_path / name / "checkpoints").last())
        assert len(got) == len(ref)
        for x, y in zip(got, ref):
            np.testing.assert_array_equal(x, y)

    done = train_trial(_settings(p), digits, tmp_path / "whole")  # nothing left to train: it ends
    assert done.status == "Completed" and done.history == whole.history
    assert _listing(tmp_path / "whole") == {"BEST", done.checkpoint.name}


def test_checkpoint_run_id_starts_from_an_earlier_trial(digits, tmp_path):
    first = train_trial(_settings(tiny_params(number_of_epochs=1)), digits, tmp_path / "first")
    p = tiny_params(number_of_epochs=1, learning_rate=0.0, checkpoint_run_id=str(tmp_path / "first"))
    second = train_trial(_settings(p), digits, tmp_path / "second")
    before, _ = load_weights(first.checkpoint)
    after, _ = load_weights(second.checkpoint)
    for x, y in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
        np.testing.assert_array_equal(x, y)  # learning rate 0: the loaded weights, unchanged


def test_without_automl_augmentation_training_sees_the_validation_transform(digits):
    from PIL import Image

    from imgtune.train.data.augment import eval_transform

    image = Image.open(digits.train[0].path).convert("RGB")
    plain = trial_mod._train_transform(image, (0, 3, 7), random_seed=1, augment=False, crop=16, resize=16)
    np.testing.assert_array_equal(plain, eval_transform(image, resize_size=16, crop_size=16))
    a = trial_mod._train_transform(image, (0, 3, 7), random_seed=1, augment=True, crop=16, resize=16)
    b = trial_mod._train_transform(image, (99, 3, 7), random_seed=1, augment=True, crop=16, resize=16)
    c = trial_mod._train_transform(image, (0, 3, 7), random_seed=2, augment=True, crop=16, resize=16)
    np.testing.assert_array_equal(a, b)  # the plan seed orders data; random_seed keys augmentation
    assert not np.array_equal(a, c)


def test_with_the_decoded_image_store_the_device_path_trains(digits, tmp_path, caplog):
    """``augment_on: device`` trains on the store's rows augmented by JAX (the host path reading the
    store: tests/data/test_image_store.py, and the sweep end to end: tests/runner/test_run_training.py)."""
    paths = [ex.path for ex in (*digits.train, *digits.validation)]
    store = build_image_store(tmp_path / "images.npy", tmp_path / "images.json", paths, short_side=16)
    params = tiny_params(number_of_epochs=1, random_seed=3, advanced_settings='{"augment_on": "device"}')
    with caplog.at_level("INFO", logger="imgtune.train"):
        on_device = train_trial(_settings(params), digits, tmp_path / "c", images=store)
    assert "images: decoded store; training augmentation on the device" in caplog.text
    assert on_device.status == "Completed" and np.isfinite(on_device.history[0]["loss"])
