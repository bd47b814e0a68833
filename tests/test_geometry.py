"""The image ↔ feature-map mapping against the receptive fields of the actual backbone layers."""

import pytest
import torch
from torch import nn

from ffld.geometry import LEVEL_STRIDES, image_to_feature
from ffld.models.backbone import ResNetBackbone


def _main_path_layers(backbone: ResNetBackbone, level: int) -> list[nn.Module]:
    """Convolutions and poolings met on the way to a level, in forward order (shortcuts excluded)."""
    parts = [backbone.conv1]
    if level >= 2:
        parts += [backbone.maxpool, backbone.layer1]
    if level >= 3:
        parts.append(backbone.layer2)
    layers = []
    for part in parts:
        for name, module in part.named_modules():
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d)) and "downsample" not in name:
                layers.append(module)
    return layers


def _kernel_stride_padding(layer: nn.Module) -> tuple[int, int, int]:
    values = (layer.kernel_size, layer.stride, layer.padding)
    return tuple(value[0] if isinstance(value, tuple) else value for value in values)


def _receptive_field(layers: list[nn.Module]) -> tuple[float, float, float]:
    """(stride, offset, radius): output pixel j sees input pixels stride·j + offset ± radius.

    A layer with kernel k, stride s and padding p centres output j on input s·j − p + (k − 1)/2.
    """
    stride, offset, radius = 1.0, 0.0, 0.0
    for layer in layers:
        k, s, p = _kernel_stride_padding(layer)
        offset += stride * ((k - 1) / 2 - p)
        radius += stride * (k - 1) / 2
        stride *= s
    return stride, offset, radius


@pytest.mark.parametrize("architecture", ["resnet18", "resnet50"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_mapping_matches_receptive_field_centres(architecture, level):
    stride, offset, _ = _receptive_field(_main_path_layers(ResNetBackbone(architecture), level))
    assert (stride, offset) == (LEVEL_STRIDES[level], 0.0)
    pixels = torch.tensor([[0.0, 0.0], [stride * 3.0, stride * 5.0], [17.25, 2.5]])
    expected = (pixels - offset) / stride
    torch.testing.assert_close(image_to_feature(pixels, LEVEL_STRIDES[level]), expected, rtol=0, atol=0)
    torch.testing.assert_close(image_to_feature(expected, LEVEL_STRIDES[level], inverse=True), pixels)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_shifting_the_image_by_one_stride_shifts_the_level_by_one_pixel(level):
    torch.manual_seed(0)
    backbone = ResNetBackbone().eval()
    stride = LEVEL_STRIDES[level]
    image = torch.rand(1, 3, 160, 160)
    shifted = torch.roll(image, shifts=stride, dims=3)
    with torch.no_grad():
        base = backbone(image)[1][level - 1]
        moved = backbone(shifted)[1][level - 1]
    # Compare away from the borders, where zero padding and the roll's wrap-around differ.
    radius = _receptive_field(_main_path_layers(backbone, level))[2]
    margin = int(radius // stride) + 2
    torch.testing.assert_close(moved[..., margin + 1 : -margin], base[..., margin : -margin - 1], rtol=1e-5, atol=1e-5)


def test_non_positive_stride_is_refused():
    with pytest.raises(ValueError):
        image_to_feature(torch.zeros(1, 2), 0)
