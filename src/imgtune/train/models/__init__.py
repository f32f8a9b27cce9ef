"""Model zoo: Flax NNX versions of the twelve Azure AutoML image-classification models.

=============  ===================================  ===================================
Azure name     reference architecture               checkpoint key names
=============  ===================================  ===================================
mobilenetv2    torchvision ``mobilenet_v2``         torchvision
resnet18..152  torchvision ``resnet*`` (v1.5)       torchvision
seresnext      timm ``seresnext50_32x4d``           timm
resnest50      timm ``resnest50d``                  timm
resnest101     timm ``resnest101e``                 timm
vits16r224     timm ``vit_small_patch16_224``       timm
vitb16r224     torchvision ``vit_b_16``             torchvision
vitl16r224     torchvision ``vit_l_16``             torchvision
=============  ===================================  ===================================

Example:
    >>> from flax import nnx
    >>> from imgtune.train.models import create_model, layer_groups, count_params
    >>> count_params("resnet50")
    25557032
    >>> len(layer_groups(create_model("mobilenetv2", 5, rngs=nnx.Rngs(0), width=0.25)))
    19
"""

from .weights import load_pretrained
from .zoo import MODEL_NAMES, count_params, create_model, layer_groups

__all__ = ["MODEL_NAMES", "count_params", "create_model", "layer_groups", "load_pretrained"]
