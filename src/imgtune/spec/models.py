"""The one model table: every fact about Azure's twelve model names, in one place.

Validation (the allowed ``model_name`` values and the ViT crop rule), the compiler's
defaults (batch sizes and learning rates per task), AutoMode's portfolio, the trainer's
model zoo (family, reference, parameter count, ``layers_to_freeze`` groups) and the
generated docs all read this table; nothing else lists the models. One's own Flax NNX model,
named by ``"module:function"`` or an ``imgtune.models`` entry point, gets a derived entry
(:func:`custom_model`), as a Hugging Face Hub id does (:func:`hub_model`). Each model's ImageNet
weights (:class:`PretrainedWeights`: where they come from, their licence and the
preprocessing they expect) are in the table too; :mod:`imgtune.train.pretrained` fetches them.

Example:
    >>> MODELS["vitb16r224"].vit, MODELS["vitb16r224"].batch_size
    (True, 48)
    >>> MODELS["resnet50"].learning_rate(multilabel=True)
    0.035
    >>> MODEL_NAMES[:3], VIT_MODELS
    (('mobilenetv2', 'resnet18', 'resnet34'), ('vits16r224', 'vitb16r224', 'vitl16r224'))
    >>> MODELS["resnet50"].weights.repo, MODELS["vitb16r224"].weights.mean
    ('timm/resnet50.tv_in1k', (0.5, 0.5, 0.5))
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "AUTOMODE_PORTFOLIO",
    "CNN_MODELS",
    "CUSTOM_FALLBACK",
    "DEFAULT_MODEL",
    "HUB_ARCHITECTURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODELS",
    "MODEL_ENTRY_POINT_GROUP",
    "MODEL_NAMES",
    "VIT_MODELS",
    "ModelSpec",
    "PretrainedWeights",
    "custom_model",
    "custom_model_problem",
    "hub_model",
    "import_builder",
    "is_custom_model",
    "is_vit",
    "model_spec",
]

#: The ImageNet statistics torchvision's weights (and most of timm's) expect, RGB in 0-1.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
#: The statistics of timm's ``augreg`` ViT weights (Google's JAX ViT recipe).
HALF: tuple[float, float, float] = (0.5, 0.5, 0.5)


@attrs.frozen(kw_only=True)
class PretrainedWeights:
    """Where a model's ImageNet weights come from, and what they expect.

    Attributes:
        repo: The Hugging Face Hub model repository (``org/name``).
        filename: The file in it (safetensors).
        license: The licence the repository states for the weights.
        source_layout: The key naming of the file: ``"torchvision"`` or ``"timm"``
            (:func:`imgtune.train.models.load_pretrained` maps it onto the zoo's).
        mean: The per-channel mean the weights were trained with (RGB, 0-1).
        std: The per-channel standard deviation.
        revision: A Hub commit that a public source states, or ``None`` (then the branch
            ``main``; the first download records the file's sha256, see
            :mod:`imgtune.train.pretrained`).
        sha256: The file's sha256 where a public source states it, or ``None``.
        size_mb: The file's size in MB (10**6 bytes) as the Hub lists it, where known.
        note: How these weights differ from the variant Azure documents for the name.
    """

    repo: str
    filename: str = "model.safetensors"
    license: str
    source_layout: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    revision: str | None = None
    sha256: str | None = None
    size_mb: float | None = None
    note: str = ""

    @property
    def source(self) -> str:
        """``hf://org/name/file`` (with ``@revision`` when pinned)."""
        at = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo}{at}/{self.filename}"



@attrs.frozen(kw_only=True)
class ModelSpec:
    """What an Azure model name stands for.

    Attributes:
        name: Azure AutoML's model name.
        family: ``mobilenetv2``, ``resnet``, ``seresnext``, ``resnest`` or ``vit``.
        reference: The reference implementation (library and builder name).
        params: The reference's parameter count at 1000 classes.
        layer_groups: How many groups ``layers_to_freeze`` counts (stem first).
        batch_size: Azure's default training and validation batch size.
        learning_rate_multiclass: Azure's default learning rate for multiclass jobs.
        learning_rate_multilabel: Azure's default learning rate for multilabel jobs.
        weights: Its ImageNet weights, the default start of a trial.

    Example:
        >>> MODELS["vitb16r224"].family, MODELS["vitb16r224"].batch_size
        ('vit', 48)
    """

    name: str
    family: str
    reference: str
    params: int
    layer_groups: int
    batch_size: int
    learning_rate_multiclass: float
    learning_rate_multilabel: float
    weights: PretrainedWeights
    hub_id: str | None = None
    """For a Hugging Face Hub ``model_name`` (:func:`hub_model`): that id; ``name`` is then the Azure
    name of its architecture, whose defaults it takes."""
    builder: str | None = None
    """For one's own model (:func:`custom_model`): the builder's ``"module:function"``; ``name`` is
    then the ``model_name`` as written (the path or the entry point's name)."""
    mean: tuple[float, float, float] | None = None
    """For one's own model: the normalisation it asks for (``None``: ImageNet's)."""
    std: tuple[float, float, float] | None = None
    """For one's own model: the normalisation it asks for (``None``: ImageNet's)."""
    has_pretrained: bool = False
    """For one's own model: its builder has a ``pretrained(model)`` hook that loads its own weights."""

    @property
    def vit(self) -> bool:
        """A vision transformer: its training and validation crop sizes must be equal."""
        return self.family == "vit"

    def learning_rate(self, *, multilabel: bool) -> float:
        """Azure's default learning rate for the task."""
        return self.learning_rate_multilabel if multilabel else self.learning_rate_multiclass


def _cnn(name: str, family: str, reference: str, params: int, groups: int, weights: PretrainedWeights) -> ModelSpec:
    # Azure's defaults for every CNN: batch 78, learning rate 0.01 (multiclass) and 0.035 (multilabel).
    return ModelSpec(name=name, family=family, reference=reference, params=params, layer_groups=groups,
                     batch_size=78, learning_rate_multiclass=0.01, learning_rate_multilabel=0.035, weights=weights)


def _tv_resnet(depth: int, size_mb: float, revision: str | None = None, sha256: str | None = None) -> PretrainedWeights:
    # timm's copies of torchvision's IMAGENET1K_V1 files (timm's cfgs carry torchvision's URLs); timm's ResNet key
    # names are torchvision's.
    return PretrainedWeights(repo=f"timm/resnet{depth}.tv_in1k", license="bsd-3-clause", source_layout="torchvision",
                             size_mb=size_mb, revision=revision, sha256=sha256,
                             note="torchvision's IMAGENET1K_V1 weights (Azure's), as timm republished them")


_TIMM_VIT = ("timm's ImageNet-21k-pretrained, ImageNet-1k-fine-tuned augreg weights, which expect mean and std "
             "0.5 (Azure's ViT layer names are timm's; which tag Azure loads is not published)")

#: Azure's twelve built-in models, in the fact sheet's order. The weights' sources, licences, sizes (as the Hub
#: lists them) and pins were checked against timm's and torchvision's source and the Hub's pages.
MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    _cnn("mobilenetv2", "mobilenetv2", "torchvision mobilenet_v2", 3_504_872, 19, PretrainedWeights(
        repo="timm/mobilenetv2_100.ra_in1k", license="apache-2.0", source_layout="timm", size_mb=14.2,
        revision="f3ff81ba89de0bc46b546568ebeab2edef6b9d49",
        note="nearest: timm's own RandAugment training of the same architecture (the Hub has no copy of "
             "torchvision's mobilenet_v2-b0353104.pth); timm's key names, mapped onto torchvision's layout")),
    _cnn("resnet18", "resnet", "torchvision resnet18", 11_689_512, 5, _tv_resnet(18, 46.8)),
    _cnn("resnet34", "resnet", "torchvision resnet34", 21_797_672, 5, _tv_resnet(34, 87.3)),
    _cnn("resnet50", "resnet", "torchvision resnet50", 25_557_032, 5, _tv_resnet(
        50, 102, revision="aa6c2d36d56bc0209040c02b5a7b7d7bf11d57b8",
        sha256="5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888")),
    _cnn("resnet101", "resnet", "torchvision resnet101", 44_549_160, 5, _tv_resnet(101, 179)),
    _cnn("resnet152", "resnet", "torchvision resnet152", 60_192_808, 5, _tv_resnet(
        152, 241, revision="2a9b5c2460893a2ab13d8625db2383f3094d704f")),
    _cnn("resnest50", "resnest", "timm resnest50d", 27_483_240, 5, PretrainedWeights(
        repo="timm/resnest50d.in1k", license="apache-2.0", source_layout="timm", size_mb=110,
        note="the paper authors' weights, as timm republished them (Azure's variant is not published)")),
    _cnn("resnest101", "resnest", "timm resnest101e", 48_275_016, 5, PretrainedWeights(
        repo="timm/resnest101e.in1k", license="apache-2.0", source_layout="timm", size_mb=194,
        note="the paper authors' weights, trained at 256 px (Azure's variant is not published)")),
    _cnn("seresnext", "seresnext", "timm seresnext50_32x4d", 27_559_896, 5, PretrainedWeights(
        repo="timm/seresnext50_32x4d.racm_in1k", license="apache-2.0", source_layout="timm", size_mb=111,
        note="nearest: timm's own training of the zoo's architecture; Azure's layer names suggest Cadene's "
             "legacy SE-ResNeXt, whose stem pools differently and which the Hub does not hold")),
    ModelSpec(name="vits16r224", family="vit", reference="timm vit_small_patch16_224", params=22_050_664,
              layer_groups=13, batch_size=128, learning_rate_multiclass=0.0125, learning_rate_multilabel=0.025,
              weights=PretrainedWeights(repo="timm/vit_small_patch16_224.augreg_in21k_ft_in1k", license="apache-2.0",
                                        source_layout="timm", mean=HALF, std=HALF, note=_TIMM_VIT)),
    ModelSpec(name="vitb16r224", family="vit", reference="torchvision vit_b_16", params=86_567_656,
              layer_groups=13, batch_size=48, learning_rate_multiclass=0.0125, learning_rate_multilabel=0.025,
              weights=PretrainedWeights(
                  repo="timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", license="apache-2.0", source_layout="timm",
                  mean=HALF, std=HALF, size_mb=346, revision="3feba41e737e1b28af8e1fd7dca8eed073385972",
                  note=_TIMM_VIT + "; timm's key names, mapped onto the zoo's torchvision layout")),
    ModelSpec(name="vitl16r224", family="vit", reference="torchvision vit_l_16", params=304_326_632,
              layer_groups=25, batch_size=10, learning_rate_multiclass=0.001, learning_rate_multilabel=0.002,
              weights=PretrainedWeights(
                  repo="timm/vit_large_patch16_224.augreg_in21k_ft_in1k", license="apache-2.0", source_layout="timm",
                  mean=HALF, std=HALF,
                  note=_TIMM_VIT + "; timm's key names, mapped onto the zoo's torchvision layout")),
)}

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
VIT_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS.values() if m.vit)
CNN_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS.values() if not m.vit)

#: timm architectures on the Hugging Face Hub that the zoo builds -> the Azure name of that architecture.
HUB_ARCHITECTURES: dict[str, str] = {
    "mobilenetv2_100": "mobilenetv2",
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "resnet50": "resnet50",
    "resnet101": "resnet101",
    "resnet152": "resnet152",
    "resnest50d": "resnest50",
    "resnest101e": "resnest101",
    "seresnext50_32x4d": "seresnext",
    "vit_small_patch16_224": "vits16r224",
    "vit_base_patch16_224": "vitb16r224",
    "vit_large_patch16_224": "vitl16r224",
}

_HUB_ID = re.compile(r"^timm/(?P<arch>[a-z0-9_]+)(?:\.(?P<tag>[A-Za-z0-9_]+))?(?:@(?P<rev>[A-Za-z0-9._/-]+))?$")


def hub_model(model_id: str) -> ModelSpec | None:
    """The model a Hugging Face Hub ``model_name`` stands for, or ``None`` when the zoo cannot build it.

    ``timm/<architecture>[.<tag>][@<revision>]`` with an architecture of :data:`HUB_ARCHITECTURES`
    takes every default of the Azure name with that architecture (batch size, learning rates,
    layer groups, ViT rule, preprocessing statistics); its weights are that repository's
    ``model.safetensors`` (fetched and verified as the table's, trust on first use).

    Example:
        >>> spec = hub_model("timm/resnet50.a1_in1k")
        >>> spec.name, spec.hub_id, spec.weights.repo, spec.weights.revision, spec.batch_size
        ('resnet50', 'timm/resnet50.a1_in1k', 'timm/resnet50.a1_in1k', None, 78)
        >>> hub_model("timm/vit_base_patch16_224.augreg2_in21k_ft_in1k@3feba41e").weights.source
        'hf://timm/vit_base_patch16_224.augreg2_in21k_ft_in1k@3feba41e/model.safetensors'
        >>> hub_model("microsoft/beit-base-patch16-224-pt22k-ft22k") is None
        True
    """
    m = _HUB_ID.match(model_id) if isinstance(model_id, str) else None
    if m is None or m["arch"] not in HUB_ARCHITECTURES:
        return None
    base = MODELS[HUB_ARCHITECTURES[m["arch"]]]
    repo = model_id.split("@", 1)[0]
    weights = attrs.evolve(base.weights, repo=repo, revision=m["rev"], sha256=None, size_mb=None,
                           license="as the Hub repository states",
                           note=f"{repo} on the Hugging Face Hub, read as {base.name}'s architecture")
    return attrs.evolve(base, hub_id=model_id, weights=weights)


def model_spec(model_name: str) -> ModelSpec | None:
    """The table's entry for an Azure name, the derived entry for a Hub id (:func:`hub_model`) or for one's
    own model (:func:`custom_model`), else ``None``.

    Example:
        >>> model_spec("resnet18").layer_groups, model_spec("timm/vit_small_patch16_224.augreg_in21k").vit
        (5, True)
    """
    found = MODELS.get(model_name) if isinstance(model_name, str) else None
    if found is None:
        found = hub_model(model_name)
    return found if found is not None else custom_model(model_name)


#: The entry-point group in which an installed package names its models (``name = "pkg.module:build"``).
MODEL_ENTRY_POINT_GROUP = "imgtune.models"

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_IMPORT_PATH = re.compile(rf"^{_DOTTED}:{_DOTTED}$")
#: The defaults one's own model takes unless its builder states its own: resnet50's (see :func:`custom_model`).
CUSTOM_FALLBACK = "resnet50"


def _entry_point(name: str) -> str | None:
    from importlib.metadata import entry_points  # stdlib, only for a name that is neither Azure's nor a path

    found = [ep.value for ep in entry_points(group=MODEL_ENTRY_POINT_GROUP) if ep.name == name]
    return found[0] if found else None


def _builder_ref(model_name: object) -> str | None:
    """The ``"module:attr"`` a ``model_name`` names (itself, or an entry point's value), without importing it."""
    if not isinstance(model_name, str) or model_name in MODELS or "/" in model_name:
        return None
    if _IMPORT_PATH.match(model_name):
        return model_name
    return _entry_point(model_name) if re.match(r"^[A-Za-z0-9_.-]+$", model_name) else None


def _resolve_builder(model_name: str) -> tuple[str | None, object, str | None]:
    """``(ref, builder, problem)``: the ``"module:attr"`` a ``model_name`` names, the object, or why not."""
    ref = _builder_ref(model_name)
    if ref is None:
        return None, None, None
    try:
        obj = import_builder(ref)
    except Exception as e:  # noqa: BLE001 - any failure of the user's import is reported, not raised
        return ref, None, f"cannot import {ref!r}: {type(e).__name__}: {e}"
    if not callable(obj):
        return ref, None, f"{ref!r} is not callable (a model builder is build(num_classes, *, rngs, dtype))"
    return ref, obj, None


def import_builder(ref: str) -> object:
    """The object ``"module:attr.attr"`` names (imported in the calling process; raises what the import raises)."""
    import importlib  # stdlib; one's own model is imported only when named

    module_name, _, attr = ref.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def custom_model_problem(model_name: object) -> str | None:
    """Why a ``model_name`` shaped like one's own model (``"module:function"``) does not resolve, else ``None``.

    Example:
        >>> custom_model_problem("imgtune_no_such_module:build")
        "cannot import 'imgtune_no_such_module:build': ModuleNotFoundError: No module named 'imgtune_no_such_module'"
        >>> custom_model_problem("resnet18") is None
        True
    """
    return _resolve_builder(model_name)[2] if isinstance(model_name, str) else None


def _triple(value: object, default: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
    return tuple(float(v) for v in value) if isinstance(value, (tuple, list)) and len(value) == 3 else default


def custom_model(model_name: str) -> ModelSpec | None:
    """One's own Flax NNX model, named by ``"module:function"`` or an ``imgtune.models`` entry point.

    The builder is imported here (in whichever process asks: the driver, a trial process, a Ray
    worker), so nothing is registered anywhere. Its contract::

        build(num_classes: int, *, rngs: nnx.Rngs, dtype) -> nnx.Module

    The module is called ``model(x, train=...)`` with ``x`` NHWC float32 (normalised) and returns
    logits ``(batch, num_classes)``; it may define ``layer_groups()`` (for ``layers_to_freeze``,
    as the zoo's models do). The builder may carry these optional attributes (else resnet50's
    defaults, :data:`CUSTOM_FALLBACK`): ``batch_size``, ``learning_rate`` (or
    ``learning_rate_multiclass``/``learning_rate_multilabel``), ``layer_groups`` (a count),
    ``mean``/``std`` (normalisation, else ImageNet's) and ``pretrained(model)`` (loads its own
    starting weights in place; without it a trial starts from random weights).

    Returns:
        The model's entry (``family`` ``"custom"``, ``builder`` the ``"module:function"``), or
        ``None`` when the name is not one's own model or does not import
        (:func:`custom_model_problem` says why).

    Example:
        >>> custom_model("resnet18") is None, custom_model("no_such_module_xyz:build") is None
        (True, True)
    """
    ref, builder, _ = _resolve_builder(model_name)
    if builder is None:
        return None
    base = MODELS[CUSTOM_FALLBACK]
    lr = getattr(builder, "learning_rate", None)
    lr_mc = getattr(builder, "learning_rate_multiclass", lr)
    lr_ml = getattr(builder, "learning_rate_multilabel", lr)
    groups = getattr(builder, "layer_groups", None)
    batch = getattr(builder, "batch_size", None)
    return attrs.evolve(
        base, name=model_name, family="custom", reference=ref, params=0, builder=ref,
        layer_groups=groups if isinstance(groups, int) else 0,
        batch_size=batch if isinstance(batch, int) and batch > 0 else base.batch_size,
        learning_rate_multiclass=float(lr_mc) if lr_mc is not None else base.learning_rate_multiclass,
        learning_rate_multilabel=float(lr_ml) if lr_ml is not None else base.learning_rate_multilabel,
        mean=_triple(getattr(builder, "mean", None), IMAGENET_MEAN),
        std=_triple(getattr(builder, "std", None), IMAGENET_STD),
        has_pretrained=callable(getattr(builder, "pretrained", None)),
        weights=PretrainedWeights(repo="", license="", source_layout="", note=f"one's own model {ref}"))


def is_custom_model(model_name: object) -> bool:
    """Whether ``model_name`` names one's own model (``"module:function"`` or an ``imgtune.models`` entry point)
    rather than an Azure name or a Hub id, whether or not it imports.

    Example:
        >>> is_custom_model("my_pkg.models:build"), is_custom_model("resnet18"), is_custom_model("timm/resnet50")
        (True, False, False)
    """
    return _builder_ref(model_name) is not None


def is_vit(model_name: object) -> bool:
    """Whether ``model_name`` (an Azure name or a Hub id) is a vision transformer."""
    spec = model_spec(model_name) if isinstance(model_name, str) else None
    return spec is not None and spec.vit


#: The default ``model_name``. Azure's docs conflict (the how-to says ``vitb16r224``, the
#: reference ``seresnext``); imgtune uses ``seresnext``.
DEFAULT_MODEL = "seresnext"

#: AutoMode's ordered portfolio: (model_name, factor on the model's default learning rate).
#: Strong, cheap models first; a second learning rate for the two strongest; the big models last.
AUTOMODE_PORTFOLIO: tuple[tuple[str, float], ...] = (
    ("seresnext", 1.0),
    ("vitb16r224", 1.0),
    ("resnet50", 1.0),
    ("mobilenetv2", 1.0),
    ("vits16r224", 1.0),
    ("resnest50", 1.0),
    ("resnet18", 1.0),
    ("seresnext", 1 / 3),
    ("vitb16r224", 1 / 3),
    ("resnet101", 1.0),
    ("resnest101", 1.0),
    ("vitl16r224", 1.0),
    ("resnet34", 1.0),
    ("resnet152", 1.0),
)
