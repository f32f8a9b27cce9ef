"""One's own Flax NNX model and trial function, for tests of the open ends of the job
(``model_name: "own_model:build"``); importable in trial processes (this
folder is on their ``PYTHONPATH``)."""

from __future__ import annotations

from flax import nnx


class TinyNet(nnx.Module):
    """A 2-layer convnet: conv (8 channels), mean pool, linear head."""

    def __init__(self, num_classes: int, *, rngs: nnx.Rngs, dtype=None):
        self.conv = nnx.Conv(3, 8, kernel_size=(3, 3), strides=(2, 2), rngs=rngs)
        self.head = nnx.Linear(8, num_classes, rngs=rngs)

    def __call__(self, x, train: bool = False):
        h = nnx.relu(self.conv(x))
        return self.head(h.mean(axis=(1, 2)))

    def layer_groups(self):
        return [[("conv",)]]


def build(num_classes: int, *, rngs: nnx.Rngs, dtype=None) -> nnx.Module:
    """The builder ``model_name: "own_model:build"`` names."""
    return TinyNet(num_classes, rngs=rngs, dtype=dtype)


build.batch_size = 8
build.learning_rate = 0.05
build.layer_groups = 1
build.mean = (0.5, 0.5, 0.5)
build.std = (0.25, 0.25, 0.25)

def not_a_builder():
    return "a string"


def bare_build(num_classes: int, *, rngs: nnx.Rngs, dtype=None) -> nnx.Module:
    """A builder that states nothing: it takes the documented fallback's defaults (resnet50's)."""
    return TinyNet(num_classes, rngs=rngs, dtype=dtype)


NOT_A_BUILDER = 3


def build_pretrained(num_classes: int, *, rngs: nnx.Rngs, dtype=None) -> nnx.Module:
    """A builder with its own starting weights (the ``pretrained`` hook below)."""
    return TinyNet(num_classes, rngs=rngs, dtype=dtype)


def _load_own_weights(model: TinyNet) -> None:
    import jax.numpy as jnp

    model.conv.bias[...] = jnp.ones_like(model.conv.bias[...])  # stands for weights read from one's own file


build_pretrained.pretrained = _load_own_weights


class FourierNet(TinyNet):
    """TinyNet with a Fourier transform, which jax2onnx does not convert."""

    def __call__(self, x, train: bool = False):
        import jax.numpy as jnp

        return super().__call__(jnp.abs(jnp.fft.fft2(x, axes=(1, 2))), train)


def build_fourier(num_classes: int, *, rngs: nnx.Rngs, dtype=None) -> nnx.Module:
    """A builder whose model cannot be exported to ONNX."""
    return FourierNet(num_classes, rngs=rngs, dtype=dtype)
