"""``load_pretrained(source_layout=...)`` and ``state_dict``: each key map proven by equal logits.

A hand-written PyTorch reference with the source's module names (``torch_reference``) is
randomised, saved as ``.safetensors``, loaded with the map, and the eval-mode logits compared
as in ``test_reference``. ``state_dict`` goes the other way: our weights, exported with the
source's names, load into the reference with ``strict=True`` and give our logits.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from imgtune.errors import ValidationError
from imgtune.train.models import create_model, load_pretrained
from imgtune.train.models.vit import VisionTransformer
from imgtune.train.models.weights import state_dict, torch_layout

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from . import torch_reference as tr  # noqa: E402  (needs torch)

RTOL = 1e-4
_forward = nnx.jit(lambda m, v: m(v, train=False))


def _save(module, path):
    safetensors_torch.save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def _logits(jmodel, x):
    return np.asarray(_forward(jmodel, jnp.asarray(x.transpose(0, 2, 3, 1))))


def _close(out, ref):
    assert out.shape == ref.shape
    err = np.abs(out - ref).max() / np.abs(ref).max()
    assert err < RTOL, f"relative error {err:.2e}"


def _check(tmodel, jmodel, tmp_path, layout, size=32, seed=0):
    tr.randomize_(tmodel, seed)
    load_pretrained(jmodel, _save(tmodel, tmp_path / "ref.safetensors"), source_layout=layout)
    x = np.random.RandomState(seed).randn(2, 3, size, size).astype(np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    _close(_logits(jmodel, x), ref)
    return x


def _export_into(jmodel, tmodel, layout, tmp_path, x):
    """Our weights -> state_dict(layout) -> safetensors -> strict load into the reference -> same logits."""
    safetensors_numpy.save_file(state_dict(jmodel, source_layout=layout), str(tmp_path / "ours.safetensors"))
    sd = safetensors_torch.load_file(str(tmp_path / "ours.safetensors"))
    tmodel.load_state_dict(sd, strict=True)
    with torch.no_grad():
        ref = tmodel.eval()(torch.from_numpy(x)).numpy()
    _close(_logits(jmodel, x), ref)


def test_mobilenetv2_timm_map_real_size(tmp_path):
    # the published network (width 1.0) under timm's mobilenetv2_100 names, and back
    jmodel = create_model("mobilenetv2", 10, rngs=nnx.Rngs(0))
    tmodel = tr.TimmMobileNetV2(10)
    x = _check(tmodel, jmodel, tmp_path, "timm")
    fresh = create_model("mobilenetv2", 10, rngs=nnx.Rngs(3))
    _export_into(fresh, tr.TimmMobileNetV2(10), "timm", tmp_path, x)
    # every timm key is used once: the reference and the export hold the same key set
    assert set(state_dict(fresh, source_layout="timm")) == set(tmodel.state_dict())


def test_mobilenetv2_timm_map_errors_name_timm_keys(tmp_path):
    sd = {k: v.contiguous() for k, v in tr.randomize_(tr.TimmMobileNetV2(10)).state_dict().items()}
    del sd["blocks.3.2.conv_dw.weight"]
    sd["blocks.6.1.bn3.weight"] = torch.zeros(320)
    sd["classifier.weight"] = torch.zeros(7, 1280)
    safetensors_torch.save_file(sd, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValidationError) as e:
        load_pretrained(create_model("mobilenetv2", 10, rngs=nnx.Rngs(0)), tmp_path / "bad.safetensors",
                        source_layout="timm")
    got = {p.path: p.message for p in e.value.problems}
    assert set(got) == {"blocks.3.2.conv_dw.weight", "blocks.6.1.bn3.weight", "classifier.weight"}
    assert got["blocks.3.2.conv_dw.weight"].startswith("missing")
    assert got["blocks.6.1.bn3.weight"].startswith("unexpected")
    assert "(7, 1280)" in got["classifier.weight"] and "(10, 1280)" in got["classifier.weight"]


def test_resnet_both_layouts_and_export(tmp_path):
    # timm's ResNet names are torchvision's: one file loads under either layout
    tmodel = tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], 10, channels=(8, 16, 32, 64), stem_width=8)
    for layout in ("torchvision", "timm"):
        jmodel = create_model("resnet18", 10, rngs=nnx.Rngs(0), width=0.125)
        x = _check(tmodel, jmodel, tmp_path, layout)
    fresh = create_model("resnet18", 10, rngs=nnx.Rngs(5), width=0.125)
    _export_into(fresh, tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], 10, channels=(8, 16, 32, 64), stem_width=8),
                 "torchvision", tmp_path, x)


def test_vit_cross_layouts(tmp_path):
    # a timm-named ViT file into the torchvision-flavoured model (vitb16r224's), and the reverse
    cfg = {"dim": 64, "depth": 2, "heads": 2, "mlp_dim": 256}
    _check(tr.TimmViT(10, embed_dim=64, depth=2, num_heads=2),
           VisionTransformer(10, flavor="torchvision", rngs=nnx.Rngs(0), **cfg), tmp_path, "timm")
    tv = tr.TorchvisionViT(num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=256, num_classes=10)
    x = _check(tv, VisionTransformer(10, flavor="timm", rngs=nnx.Rngs(0), **cfg), tmp_path, "torchvision", size=48)
    fresh = VisionTransformer(10, flavor="timm", rngs=nnx.Rngs(2), **cfg)
    _export_into(fresh, tr.TorchvisionViT(num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=256, num_classes=10),
                 "torchvision", tmp_path, x)


_VIT = {"vits16r224": (384, 12, 6), "vitb16r224": (768, 12, 12), "vitl16r224": (1024, 24, 16)}


@pytest.mark.parametrize(("name", "layout"), [("vits16r224", "timm"), ("vitb16r224", "timm"),
                                              ("vitl16r224", "timm"), ("vits16r224", "torchvision"),
                                              ("vitb16r224", "torchvision"), ("vitl16r224", "torchvision")])
def test_vit_real_size_layout_names_the_source_keys_and_shapes(name, layout):
    # no forward at full size: each real ViT's layout names exactly the keys and shapes of the source's
    # module at that size (timm vit_*_patch16_224 / torchvision vit_*_16, built on the meta device)
    model = nnx.eval_shape(lambda: create_model(name, 1000, rngs=nnx.Rngs(0)))
    ours = {e["keys"][0]: e["shape"] for e in torch_layout(model, layout)}
    dim, depth, heads = _VIT[name]
    with torch.device("meta"):
        ref = (tr.TimmViT(1000, embed_dim=dim, depth=depth, num_heads=heads) if layout == "timm" else
               tr.TorchvisionViT(num_layers=depth, num_heads=heads, hidden_dim=dim, mlp_dim=4 * dim))
    assert ours == {k: tuple(v.shape) for k, v in ref.state_dict().items()}


def model_se():
    return nnx.eval_shape(lambda: create_model("seresnext", 10, rngs=nnx.Rngs(0), width=0.25))


def test_source_layout_refusals(tmp_path):
    path = _save(tr.randomize_(tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], 10, channels=(8, 16, 32, 64), stem_width=8)),
                 tmp_path / "r.safetensors")
    with pytest.raises(ValidationError) as e:
        load_pretrained(create_model("resnet18", 10, rngs=nnx.Rngs(0), width=0.125), path, source_layout="keras")
    assert [p.path for p in e.value.problems] == ["source_layout"]
    for name in ("seresnext", "resnest50"):
        model = nnx.eval_shape(lambda name=name: create_model(name, 10, rngs=nnx.Rngs(0), width=0.25))
        with pytest.raises(ValidationError, match="torchvision has no model"):
            load_pretrained(model, path, source_layout="torchvision")
        with pytest.raises(ValidationError, match="torchvision has no model"):
            state_dict(model, source_layout="torchvision")
    assert "layer1.0.se.fc1.weight" in {e["keys"][0] for e in torch_layout(model_se(), "timm")}
