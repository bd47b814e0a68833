"""The baseline network: a ResNet with a fraction of the channels (Sect. 3.1, 6.6).

The paper uses ResNet18/50 (He et al., 2016) "but reduced 75% of its feature map channels in each layer", i.e.
``width=0.25``. The blocks are torchvision's own :class:`~torchvision.models.resnet.BasicBlock` and
:class:`~torchvision.models.resnet.Bottleneck`; only the channel counts change.

Shapes for a (B, 3, 224, 224) input and ``width=0.25``:

============  =======================  ==========================  ========
level         module                   ResNet18                    ResNet50
============  =======================  ==========================  ========
1 (stride 2)  conv1/bn1/relu           (B, 16, 112, 112)           (B, 16, 112, 112)
2 (stride 4)  maxpool + layer1         (B, 16, 56, 56)             (B, 64, 56, 56)
3 (stride 8)  layer2                   (B, 32, 28, 28)             (B, 128, 28, 28)
–             layer3                   (B, 64, 14, 14)             (B, 256, 14, 14)
–             layer4 + global pooling  (B, 128)                    (B, 512)
============  =======================  ==========================  ========
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

ARCHITECTURES: dict[str, tuple[type[BasicBlock | Bottleneck], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


def layer_planes(width: float) -> list[int]:
    """The base channels of the stem and layers 1-4 for a channel multiplier ``width``: ``round(64 · width · 2^i)``,
    i = 0..3 (``[16, 32, 64, 128]`` at the paper's 0.25); a layer with none means ``width`` is too small (≤ 1/128)."""
    return [round(64 * width * 2**i) for i in range(4)] if width > 0 else [0] * 4


class ResNetBackbone(nn.Module):
    """ResNet18/50 trunk with ``width`` × the usual channels, returning pooled features and the crop levels.

    Args:
        architecture: "resnet18" or "resnet50".
        width: channel multiplier; 0.25 in the paper (stem 16 channels instead of 64).

    Attributes:
        architecture, width: the arguments.
        level_channels: channels of levels 1, 2, 3 (see the module docstring).
        out_channels: channels of the globally pooled output.
    """

    def __init__(self, architecture: str = "resnet18", width: float = 0.25) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown backbone {architecture!r}; choose one of {sorted(ARCHITECTURES)}")
        planes = layer_planes(width)
        if min(planes) < 1:
            raise ValueError(f"width must give at least one channel per layer, got {width}")
        block, depths = ARCHITECTURES[architecture]
        self.architecture, self.width = architecture, width
        self.conv1 = nn.Conv2d(3, planes[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._inplanes = planes[0]
        self.layer1 = self._make_layer(block, planes[0], depths[0], stride=1)
        self.layer2 = self._make_layer(block, planes[1], depths[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], depths[2], stride=2)
        self.layer4 = self._make_layer(block, planes[3], depths[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.level_channels = (planes[0], planes[0] * block.expansion, planes[1] * block.expansion)
        self.out_channels = planes[3] * block.expansion
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _make_layer(self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self._inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self._inplanes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
            )
        layers = [block(self._inplanes, planes, stride, downsample)]
        self._inplanes = planes * block.expansion
        layers += [block(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Args:
            images: (B, 3, H, W) normalised images.

        Returns:
            ``pooled``: (B, out_channels); ``levels``: [level 1, level 2, level 3] feature maps.
        """
        level1 = self.relu(self.bn1(self.conv1(images)))
        level2 = self.layer1(self.maxpool(level1))
        level3 = self.layer2(level2)
        pooled = self.avgpool(self.layer4(self.layer3(level3))).flatten(1)
        return pooled, [level1, level2, level3]


__all__ = ["ARCHITECTURES", "ResNetBackbone", "layer_planes"]
