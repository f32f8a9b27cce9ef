"""Each architecture against a hand-written PyTorch reference with torchvision/timm names.

The reference is randomised (BN running statistics included), its ``state_dict`` saved as
``.safetensors`` (once as ``.pth``), loaded with :func:`load_pretrained`, and the eval-mode
logits compared (max abs difference / max abs logit < 1e-4).
"""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from imgtune.errors import ValidationError
from imgtune.train.models import create_model, load_pretrained
from imgtune.train.models.resnet import Bottleneck, ResNet
from imgtune.train.models.vit import VisionTransformer, bicubic_aa_matrix

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
F = torch.nn.functional

from . import torch_reference as tr  # noqa: E402  (needs torch)

RTOL = 1e-4

# one jitted forward for every test: models with the same structure reuse the compilation
_forward = nnx.jit(lambda m, v: m(v, train=False))


def _save(module, path):
    safetensors_torch.save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def _check(tmodel, jmodel, tmp_path, size=32, batch=2, seed=0):
    tr.randomize_(tmodel, seed)
    load_pretrained(jmodel, _save(tmodel, tmp_path / "ref.safetensors"))
    x = np.random.RandomState(seed).randn(batch, 3, size, size).astype(np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    out = np.asarray(_forward(jmodel, jnp.asarray(x.transpose(0, 2, 3, 1))))
    assert out.shape == ref.shape
    err = np.abs(out - ref).max() / np.abs(ref).max()
    assert err < RTOL, f"relative error {err:.2e}"
    return x, ref


def test_resnet18_real_safetensors_and_pth(tmp_path):
    tmodel = tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], num_classes=10)
    jmodel = create_model("resnet18", 10, rngs=nnx.Rngs(0))
    x, ref = _check(tmodel, jmodel, tmp_path)
    # the same weights through torch.save / .pth into a fresh model
    torch.save(tmodel.state_dict(), tmp_path / "ref.pth")
    fresh = create_model("resnet18", 10, rngs=nnx.Rngs(1))
    load_pretrained(fresh, tmp_path / "ref.pth")
    out = np.asarray(_forward(fresh, jnp.asarray(x.transpose(0, 2, 3, 1))))
    assert np.abs(out - ref).max() / np.abs(ref).max() < RTOL


def test_resnet_bottleneck_reduced(tmp_path):
    # resnet50/101/152 code path: Bottleneck, stride on the 3x3 conv, conv shortcut; 2 blocks in layer1
    cfg = dict(channels=(16, 32, 64, 128), stem_width=16)
    _check(tr.ResNet(tr.Bottleneck, [2, 1, 1, 1], 10, **cfg),
           ResNet(Bottleneck, (2, 1, 1, 1), 10, rngs=nnx.Rngs(0), **cfg), tmp_path)


def test_seresnext_reduced_grouped_conv(tmp_path):
    # seresnext50_32x4d code path: grouped 3x3 conv (8 groups of 2..16 channels), SE after bn3
    cfg = dict(channels=(32, 64, 128, 256), stem_width=16)
    blk = dict(cardinality=8, base_width=4, attn=True)
    _check(tr.ResNet(tr.Bottleneck, [2, 1, 1, 1], 10, block_args=blk, **cfg),
           ResNet(Bottleneck, (2, 1, 1, 1), 10, block_kwargs=blk, rngs=nnx.Rngs(0), **cfg), tmp_path)


def test_resnest50d_real_split_attention(tmp_path):
    # 40 px: maps 20 -> 10 -> 5 -> 3 -> 2, so the ceil_mode avg-pool shortcut has partial windows
    tmodel = tr.ResNet(tr.ResNestBottleneck, [3, 4, 6, 3], 10, stem_width=32, deep_stem=True, avg_down=True,
                       block_args=dict(radix=2))
    _check(tmodel, create_model("resnest50", 10, rngs=nnx.Rngs(0)), tmp_path, size=40)


def test_mobilenetv2_real_depthwise(tmp_path):
    jmodel = create_model("mobilenetv2", 10, rngs=nnx.Rngs(0))
    _check(tr.MobileNetV2(10), jmodel, tmp_path)
    assert jmodel.classifier.seq[0].rate == 0.2


@pytest.mark.parametrize("size", [32, 224])
def test_vit_timm_reduced(tmp_path, size):
    # vit_small_patch16_224 code path (depth/width reduced); 32 px resamples the 14x14 position grid
    _check(tr.TimmViT(10, embed_dim=64, depth=2, num_heads=2),
           VisionTransformer(10, dim=64, depth=2, heads=2, mlp_dim=256, rngs=nnx.Rngs(0)), tmp_path, size=size)


def test_vit_torchvision_reduced_and_legacy_keys(tmp_path):
    tmodel = tr.TorchvisionViT(num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=256, num_classes=10)
    jmodel = VisionTransformer(10, dim=64, depth=2, heads=2, mlp_dim=256, flavor="torchvision", rngs=nnx.Rngs(0))
    x, ref = _check(tmodel, jmodel, tmp_path, size=48)
    # checkpoints from torchvision < 0.13 name the MLP linears linear_1 / linear_2
    sd = {k.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): v.contiguous()
          for k, v in tmodel.state_dict().items()}
    safetensors_torch.save_file(sd, str(tmp_path / "old.safetensors"))
    fresh = VisionTransformer(10, dim=64, depth=2, heads=2, mlp_dim=256, flavor="torchvision", rngs=nnx.Rngs(1))
    load_pretrained(fresh, tmp_path / "old.safetensors")
    out = np.asarray(_forward(fresh, jnp.asarray(x.transpose(0, 2, 3, 1))))
    assert np.abs(out - ref).max() / np.abs(ref).max() < RTOL


@pytest.mark.parametrize(("n_in", "n_out"), [(14, 1), (14, 2), (14, 3), (14, 7), (14, 20), (14, 28), (5, 3)])
def test_pos_embed_resampling_matches_torch_antialiased_bicubic(n_in, n_out):
    x = torch.randn(1, 2, n_in, n_in, generator=torch.Generator().manual_seed(n_in * n_out))
    ref = F.interpolate(x, size=(n_out, n_out), mode="bicubic", antialias=True)[0].numpy()
    m = bicubic_aa_matrix(n_in, n_out)
    ours = np.einsum("ih,chw,jw->cij", m, x[0].numpy(), m)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def _small_resnet18(num_classes=10):
    return create_model("resnet18", num_classes, rngs=nnx.Rngs(0), width=0.125)


def _small_resnet18_torch(num_classes=10):
    return tr.randomize_(tr.ResNet(tr.BasicBlock, [2, 2, 2, 2], num_classes, channels=(8, 16, 32, 64), stem_width=8))


def test_mismatch_names_every_missing_unexpected_and_misshapen_key(tmp_path):
    sd = {k: v.contiguous() for k, v in _small_resnet18_torch().state_dict().items()}
    del sd["layer1.0.conv1.weight"], sd["fc.bias"], sd["layer3.1.bn2.running_var"]
    sd["extra.weight"] = torch.zeros(3)
    sd["layer9.0.conv1.weight"] = torch.zeros(2, 2, 1, 1)
    sd["bn1.running_mean"] = torch.zeros(5)
    safetensors_torch.save_file(sd, str(tmp_path / "bad.safetensors"))
    model = _small_resnet18()
    before = np.asarray(model.bn1.mean[...]).copy()
    with pytest.raises(ValidationError) as e:
        load_pretrained(model, tmp_path / "bad.safetensors")
    got = {p.path: p.message for p in e.value.problems}
    assert set(got) == {"layer1.0.conv1.weight", "fc.bias", "layer3.1.bn2.running_var", "extra.weight",
                        "layer9.0.conv1.weight", "bn1.running_mean"}
    assert got["fc.bias"].startswith("missing") and got["extra.weight"].startswith("unexpected")
    assert "(5,)" in got["bn1.running_mean"] and "(8,)" in got["bn1.running_mean"]
    assert "num_batches_tracked" not in str(e.value)
    np.testing.assert_array_equal(np.asarray(model.bn1.mean[...]), before)  # nothing written


def test_skip_head_only_when_asked(tmp_path):
    path = _save(_small_resnet18_torch(1000), tmp_path / "imagenet.safetensors")
    with pytest.raises(ValidationError) as e:
        load_pretrained(_small_resnet18(10), path)
    assert {p.path for p in e.value.problems} == {"fc.weight", "fc.bias"}
    model = _small_resnet18(10)
    head = np.asarray(model.fc.kernel[...]).copy()
    load_pretrained(model, path, skip_head=True)
    np.testing.assert_array_equal(np.asarray(model.fc.kernel[...]), head)
    assert not np.allclose(np.asarray(model.bn1.mean[...]), 0.0)  # body loaded


def test_pth_without_torch_says_how_to_install(tmp_path, monkeypatch):
    torch.save(_small_resnet18_torch().state_dict(), tmp_path / "ref.pth")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        load_pretrained(_small_resnet18(), tmp_path / "ref.pth")


def test_missing_file(tmp_path):
    with pytest.raises(ValidationError, match="not found"):
        load_pretrained(_small_resnet18(), tmp_path / "nope.safetensors")
