"""The cross-field rules: what must hold between training parameters, in one place.

The records check them (a job's ``training_parameters``, each ``search_space`` subspace
against them) and the samplers skip the draws that break them; both call
:func:`cross_field_problems`. Values that are not plain integers (unset, searched, invalid)
are left to the per-field checks.

Example:
    >>> cross_field_problems({"model_name": "vitb16r224", "training_crop_size": 224,
    ...                       "validation_crop_size": 256, "validation_resize_size": 240})
    [('validation_crop_size', 'must equal training_crop_size (224) for ViT model vitb16r224, got 256'), ('validation_resize_size', 'must be >= validation_crop_size (256), got 240')]
    >>> cross_field_problems({"model_name": "resnet50", "training_crop_size": 224, "validation_crop_size": 256})
    []
    >>> cross_field_problems({"model_name": "resnet50", "layers_to_freeze": 6})
    [('layers_to_freeze', 'must be at most 5, the number of layer groups of resnet50, got 6')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgtune.spec.checks import is_int
from imgtune.spec.models import is_vit, model_spec

__all__ = ["CROSS_FIELD_KEYS", "cross_field_problems"]

#: The fields the rules read.
CROSS_FIELD_KEYS = ("model_name", "training_crop_size", "validation_crop_size", "validation_resize_size",
                    "layers_to_freeze")


def cross_field_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each cross-field rule that ``values`` break.

    * A ViT model (``vits16r224``, ``vitb16r224``, ``vitl16r224``) needs equal training and
      validation crop sizes (its position embeddings are sized for one).
    * ``validation_resize_size`` must be at least ``validation_crop_size``.
    * ``layers_to_freeze`` must not exceed the model's number of layer groups (the model table's).
    """
    model = values.get("model_name")
    train, val, resize, freeze = (values.get(k) for k in CROSS_FIELD_KEYS[1:])
    out = []
    if is_vit(model) and is_int(train) and is_int(val) and train != val:
        out.append(("validation_crop_size", f"must equal training_crop_size ({train}) for ViT model {model}, got {val}"))
    if is_int(resize) and is_int(val) and resize < val:
        out.append(("validation_resize_size", f"must be >= validation_crop_size ({val}), got {resize}"))
    spec = model_spec(model) if isinstance(model, str) else None
    groups = spec.layer_groups if spec is not None else None
    if groups is not None and is_int(freeze) and freeze > groups:
        out.append(("layers_to_freeze", f"must be at most {groups}, the number of layer groups of {model}, got {freeze}"))
    return out
