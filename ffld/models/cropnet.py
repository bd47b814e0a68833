"""CropNet and one refinement stage of FFLD (Sect. 3.2, Fig. 4, Table 7)."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

from ffld.crop import crop_patches
from ffld.geometry import image_to_feature


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` in float32 if it is in a half-precision type, unchanged otherwise (float32/float64)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


class CropNet(nn.Module):
    """The CropNet of Table 7, mapping selected patches to a landmark correction.

    ============  ==========================  ====================
    layer         (in, out, stride)           output shape
    ============  ==========================  ====================
    Batch Norm    (4N, 4N, 1)                 (B, 4N, 8, 8)
    ResNet block  (4N, 128, 1)                (B, 128, 8, 8)
    Max-pooling   (128, 128, 8)               (B, 128, 1, 1)
    FC            (128, 2N, -)                (B, 2N)
    ============  ==========================  ====================

    The residual block is torchvision's :class:`~torchvision.models.resnet.BasicBlock` with a 1×1 projection
    shortcut (4N ≠ 128). The FC layer starts at zero (Sect. 6.6), so an untrained stage predicts ΔS = 0.

    Args:
        num_landmarks: N.
        selected_channels: channels per landmark after channel selection (4 in the paper).
        hidden_channels: output channels of the residual block (128).
        patch_size: patch side; the max-pooling window and stride equal it, reducing a patch to one pixel.
    """

    def __init__(
        self, num_landmarks: int, selected_channels: int = 4, hidden_channels: int = 128, patch_size: int = 8
    ) -> None:
        super().__init__()
        channels = selected_channels * num_landmarks
        self.norm = nn.BatchNorm2d(channels)
        projection = nn.Sequential(conv1x1(channels, hidden_channels), nn.BatchNorm2d(hidden_channels))
        self.block = BasicBlock(channels, hidden_channels, stride=1, downsample=projection)
        self.pool = nn.MaxPool2d(kernel_size=patch_size, stride=patch_size)
        self.fc = nn.Linear(hidden_channels, 2 * num_landmarks)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Args:
            patches: (B, 4N, s, s) selected patches, landmark-major (channels 4i..4i+3 belong to landmark i).

        Returns:
            (B, 2N) correction, ``(dx_0, dy_0, dx_1, ...)`` in the unit the caller assigns.
        """
        hidden = self.pool(self.block(self.norm(patches))).flatten(1)
        with torch.autocast(hidden.device.type, enabled=False):  # keep sub-pixel corrections in float32
            return self.fc(at_least_float32(hidden))


class RefinementStage(nn.Module):
    """One stage of Fig. 4: crop at the previous estimate, select channels, and predict ΔS with a CropNet.

    The crop location :math:`S_{k-1}` is mapped to the level's feature-map pixels with
    :func:`ffld.geometry.image_to_feature`; the CropNet output is read in the level's feature-map pixels and
    multiplied by the stride, so ΔS is in image pixels.

    Args:
        num_landmarks: N.
        in_channels: C, channels of the level the stage crops from.
        stride: that level's stride.
        patch_size: patch side (8).
        selected_channels: channels kept by the linear 1×1 channel selection (4), shared by all landmarks.
        hidden_channels: CropNet width (128).
    """

    def __init__(
        self,
        num_landmarks: int,
        in_channels: int,
        stride: int,
        patch_size: int = 8,
        selected_channels: int = 4,
        hidden_channels: int = 128,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.patch_size = patch_size
        self.select = nn.Conv2d(in_channels, selected_channels, kernel_size=1, bias=False)
        self.cropnet = CropNet(num_landmarks, selected_channels, hidden_channels, patch_size)

    def crop(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Crop and channel-select patches around ``points``.

        Args:
            features: (B, C, H, W) level features.
            points: (B, N, 2) crop centres in image pixels.

        Returns:
            (B, N, selected_channels, s, s) selected patches (Fig. 5).
        """
        patches = crop_patches(features, image_to_feature(points, self.stride), self.patch_size)
        _, num_points, channels, size, _ = patches.shape  # batch sizes stay symbolic (-1) for ONNX export
        selected = self.select(patches.reshape(-1, channels, size, size).to(features.dtype))
        return selected.reshape(-1, num_points, self.select.out_channels, size, size)

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Args:
            features: (B, C, H, W) level features.
            points: (B, N, 2) previous estimate :math:`S_{k-1}` in image pixels.

        Returns:
            (B, N, 2) ΔS_k in image pixels.
        """
        selected = self.crop(features, points)
        delta = self.cropnet(selected.flatten(1, 2))
        return delta.reshape(-1, points.shape[1], 2) * self.stride


__all__ = ["CropNet", "RefinementStage", "at_least_float32"]
