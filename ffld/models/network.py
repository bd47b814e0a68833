"""FFLD: a coordinate-regression baseline refined by CropNets on its own low-level feature maps (Fig. 1)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ffld.geometry import LEVEL_STRIDES
from ffld.models.backbone import ResNetBackbone
from ffld.models.cropnet import RefinementStage, at_least_float32

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FFLDOutput(NamedTuple):
    """What :class:`FFLD` returns.

    Attributes:
        stages: [S0, S1, ..., SK], each (B, N, 2) landmarks ``(x, y)`` in input-image pixels (0-based, centre of
            the top-left pixel at (0, 0)); S0 is the baseline's prediction, S_k = S_{k-1} + ΔS_k.
        deltas: [ΔS1, ..., ΔSK], each (B, N, 2) in image pixels.
        features: [level 1, level 2, level 3] feature maps of the backbone (see :mod:`ffld.geometry`).
    """

    stages: list[torch.Tensor]
    deltas: list[torch.Tensor]
    features: list[torch.Tensor]


class FFLD(nn.Module):
    r"""Fine-grained facial landmark detection (Yan, Duffner et al., CVIU 2020).

    The baseline (Sect. 3.1) is a ResNet with ``width`` × the channels, global pooling and one FC layer
    predicting S0. Refinement stage k = 1..``stages`` crops ``patch_size``² patches from feature level 4 − k
    (stride 8, 4, 2) around :math:`S_{k-1}`, reduces their channels with a linear 1×1 convolution shared by all
    landmarks, and adds the CropNet's correction: :math:`S_k = S_{k-1} + \Delta S_k` (Fig. 4).

    Gradient paths (Sect. 5, Table 6). ``grad_low_level=False`` detaches the feature maps before they are cropped,
    removing :math:`\nabla_{low\_level}` (Eq. 8–9). ``grad_crop_location=False`` detaches :math:`S_{k-1}` where
    stage k receives it, so :math:`\partial L_k / \partial S_{k-1} = 0` and :math:`\nabla_{crop\_location}`
    (Eq. 10, 16; its identity term included) vanishes. With both off, the refinement losses train only the
    CropNets and the backbone learns from the baseline loss alone.

    Parameter count. The paper reports 1.46M parameters for its 3-stage ResNet18-FFLD (Sect. 6.5). With
    Table 7's CropNet (BasicBlock 4N→128 with a 1×1 projection) and a bias-free 1×1 channel selection shared by
    the landmarks, that count is reached for **N = 19 landmarks (AFLW-19)**: 1,458,928 parameters
    (706,998 baseline + 3 × 250,558 CropNets + 32·4 + 16·4 + 16·4 selection weights), 0.07% below 1.46M. The
    same model for 68 landmarks (300W) has 2,263,312, because a CropNet's first convolution grows with 4N.

    Args:
        num_landmarks: N.
        backbone: "resnet18" or "resnet50".
        width: channel multiplier of the backbone (0.25).
        stages: number of refinement stages K, 0 (the plain baseline) to 3.
        patch_size: side of the cropped patches (8).
        grad_low_level: let the refinement losses reach the feature maps through the crops.
        grad_crop_location: let the refinement losses reach the crop locations.
        selected_channels: channels per landmark after channel selection (4).
        hidden_channels: CropNet width (128).

    Input: (B, 3, H, W) RGB images with values in [0, 1] (normalised inside with ImageNet statistics).
    Output: :class:`FFLDOutput`.
    """

    def __init__(
        self,
        num_landmarks: int,
        backbone: str = "resnet18",
        width: float = 0.25,
        stages: int = 3,
        patch_size: int = 8,
        grad_low_level: bool = True,
        grad_crop_location: bool = True,
        selected_channels: int = 4,
        hidden_channels: int = 128,
    ) -> None:
        super().__init__()
        if num_landmarks < 1:
            raise ValueError(f"num_landmarks must be positive, got {num_landmarks}")
        if not 0 <= stages <= len(LEVEL_STRIDES):
            raise ValueError(f"stages must be between 0 and {len(LEVEL_STRIDES)}, got {stages}")
        self.num_landmarks = num_landmarks
        self.grad_low_level = grad_low_level
        self.grad_crop_location = grad_crop_location
        self.backbone = ResNetBackbone(backbone, width)
        self.head = nn.Linear(self.backbone.out_channels, 2 * num_landmarks)
        self.stage_levels = [len(LEVEL_STRIDES) + 1 - k for k in range(1, stages + 1)]
        self.refinements = nn.ModuleList(
            RefinementStage(
                num_landmarks,
                self.backbone.level_channels[level - 1],
                LEVEL_STRIDES[level],
                patch_size,
                selected_channels,
                hidden_channels,
            )
            for level in self.stage_levels
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def init_mean_shape(self, landmarks: torch.Tensor, image_size: tuple[int, int]) -> None:
        """Start S0 at a mean shape: zero the head's weights and set its bias so S0 = ``landmarks``.

        Args:
            landmarks: (N, 2) mean landmarks in image pixels.
            image_size: (width, height) of the model's input.
        """
        extent = torch.tensor(image_size, dtype=torch.float32)
        normalised = (landmarks.float().cpu() + 0.5) * 2 / extent - 1
        self.head.weight.zero_()
        self.head.bias.copy_(normalised.reshape(-1))

    def forward(self, images: torch.Tensor) -> FFLDOutput:
        """Run the baseline, then each refinement stage on its crops (Sect. 3, Fig. 3).

        Args:
            images: (B, 3, H, W) RGB in [0, 1] (the ImageNet normalisation is applied here).
        """
        pooled, levels = self.backbone((images - self.mean) / self.std)
        with torch.autocast(images.device.type, enabled=False):  # coordinates stay in float32 under autocast
            # The head predicts u in [-1, 1] across the image: x = (u + 1) W / 2 - 1/2 (pixel-centre convention).
            # Scalars per axis, not a tensor made from host data, so the forward pass can be captured in a CUDA graph.
            u, v = self.head(at_least_float32(pooled)).reshape(-1, self.num_landmarks, 2).unbind(-1)
            width, height = images.shape[-1], images.shape[-2]
            estimate = torch.stack(((u + 1) * width / 2 - 0.5, (v + 1) * height / 2 - 0.5), dim=-1)
        stages, deltas = [estimate], []
        for level, refinement in zip(self.stage_levels, self.refinements, strict=True):
            features = levels[level - 1] if self.grad_low_level else levels[level - 1].detach()
            previous = estimate if self.grad_crop_location else estimate.detach()
            delta = refinement(features, previous)
            estimate = previous + delta
            deltas.append(delta)
            stages.append(estimate)
        return FFLDOutput(stages, deltas, levels)


__all__ = ["FFLD", "IMAGENET_MEAN", "IMAGENET_STD", "FFLDOutput"]
