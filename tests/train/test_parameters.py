"""Every training parameter has a test that shows its effect.

:data:`EFFECT_TESTS` names, for each of the 34 fields of
:data:`imgtune.spec.fields.TRAINING_PARAMETERS`, the test that would fail if the
trainer ignored it; :func:`test_every_training_parameter_has_an_effect_test`
keeps the table complete, so a new parameter without a test fails CI.

Existing tests are named where they show the effect *through the resolved
parameters* (e.g. ``optim.make_optimizer(params)``, which is what the trainer
calls). Where an existing test only shows a rule with the value passed by hand
(``loss_weights(2, ...)``, ``frozen_mask(..., 2)``, a fixed device count), the
table names a trial-level test here instead.

Cost: six tiny trials (16 px digits, quarter-width models, 1-4 epochs), each
run once per module and read by several tests; spies (:func:`_spy_trial`)
record what the trainer hands to the data pipeline, the model factory, the
device selection and the training step, without changing any result.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

from imgtune.spec.fields import TRAINING_PARAMETERS
from imgtune.train import optim
from imgtune.train import setup as setup_mod
from imgtune.train.checkpoints import flatten_weights, load_weights, read_info
from imgtune.train.trial import TrialSettings, train_trial

from conftest import tiny_params

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
P = "tests/train/test_parameters.py"
OPTIM = "tests/train/test_optim.py"
TRIAL = "tests/train/test_trial.py"

#: parameter -> the test that shows its effect ("path::function", path from the repository root).
EFFECT_TESTS: dict[str, str] = {
    "advanced_settings": f"{P}::test_advanced_settings_pretrained_weights_and_compute_dtype",
    "ams_gradient": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "beta1": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "beta2": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "checkpoint_frequency": f"{P}::test_checkpoint_frequency_limits_the_best_candidates",
    "checkpoint_run_id": f"{TRIAL}::test_checkpoint_run_id_starts_from_an_earlier_trial",
    "distributed": f"{P}::test_distributed_trains_on_every_device",
    "early_stopping": f"{P}::test_early_stopping_stops_on_a_plateau_only_when_on",
    "early_stopping_delay": f"{P}::test_early_stopping_stops_on_a_plateau_only_when_on",
    "early_stopping_patience": f"{P}::test_early_stopping_stops_on_a_plateau_only_when_on",
    "enable_onnx_normalization": f"{P}::test_enable_onnx_normalization_is_recorded_for_the_exporter",
    "evaluation_frequency": f"{P}::test_evaluation_frequency",
    "gradient_accumulation_step": f"{OPTIM}::test_gradient_accumulation_equals_a_large_batch",
    "layers_to_freeze": f"{P}::test_layers_to_freeze_in_a_trial",
    "learning_rate": f"{P}::test_learning_rate_zero_keeps_the_weights",
    "learning_rate_scheduler": f"{OPTIM}::test_step_and_constant_schedules",
    "model_name": f"{P}::test_model_name",
    "momentum": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "nesterov": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "number_of_epochs": f"{P}::test_number_of_epochs",
    "number_of_workers": f"{P}::test_number_of_workers_changes_nothing_but_the_threads",
    "optimizer": f"{OPTIM}::test_optimizers_match_the_pytorch_rules",
    "random_seed": f"{TRIAL}::test_same_random_seed_same_metrics_and_checkpoint_frequency",
    "step_lr_gamma": f"{OPTIM}::test_step_and_constant_schedules",
    "step_lr_step_size": f"{OPTIM}::test_step_and_constant_schedules",
    "training_batch_size": f"{P}::test_training_batch_size",
    "training_crop_size": f"{P}::test_training_crop_size",
    "validation_batch_size": f"{P}::test_validation_batch_size_changes_batching_not_metrics",
    "validation_crop_size": f"{P}::test_validation_crop_and_resize_size",
    "validation_resize_size": f"{P}::test_validation_crop_and_resize_size",
    "warmup_cosine_lr_cycles": f"{P}::test_warmup_cosine_lr_cycles",
    "warmup_cosine_lr_warmup_epochs": f"{P}::test_warmup_cosine_lr_warmup_epochs",
    "weight_decay": f"{OPTIM}::test_adamw_decay_is_decoupled_and_adam_decay_is_not",
    "weighted_loss": f"{P}::test_weighted_loss_reaches_the_training_step",
}


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_training_parameter_has_an_effect_test():
    assert set(EFFECT_TESTS) == set(TRAINING_PARAMETERS), (
        f"missing: {sorted(set(TRAINING_PARAMETERS) - set(EFFECT_TESTS))}, "
        f"unknown: {sorted(set(EFFECT_TESTS) - set(TRAINING_PARAMETERS))}")
    cache: dict[str, set[str]] = {}
    for name, ref in EFFECT_TESTS.items():
        path, _, func = ref.partition("::")
        file = ROOT / path
        assert file.is_file(), f"{name}: no file {path}"
        if path not in cache:
            cache[path] = _test_functions(file)
        assert func.startswith("test_") and func in cache[path], f"{name}: no test {func} in {path}"


# -- tiny trials, run once per module, with spies ------------------------------------------

KW = dict(primary_metric="accuracy", multilabel=False, seed=0, model_width=0.25)


def _settings(params, **extra):
    return TrialSettings(params=params, **{**KW, **extra})
N_TRAIN, N_VALID, N_CLASSES = 48, 12, 10


def _spy_trial(params, data, workdir: Path) -> tuple[Any, dict[str, Any]]:
    """``train_trial`` with spies on what it hands to the pipeline, model, devices and step."""
    import imgtune.train.data as d
    import imgtune.train.devices as dv
    import imgtune.train.loop as lp
    import imgtune.train.models as models

    rec: dict[str, Any] = {"train_shapes": set(), "eval": []}
    real_iterator, real_eval, real_create = d.BatchIterator, d.eval_iterator, models.create_model
    real_select, real_step = dv.select_devices, lp.make_train_step

    class SpyIterator(real_iterator):
        def __init__(self, *a, **k):
            rec["train_batch_size"], rec["train_workers"] = k["batch_size"], k["workers"]
            super().__init__(*a, **k)

        def __next__(self):
            b = super().__next__()
            rec["train_shapes"].add(b.images.shape)
            return b

    def eval_iterator(*a, **k):
        call = {"kwargs": k, "sizes": [], "shapes": [], "images": []}
        rec["eval"].append(call)
        for b in real_eval(*a, **k):
            call["sizes"].append(b.size)
            call["shapes"].append(b.images.shape)
            call["images"].append(b.images[b.mask])
            yield b

    def create_model(*a, **k):
        rec["dtype"] = k.get("dtype")
        return real_create(*a, **k)

    def select_devices(devices, *, distributed):
        out = real_select(devices, distributed=distributed)
        rec["distributed"], rec["devices"] = distributed, len(out)
        return out

    def make_train_step(*a, **k):
        rec["weights"] = k.get("weights")
        return real_step(*a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(d, "BatchIterator", SpyIterator)
        mp.setattr(d, "eval_iterator", eval_iterator)
        mp.setattr(setup_mod, "create_model", create_model)  # the name the trial calls (through init_state)
        mp.setattr(dv, "select_devices", select_devices)
        mp.setattr(lp, "make_train_step", make_train_step)
        r = train_trial(_settings(params), data, workdir)
    return r, rec


def _flat(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in flatten_weights(tree)}


def _model_state(model, kind=nnx.Param) -> dict[str, np.ndarray]:
    return {".".join(map(str, path)): np.asarray(var.get_value())
            for path, var in nnx.to_flat_state(nnx.state(model, kind))}


@functools.cache
def _start(name: str, stats: bool = False) -> dict[str, np.ndarray]:
    """The parameters (or BatchNorm statistics) a trial of ``name`` starts from with random_seed 0."""
    from imgtune.train.models import create_model

    model = create_model(name, N_CLASSES, rngs=nnx.Rngs(0), width=0.25)
    return _model_state(model, nnx.BatchStat if stats else nnx.Param)


def _write_torch_style(model, path: Path) -> None:
    """A torchvision-style ``.safetensors`` state dict of ``model`` (OIHW convs, (out, in) linears)."""
    from safetensors.numpy import save_file

    from imgtune.train.models.weights import torch_layout

    flat = dict(nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))))
    sd = {}
    for e in torch_layout(model):
        v = np.asarray(flat[e["path"]].get_value())
        v = v.transpose(3, 2, 0, 1) if e["transform"] == "conv" else v.T if e["transform"] == "linear" else v
        sd[e["keys"][0]] = np.ascontiguousarray(v)
    save_file(sd, str(path))


@pytest.fixture(scope="module")
def base(digits, tmp_path_factory):
    """A: resnet18, 1 epoch, batch 8, validation batch 16 (12 rows padded to 16), no workers."""
    return _spy_trial(tiny_params(number_of_epochs=1), digits, tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def batching(digits, tmp_path_factory):
    """C: A with 2 workers and validation batches of 5 (5 + 5 + 2 padded to 5)."""
    p = tiny_params(number_of_epochs=1, number_of_workers=2, validation_batch_size=5)
    return _spy_trial(p, digits, tmp_path_factory.mktemp("batching"))


@pytest.fixture(scope="module")
def shaped(digits, tmp_path_factory):
    """D: 3 epochs of batches of 12, crops 14 / 12 after a resize to 20, evaluated every 2nd epoch;
    bfloat16 compute, weighted loss 2, distributed (one device here)."""
    p = tiny_params(number_of_epochs=3, evaluation_frequency=2, training_batch_size=12, training_crop_size=14,
                    validation_crop_size=12, validation_resize_size=20, weighted_loss=2, distributed=True,
                    advanced_settings=json.dumps({"compute_dtype": "bfloat16"}))
    return _spy_trial(p, digits, tmp_path_factory.mktemp("shaped"))


@pytest.fixture(scope="module")
def pretrained(digits, tmp_path_factory):
    """B: mobilenetv2 from a torch-style state dict (another seed, 3 classes), learning rate 0, ONNX
    normalisation on. Returns ``(result, spies, source model)``."""
    folder = tmp_path_factory.mktemp("pretrained")
    from imgtune.train.models import create_model

    source = create_model("mobilenetv2", 3, rngs=nnx.Rngs(7), width=0.25)
    _write_torch_style(source, folder / "weights.safetensors")
    p = tiny_params("mobilenetv2", number_of_epochs=1, learning_rate=0.0, learning_rate_scheduler="none",
                    enable_onnx_normalization=True,
                    advanced_settings=json.dumps({"pretrained_weights": str(folder / "weights.safetensors")}))
    r, rec = _spy_trial(p, digits, folder / "trial")
    return r, rec, source


def _plateau(digits, folder: Path, **kw):
    """resnet18 with every layer group frozen and learning rate 0: the metric cannot move."""
    p = tiny_params(number_of_epochs=4, learning_rate=0.0, learning_rate_scheduler="none", layers_to_freeze=5,
                    early_stopping_delay=1, early_stopping_patience=1, **kw)
    return train_trial(_settings(p), digits, folder)


@pytest.fixture(scope="module")
def plateau_stop(digits, tmp_path_factory):
    """E: early stopping on (delay 1, patience 1): evaluation 2 sets the best, 3 does not beat it."""
    return _plateau(digits, tmp_path_factory.mktemp("stop"), early_stopping=True)


@pytest.fixture(scope="module")
def plateau_run(digits, tmp_path_factory):
    """F: E with early stopping off and checkpoint_frequency 2."""
    return _plateau(digits, tmp_path_factory.mktemp("run"), early_stopping=False, checkpoint_frequency=2)


# -- epochs, cadence, batching ---------------------------------------------------------------


def test_number_of_epochs(base, shaped):
    a, _ = base
    d, _ = shaped
    assert a.status == d.status == "Completed" and a.stop_reason is None and d.stop_reason is None
    assert a.steps == 1 * (N_TRAIN // 8) and [h["epoch"] for h in a.history] == [1]
    assert d.steps == 3 * (N_TRAIN // 12) and d.history[-1]["epoch"] == 3


def test_evaluation_frequency(base, shaped):
    # every 2nd epoch and the last one (3): not epoch 1; the default (1) evaluates every epoch
    assert [h["epoch"] for h in shaped[0].history] == [2, 3]
    assert [h["epoch"] for h in base[0].history] == [1]
    assert len(shaped[1]["eval"]) == 2


def test_training_batch_size(base, shaped):
    (a, ra), (d, rd) = base, shaped
    assert ra["train_batch_size"] == 8 and rd["train_batch_size"] == 12
    assert a.steps == 6 and d.steps == 3 * 4  # 48 // 8, 48 // 12 batches per epoch
    assert {s[0] for s in ra["train_shapes"]} == {8} and {s[0] for s in rd["train_shapes"]} == {12}


def test_training_crop_size(base, shaped):
    assert base[1]["train_shapes"] == {(8, 16, 16, 3)}
    assert shaped[1]["train_shapes"] == {(12, 14, 14, 3)}
    assert read_info(shaped[0].checkpoint)["training_crop_size"] == 14


def test_validation_crop_and_resize_size(digits, shaped):
    """The model is evaluated on resize-to-20 then centre-crop-12 images (not, e.g., resize 12)."""
    from imgtune.train.data import eval_transform, load_image

    d, rec = shaped
    call = rec["eval"][0]
    assert {s[1:] for s in call["shapes"]} == {(12, 12, 3)}
    seen = np.concatenate(call["images"])
    assert len(seen) == N_VALID
    for ex, got in zip(digits.validation, seen):
        image = load_image(ex.path)
        np.testing.assert_array_equal(got, eval_transform(image, resize_size=20, crop_size=12))
    other = np.stack([eval_transform(load_image(ex.path), resize_size=12, crop_size=12) for ex in digits.validation])
    assert not np.allclose(seen, other, atol=1e-3)  # the resize size matters
    info = read_info(d.checkpoint)
    assert (info["validation_crop_size"], info["validation_resize_size"]) == (12, 20)


def test_validation_batch_size_changes_batching_not_metrics(base, batching):
    """Neither 16 nor 5 divides the 12 validation images: padded rows must not count."""
    (a, ra), (c, rc) = base, batching
    assert ra["eval"][0]["kwargs"]["batch_size"] == 16 and rc["eval"][0]["kwargs"]["batch_size"] == 5
    assert ra["eval"][0]["sizes"] == [12] and rc["eval"][0]["sizes"] == [5, 5, 2]
    assert [s[0] for s in rc["eval"][0]["shapes"]] == [5, 5, 5]
    assert len(a.history) == len(c.history) == 1
    ha, hc = a.history[0], c.history[0]
    assert set(ha) == set(hc)
    for k in ha:
        assert hc[k] == pytest.approx(ha[k], rel=1e-5, abs=1e-6), k
    assert a.best_evaluation["confusion_matrix"] == c.best_evaluation["confusion_matrix"]


def test_number_of_workers_changes_nothing_but_the_threads(base, batching):
    (a, ra), (c, rc) = base, batching
    assert ra["train_workers"] == 0 and ra["eval"][0]["kwargs"]["workers"] == 0
    want = min(2, os.cpu_count() or 1)  # capped at the cores
    assert rc["train_workers"] == want >= 1 and rc["eval"][0]["kwargs"]["workers"] == want
    # training results are bitwise the same (validation batching differs, see above)
    assert a.steps == c.steps and a.history[0]["train_loss"] == c.history[0]["train_loss"]
    pa, sa = load_weights(a.checkpoint)
    pc, sc = load_weights(c.checkpoint)
    for x, y in ((pa, pc), (sa, sc)):
        fx, fy = _flat(x), _flat(y)
        assert fx.keys() == fy.keys()
        for k in fx:
            np.testing.assert_array_equal(fx[k], fy[k], err_msg=k)


# -- model, weights, precision ----------------------------------------------------------------------


def test_model_name(base, pretrained):
    for r, name in ((base[0], "resnet18"), (pretrained[0], "mobilenetv2")):
        assert read_info(r.checkpoint)["model_name"] == name
        got = _flat(load_weights(r.checkpoint)[0])
        want = _start(name)
        assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in want.items()}
    n_resnet = sum(v.size for v in _flat(load_weights(base[0].checkpoint)[0]).values())
    n_mobile = sum(v.size for v in _flat(load_weights(pretrained[0].checkpoint)[0]).values())
    assert n_resnet != n_mobile


def test_learning_rate_zero_keeps_the_weights(base, pretrained):
    from imgtune.train.models.weights import torch_layout

    # learning rate 0: every parameter is where it started (the state dict; the head as initialised)
    b, _, source = pretrained
    got = _flat(load_weights(b.checkpoint)[0])
    start = _start("mobilenetv2")
    src = _model_state(source)
    head = {".".join(map(str, e["path"])) for e in torch_layout(source) if e["head"]}
    assert head and set(got) == set(start)
    for k in got:
        np.testing.assert_array_equal(got[k], start[k] if k in head else src[k], err_msg=k)
    # learning rate 0.01 (A): most parameters moved from the seed's initialisation
    got = _flat(load_weights(base[0].checkpoint)[0])
    start = _start("resnet18")
    moved = sum(not np.array_equal(got[k], start[k]) for k in start)
    assert moved > len(start) // 2


def test_advanced_settings_pretrained_weights_and_compute_dtype(base, pretrained, shaped):
    """``pretrained_weights`` is the starting point (head excepted); ``compute_dtype`` picks the model's
    compute precision (float32 by default on CPU). ``apply_automl_train_augmentations`` is shown by
    ``test_trial.py::test_without_automl_augmentation_training_sees_the_validation_transform``."""
    import jax.numpy as jnp

    from imgtune.train.models.weights import torch_layout

    b, rb, source = pretrained
    got = _flat(load_weights(b.checkpoint)[0])
    src, seed_init = _model_state(source), _start("mobilenetv2")
    body = [".".join(map(str, e["path"])) for e in torch_layout(source)
            if not e["head"] and ".".join(map(str, e["path"])) in src]
    assert len(body) > 10
    for k in body:
        np.testing.assert_array_equal(got[k], src[k], err_msg=k)
    assert not all(np.array_equal(src[k], seed_init[k]) for k in body)  # so it is not the random init

    assert base[1]["dtype"] == np.dtype(jnp.float32) and shaped[1]["dtype"] == np.dtype(jnp.bfloat16)
    assert read_info(base[0].checkpoint)["compute_dtype"] == "float32"
    assert read_info(shaped[0].checkpoint)["compute_dtype"] == "bfloat16"
    # parameters stay float32 whatever the compute precision
    assert {v.dtype for v in _flat(load_weights(shaped[0].checkpoint)[0]).values()} == {np.dtype(np.float32)}


def test_enable_onnx_normalization_is_recorded_for_the_exporter(base, pretrained):
    assert read_info(base[0].checkpoint)["enable_onnx_normalization"] is False
    assert read_info(pretrained[0].checkpoint)["enable_onnx_normalization"] is True


def test_distributed_trains_on_every_device(base, shaped):
    """The flag reaches device selection, which takes every device only with it (this process has one
    CPU device; ``test_distributed.py`` trains on two, but would pass if the flag were ignored)."""
    from imgtune.train.devices import select_devices

    assert base[1]["distributed"] is False and shaped[1]["distributed"] is True
    assert shaped[1]["devices"] == jax.device_count()
    two = ["dev0", "dev1"]
    assert select_devices(two, distributed=True) == two
    assert select_devices(two, distributed=False) == ["dev0"]


def test_weighted_loss_reaches_the_training_step(digits, base, shaped):
    """The trial hands the class weights to the training step (how the loss uses them:
    ``test_optim.py::test_multiclass_loss_weights``)."""
    from imgtune.train.data import encode_labels

    assert base[1]["weights"] is None  # weighted_loss 0
    labels = encode_labels(digits.train, digits.classes, False)
    w = optim.class_weights(labels, N_CLASSES)
    assert not np.allclose(w, 1.0)  # the classes are not balanced, so the weights matter
    np.testing.assert_allclose(shaped[1]["weights"], w)  # weighted_loss 2: w_c itself


# -- early stopping, checkpoints, freezing ----------------------------------------------------


def test_early_stopping_stops_on_a_plateau_only_when_on(plateau_stop, plateau_run):
    """On a plateau, delay 1 and patience 1 stop after evaluation 3 (delay 0 would stop after 2, the
    default patience 5 not at all); off, all 4 epochs run. The rule for other values:
    ``test_loop.py::test_early_stopping_stops_at_the_documented_evaluation``."""
    e, f = plateau_stop, plateau_run
    metrics = {(h["accuracy"], h["loss"]) for h in e.history + f.history}
    assert len(metrics) == 1  # a true plateau
    assert e.status == "Completed" and "early stopping" in e.stop_reason
    assert [h["epoch"] for h in e.history] == [1, 2, 3]  # delay 1, patience 1
    assert f.status == "Completed" and f.stop_reason is None
    assert [h["epoch"] for h in f.history] == [1, 2, 3, 4]


def test_checkpoint_frequency_limits_the_best_candidates(plateau_stop, plateau_run):
    # constant metric: the first candidate stays the best -- epoch 1 without a frequency, 2 with 2
    assert plateau_stop.best_epoch == 1
    assert plateau_run.best_epoch == 2 and plateau_run.checkpoint.name == f"step-{2 * 6:09d}"


def test_layers_to_freeze_in_a_trial(plateau_run):
    """All 5 groups of resnet18 frozen: their BatchNorm statistics never move, although training
    runs batch statistics through them (the rule itself:
    ``test_optim.py::test_frozen_groups_keep_weights_and_batch_statistics``)."""
    _, stats = load_weights(plateau_run.checkpoint)
    start = _start("resnet18", stats=True)
    got = _flat(stats)
    assert got.keys() == start.keys() and len(got) > 10
    for k in got:
        np.testing.assert_array_equal(got[k], start[k], err_msg=k)


# -- schedule parameters (pure) ----------------------------------------------------------------------


def _lr(**kw):
    p = tiny_params(learning_rate=0.1, number_of_epochs=10, learning_rate_scheduler="warmup_cosine", **kw)
    return optim.learning_rate_schedule(p, steps_per_epoch=4)  # U = 4 updates per epoch, T = 40


def test_warmup_cosine_lr_cycles():
    def want(cycles, t, warmup=8):
        return 0.1 * 0.5 * (1 + math.cos(2 * math.pi * cycles * (t - warmup) / (40 - warmup)))

    values = {}
    for cycles in (0.25, 0.45, 1.0):
        lr = _lr(warmup_cosine_lr_cycles=cycles, warmup_cosine_lr_warmup_epochs=2)
        values[cycles] = [float(lr(t)) for t in (16, 24, 40)]
        assert values[cycles] == pytest.approx([want(cycles, t) for t in (16, 24, 40)], rel=1e-5, abs=1e-7)
    assert values[0.25][-1] == pytest.approx(0.05) and values[1.0][-1] == pytest.approx(0.1)
    assert len({tuple(v) for v in values.values()}) == 3


def test_warmup_cosine_lr_warmup_epochs():
    one, three = _lr(warmup_cosine_lr_warmup_epochs=1), _lr(warmup_cosine_lr_warmup_epochs=3)
    assert [float(one(t)) for t in (0, 2, 4)] == pytest.approx([0.0, 0.05, 0.1])  # peak after 1 epoch
    assert [float(three(t)) for t in (0, 6, 12)] == pytest.approx([0.0, 0.05, 0.1])  # after 3
    assert float(three(4)) == pytest.approx(0.1 / 3)
