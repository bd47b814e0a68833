"""Networks: the 25%-width ResNet baseline, CropNets and the FFLD model (Sect. 3, Table 7)."""

from ffld.models.backbone import ResNetBackbone
from ffld.models.cropnet import CropNet, RefinementStage
from ffld.models.network import FFLD, FFLDOutput

__all__ = ["FFLD", "CropNet", "FFLDOutput", "RefinementStage", "ResNetBackbone"]
