"""Registry, parameter counts, layer groups and forward shapes of the model zoo."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from imgtune.errors import ValidationError
from imgtune.spec.models import MODELS
from imgtune.train.models import MODEL_NAMES, count_params, create_model, layer_groups
from imgtune.train.models.resnet import Bottleneck, ResNet

# Published counts at 1000 classes; sources in imgtune/train/models/zoo.py.
REFERENCE_PARAMS = {
    "mobilenetv2": 3_504_872,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "seresnext": 27_559_896,
    "resnest50": 27_483_240,
    "resnest101": 48_275_016,
    "vits16r224": 22_050_664,
    "vitb16r224": 86_567_656,
    "vitl16r224": 304_326_632,
}

GROUPS = {"mobilenetv2": 19, "resnet": 5, "seresnext": 5, "resnest": 5, "vits16r224": 13, "vitb16r224": 13,
          "vitl16r224": 25}


def test_model_names():
    assert set(MODEL_NAMES) == set(REFERENCE_PARAMS) and len(MODEL_NAMES) == 12
    assert set(MODELS) == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_param_count_matches_reference(name):
    assert count_params(name) == REFERENCE_PARAMS[name]
    assert MODELS[name].params == REFERENCE_PARAMS[name]


def test_param_count_scales_with_classes():
    # only the head changes: (features + 1) * (classes - 1000)
    assert count_params("resnet18", 10) == REFERENCE_PARAMS["resnet18"] - 513 * 990
    assert count_params("vitb16r224", 7) == REFERENCE_PARAMS["vitb16r224"] - 769 * 993


def test_create_model_rejects_bad_input():
    with pytest.raises(ValidationError) as e:
        create_model("resnet51", 0, rngs=nnx.Rngs(0), width=2.0)
    paths = [p.path for p in e.value.problems]
    assert paths == ["model_name", "num_classes", "width"]
    assert "resnet50" in str(e.value)


def _param_paths(model) -> list[tuple]:
    return [p for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Param))]


def _starts(path: tuple, prefix: tuple) -> bool:
    return tuple(path[: len(prefix)]) == tuple(prefix)


@pytest.mark.parametrize(
    "name", ["mobilenetv2", "resnet50", "seresnext", "resnest50", "vits16r224", "vitb16r224", "vitl16r224"]
)
def test_layer_groups(name):
    model = nnx.eval_shape(lambda: create_model(name, 10, rngs=nnx.Rngs(0)))
    groups = layer_groups(model)
    family = MODELS[name].family
    assert len(groups) == GROUPS.get(name, GROUPS.get(family)) == MODELS[name].layer_groups
    paths = _param_paths(model)
    head = model.head_path
    owner: dict[tuple, int] = {}
    for gi, group in enumerate(groups):
        members = [p for p in paths if any(_starts(p, prefix) for prefix in group)]
        assert members, f"group {gi} ({group}) holds no parameters"
        for p in members:
            assert p not in owner, f"{p} in groups {owner[p]} and {gi}"
            assert not _starts(p, head), f"head parameter {p} in group {gi}"
            owner[p] = gi
    rest = [p for p in paths if p not in owner and not _starts(p, head)]
    if family == "vit":
        assert {p[0] for p in rest} == {"norm"}  # final LayerNorm, like the head, is never frozen
    else:
        assert rest == []
    # groups are ordered from the input: the first one holds the stem
    assert any(_starts(p, ("features", 0)) or p[0] in ("conv1", "patch_embed") for p in owner if owner[p] == 0)


_forward = nnx.jit(lambda m, v: m(v, train=False))


@pytest.mark.parametrize(
    ("name", "width", "size"),
    [
        ("mobilenetv2", 0.25, 16),
        ("resnet50", 0.25, 16),
        ("seresnext", 0.125, 16),
        ("resnest50", 0.25, 16),
        ("vits16r224", 0.25, 16),
        ("vitb16r224", 0.125, 32),
        ("vitl16r224", 0.0625, 32),
    ],
)
def test_forward_shape_reduced_width(name, width, size):
    model = create_model(name, 7, rngs=nnx.Rngs(0), width=width)
    x = jax.random.normal(jax.random.key(1), (2, size, size, 3))
    y = _forward(model, x)
    assert y.shape == (2, 7) and y.dtype == jnp.float32
    assert np.isfinite(np.asarray(y)).all()


def test_vit_rejects_sizes_not_multiple_of_16():
    model = create_model("vits16r224", 3, rngs=nnx.Rngs(0), width=0.125)
    with pytest.raises(ValueError, match="multiples of 16"):
        model(jnp.zeros((1, 24, 32, 3)))


def test_train_mode_updates_batch_stats_and_gradients_flow():
    # one block per stage of the seresnext code path (grouped conv, SE, max-pool, small maps)
    model = ResNet(Bottleneck, (1, 1, 1, 1), 5, channels=(16, 32, 32, 32), stem_width=8,
                   block_kwargs=dict(cardinality=4, base_width=4, attn=True), rngs=nnx.Rngs(0))
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat))
    x = jax.random.normal(jax.random.key(2), (4, 32, 32, 3))
    labels = jnp.array([0, 1, 2, 3])

    @nnx.jit
    def step(m, v):
        def loss_fn(mm):
            logits = mm(v, train=True)
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), labels])

        return nnx.value_and_grad(loss_fn)(m)

    loss, grads = step(model, x)
    assert np.isfinite(float(loss))
    after = nnx.state(model, nnx.BatchStat)
    changed = jax.tree.map(lambda a, b: not np.allclose(a, np.asarray(b)), before, after)
    assert all(jax.tree.leaves(changed))
    g = jax.tree.leaves(grads)
    assert all(np.isfinite(np.asarray(v)).all() for v in g)
    assert all(float(jnp.abs(v).sum()) > 0 for v in g)


def test_zoo_serves_exactly_the_spec_model_names():
    from imgtune.spec.models import MODEL_NAMES as SPEC_NAMES
    from imgtune.train.models import MODEL_NAMES

    assert MODEL_NAMES == SPEC_NAMES
